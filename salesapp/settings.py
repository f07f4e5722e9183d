"""Settings come from the environment only; with nothing set, the embedded defaults run.

Every variable is documented in .env.example. All local state (SQLite database, stored
files, the embedded warehouse, the broker's folders) lives under DATA_DIR (default var/).
Reading the settings creates nothing: each folder is made by the process that first needs
it (salesapp/folders.py). A malformed value stops start-up with the variable's name.
"""

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def env_bool(name: str, default: bool) -> bool:
    """Unset or empty: the default. Anything but the words below stops start-up: a typo in
    DJANGO_DEBUG must not quietly read as False (or a typo in a switch as "off")."""
    value = env(name).lower()
    if value == "":
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={env(name)!r} is not a boolean: set {', '.join(TRUE_WORDS)} to switch it on, "
        f"{', '.join(FALSE_WORDS)} to switch it off, or leave it unset for the default "
        f"({'on' if default else 'off'})."
    )


def env_int(name: str, default: int) -> int:
    """Unset or empty: the default; else a whole number, or start-up stops naming the variable."""
    value = env(name)
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a whole number (e.g. {name}={default}); leave it unset for that default."
        ) from None


SIZE_RE = re.compile(r"[0-9]+(\.[0-9]+)?\s*([KMGT]i?)?B", re.IGNORECASE)


def env_size(name: str, default: str) -> str:
    """Unset or empty: the default; else a size in DuckDB's syntax (700MB, 1.5GB, 2GiB)."""
    value = env(name)
    if value == "":
        return default
    if not SIZE_RE.fullmatch(value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a size such as {default}; leave it unset for the default.")
    return value


BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env("DATA_DIR") or BASE_DIR / "var").resolve()

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-local-only-key-set-DJANGO_SECRET_KEY-in-production"
ALLOWED_HOSTS = [h for h in env("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("DJANGO_CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "apps.accounts",
    "apps.etl",
    "apps.uploads",
    "apps.warehouse",
    "apps.reports",
    "apps.api",
    "apps.audit",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "salesapp.urls"
WSGI_APPLICATION = "salesapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=60,
    )
}
DATABASES["default"].setdefault("TEST", {})
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's SQLite backend that also makes the file's folder when it first opens it.
    DATABASES["default"]["ENGINE"] = "salesapp.sqlite"
    # The web process and the worker write to one SQLite file: wait on locks, don't fail.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The test database is a file, so that a real worker process started by the
    # integration tests sees the same rows as the test itself.
    DATABASES["default"]["TEST"]["NAME"] = str(DATA_DIR / "test-db.sqlite3")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
AUTHENTICATION_BACKENDS = ["apps.accounts.backends.ThrottledModelBackend"]
# Login throttling (apps/accounts/throttle.py): this many failures for one username from one
# address within the window (seconds) lock that pair out for LOGIN_LOCKOUT_SECONDS.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 15 * 60)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60)
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Files: raw uploads, processed parquet and rejected rows. Local disk by default,
# Google Cloud Storage through django-storages when GCS_BUCKET is set.
MEDIA_ROOT = DATA_DIR / "files"
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "apps.reports.staticfinders.PlotlyFinder",
]
WHITENOISE_USE_FINDERS = True
GCS_BUCKET = env("GCS_BUCKET")
if GCS_BUCKET:
    _files_storage = {
        "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
        "OPTIONS": {
            "bucket_name": GCS_BUCKET,
            "project_id": env("GCS_PROJECT") or None,
            "file_overwrite": False,
        },
    }
else:
    _files_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
STORAGES = {
    "default": _files_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 500 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Every uploaded file streams to a temporary file in chunks and is hashed on the way.
FILE_UPLOAD_HANDLERS = ["apps.uploads.handlers.StreamingUploadHandler"]
# Temporary files: uploads stream there (apps/uploads/handlers.py), the ETL works there.
# Made on first use (salesapp.folders.temp_dir); Django's FILE_UPLOAD_TEMP_DIR stays unset.
TEMP_DIR = DATA_DIR / "tmp"

# The REST API: a per-user token (`manage.py api_token USER`, the admin, or POST /api/token/),
# or the browser session; everything needs a login, and each endpoint then applies its scope.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sales data platform API",
    "DESCRIPTION": "Upload sales files, follow their ETL, fetch their rejected rows.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema names every endpoint and field: for signed-in callers, like the rest of the API.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# Warehouse: the embedded Delta Lake + DuckDB engine under DATA_DIR, or BigQuery.
WAREHOUSE = env("WAREHOUSE", "embedded")
if WAREHOUSE not in {"embedded", "bigquery"}:
    raise ImproperlyConfigured("WAREHOUSE must be 'embedded' or 'bigquery'.")
WAREHOUSE_DIR = DATA_DIR / "warehouse"
# Embedded warehouse compaction: on load once the table has this many files (0: off),
# and every WAREHOUSE_COMPACT_EVERY seconds from Celery beat (0: off).
WAREHOUSE_COMPACT_FILES = env_int("WAREHOUSE_COMPACT_FILES", 200)
WAREHOUSE_COMPACT_EVERY = env_int("WAREHOUSE_COMPACT_EVERY", 15 * 60)
# Memory the web process's warehouse reader (the embedded warehouse's DuckDB, shared by every
# report and export of the process) may use; past it, sorts and aggregates spill to
# DATA_DIR/tmp/warehouse-reader. DuckDB's size syntax.
WAREHOUSE_READER_MEMORY_LIMIT = env_size("WAREHOUSE_READER_MEMORY_LIMIT", "512MB")
BIGQUERY_PROJECT = env("BIGQUERY_PROJECT")
BIGQUERY_DATASET = env("BIGQUERY_DATASET", "sales")
BIGQUERY_API_ENDPOINT = env("BIGQUERY_API_ENDPOINT")
# Where the dataset is made and every job runs (EU, europe-west2, australia-southeast1, ...):
# needed to create the dataset (a dataset never moves); unset, jobs run where it already is.
BIGQUERY_LOCATION = env("BIGQUERY_LOCATION")
# Row access policies on orders-cleaned (warehouse_sync --row-access; docs/deploy-gcp.md): the
# app's service account e-mail gets the TRUE filter (it loads and reads for every role), as do
# the IAM members listed in BIGQUERY_ALL_ROWS_MEMBERS (comma-separated, e.g. group:admins@example.com);
# each region's Looker group gets its rows. BIGQUERY_ROW_ACCESS=true: every warehouse_sync does it.
BIGQUERY_SERVICE_ACCOUNT = env("BIGQUERY_SERVICE_ACCOUNT")
BIGQUERY_ALL_ROWS_MEMBERS = [m.strip() for m in env("BIGQUERY_ALL_ROWS_MEMBERS").split(",") if m.strip()]
BIGQUERY_ROW_ACCESS = env_bool("BIGQUERY_ROW_ACCESS", False)
REPORTING_CURRENCY = env("REPORTING_CURRENCY", "USD").upper()
# Report exports one person may start per REPORT_EXPORT_WINDOW seconds (apps/reports/throttle.py):
# of order lines (whose cost grows with the data), and of anything (0: no limit).
REPORT_EXPORT_WINDOW = env_int("REPORT_EXPORT_WINDOW", 10 * 60)
REPORT_LINE_EXPORTS_PER_WINDOW = env_int("REPORT_LINE_EXPORTS_PER_WINDOW", 10)
REPORT_EXPORTS_PER_WINDOW = env_int("REPORT_EXPORTS_PER_WINDOW", 300)
# Memory the ETL's DuckDB may use before it spills to DATA_DIR/tmp (bounds a worker's peak).
ETL_MEMORY_LIMIT = env("ETL_MEMORY_LIMIT", "700MB")
# Tests only (unset in production): a worker's ETL stops and sleeps at this point of a run
# (reading, validating, committing, committed) so that a test can kill -9 it right there.
ETL_TEST_PAUSE_AT = env("ETL_TEST_PAUSE_AT")
ETL_TEST_PAUSE_SECONDS = env_int("ETL_TEST_PAUSE_SECONDS", 3600)
# Files larger than this are worked on in a DuckDB file under DATA_DIR/tmp, not in memory.
ETL_IN_MEMORY_MAX_BYTES = env_int("ETL_IN_MEMORY_MAX_BYTES", 100 * 1024 * 1024)
# CSV numbers and dates typed by DuckDB's reader when a sample of the file says they all
# read one way (apps/etl/pipeline/typed_read.py); false reads every cell as text.
ETL_CSV_TYPED_READ = env_bool("ETL_CSV_TYPED_READ", True)

# The cache (login throttling counts failures in it): Redis when REDIS_URL is set, so every
# web process sees the same counts; else per-process memory, fine for one local server.
if env("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("REDIS_URL")}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Report results are cached under the warehouse's version (apps/reports/results.py): at most
# this many bytes per result (bigger ones are not cached), kept at most this many seconds.
REPORT_CACHE_MAX_BYTES = env_int("REPORT_CACHE_MAX_BYTES", 2 * 1024 * 1024)
REPORT_CACHE_SECONDS = env_int("REPORT_CACHE_SECONDS", 24 * 3600)

# Celery: Redis when REDIS_URL is set, else a filesystem broker that needs no server.
REDIS_URL = env("REDIS_URL")
BROKER_DIR = DATA_DIR / "broker"
# Named queues on Redis, so each kind of work gets its own workers (docker-compose.yml starts
# one per queue): uploads, their ETL and the sweep (ingest); warehouse writes such as
# compaction (load). Routes name task modules; tests/test_configuration.py checks that each
# matches a registered task and that a compose worker consumes its queue.
CELERY_QUEUE_NAMES = ("ingest", "load")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_DEFAULT_QUEUE = "ingest"
    CELERY_TASK_ROUTES = {
        "apps.uploads.tasks.*": {"queue": "ingest"},
        "apps.warehouse.tasks.*": {"queue": "load"},
    }
    # An unacknowledged task (its worker died) goes back to the queue after this many
    # seconds; keep it above the hard time limit, or a long task would run twice at once.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("REDIS_VISIBILITY_TIMEOUT", 2 * 60 * 60)}
    if env("REDIS_UNACKED_RESTORE_INTERVAL"):
        # How often a worker looks for such tasks (kombu's default is about every 100 s).
        CELERY_BROKER_TRANSPORT_OPTIONS |= {
            "unacked_restore_interval": env_int("REDIS_UNACKED_RESTORE_INTERVAL", 10),
            "unacked_restore_throttle": 1,
        }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # The exchange tables; kombu's default is ./control in the current directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # Seconds between looks at the queue folder: how soon a task starts, and a worker stops.
        "polling_interval": 0.5,
    }
    # kombu's filesystem transport fails on missing folders: salesapp/celery.py makes them
    # before a task is published and when a worker starts.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("ETL_SOFT_TIME_LIMIT", 55 * 60)
CELERY_TASK_TIME_LIMIT = env_int("ETL_TIME_LIMIT", CELERY_TASK_SOFT_TIME_LIMIT + 5 * 60)
if REDIS_URL and CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= CELERY_TASK_TIME_LIMIT:
    # Redis would hand a running task to a second worker, and its claim would let it in.
    raise ImproperlyConfigured("REDIS_VISIBILITY_TIMEOUT must be longer than ETL_TIME_LIMIT.")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The sweep (Celery beat; `manage.py serve` runs beat inside its worker) re-enqueues uploads
# queued longer than UPLOAD_SWEEP_QUEUED_AFTER seconds (the broker was down or lost them)
# and uploads whose run stopped beating (their worker died).
UPLOAD_SWEEP_EVERY = env_int("UPLOAD_SWEEP_EVERY", 60)
UPLOAD_SWEEP_QUEUED_AFTER = env_int("UPLOAD_SWEEP_QUEUED_AFTER", 300)
# A running upload's heartbeat: its run records a sign of life every UPLOAD_HEARTBEAT_EVERY
# seconds; one silent for UPLOAD_HEARTBEAT_STALE seconds died (kill -9, out of memory, a lost
# machine) and the sweep queues it again, whatever the broker: within STALE + SWEEP_EVERY.
UPLOAD_HEARTBEAT_EVERY = env_int("UPLOAD_HEARTBEAT_EVERY", 30)
UPLOAD_HEARTBEAT_STALE = env_int("UPLOAD_HEARTBEAT_STALE", 150)
if UPLOAD_HEARTBEAT_STALE < 2 * UPLOAD_HEARTBEAT_EVERY:
    # One late beat (a busy database, a long pause) must not make a live run look dead.
    raise ImproperlyConfigured("UPLOAD_HEARTBEAT_STALE must be at least twice UPLOAD_HEARTBEAT_EVERY.")
CELERY_BEAT_SCHEDULE = {
    "sweep-uploads": {"task": "apps.uploads.tasks.sweep_uploads", "schedule": float(UPLOAD_SWEEP_EVERY)},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Celery's file-backed schedule, whose folder is made when beat opens it.
CELERY_BEAT_SCHEDULER = "salesapp.beat:BeatSchedule"

# Mail to uploaders (rows rejected, upload failed): printed to the console unless
# EMAIL_BACKEND is set, e.g. django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST etc.
_dev_mail = "django.core.mail.backends.console.EmailBackend"
_mail_options = {}
if env("EMAIL_HOST"):
    _mail_options = {
        "host": env("EMAIL_HOST"),
        "port": env_int("EMAIL_PORT", 25),
        "username": env("EMAIL_HOST_USER"),
        "password": env("EMAIL_HOST_PASSWORD"),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
    }
MAILERS = {
    "default": {
        # Printed locally; in production the SMTP backend unless EMAIL_BACKEND says otherwise
        # (Django's deploy check refuses the console backend there: mail would be lost).
        "BACKEND": env("EMAIL_BACKEND", _dev_mail if DEBUG else "django.core.mail.backends.smtp.EmailBackend"),
        "OPTIONS": _mail_options,
    }
}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "sales-platform@localhost")
# How links in emails start (the address users reach the site at).
WEB_PORT = env_int("WEB_PORT", 8000)
SITE_URL = env("SITE_URL", f"http://127.0.0.1:{WEB_PORT}")
# The reconciliation (apps/uploads/reconcile.py): every WAREHOUSE_RECONCILE_EVERY seconds
# from Celery beat (0: off; each load's own rows are compared after it anyway), the rows each
# upload says it loaded compared with the warehouse, in one grouped count.
WAREHOUSE_RECONCILE_EVERY = env_int("WAREHOUSE_RECONCILE_EVERY", 60 * 60)
if WAREHOUSE_RECONCILE_EVERY:
    CELERY_BEAT_SCHEDULE["reconcile-warehouse"] = {
        "task": "apps.uploads.tasks.reconcile_warehouse",
        "schedule": float(WAREHOUSE_RECONCILE_EVERY),
    }
if WAREHOUSE == "embedded" and WAREHOUSE_COMPACT_EVERY:
    CELERY_BEAT_SCHEDULE["warehouse-compact"] = {
        "task": "apps.warehouse.tasks.compact_warehouse",
        "schedule": WAREHOUSE_COMPACT_EVERY,
    }

DEMO_PASSWORD = env("DEMO_PASSWORD", "demo-pass-2026")
# When set, /metrics asks for `Authorization: Bearer <METRICS_TOKEN>` (Prometheus: authorization.credentials).
METRICS_TOKEN = env("METRICS_TOKEN")
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 2)

# Security headers. Plotly injects <style> elements, so styles allow inline; scripts don't.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "frame-ancestors": [CSP.NONE],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
}
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preload stays opt-in: once on the browsers' list a domain and all its subdomains
        # are https-only for months, whatever else runs there; that is the domain owner's call.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# LOG_FORMAT=json: one JSON object per line. Either way, lines logged during an upload's
# ETL carry its upload_id (salesapp/logs.py).
LOG_FORMAT = env("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be 'plain' or 'json'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"upload_id": {"()": "salesapp.logs.UploadIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [upload=%(upload_id)s] %(message)s"},
        "json": {"()": "salesapp.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["upload_id"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The filesystem broker has no host; kombu warns about that on every connection.
        "kombu.connection": {"level": "ERROR"},
        # "Could not determine dtype for column N, falling back to string": a column empty
        # in a workbook's first 1,000 rows, which the ETL reads right as it is.
        "fastexcel.types.dtype": {"level": "ERROR"},
    },
}
