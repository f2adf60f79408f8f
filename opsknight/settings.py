"""Django settings. Every setting that varies by deployment is read here, once, from
the environment (see the configuration table in README.md), with safe defaults."""

import os
import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# A production deployment must set its own key; the fixed fallback exists only so
# that `make run` (DEBUG=true) works with no configuration at all.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (or DEBUG=true for a local run).")
    SECRET_KEY = "django-insecure-local-development-only"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "opsknight",
    "incidents",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "opsknight.api.middleware.ApiRequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "opsknight.urls"
WSGI_APPLICATION = "opsknight.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# No DATABASE_URL: a SQLite file, so a local run needs no database server.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# PostgreSQL: one pool of connections per process (Django's psycopg pool), so that however
# many requests or worker threads run at once, a process never holds more than
# DATABASE_POOL_MAX_SIZE connections: the connection budget is processes × that (see
# docs/operations.md). A request or task takes a connection from the pool and gives it back.
DATABASE_POOL = env.bool("DATABASE_POOL", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django must not
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        # A request waits this long for a free connection, then fails (503 from the API).
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker threads and beat share one SQLite file locally: take the write lock
    # at BEGIN and wait for it, rather than failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# Times in the admin with seconds and the zone (opsknight/formats/en/formats.py).
FORMAT_MODULE_PATH = ["opsknight.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
# Serve app static files (admin, API docs) straight from the packages, so a local
# run needs no collectstatic; the Docker image runs collectstatic anyway.
WHITENOISE_USE_FINDERS = True

# --- API -------------------------------------------------------------------------

# Request bodies larger than this are refused with 413 before they are parsed.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["opsknight.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["opsknight.api.permissions.HasRequiredScopes"],
    "DEFAULT_PARSER_CLASSES": ["opsknight.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "opsknight.api.schema.ScopedAutoSchema",
    "EXCEPTION_HANDLER": "opsknight.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["opsknight.api.throttling.ApiKeyRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OpsKnight webhooks API",
    "DESCRIPTION": "Incidents, their lifecycle, and the webhooks that announce it.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from the installed sidecar package: the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two models have a `status` and two fields take the event types: name them once.
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.Incident.Status",
        "DeliveryStatusEnum": "webhooks.models.Delivery.Status",
        "EventTypeEnum": "incidents.models.IncidentEvent.Type",
        "IncidentSeverityEnum": "incidents.models.Incident.Severity",
        "AlertSeverityEnum": "incidents.alerts.ALERT_SEVERITIES",
        "EndpointSigningEnum": "webhooks.models.Signing",
        "IncidentVisibilityEnum": "incidents.models.Incident.Visibility",
        "EndpointVisibilityFilterEnum": "webhooks.models.VISIBILITY_FILTERS",
    },
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKey": {"type": "http", "scheme": "bearer", "description": "An API key from `manage.py create_api_key`."}
        }
    },
    "SECURITY": [{"ApiKey": []}],
}

# Requests per API key, as "N/sec|min|hour|day"; empty turns rate limiting off.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="1200/min")

# --- Incidents -------------------------------------------------------------------

# Incidents are numbered 1, 2, 3...; people call them by this prefix, a dash and the
# number: `INC-42` (the API's and the payloads' `reference`). Changing it renames every
# incident's reference, old ones too.
INCIDENT_REFERENCE_PREFIX = env.str("INCIDENT_REFERENCE_PREFIX", default="INC")
if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,15}", INCIDENT_REFERENCE_PREFIX):
    raise ImproperlyConfigured(
        f"INCIDENT_REFERENCE_PREFIX must be 1 to 16 letters or digits, starting with a letter, "
        f"not {INCIDENT_REFERENCE_PREFIX!r}."
    )

# --- Redis: Celery's broker, and the cache that counts API requests -----------------

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
        "TIMEOUT": 300,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

# --- Celery ----------------------------------------------------------------------

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# Countdowns for retries must stay below this, or Redis would hand the message to a
# second worker before it is due; longer delays are left to the dispatcher.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fix-up closes the database connection around every task unless this
# is set; a new PostgreSQL connection per task costs more than the task. Connections
# are instead recycled like in a web request (CONN_MAX_AGE, health checks): see
# opsknight/celery.py.
CELERY_DB_REUSE_MAX = 10**9

# --- Webhook delivery ------------------------------------------------------------

# Where operators reach this service: chat messages (webhook formats) link to the
# incident's admin page under it.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Seconds to wait before each retry: attempt 1 at once, then one retry per entry.
WEBHOOK_RETRY_DELAYS = env.list("WEBHOOK_RETRY_DELAYS", cast=float, default=[60, 300, 900])
# A receiver's Retry-After (on 429/503) can push a retry later, up to this many seconds.
WEBHOOK_RETRY_AFTER_MAX = env.float("WEBHOOK_RETRY_AFTER_MAX", default=3600)
# An endpoint whose attempts have all failed for this long is disabled (Svix-like).
WEBHOOK_DISABLE_AFTER_FAILING_FOR = env.float("WEBHOOK_DISABLE_AFTER_FAILING_FOR", default=5 * 24 * 3600)
# Who is told by email when an endpoint is disabled; empty means Django's ADMINS.
WEBHOOK_NOTIFY_EMAILS = env.list("WEBHOOK_NOTIFY_EMAILS", default=[])
# Finished deliveries and their attempts older than this are deleted (in small batches).
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=10.0)
# Loopback, private and link-local targets are refused unless this is true.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
# Internal ranges (CIDR, comma-separated) that are allowed all the same, e.g. an ITSM
# tool on the company network: "10.20.0.0/16,fd12:3456::/48".
WEBHOOK_ALLOWED_PRIVATE_NETWORKS = env.list("WEBHOOK_ALLOWED_PRIVATE_NETWORKS", default=[])
# A PEM file of CA certificates that receivers' certificates are verified against
# instead of the default bundle (a receiver behind a company CA). Verification itself
# cannot be switched off.
WEBHOOK_CA_BUNDLE = env.str("WEBHOOK_CA_BUNDLE", default="")
if WEBHOOK_CA_BUNDLE and not Path(WEBHOOK_CA_BUNDLE).is_file():
    raise ImproperlyConfigured(f"WEBHOOK_CA_BUNDLE: no file at {WEBHOOK_CA_BUNDLE}.")
# An egress proxy every webhook goes through (http://host:port or https://…; CONNECT
# for https receivers), e.g. smokescreen. Empty: direct connections.
WEBHOOK_PROXY_URL = env.str("WEBHOOK_PROXY_URL", default="")
# How often beat runs the dispatcher, and how long a due delivery may wait for its
# queued task before the dispatcher enqueues it again.
WEBHOOK_DISPATCH_INTERVAL = env.float("WEBHOOK_DISPATCH_INTERVAL", default=5.0)
WEBHOOK_REDISPATCH_AFTER = env.float("WEBHOOK_REDISPATCH_AFTER", default=30.0)
# A worker's claim on a delivery. An attempt has one total deadline (connect + read
# timeout) and must be over 2 s before its lease ends (time to record it), so a
# delivery is never sent twice at once: a shorter lease is refused at start.
WEBHOOK_LEASE_SECONDS = env.float("WEBHOOK_LEASE_SECONDS", default=WEBHOOK_CONNECT_TIMEOUT + WEBHOOK_READ_TIMEOUT + 30)
if WEBHOOK_LEASE_SECONDS < WEBHOOK_CONNECT_TIMEOUT + WEBHOOK_READ_TIMEOUT + 2:
    raise ImproperlyConfigured(
        f"WEBHOOK_LEASE_SECONDS ({WEBHOOK_LEASE_SECONDS:g}) must be at least WEBHOOK_CONNECT_TIMEOUT + "
        f"WEBHOOK_READ_TIMEOUT + 2 ({WEBHOOK_CONNECT_TIMEOUT + WEBHOOK_READ_TIMEOUT + 2:g}): an attempt "
        "could outlive its lease and be sent twice at once."
    )
# An event whose active endpoints are at most this many has its deliveries written in
# the change's own transaction; with more, a worker writes them after commit, so an API
# call costs the same with 10,000 endpoints as with one.
WEBHOOK_INLINE_FANOUT_MAX = env.int("WEBHOOK_INLINE_FANOUT_MAX", default=50)
# The most webhook endpoints the service keeps (active or not): each event writes one
# delivery per subscribed endpoint, so this bounds what one event costs. Past it, a
# create answers 400.
WEBHOOK_MAX_ENDPOINTS = env.int("WEBHOOK_MAX_ENDPOINTS", default=1000)
if WEBHOOK_MAX_ENDPOINTS < 1:
    raise ImproperlyConfigured(f"WEBHOOK_MAX_ENDPOINTS must be at least 1, not {WEBHOOK_MAX_ENDPOINTS}.")
# Deliveries per task: a commit's deliveries go out in messages of this many, and a
# task tops its batch up with other due deliveries to this many.
WEBHOOK_BATCH_SIZE = env.int("WEBHOOK_BATCH_SIZE", default=50)
# Threads per worker process that send a batch's requests at once.
WEBHOOK_SEND_THREADS = env.int("WEBHOOK_SEND_THREADS", default=64)
# A slow endpoint (one of its requests in flight for longer than
# WEBHOOK_SLOW_REQUEST_SECONDS) may have at most WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT
# requests in flight from one worker process; more wait WEBHOOK_DEFER_SECONDS. So a
# hanging endpoint cannot hold every sending thread, and fast ones are not held back.
# Each such request also holds its batch's worker thread until it ends, so keep the
# worker's concurrency (WORKER_CONCURRENCY, 16) well above this.
WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT = env.int("WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT", default=4)
WEBHOOK_SLOW_REQUEST_SECONDS = env.float("WEBHOOK_SLOW_REQUEST_SECONDS", default=1.0)
WEBHOOK_DEFER_SECONDS = env.float("WEBHOOK_DEFER_SECONDS", default=1.0)
# How long the previous secret (or ed25519 key pair) keeps signing after a rotation.
WEBHOOK_SECRET_ROTATION_OVERLAP = env.float("WEBHOOK_SECRET_ROTATION_OVERLAP", default=24 * 3600)
# How much of a receiver's answer the attempt log keeps, and the most that is read.
WEBHOOK_RESPONSE_EXCERPT_BYTES = env.int("WEBHOOK_RESPONSE_EXCERPT_BYTES", default=2048)
WEBHOOK_RESPONSE_MAX_READ_BYTES = 64 * 1024

CELERY_BEAT_SCHEDULE = {
    "dispatch-due-deliveries": {
        "task": "webhooks.tasks.dispatch_due_deliveries",
        "schedule": WEBHOOK_DISPATCH_INTERVAL,
        "options": {"expires": WEBHOOK_DISPATCH_INTERVAL},
    },
    "prune-delivery-log": {
        "task": "webhooks.tasks.prune_delivery_log",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}

# --- Email (endpoint-disabled notices) ---------------------------------------------

# EMAIL_URL, e.g. smtp+tls://user:password@mail.example.com:587, sets EMAIL_BACKEND,
# EMAIL_HOST and the rest; the default prints mails to the console.
globals().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="opsknight-webhooks@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Who gets Django's admin mails, and endpoint-disabled notices unless WEBHOOK_NOTIFY_EMAILS says otherwise.
ADMINS = [("", address) for address in env.list("ADMIN_EMAILS", default=[])]

# --- Logging ---------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# "json": one JSON object per line (for log shippers); "text": one readable line.
LOG_FORMAT = env.str("LOG_FORMAT", default="json").lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'text', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "opsknight.logs.JsonFormatter"},
        "text": {"()": "opsknight.logs.TextFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    # The dispatcher runs every WEBHOOK_DISPATCH_INTERVAL: Celery's lines about each run
    # are dropped; it logs its own line when it enqueued something.
    "filters": {
        "quiet_periodic_tasks": {
            "()": "opsknight.logs.QuietPeriodicTasks",
            "tasks": ["webhooks.tasks.dispatch_due_deliveries"],
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["quiet_periodic_tasks"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Monitoring: /metrics, /healthz, /readyz -----------------------------------------

# Empty: /metrics is open (it shows counts, never ids, URLs or payloads). Set, a scrape
# must send "Authorization: Bearer <METRICS_TOKEN>".
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Attempts happen in worker processes and /metrics is served by the web process: the
# workers' counters live in files in this directory, which web and workers must share
# (prometheus_client's multiprocess mode). The library reads the environment variable.
PROMETHEUS_MULTIPROC_DIR = Path(env.str("PROMETHEUS_MULTIPROC_DIR", default=str(BASE_DIR / "var" / "prometheus")))
PROMETHEUS_MULTIPROC_DIR = PROMETHEUS_MULTIPROC_DIR.resolve()
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)

# --- Admin bootstrap (make run) --------------------------------------------------

ADMIN_BOOTSTRAP_USERNAME = env.str("ADMIN_USERNAME", default="admin")
