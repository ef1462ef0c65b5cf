"""Maskflow settings. Every setting comes from the environment; the defaults run a local demo.

MASKFLOW_ENV=production switches on the production checks: default secrets refuse to start,
cookies are secure and HSTS is sent.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.envfiles import read_setting

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    """The variable's value; a secret setting may come from the file `NAME_FILE` names."""
    return read_setting(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [v.strip() for v in env(name, default).split(",") if v.strip()]


MASKFLOW_ENV = env("MASKFLOW_ENV", "development")
PRODUCTION = MASKFLOW_ENV == "production"
TESTING = "pytest" in sys.modules

DATA_DIR = Path(env("MASKFLOW_DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def install_secret(name: str) -> str:
    """A random key made on this install's first run and kept in DATA_DIR (mode 0600), so no
    key that signs anything ships with the code. Every process of the install reads the same
    file; the first to start writes it."""
    path = DATA_DIR / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it right now
            value = path.read_text().strip()
            if value:
                return value
            time.sleep(0.1)
        raise ImproperlyConfigured(f"{path} is empty; delete it to make a new key") from None
    value = secrets.token_urlsafe(64)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value


# Kept to refuse it in production: earlier versions shipped it as the development default.
DEV_SECRET_KEY = "dev-insecure-maskflow-secret-key-change-me-in-production-0123456789"
SECRET_KEY = env("SECRET_KEY") or ("" if PRODUCTION else install_secret("secret_key"))
# Development key (id "dev") so secrets can be stored with no configuration at all.
DEV_FIELD_ENCRYPTION_KEYS = "dev:ZGV2LW9ubHktZmllbGQta2V5LWRvLW5vdC11c2UtMzI="
FIELD_ENCRYPTION_KEYS = env("FIELD_ENCRYPTION_KEYS", DEV_FIELD_ENCRYPTION_KEYS)
# Signs the audit chain (apps/audit/keys.py): key-id:base64(32+ bytes), first signs, all verify.
DEV_AUDIT_HMAC_KEYS = "dev:ZGV2LW9ubHktYXVkaXQtY2hhaW4ta2V5LWRvLW5vdC11c2U="
AUDIT_HMAC_KEYS = env("AUDIT_HMAC_KEYS", DEV_AUDIT_HMAC_KEYS)

# Off unless asked for: debug pages list every URL pattern and settings, and the demo needs none.
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver"
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

if PRODUCTION:
    problems = []
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        problems.append("SECRET_KEY must be set to a random value of at least 50 characters")
    if FIELD_ENCRYPTION_KEYS == DEV_FIELD_ENCRYPTION_KEYS:
        problems.append("FIELD_ENCRYPTION_KEYS must be set (see README: key-id:base64-32-bytes)")
    if AUDIT_HMAC_KEYS == DEV_AUDIT_HMAC_KEYS:
        problems.append("AUDIT_HMAC_KEYS must be set (see README: key-id:base64-32-bytes)")
    if not ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must list the host names this server answers to")
    if problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(problems))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "apps.core",
    "apps.accounts",
    "apps.audit",
    "apps.connections",
    "apps.workflows",
    "apps.executions",
    "apps.schedules",
    "apps.notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.BodySizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.audit.middleware.AuditRefusalMiddleware",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'maskflow.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A worker and the web server share the file: wait for locks instead of failing at once.
    # WAL lets readers go on while one process writes. IMMEDIATE takes the write lock when a
    # transaction begins, where the busy timeout applies: a deferred transaction that reads
    # and then writes (the audit chain's append) would fail at once with "database is locked"
    # when another writer got in between.
    sqlite_options = DATABASES["default"].setdefault("OPTIONS", {})
    sqlite_options["timeout"] = 30
    sqlite_options.setdefault("transaction_mode", "IMMEDIATE")
    sqlite_options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
if DATABASES["default"]["ENGINE"] in ("mssql", "sql_server.pyodbc"):
    DATABASES["default"]["ENGINE"] = "mssql"
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "driver", env("MSSQL_ODBC_DRIVER", "ODBC Driver 18 for SQL Server")
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard:index"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = ["apps.accounts.hashers.BCrypt12PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Outside production the files are served straight from static/ (no collectstatic step needed).
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "maskflow",
    }
}
if env("CACHE_URL").startswith("redis://"):
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("CACHE_URL"),
    }

# --- sessions, cookies, headers ------------------------------------------------------------
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = 31536000 if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'; "
    "object-src 'none'"
)
# Swagger UI (/api/docs/) sets style attributes from its scripts; scripts stay 'self' only.
API_DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)

# --- API -------------------------------------------------------------------------------------
JWT_ALGORITHM = "HS256"
JWT_LIFETIME = timedelta(seconds=env_int("JWT_LIFETIME_SECONDS", 24 * 3600))
# Production: JWT_SIGNING_KEY, else SECRET_KEY (`check --deploy` refuses a weak one). Elsewhere
# a key made for this install on its first run, never one anyone else knows.
JWT_SIGNING_KEY = env("JWT_SIGNING_KEY") or (
    SECRET_KEY if PRODUCTION else install_secret("jwt_signing_key")
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.JWTAuthentication",
        "apps.accounts.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["apps.core.envelope.EnvelopeJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.SafeJSONParser"],
    "EXCEPTION_HANDLER": "apps.core.envelope.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.core.throttles.UserRateThrottle",
        "apps.core.throttles.IPRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("API_RATE_USER", "1000/min"),
        "ip": env("API_RATE_IP", "1000/min"),
        "login": env("API_RATE_LOGIN", "10/min"),
    },
    # X-Forwarded-For is trusted only behind NUM_PROXIES reverse proxies (then the address that
    # many hops from the right is the client's). 0 means none: anyone can write the header.
    # DRF's None would take the header's whole value from any client.
    "NUM_PROXIES": max(0, env_int("NUM_PROXIES", 0)),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Maskflow API",
    "DESCRIPTION": "Mask production databases into safe, consistent test copies.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "/static/vendor/swagger-ui",
    "SWAGGER_UI_FAVICON_HREF": "/static/img/favicon.svg",
    "COMPONENT_SPLIT_REQUEST": True,
}

UNMASK_RATE = env("UNMASK_RATE", "10/min")

# Login throttling for pages (the API uses the "login" DRF rate).
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 300)

# --- Celery ------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_DIR = DATA_DIR / "broker"
if CELERY_BROKER_URL == "filesystem://":
    for sub in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
    _results = DATA_DIR / "results"
    _results.mkdir(parents=True, exist_ok=True)
    CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", f"file://{_results}")
else:
    CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
# Several installs may share one broker: each sends and consumes on its own queue.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Schedules live in the app database (apps.schedules keeps django-celery-beat's entries);
# run `celery -A config beat` once per install, or `worker -B` on one worker.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Every worker marks runs whose worker died as failed this often (with or without beat).
EXECUTION_REAP_SECONDS = env_int("EXECUTION_REAP_SECONDS", 30)
# A running execution with no heartbeat for this long lost its worker (or, split into units,
# its task messages with a broker that kept none) and is failed by the reaper.
EXECUTION_STALE_SECONDS = env_int("EXECUTION_STALE_SECONDS", 60)
# A run still queued after this long was never taken by a worker and is failed (0: never).
EXECUTION_QUEUE_TIMEOUT_SECONDS = env_int("EXECUTION_QUEUE_TIMEOUT_SECONDS", 86400)
# A worker waits this long for an unreachable app database before a run commits and while it
# records the outcome; past it, the target is rolled back (see apps/executions/services/appdb).
EXECUTION_APP_DB_WAIT_SECONDS = env_int("EXECUTION_APP_DB_WAIT_SECONDS", 45)
# Rows per work unit: above 0, runs are split into units that any worker runs, staged in the
# target and published in one short transaction (0: each run is one task, one transaction).
EXECUTION_UNIT_ROWS = env_int("EXECUTION_UNIT_ROWS", 0)
# At most this many units read from one source connection at once, across all runs and
# workers (0: no limit); a unit over the limit waits and retries.
EXECUTION_MAX_SOURCE_READERS = env_int("EXECUTION_MAX_SOURCE_READERS", 0)
# A failed or cancelled run's staging tables stay this long for a resume, then are dropped.
EXECUTION_STAGING_KEEP_SECONDS = env_int("EXECUTION_STAGING_KEEP_SECONDS", 86400)
# A PostgreSQL source's snapshot, shared by a run's units, is held at most this long.
EXECUTION_SNAPSHOT_MAX_SECONDS = env_int("EXECUTION_SNAPSHOT_MAX_SECONDS", 86400)

# --- Notifications -------------------------------------------------------------------------------
# Links in notifications point here (the address users open the app at).
MASKFLOW_BASE_URL = env("MASKFLOW_BASE_URL", "http://localhost:8000")
# Webhooks may only call these hosts (names, *.suffix, addresses or CIDRs, optional :port or
# :from-to); empty: no webhook can be saved or sent. The deny list wins; link-local and cloud
# metadata addresses are always refused.
NOTIFY_WEBHOOK_ALLOWED_HOSTS = env_list("NOTIFY_WEBHOOK_ALLOWED_HOSTS")
NOTIFY_WEBHOOK_DENIED_HOSTS = env_list("NOTIFY_WEBHOOK_DENIED_HOSTS")
NOTIFY_WEBHOOK_TIMEOUT = env_int("NOTIFY_WEBHOOK_TIMEOUT", 10)
NOTIFY_WEBHOOK_RETRIES = env_int("NOTIFY_WEBHOOK_RETRIES", 5)
# E-mail through Django's backends: SMTP when EMAIL_HOST is set, else the console (the demo).
EMAIL_HOST = env("EMAIL_HOST", "")
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "maskflow@localhost")

# SQLite databases may only be registered from these folders (a connection must not become a way
# to read arbitrary files on the server).
SQLITE_ALLOWED_DIRS = env_list("SQLITE_ALLOWED_DIRS")  # empty: DATA_DIR

# --- Audit ----------------------------------------------------------------------------------------
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365)

# --- Logging: every handler goes through the redacting formatter --------------------------------
LOG_LEVEL = env("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "apps.core.logging.RedactingFilter"}},
    "formatters": {
        "redacting": {
            "()": "apps.core.logging.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "redacting",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# Where connections may point (apps/connections/hostpolicy.py): host names, `*.domain`, CIDRs
# and addresses, each with an optional `:port` or `:low-high`. Link-local and cloud metadata
# addresses are always refused.
CONNECTION_ALLOWED_HOSTS = env_list("CONNECTION_ALLOWED_HOSTS")
CONNECTION_DENIED_HOSTS = env_list("CONNECTION_DENIED_HOSTS")
# Test connection, per user (page and API share it): above it, HTTP 429.
CONNECTION_TEST_RATE = env("CONNECTION_TEST_RATE", "10/min")
# Connection passwords given as `env:NAME` / `file:/path` (apps/connections/passwordref.py):
# the variables (names, or `PREFIX*`) and folders they may name. Empty: no references.
CONNECTION_PASSWORD_ENV = env_list("CONNECTION_PASSWORD_ENV")
CONNECTION_PASSWORD_FILE_DIRS = env_list("CONNECTION_PASSWORD_FILE_DIRS")
# A signed audit checkpoint every this many events (apps/audit/checkpoints.py); 0: on demand only.
AUDIT_CHECKPOINT_EVERY = env_int("AUDIT_CHECKPOINT_EVERY", 1000)
