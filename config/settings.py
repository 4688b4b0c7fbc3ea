"""Park booking settings, read from the environment with safe local defaults.

Every variable is listed in the README. With nothing set, the park runs on an
embedded SQLite file under ``var/`` and huey's SQLite storage, in DEBUG mode.
"""

from __future__ import annotations

from pathlib import Path

from django.utils.csp import CSP
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
elif not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ConfigError(
        "SECRET_KEY is too weak for DEBUG=0: use at least 50 random characters, e.g. "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
if not DEBUG and not env_list("ALLOWED_HOSTS", []):
    raise ConfigError(
        "ALLOWED_HOSTS must be set when DEBUG is off: the host names this server answers to, "
        "comma-separated (e.g. booking.park.example,127.0.0.1)"
    )

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
    "booking.approvals",
    "booking.rounds",
    "booking.compute",
    "booking.tokens",
    "booking.identity",
    "booking.usage.apps.UsageConfig",
    "booking.billing.apps.BillingConfig",
    "booking.notices.apps.NoticesConfig",
    "booking.demo.apps.DemoConfig",
]

MIDDLEWARE = [
    "config.logging.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.BodySizeLimitMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
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
                "config.context_processors.navigation",
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
# English pages follow Hong Kong's conventions (config/formats/en/): 03/12/2026 14:00.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Hong_Kong")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
# WhiteNoise serves the collected files (``manage.py collectstatic``) with far-future caching;
# in development Django's own finders serve them.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Single sign-on with the park's OpenID Connect provider (mozilla-django-oidc, booking.identity).
# Off unless OIDC_ISSUER and OIDC_CLIENT_ID are set; the endpoints come from the issuer's
# discovery document unless given. Local sign-in stays (the demo, and operators' break-glass).
OIDC_ISSUER = env_str("OIDC_ISSUER").rstrip("/")
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")
OIDC_ENABLED = bool(OIDC_ISSUER or OIDC_RP_CLIENT_ID)
if OIDC_ENABLED and not (OIDC_ISSUER and OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
    raise ConfigError(
        "single sign-on needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET together "
        "(unset all three to sign in with park passwords only)"
    )
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_USERINFO_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_JWKS_ENDPOINT")
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = env_str("OIDC_SIGN_ALGO", "RS256")
if OIDC_RP_SIGN_ALGO not in {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}:
    raise ConfigError(f"OIDC_SIGN_ALGO must be an RSA or EC algorithm, got {OIDC_RP_SIGN_ALGO!r}")
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME")
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10)
OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", True)
OIDC_CREATE_USER = env_bool("OIDC_CREATE_USERS", True)
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_callback"
LOGIN_REDIRECT_URL_FAILURE = "login"
# With single sign-on on, password sign-in may be kept for operators only (is_staff).
LOCAL_SIGNIN_STAFF_ONLY = env_bool("LOCAL_SIGNIN_STAFF_ONLY", False)
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "booking.identity.backends.ParkOidcBackend",
]

# Mail: the console in development, SMTP (EMAIL_HOST …) with DEBUG=0 unless EMAIL_BACKEND says.
_EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
MAILERS = {"default": {"BACKEND": _EMAIL_BACKEND}}
if _EMAIL_BACKEND.endswith("smtp.EmailBackend"):
    MAILERS["default"]["OPTIONS"] = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 25),
        "username": env_str("EMAIL_HOST_USER"),
        "password": env_str("EMAIL_HOST_PASSWORD"),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
        "timeout": env_int("EMAIL_TIMEOUT", 10),
    }
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Park booking <booking@park.local>")

# HTTPS in production: on by default with DEBUG=0, each switch settable for a park behind a
# TLS-terminating proxy (SECURE_PROXY_SSL_HEADER=1 trusts its X-Forwarded-Proto).
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
# A load balancer may probe /healthz over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The caller's address for rate limits: the last X-Forwarded-For entry behind our own proxy.
TRUSTED_PROXY = env_bool("TRUSTED_PROXY", False)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (Django's own middleware): scripts only from this server, no inline
# scripts or handlers; style attributes stay allowed (calendar blocks and bars are placed with
# them), style sheets only from this server.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Request bodies: larger ones answer 413 (JSON under /api/, a page elsewhere), never 500.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BODY_BYTES", 1_048_576)

# Sign-in throttling (a sliding window in the cache): failures per account and per address.
SIGNIN_FAILURES_PER_ACCOUNT = env_int("SIGNIN_FAILURES_PER_ACCOUNT", 5)
SIGNIN_FAILURES_PER_ADDRESS = env_int("SIGNIN_FAILURES_PER_ADDRESS", 20)
SIGNIN_WINDOW_SECONDS = env_int("SIGNIN_WINDOW_SECONDS", 900)

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
# An unbooked job must be able to start outside the booked (reserved) windows of its partition
# within this many hours, or POST /jobs refuses it (no_unreserved_capacity).
SLURM_UNRESERVED_HORIZON_HOURS = float(env_str("SLURM_UNRESERVED_HORIZON_HOURS", "72"))
# Threads of one batch of job submissions (booking.compute.sending.jobs_send_batch), over one
# kept-alive client.
SLURM_SEND_THREADS = env_int("SLURM_SEND_THREADS", 4)
SLURM_AGENT_URL = env_str("SLURM_AGENT_URL")
SLURM_AGENT_KEY_FILE = env_str("SLURM_AGENT_KEY_FILE")
SLURM_WANTED_STATE = "booking.compute.slurm_state.wanted_state"
SLURM_SYNC_LEASE = "booking.compute.slurm_state.sync_lease"
# Changes that matter (membership, quota, weight, booking) enqueue a reconciliation.
SLURM_SYNC_ON_CHANGE = env_bool("SLURM_SYNC_ON_CHANGE", True)

# Whom a member asks for a missing training (named in the refusal and on the resource page),
# e.g. "the lab office (labs@park.example, ext. 2101)"; the park's operators when unset.
TRAINING_CONTACT = env_str("TRAINING_CONTACT")

# How long a manager's invitation link stays good (hours).
PARK_INVITE_TTL_HOURS = env_int("PARK_INVITE_TTL_HOURS", 72)
if PARK_INVITE_TTL_HOURS < 1:
    raise ConfigError(
        f"PARK_INVITE_TTL_HOURS must be at least 1 (hours), got {PARK_INVITE_TTL_HOURS}"
    )

# Planner defaults for allocation rounds.
PLANNER_TIME_LIMIT = float(env_str("PLANNER_TIME_LIMIT", "10"))
# How the GPU class measures a tenant's share in rounds: "hours" (GPU-hours, the default) or
# "dominant_share" (the largest of its GPU-, CPU- and memory-hours over the class's capacity in
# each: Dominant Resource Fairness). Lines and instruments are always measured in hours.
PARK_GPU_FAIRNESS = env_str("PARK_GPU_FAIRNESS", "hours")
if PARK_GPU_FAIRNESS not in {"hours", "dominant_share"}:
    raise ConfigError(
        f"PARK_GPU_FAIRNESS must be hours or dominant_share, got {PARK_GPU_FAIRNESS!r}"
    )
# How far after a closure a displaced booking is moved to, or offered, the same length of time.
PARK_CLOSURE_MOVE_DAYS = env_int("PARK_CLOSURE_MOVE_DAYS", 14)

# Researcher API. Rate-limit counters live in the cache: Redis when REDIS_URL is set (shared
# by all workers), else per-process memory (the limit then applies per worker).
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 120)
# Requests with unknown, expired or revoked tokens per address in any 60 s; more answer 429.
API_BAD_TOKEN_LIMIT_PER_MINUTE = env_int("API_BAD_TOKEN_LIMIT_PER_MINUTE", 20)
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

# Logs: JSON lines in production (LOG_FORMAT=json, the default with DEBUG=0), plain text in
# development; each request adds one "park.access" line.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ConfigError(f"LOG_FORMAT must be json or text, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.logging.JsonLineFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own request lines duplicate park.access.
        "django.server": {"level": "WARNING"},
        "park.access": {"level": env_str("ACCESS_LOG_LEVEL", "INFO" if not DEBUG else "WARNING")},
    },
}

SITE_NAME = _("Park booking")

# Billing (booking.billing): peak hours are Monday–Friday from the first to the second hour,
# local time (TIME_ZONE); RMB shown on statements at this rate (RMB per HKD) when set.
BILLING_PEAK_HOURS = (9, 18)
BILLING_RMB_PER_HKD = env_str("BILLING_RMB_PER_HKD", "") or None
# Rate factors per Slurm cluster (a ClusterFactor row in the admin overrides these).
BILLING_CLUSTER_FACTORS: dict[str, str] = {}

# Reminders (booking.notices): a notice claimed by a worker that died is sent again after this
# many seconds (booking.notices.sending says why that is the safe side).
NOTICE_STALE_CLAIM_SECONDS = env_int("NOTICE_STALE_CLAIM_SECONDS", 600)
