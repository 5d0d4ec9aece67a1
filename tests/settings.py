"""Test settings: the example site's, with DATABASE_URL choosing SQLite (default) or PostgreSQL."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("CHANGEORG_API_KEY", "test-api-key")
os.environ.setdefault("CHANGEORG_SECRET", "test-secret")
os.environ.setdefault("WETHEPEOPLE_API_KEY", "test-api-key")
os.environ.setdefault("REQUESTER_EMAIL", "owner@blog.example")
# The abuse checks are off for the suite as a whole (it posts many signatures from one address, at once);
# tests/signing/test_abuse.py turns them on where it tests them.
os.environ.setdefault("SIGN_MIN_SECONDS", "0")
os.environ.setdefault("SIGN_LIMIT_PER_IP", "0")
os.environ.setdefault("SIGN_LIMIT_PER_PETITION", "0")

from example_project.settings import *  # noqa: E402,F403
from example_project.settings import DATABASES, PETITION_WIDGET  # noqa: E402

# The API keys' limits are off too, like the form's (tests that test them turn them on).
PETITION_WIDGET = {**PETITION_WIDGET, "API_KEY_LIMITS": {"browser": 0, "server": 0}}

DEBUG = False
# An empty STATIC_ROOT of the run's own: WhiteNoise serves the apps' static files through the finders and
# would warn of a STATIC_ROOT that does not exist (the example site's default before any collectstatic).
STATIC_ROOT = tempfile.mkdtemp(prefix="pw-static-")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {"version": 1, "disable_existing_loggers": False}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file rather than memory, so that threads and a live server see the same test database.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"pw-tests-{os.getpid()}.sqlite3")}
