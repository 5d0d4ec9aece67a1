"""A Wagtail site for the tests of ``petition_widget.contrib.wagtail``: the suite's settings with Wagtail added.

Runs in a pytest process of its own (``tests/integration/test_wagtail.py`` starts it), since a process has one
settings module.
"""

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, INSTALLED_APPS, MIDDLEWARE

# The five lines docs/embedding.md gives (the rest is any Wagtail site's).
INSTALLED_APPS = [
    *INSTALLED_APPS,
    "petition_widget.contrib.wagtail",
    "wagtail.snippets",
    "wagtail.admin",
    "wagtail.users",
    "wagtail.images",
    "wagtail.documents",
    "wagtail.sites",
    "wagtail",
    "modelcluster",
    "taggit",
    "tests.wagtail_site",
]
MIDDLEWARE = [*MIDDLEWARE, "wagtail.contrib.redirects.middleware.RedirectMiddleware"]
INSTALLED_APPS.insert(INSTALLED_APPS.index("wagtail.sites"), "wagtail.contrib.redirects")
ROOT_URLCONF = "tests.wagtail_site.urls"
WAGTAIL_SITE_NAME = "Petition widget test site"
WAGTAILADMIN_BASE_URL = "http://127.0.0.1:8000"

if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # Its own test database, apart from the main suite's, which may exist at the same time.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_wagtail"}
