"""Park booking settings, read from the environment with safe local defaults.

Every variable is listed in the README. With nothing set, the park runs on an
embedded SQLite file under ``var/`` and huey's SQLite storage, in DEBUG mode.
"""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from config.env import ConfigError, database_from_url, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PARK_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ConfigError("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-local-development-key-never-used-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "ninja",  # serves the API docs with its bundled Swagger UI (no CDN: the park may be offline)
    "huey.contrib.djhuey",
    "resources",
    "booking",
    "booking.tenancy",
    "booking.bookings",
    "booking.rounds",
    "booking.compute",
    "booking.tokens",
    "booking.usage.apps.UsageConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "booking.tenancy.middleware.RememberLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'park.sqlite3'}"), base_dir=BASE_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hant", "繁體中文"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Hong_Kong")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

MAILERS = {
    "default": {
        "BACKEND": env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
    },
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Park booking <booking@park.local>")

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)

# Task queue: huey's SQLite storage by default, Redis when REDIS_URL is set. Tasks
# run inline only when HUEY_IMMEDIATE says so (tests), never by following DEBUG.
REDIS_URL = env_str("REDIS_URL")
HUEY_IMMEDIATE = env_bool("HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": env_str("HUEY_NAME", "park-booking"),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": env_int("HUEY_WORKERS", 2), "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": env_str("HUEY_NAME", "park-booking"),
        "filename": env_str("HUEY_SQLITE_FILE", str(VAR_DIR / "huey.sqlite3")),
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": env_int("HUEY_WORKERS", 2), "worker_type": "thread"},
    }

# Slurm connection (slurmrestd). The API version is a setting; payload mapping
# for each version lives in resources/slurm/.
SLURM_REST_URL = env_str("SLURM_REST_URL")
SLURM_API_VERSION = env_str("SLURM_API_VERSION", "v0.0.38")
SLURM_USER = env_str("SLURM_USER", "slurmrest")
SLURM_JWT_KEY_FILE = env_str("SLURM_JWT_KEY_FILE")
SLURM_TOKEN = env_str("SLURM_TOKEN")
SLURM_CLUSTER = env_str("SLURM_CLUSTER", "park")
SLURM_TIMEOUT = float(env_str("SLURM_TIMEOUT", "10"))
SLURM_JOB_WORKDIR = env_str("SLURM_JOB_WORKDIR", str(VAR_DIR / "jobs"))
# Park -> Slurm reconciliation (manage.py slurm_sync): tenants' accounts sit under this parent;
# GPU quotas of this period become GrpTRESMins (Slurm must reset usage on the same period:
# PriorityUsageResetPeriod); the park agent beside the controller makes the changes
# slurmrestd cannot (limits of existing accounts, reservations).
SLURM_PARENT_ACCOUNT = env_str("SLURM_PARENT_ACCOUNT", "park")
# Slurm's MinJobAge (seconds finished jobs stay in slurmctld): older jobs are looked for in
# accounting; the dev cluster writes it to its env file.
SLURM_MIN_JOB_AGE = env_int("SLURM_MIN_JOB_AGE", 300)
SLURM_QUOTA_PERIOD = env_str("SLURM_QUOTA_PERIOD", "month")
SLURM_AGENT_URL = env_str("SLURM_AGENT_URL")
SLURM_AGENT_KEY_FILE = env_str("SLURM_AGENT_KEY_FILE")
SLURM_WANTED_STATE = "booking.compute.slurm_state.wanted_state"
SLURM_SYNC_LEASE = "booking.compute.slurm_state.sync_lease"
# Changes that matter (membership, quota, weight, booking) enqueue a reconciliation.
SLURM_SYNC_ON_CHANGE = env_bool("SLURM_SYNC_ON_CHANGE", True)

# Planner defaults for allocation rounds.
PLANNER_TIME_LIMIT = float(env_str("PLANNER_TIME_LIMIT", "10"))

# Researcher API. Rate-limit counters live in the cache: Redis when REDIS_URL is set (shared
# by all workers), else per-process memory (the limit then applies per worker).
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 120)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "park"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# A constant-answer view for measuring the server's ceiling; never on in production.
BENCHMARK = env_bool("BENCHMARK", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

SITE_NAME = _("Park booking")
