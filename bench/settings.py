"""The example site's settings plus the reference views of the benchmarks, quiet and with DEBUG off.

The benchmark script sets SECRET_KEY, DATABASE_URL (a fresh SQLite file) and SITE_URL in the
environment before anything imports this module.
"""

from example_project.settings import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.urls"

# Nothing below WARNING: a console line per signature would be measured as part of the sign POST.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
