"""Gridfolio settings, read from the environment (django-environ).

Every variable is documented in `.env.example`, in the same sections as this file. With `DEBUG`
off (the default) the secrets have no default and start-up stops with a message naming the missing
variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from django.utils.csp import CSP

# === Core ========================================================================================
BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "formtools",
    "axes",
    "portal",
    "homes",
    "devices",
    "readings",
    "onboarding",
    "integrations",
    "alerts",
    "api",
]

MIDDLEWARE = [
    "portal.middleware.RequestIdMiddleware",
    "portal.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.OrganizationMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "portal.context_processors.portal",
            ],
            # `when`, `ago`, ... everywhere without {% load %}: the portal's one way to show time.
            "builtins": ["portal.templatetags.portal_tags"],
        },
    },
]
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True


# === Security ====================================================================================
def _secret(name: str, debug_default: str) -> str:
    """A secret from the environment; only DEBUG may fall back to a development value.

    A missing secret does not stop the settings from loading (commands that need none, such as
    `makemigrations`, work anywhere); what serves or uses one refuses to start instead:
    portal.checks.require_secrets in wsgi.py and the Celery worker and beat, `check --deploy`.
    """
    value = env.str(name, default="")
    return value or (debug_default if DEBUG else "")


SECRET_KEY = _secret("SECRET_KEY", "dev-only-insecure-secret-key-do-not-use-in-production")
# Fernet keys (comma-separated; the first encrypts, all decrypt, so keys can be rotated).
FIELD_ENCRYPTION_KEY = _secret(
    "FIELD_ENCRYPTION_KEY", "ZGV2LW9ubHktZmllbGQta2V5LWRvLW5vdC11c2UhISE="
)
MISSING_SECRETS = [
    name
    for name, value in (("SECRET_KEY", SECRET_KEY), ("FIELD_ENCRYPTION_KEY", FIELD_ENCRYPTION_KEY))
    if not value
]

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Behind a TLS-terminating proxy, set SECURE_PROXY_SSL_HEADER=1 and SECURE_SSL_REDIRECT as needed.
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The SSL redirect must not bounce the load balancer's health probe.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# A strict Content-Security-Policy: every script and style comes from our own static files.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# === Database and cache ==========================================================================
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# === Auth and sign-in ============================================================================
AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Repeated failed sign-ins: 5 failures per (email, IP) lock that pair out for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_USERNAME_CALLABLE = "portal.auth.axes_username"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The client's address is X-Forwarded-For's PROXY_COUNT-th entry from the right (REMOTE_ADDR with
# no proxy): portal.auth.client_address. axes' own AXES_IPWARE_* settings need django-ipware,
# which is not installed; without it axes would use REMOTE_ADDR, the proxy's address.
PROXY_COUNT = env.int("PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "portal.auth.client_address"

# Password-reset requests: per email and per client address, within a window (Django's cache).
PASSWORD_RESET_EMAIL_LIMIT = env.int("PASSWORD_RESET_EMAIL_LIMIT", default=3)
PASSWORD_RESET_ADDRESS_LIMIT = env.int("PASSWORD_RESET_ADDRESS_LIMIT", default=20)
PASSWORD_RESET_WINDOW_S = env.int("PASSWORD_RESET_WINDOW_S", default=3600)

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# === Files and uploads ===========================================================================
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
DATA_DIR = env.path("DATA_DIR", default=BASE_DIR / "var")
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The largest request body accepted: a 100 MB readings file and its multipart envelope. A larger
# declared body is refused before anything reads it (portal.middleware.RequestSizeLimitMiddleware).
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=101 * 1024 * 1024)
# A checked readings file waits in DATA_DIR/uploads/ for its confirmation this long (from its last
# change), then the hourly sweep deletes it and marks the upload expired. A day: checking and
# confirming is one sitting, re-uploading an expired file costs a minute, and files of customers'
# meter data should not linger on disk. (The confirm re-parses the file anyway: waiting longer
# would buy no correctness.)
UPLOAD_PENDING_TTL_S = env.int("UPLOAD_PENDING_TTL_S", default=24 * 3600)
# The most bytes one organization's unconfirmed uploads may hold on disk at once (five files at
# the 100 MB limit for one upload): a new file past it is refused until some are confirmed or
# discarded. It must be at least the limit for one upload, or a big file could never be checked.
UPLOAD_PENDING_MAX_BYTES_PER_ORG = env.int(
    "UPLOAD_PENDING_MAX_BYTES_PER_ORG", default=500 * 1024 * 1024
)

# === Tasks (Celery) and the sync engine ==========================================================
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
# Without a broker, tasks run eagerly in-process (make run, make test without Redis).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
# Celery's Django fix-up closes the database connection before and after every task unless this is
# set: each task then opens a new PostgreSQL session (a backend fork, authentication, cold caches).
# Set, the fix-up leaves the connection alone and portal/celery.py closes it as Django does after a
# request: once older than CONN_MAX_AGE, or broken.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1_000_000)
CELERY_BEAT_SCHEDULE = {
    # Nothing is lost when the broker or a worker dies: pending and due links are re-enqueued.
    "sweep-upstream-links": {"task": "integrations.tasks.sweep", "schedule": 60.0},
    # Checked uploads never confirmed within UPLOAD_PENDING_TTL_S: files deleted, rows "expired".
    "expire-pending-uploads": {"task": "readings.tasks.expire_pending_uploads", "schedule": 3600.0},
    # M&V verdicts of series whose readings changed (the devices list's column and filter).
    "refresh-readiness": {"task": "readings.tasks.refresh_stale_readiness", "schedule": 60.0},
    # The readings table's yearly partitions ahead of time; rows in its default partition (an
    # upload of years long past) moved into their own year (readings.partitions).
    "ensure-reading-partitions": {"task": "readings.tasks.ensure_partitions", "schedule": 3600.0},
    # Alerts: every organization's conditions raised, refreshed or resolved; the daily digest.
    "check-alerts": {
        "task": "alerts.tasks.check_alerts",
        "schedule": env.float("ALERT_CHECK_INTERVAL_S", default=900.0),
    },
    "send-alert-digests": {
        "task": "alerts.tasks.send_digests",
        "schedule": crontab(minute=0, hour=env.int("ALERT_DIGEST_HOUR_UTC", default=7)),
    },
}
# Sync engine: attempts before a link is "failed", and how long a worker's claim on a link lasts.
SYNC_MAX_ATTEMPTS = env.int("SYNC_MAX_ATTEMPTS", default=8)
SYNC_CLAIM_LEASE_S = env.int("SYNC_CLAIM_LEASE_S", default=600)
SYNC_BACKOFF_BASE_S = env.float("SYNC_BACKOFF_BASE_S", default=5.0)
# The most links one run of the sweep queues: its work and memory stay bounded however many are due.
SYNC_SWEEP_LIMIT = env.int("SYNC_SWEEP_LIMIT", default=5000)
# Wattics: tries per packet within one task run (then the task backs off), and the first pause.
WATTICS_PACKET_ATTEMPTS = env.int("WATTICS_PACKET_ATTEMPTS", default=6)
WATTICS_RETRY_BASE_S = env.float("WATTICS_RETRY_BASE_S", default=0.5)
# Wattics: the longest wait between two runs of a stream that is behind (it retries until 200).
WATTICS_RETRY_MAX_S = env.float("WATTICS_RETRY_MAX_S", default=900.0)
# Eager mode only (make run): a thread in the web process runs due links this often.
EAGER_SWEEP_INTERVAL_S = env.float("EAGER_SWEEP_INTERVAL_S", default=10.0)

# === Upstream platforms ==========================================================================
# Sandbox mode serves every upstream from the in-process emulators (integrations/sandbox/).
INTEGRATIONS_SANDBOX = env.bool("INTEGRATIONS_SANDBOX", default=False)
WATTCARBON_BASE_URL = env.str("WATTCARBON_BASE_URL", default="https://api.wattcarbon.com")
SPARK_BASE_URL = env.str(
    "SPARK_BASE_URL", default="https://api.voluespark.com/energy-coordination/v1"
)
# The token endpoint of Spark's quickstart (seed 002, "Authentication").
SPARK_TOKEN_URL = env.str(
    "SPARK_TOKEN_URL", default="https://auth.identity.volue.com/connect/token"
)
# After a Spark webhook re-registration the previous secret stays accepted this long: Spark retries
# a delivery (signed once, with the secret of its registration) up to 3 times on an unpublished
# schedule, and an attempt already in flight can arrive after the old registration is removed. A day
# outlasts any plausible retry backoff or upstream backlog; the old secret was only ever shared with
# Spark, so keeping it a day costs little. 0 refuses it at once.
SPARK_WEBHOOK_SECRET_GRACE_S = env.int("SPARK_WEBHOOK_SECRET_GRACE_S", default=24 * 3600)
WATTSHIFT_BASE_URL = env.str("WATTSHIFT_BASE_URL", default="https://api.wattshift.com")
WATTICS_BASE_URL = env.str("WATTICS_BASE_URL", default="https://web-collector.wattics.com")
# Origins (`scheme://host:port`, comma-separated, exactly as written) that connections may use
# besides each platform's published hosts, e.g. `http://127.0.0.1:9000` for a local stand-in.
# Organization admins can only choose among these and the published ones (integrations/egress.py).
UPSTREAM_ALLOWED_ORIGINS = env.list("UPSTREAM_ALLOWED_ORIGINS", default=[])

# === Public API (/api/v1/) =======================================================================
# Requests one API key may make per window (a fixed window per key, counted in Django's cache:
# share it through CACHE_URL when several processes serve); past it, 429 with Retry-After. 0: no limit.
API_RATE_LIMIT = env.int("API_RATE_LIMIT", default=600)
API_RATE_WINDOW_S = env.int("API_RATE_WINDOW_S", default=60)

# === Onboarding lookups ==========================================================================
# Where the onboarding wizard looks up utilities and rate plans by zip code (dotted path of a
# class with `utilities_for_zip(organization, zip_code) -> list[dict]`), and how long an answer is reused.
UTILITY_DIRECTORY = env.str(
    "UTILITY_DIRECTORY", default="integrations.directory.WattShiftDirectory"
)
UTILITY_CACHE_MAX_AGE_S = env.int("UTILITY_CACHE_MAX_AGE_S", default=7 * 24 * 3600)
PRICE_SIGNAL_CACHE_S = env.int("PRICE_SIGNAL_CACHE_S", default=300)

# === Email =======================================================================================
# EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587 (default: print to the console).
_email = env.email_url("EMAIL_URL", default="consolemail://")
_smtp_options = {
    "host": _email.get("EMAIL_HOST"),
    "port": _email.get("EMAIL_PORT"),
    "username": _email.get("EMAIL_HOST_USER"),
    "password": _email.get("EMAIL_HOST_PASSWORD"),
    "use_tls": _email.get("EMAIL_USE_TLS"),
    "use_ssl": _email.get("EMAIL_USE_SSL"),
}
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": {key: value for key, value in _smtp_options.items() if value}
        if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
        else {},
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Gridfolio <noreply@gridfolio.local>")

# === Logging: one line per event on stdout, with the request id where there is one ===============
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.logging.RequestIdFilter"}},
    "formatters": {
        "line": {
            "format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s] %(message)s",
        }
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["request_id"],
            "formatter": "line",
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "waitress": {"level": "WARNING"},
        # One line per task run is noise; failures are still logged at WARNING and above.
        "celery.app.trace": {"level": "WARNING"},
    },
}
