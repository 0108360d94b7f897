"""Settings: every value that differs between deployments is read from the environment."""
import hashlib
import math
import re
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Local state of the embedded setup: SQLite file, broker folders, outbox, beat schedule.
VAR_DIR = Path(environ.Env().str("LOYALTYCRM_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env(
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
)

# --- Safe by default: DEBUG, the secret key, HTTPS (README "Production") ----------------
# DEBUG shows tracebacks and settings to anyone: only when asked for (`make run` asks).
DEBUG = env.bool("DEBUG", default=False)


def _local_secret_key(path: Path) -> str:
    """A random key made on the first local start and kept in var/ (never committed), so
    no two checkouts share one and no fixed, public key can sign links."""
    if not path.exists():
        import os
        import secrets
        import tempfile

        # Written whole under another name (mode 0600), then linked: processes starting
        # together (web, worker, beat) all end up with the one key that was linked first.
        handle, temporary = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(handle, "w") as file:
            file.write(secrets.token_urlsafe(50) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


# It signs unsubscribe, preference, survey and export links. Outside DEBUG a missing
# SECRET_KEY stops the start-up; in DEBUG the local key in var/ stands in.
SECRET_KEY = env("SECRET_KEY", default="") or (
    _local_secret_key(VAR_DIR / "secret-key.txt") if DEBUG else ""
)
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Production: set it to a long random secret (e.g. "
        "`openssl rand -base64 48`). Local development: `make run`, or DEBUG=true, which "
        "keeps a random key in var/secret-key.txt."
    )
# Behind a TLS-terminating proxy: SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https
# (the header the proxy sets and the value that means https; only if the proxy always sets
# or strips it).
SECURE_PROXY_SSL_HEADER = tuple(env.list("SECURE_PROXY_SSL_HEADER", default=[])) or None
if SECURE_PROXY_SSL_HEADER and len(SECURE_PROXY_SSL_HEADER) != 2:
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER must be a header and its https value, e.g. "
        f"HTTP_X_FORWARDED_PROTO,https (it is {','.join(SECURE_PROXY_SSL_HEADER)!r})."
    )
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
# The health checks answer over plain http too (load balancers probe without TLS).
SECURE_REDIRECT_EXEMPT = [r"^healthz"]
# The key of the suppression list's address hashes (HMAC-SHA256), kept outside the
# database. Outside DEBUG it is required (system check campaigns.E101); in DEBUG a key
# derived from SECRET_KEY stands in. Changing it orphans every suppression: set it once.
SUPPRESSION_HASH_KEY = env("SUPPRESSION_HASH_KEY", default="") or (
    hashlib.sha256(f"suppression-hash:{SECRET_KEY}".encode()).hexdigest()
    if DEBUG else ""
)
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The public base of every link in an email (unsubscribe, preference centre).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
COMPANY_NAME = env("COMPANY_NAME", default="Nordic Goods AB")
COMPANY_ADDRESS = env("COMPANY_ADDRESS", default="Storgatan 1, 111 22 Stockholm, Sweden")
# Where a customer reaches the service team (a page or a mailto: link): templates read it
# as {{ company.contact_url }}, e.g. the detractor follow-up's "talk to us" button.
SERVICE_CONTACT_URL = env("SERVICE_CONTACT_URL", default=f"{SITE_URL}/")
# Double opt-in (GD-9): the public subscription page always confirms by email; consent
# from these sources (e.g. "api,import") is confirmed too, even when the shop verified it.
DOUBLE_OPT_IN_SOURCES = env.list("DOUBLE_OPT_IN_SOURCES", default=[])
DOUBLE_OPT_IN_DAYS = env.int("DOUBLE_OPT_IN_DAYS", default=7)
SUBSCRIBE_WORDING_VERSION = env("SUBSCRIBE_WORDING_VERSION", default="subscribe-2026-1")
SUBSCRIBE_RATE_PER_HOUR = env.int("SUBSCRIBE_RATE_PER_HOUR", default=20)
# Reverse proxies in front of the web process (nginx, a load balancer) that append the
# client's address to X-Forwarded-For; 0 = none, REMOTE_ADDR is the client.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

INSTALLED_APPS = [
    # django.contrib.admin with the project's site (home grouped by task; campaigns/apps.py).
    "campaigns.apps.LoyaltyAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "anymail",
    "ninja",
    # The audit trail of campaigns, templates and the frequency policy (campaigns/audit.py).
    "simple_history",
    "campaigns.apps.CampaignsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's and the API docs' static files in production (after collectstatic).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "campaigns.middleware.ApiBodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The admin's language: the visitor's choice (cookie, set by the switch on every admin
    # page), else the browser's Accept-Language. After the session, before CommonMiddleware.
    # Public pages choose their own (the customer's; campaigns/views_consent.page_language).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Names the signed-in user on every audit-trail row a request writes (services included).
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "loyaltycrm.urls"
WSGI_APPLICATION = "loyaltycrm.wsgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# Embedded default: SQLite in WAL mode with a busy timeout, so the web server, the worker
# and beat can share one file. IMMEDIATE transactions take the write lock up front, which
# serialises writers instead of failing them half-way with "database is locked".
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'loyaltycrm.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The languages of the admin and of the public pages (unsubscribe, preferences, subscribe,
# surveys). A public page shows in the customer's locale, else the browser's; the admin in
# the language chosen with its switch, else the browser's. Each name is in its own language,
# as the switch shows it.
LANGUAGES = [("en", "English"), ("sv", "Svenska"), ("nb", "Norsk bokmål")]
# The admin's language switch remembers the choice for a year (Django's default cookie
# ends with the browser session).
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True  # read by the server only
# Where the admin's "View site" leads: the public landing page, or the shop if set.
ADMIN_VIEW_SITE_URL = env("ADMIN_VIEW_SITE_URL", default="/")
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="Europe/Stockholm")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Uploaded files (CSV imports and their rejects files); never served publicly.
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# --- Email ----------------------------------------------------------------------------
# Default: every sent email lands as one .eml file in var/outbox. Point EMAIL_BACKEND at
# an anymail backend (e.g. anymail.backends.postmark.EmailBackend) for a real provider.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="campaigns.delivery.outbox.EmlFileBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "outbox"))
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Seconds an SMTP conversation may stall before the send counts as broken (Django's
# default is to wait forever, which would hold a `sending` row past its lease).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Nordic Goods <hello@example.com>")

# Every ANYMAIL_* variable in the environment is passed to anymail as it is, e.g.
# ANYMAIL_POSTMARK_SERVER_TOKEN, ANYMAIL_MAILGUN_API_KEY, ANYMAIL_BREVO_API_KEY,
# ANYMAIL_AMAZON_SES_CLIENT_PARAMS is not env-friendly and is left to AWS_* variables.
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in environ.Env.ENVIRON.items()
    if key.startswith("ANYMAIL_")
}
# Webhook basic auth, "user:password"; several, comma-separated, while rotating it.
if "," in ANYMAIL.get("WEBHOOK_SECRET", ""):
    ANYMAIL["WEBHOOK_SECRET"] = [v.strip() for v in ANYMAIL["WEBHOOK_SECRET"].split(",") if v.strip()]
# --- Provider webhooks (campaigns/urls.py; check campaigns.E103) -----------------------
# The providers whose webhooks (/anymail/<provider>/…) answer; any other is a 404. Default:
# the provider of an anymail EMAIL_BACKEND. A site sending through a provider's SMTP relay
# names it, e.g. WEBHOOK_PROVIDERS=mailgun.
_ANYMAIL_PROVIDER = EMAIL_BACKEND.split(".")[2] if (
    EMAIL_BACKEND.startswith("anymail.backends.") and EMAIL_BACKEND.count(".") == 3) else ""
WEBHOOK_PROVIDERS = env.list(
    "WEBHOOK_PROVIDERS", default=[_ANYMAIL_PROVIDER] if _ANYMAIL_PROVIDER not in ("", "test") else [])
# Open and click tracking: off unless the site switches them on (EU guidance treats
# tracking pixels like cookies). Every message says so explicitly to the provider, so an
# account-level default there cannot switch them on behind the site's back.
TRACK_OPENS = env.bool("TRACK_OPENS", default=False)
TRACK_CLICKS = env.bool("TRACK_CLICKS", default=False)
# A signed webhook (Mailgun) older than this is refused: a replay of a captured post.
# Generous, because providers retry for hours (Mailgun for 8) after an outage here.
WEBHOOK_MAX_AGE_SECONDS = env.int("WEBHOOK_MAX_AGE_SECONDS", default=12 * 3600)
# The admin's deliverability page warns at these daily rates (percent of sent).
COMPLAINT_RATE_WARN_PERCENT = env.float("COMPLAINT_RATE_WARN_PERCENT", default=0.08)
BOUNCE_RATE_WARN_PERCENT = env.float("BOUNCE_RATE_WARN_PERCENT", default=2.0)

# --- Celery ---------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport, which needs no broker server. Set
# CELERY_BROKER_URL=redis://… or amqp://… to scale out.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "campaigns.tick": {"queue": "plan"},
    "campaigns.send_due": {"queue": "send"},
    "campaigns.send_batch": {"queue": "send"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often beat runs the scheduler tick (seconds).
TICK_SECONDS = env.int("TICK_SECONDS", default=60)
# Activating a campaign that would take in more customers than this at once asks the
# marketer to confirm first (admin campaign page and list action).
CAMPAIGN_CONFIRM_ABOVE = env.int("CAMPAIGN_CONFIRM_ABOVE", default=500)
# How often beat recomputes every segment's members (and so how soon an entry starts a
# segment-entry journey).
SEGMENT_REFRESH_MINUTES = env.int("SEGMENT_REFRESH_MINUTES", default=15)
# When the nightly RFM and lifecycle recompute runs (hour and minute in TIME_ZONE).
RFM_SCORE_HOUR = env.int("RFM_SCORE_HOUR", default=3)
RFM_SCORE_MINUTE = env.int("RFM_SCORE_MINUTE", default=15)
REORDER_LEARN_HOUR = env.int("REORDER_LEARN_HOUR", default=3)
REORDER_LEARN_MINUTE = env.int("REORDER_LEARN_MINUTE", default=20)
LOYALTY_NIGHTLY_HOUR = env.int("LOYALTY_NIGHTLY_HOUR", default=3)
LOYALTY_NIGHTLY_MINUTE = env.int("LOYALTY_NIGHTLY_MINUTE", default=30)
# Points expire this many months after they were earned, oldest first (0 = never), and a
# points.expiring event is emitted this many days before.
POINTS_EXPIRY_MONTHS = env.int("POINTS_EXPIRY_MONTHS", default=12)
POINTS_EXPIRY_REMINDER_DAYS = env.int("POINTS_EXPIRY_REMINDER_DAYS", default=30)
RETENTION_PURGE_HOUR = env.int("RETENTION_PURGE_HOUR", default=3)
RETENTION_PURGE_MINUTE = env.int("RETENTION_PURGE_MINUTE", default=45)
METRIC_SNAPSHOTS_HOUR = env.int("METRIC_SNAPSHOTS_HOUR", default=4)
METRIC_SNAPSHOTS_MINUTE = env.int("METRIC_SNAPSHOTS_MINUTE", default=0)
# Recommendations (campaigns/services/recommendations.py): when the nightly recompute runs
# (TIME_ZONE); "bought together" reads the last WINDOW_DAYS of purchases and needs
# MIN_SUPPORT customers who bought both products; top sellers count the units of the last
# TOP_DAYS; an email never recommends what the customer bought in the last EXCLUDE_DAYS.
RECOMMENDATIONS_HOUR = env.int("RECOMMENDATIONS_HOUR", default=3)
RECOMMENDATIONS_MINUTE = env.int("RECOMMENDATIONS_MINUTE", default=30)
RECOMMENDATIONS_WINDOW_DAYS = env.int("RECOMMENDATIONS_WINDOW_DAYS", default=365)
RECOMMENDATIONS_MIN_SUPPORT = env.int("RECOMMENDATIONS_MIN_SUPPORT", default=2)
RECOMMENDATIONS_TOP_DAYS = env.int("RECOMMENDATIONS_TOP_DAYS", default=90)
RECOMMENDATIONS_EXCLUDE_DAYS = env.int("RECOMMENDATIONS_EXCLUDE_DAYS", default=90)
# PostgreSQL memory for the nightly pair count, for its transaction only (work_mem).
RECOMMENDATIONS_WORK_MEM = env.str("RECOMMENDATIONS_WORK_MEM", default="256MB")
# Products each worker process keeps for cart items and recommendations
# (selectors/catalogue.py; about 1 KB each with their lists).
CATALOGUE_CACHE_PRODUCTS = env.int("CATALOGUE_CACHE_PRODUCTS", default=50000)
# Retention periods in days, per table, overriding campaigns/retention.py's defaults,
# e.g. RETENTION_DAYS=message_events=90,events=730 ("none" keeps forever).
RETENTION_DAYS = env.dict("RETENTION_DAYS", default={})
CELERY_TIMEZONE = TIME_ZONE

# --- Celery task time limits (seconds) ---------------------------------------------------
# Past its soft limit a task gets SoftTimeLimitExceeded and ends its work consistently (the
# send task records what came back and puts what it had not handed over back to pending);
# past the hard limit the worker process is killed and replaced (prefork pool, the
# default; the solo and threads pools do not enforce limits). Every task has the global
# pair; the ones known to run long have their own below.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=CELERY_TASK_SOFT_TIME_LIMIT + 60)
# The send task claims for 90 % of a tick, then waits for its calls in flight and records
# them, retrying through a database outage for up to 300 s (services/sending/record.py).
SEND_TASK_SOFT_TIME_LIMIT = env.int("SEND_TASK_SOFT_TIME_LIMIT",
                                    default=int(TICK_SECONDS * 0.9) + 300 + 60)
# Imports (a million rows take about 4 minutes), segment refreshes, privacy exports and the
# nightly jobs (a first RFM scoring of a million customers about 2 minutes).
LONG_TASK_SOFT_TIME_LIMIT = env.int("LONG_TASK_SOFT_TIME_LIMIT", default=2 * 3600)
_LONG_TASKS = ("campaigns.import_job", "campaigns.segments_refresh", "campaigns.privacy_export_send",
               "campaigns.score_customers", "campaigns.loyalty_nightly",
               "campaigns.retention_purge", "campaigns.metric_snapshots",
               "campaigns.reorder_intervals_learn",
               "campaigns.recommendations_compute")
_TASK_LIMITS = {
    "campaigns.send_due": SEND_TASK_SOFT_TIME_LIMIT,
    "campaigns.send_batch": SEND_TASK_SOFT_TIME_LIMIT,
    **dict.fromkeys(_LONG_TASKS, LONG_TASK_SOFT_TIME_LIMIT),
}
CELERY_TASK_ANNOTATIONS = {name: {"soft_time_limit": soft, "time_limit": soft + 60}
                           for name, soft in _TASK_LIMITS.items()}
# Any task's pair, "soft:hard" (or "soft", the hard limit a minute later), e.g.
# CELERY_TASK_TIME_LIMITS=campaigns.import_job=14400:14700.
for _name, _limits in env.dict("CELERY_TASK_TIME_LIMITS", default={}).items():
    _soft, _, _hard = _limits.partition(":")
    CELERY_TASK_ANNOTATIONS[_name] = {"soft_time_limit": int(_soft),
                                      "time_limit": int(_hard or int(_soft) + 60)}
CELERY_BEAT_SCHEDULE = {
    # Plan, advance, dispatch and send whatever is due: the heart of the scheduler.
    "tick": {"task": "campaigns.tick", "schedule": float(TICK_SECONDS)},
    "segments-refresh": {"task": "campaigns.segments_refresh",
                         "schedule": float(SEGMENT_REFRESH_MINUTES * 60)},
    # Every night at 03:15 (TIME_ZONE), a quiet hour: recompute RFM scores and lifecycle
    # stages (stage changes become lifecycle.<stage> events that can start journeys), and
    # each customer's best hour from the local hours of their purchases and clicks.
    "score-customers": {
        "task": "campaigns.score_customers",
        "schedule": crontab(hour=RFM_SCORE_HOUR, minute=RFM_SCORE_MINUTE),
    },
    # Every night at 03:20 (TIME_ZONE): learn each product's typical reorder interval from
    # the order history (services/reorder.py); the tick emits product.reorder_due hourly.
    "reorder-intervals-learn": {
        "task": "campaigns.reorder_intervals_learn",
        "schedule": crontab(hour=REORDER_LEARN_HOUR, minute=REORDER_LEARN_MINUTE),
    },
    # Every night at 03:30 (TIME_ZONE): expire points older than POINTS_EXPIRY_MONTHS,
    # recompute every tier (the 12-month window moves) and emit points.expiring reminders.
    "loyalty-nightly": {
        "task": "campaigns.loyalty_nightly",
        "schedule": crontab(hour=LOYALTY_NIGHTLY_HOUR, minute=LOYALTY_NIGHTLY_MINUTE),
    },
    # Every 5 minutes: provider events whose processing task was lost are queued again.
    "message-events-sweep": {"task": "campaigns.message_events_sweep", "schedule": 300.0},
    # Every minute: subscription confirmations and privacy exports whose task never reached
    # the broker (it was down when the visitor asked) are queued from the database.
    "public-requests-sweep": {"task": "campaigns.public_requests_sweep", "schedule": 60.0},
    # Every night at 03:45 (TIME_ZONE): delete or anonymise whatever is past its retention
    # period (campaigns/retention.py; README "Retention").
    "retention-purge": {
        "task": "campaigns.retention_purge",
        "schedule": crontab(hour=RETENTION_PURGE_HOUR, minute=RETENTION_PURGE_MINUTE),
    },
    # Every night at 04:00 (TIME_ZONE), after the other nightly jobs and after midnight UTC:
    # snapshot the dashboard's numbers for the closed UTC days, the last 35 days again.
    "metric-snapshots": {
        "task": "campaigns.metric_snapshots",
        "schedule": crontab(hour=METRIC_SNAPSHOTS_HOUR, minute=METRIC_SNAPSHOTS_MINUTE),
    },
    # Every night at 03:30 (TIME_ZONE): rewrite "bought together" and the top sellers from
    # the order lines, so no email computes a recommendation of its own.
    "recommendations-compute": {
        "task": "campaigns.recommendations_compute",
        "schedule": crontab(hour=RECOMMENDATIONS_HOUR, minute=RECOMMENDATIONS_MINUTE),
    },
}

# --- Scheduler ------------------------------------------------------------------------
# The tick queues one send task per SEND_BATCH_SIZE due messages, at most
# SEND_TASKS_PER_TICK of them (about the number of worker processes on the send queue);
# each task keeps sending whatever is due for up to one tick interval.
SEND_BATCH_SIZE = env.int("SEND_BATCH_SIZE", default=500)
SEND_TASKS_PER_TICK = env.int("SEND_TASKS_PER_TICK", default=4)
# Provider calls in flight per worker process (threads, one connection each), and the
# most messages decided in one transaction. 1 sends on the worker's own thread, which
# suits a local backend; a provider 100 ms away needs about 64 for 500 emails/s.
SEND_IN_FLIGHT = env.int("SEND_IN_FLIGHT", default=32)
SEND_GROUP_SIZE = env.int("SEND_GROUP_SIZE", default=50)
# A message marked `sending` whose outcome is not recorded within this many seconds is
# `unknown` (its worker died while sending): never resent automatically. Longer than a
# provider call can take (EMAIL_TIMEOUT, anymail's REQUESTS_TIMEOUT).
CLAIM_LEASE_SECONDS = env.int("CLAIM_LEASE_SECONDS", default=90)
DEFAULT_LOCALE = env("DEFAULT_LOCALE", default="en")

# --- Template bounds (campaigns/templating.py; STYLE 7.18) -------------------------------
# One message (subject, HTML and text together) that takes longer than this to render, or
# comes to more bytes, fails with reason template_too_slow / template_too_large and the
# rest of its batch goes on; the admin refuses such a template when it is saved. A usual
# email renders in under a millisecond and weighs 10–100 KB (Gmail clips HTML past 102 KB).
TEMPLATE_RENDER_SECONDS = env.float("TEMPLATE_RENDER_SECONDS", default=0.5)
TEMPLATE_OUTPUT_BYTES = env.int("TEMPLATE_OUTPUT_BYTES", default=1_000_000)

# --- Provider send rate (compliance RL-8; campaigns/delivery/ratelimit.py) --------------
# Messages per second to the email provider, shared by every worker process (0 = unlimited).
SEND_RATE_PER_SECOND = env.float("SEND_RATE_PER_SECOND", default=0.0)
# How many may go at once after a quiet spell (the bucket's capacity); default one second's.
SEND_RATE_BURST = env.int("SEND_RATE_BURST", default=max(1, math.ceil(SEND_RATE_PER_SECOND)))
# Per-provider overrides, "rate" or "rate:burst", keyed by the backend's dotted path or
# one part of it, e.g. SEND_RATE_LIMITS=postmark=50,amazon_ses=14:28.
SEND_RATE_LIMITS = env.dict("SEND_RATE_LIMITS", default={})
# Where the shared buckets live: this Redis (default: the broker, when that is Redis), else
# the database.
RATE_LIMIT_REDIS_URL = env(
    "RATE_LIMIT_REDIS_URL",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
# While that Redis is unreachable each process sends at the rate divided by this on its own;
# set it to the number of sending processes to stay under the provider's rate even then.
SEND_RATE_LOCAL_SHARE = env.int("SEND_RATE_LOCAL_SHARE", default=1)

# --- Public pages' rate limits, shared by every web process (campaigns/throttle.py) ------
# Django's cache holds the counters: this Redis (default: the one the send rate uses), else
# the database (table django_cache, made by `migrate`).
CACHE_REDIS_URL = env("CACHE_REDIS_URL", default=RATE_LIMIT_REDIS_URL)
if CACHE_REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": CACHE_REDIS_URL, "KEY_PREFIX": "lcrm"}}
else:
    # Room for one counter per visitor and token in an hour before culling starts.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                          "LOCATION": "django_cache", "OPTIONS": {"MAX_ENTRIES": 200_000}}}
# Requests an hour to the public pages (unsubscribe, preferences, subscribe, confirmation,
# surveys, privacy export, erasure) from one client address, and with one link's token;
# over either the visitor gets a 429 with Retry-After and nothing is stored. 0 = no limit.
PUBLIC_RATE_PER_ADDRESS_PER_HOUR = env.int("PUBLIC_RATE_PER_ADDRESS_PER_HOUR", default=300)
PUBLIC_RATE_PER_TOKEN_PER_HOUR = env.int("PUBLIC_RATE_PER_TOKEN_PER_HOUR", default=30)
# Test sends from the template editor, per admin user and hour (services/test_sends.py).
TEST_SENDS_PER_HOUR = env.int("TEST_SENDS_PER_HOUR", default=20)

# --- Referrals (issue 16; services/referrals.py) ---------------------------------------
# Where a referral link (SITE_URL/r/<code>) leads, with ?ref=<code> added: the shop's
# landing page (its own query parameters are kept). Empty: SITE_URL + "/".
REFERRAL_LANDING_URL = env("REFERRAL_LANDING_URL", default="")
if REFERRAL_LANDING_URL and not re.match(r"https?://[^/?#\s]+", REFERRAL_LANDING_URL):
    raise ImproperlyConfigured(
        "REFERRAL_LANDING_URL must be an absolute http(s) address, e.g. "
        f"https://shop.example.com/welcome (it is {REFERRAL_LANDING_URL!r}).")
# Referral link visits counted per client address and minute; past it the visitor is
# still sent on to the shop, but the visit is not counted. 0 = no limit.
REFERRAL_CLICKS_PER_MINUTE = env.int("REFERRAL_CLICKS_PER_MINUTE", default=30)

# --- Lifecycle stages (services/rfm.py) -------------------------------------------------
# The one place the stage thresholds live, in days since the first / last order; the
# README's "RFM scores and lifecycle stages" section gives the exact definitions.
LIFECYCLE_NEW_DAYS = env.int("LIFECYCLE_NEW_DAYS", default=30)
LIFECYCLE_AT_RISK_DAYS = env.int("LIFECYCLE_AT_RISK_DAYS", default=60)
# The same default as the win-back journey's inactivity trigger (90 days).
LIFECYCLE_LAPSED_DAYS = env.int("LIFECYCLE_LAPSED_DAYS", default=90)
LIFECYCLE_WON_BACK_DAYS = env.int("LIFECYCLE_WON_BACK_DAYS", default=30)
LIFECYCLE_LOYAL_MIN_ORDERS = env.int("LIFECYCLE_LOYAL_MIN_ORDERS", default=3)
# PostgreSQL work_mem for the scoring transaction only: its three rank sorts over every
# customer then run in memory (256MB: 5 s instead of 9 s for a million customers).
RFM_WORK_MEM = env("RFM_WORK_MEM", default="256MB")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Link tokens never reach a log line (loyaltycrm/log_redaction.py).
    "filters": {"tokens": {"()": "loyaltycrm.log_redaction.TokenRedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["tokens"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # Django's own defaults give these loggers handlers of their own (the development
    # server's request lines, DEBUG's console), which would bypass the filter: they lose
    # them and pass their records on to the root's filtered handler.
    "loggers": {name: {"handlers": [], "propagate": True} for name in ("django", "django.server")},
}
