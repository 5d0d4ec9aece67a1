"""Settings of the example blog. Every deployment value comes from the environment (django-environ)."""

from pathlib import Path

import environ
from django.core.management.utils import get_random_secret_key

PROJECT_DIR = Path(__file__).resolve().parent
REPO_DIR = PROJECT_DIR.parent

env = environ.Env()
environ.Env.read_env(PROJECT_DIR / ".env") if (PROJECT_DIR / ".env").exists() else None

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for a throw-away development key).")
    SECRET_KEY = get_random_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# Serve the upstream emulator under /emulator/ (development only: it accepts anything signed with its demo key).
MOUNT_EMULATOR = env.bool("MOUNT_EMULATOR", default=DEBUG)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # runserver leaves static files to WhiteNoise too, so that DEBUG on and off serve them the same way.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_countries",
    "rest_framework",
    "petition_widget",
    "example_project.blog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The site serves its own static files (the embed script included), DEBUG on or off.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [REPO_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{PROJECT_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so concurrent signers wait instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Confirmation e-mails: printed on the console unless EMAIL_URL names a server (smtp+tls://user:pass@host:587).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="petitions@localhost")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The languages the widget ships in; LocaleMiddleware picks one from the browser's Accept-Language.
LANGUAGES = [
    ("en", "English"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("pt", "Português"),
    ("it", "Italiano"),
    ("ar", "العربية"),
]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(REPO_DIR / "staticfiles"))
# WhiteNoise serves the files of STATIC_ROOT (`manage.py collectstatic`) and, with WHITENOISE_USE_FINDERS, the
# apps' own static folders as well, so that a fresh clone serves them before any collectstatic.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE = SITE_URL.startswith("https://")
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"petition_widget": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")}},
}

PETITION_WIDGET = {
    "SITE_URL": SITE_URL,
    "CHANGEORG_API_URL": env("CHANGEORG_API_URL", default="https://api.change.org/v1"),
    "CHANGEORG_API_KEY": env("CHANGEORG_API_KEY", default=""),
    "CHANGEORG_SECRET": env("CHANGEORG_SECRET", default=""),
    "WETHEPEOPLE_API_URL": env("WETHEPEOPLE_API_URL", default="https://api.whitehouse.gov/v1"),
    "WETHEPEOPLE_API_KEY": env("WETHEPEOPLE_API_KEY", default=""),
    "REQUESTER_EMAIL": env("REQUESTER_EMAIL", default="webmaster@localhost"),
    "BASE_TEMPLATE": "base.html",
    # Abuse limits: seconds a signer needs at least to fill the form, signatures an address may store in an
    # hour, and signatures a petition may take in a minute; 0 turns each off.
    "SIGN_MIN_SECONDS": env.int("SIGN_MIN_SECONDS", default=3),
    "SIGN_LIMIT_PER_IP": env.int("SIGN_LIMIT_PER_IP", default=10),
    "SIGN_LIMIT_PER_PETITION": env.int("SIGN_LIMIT_PER_PETITION", default=600),
    # Reverse proxies of your own in front of the site (the client address is then read from X-Forwarded-For).
    "TRUSTED_PROXY_COUNT": env.int("TRUSTED_PROXY_COUNT", default=0),
    "RETENTION_DAYS": env.int("RETENTION_DAYS", default=365),
    # The forwarding worker refreshes each open petition's count from the upstream this often (seconds).
    "SYNC_INTERVAL": env.int("SYNC_INTERVAL", default=30),
}
