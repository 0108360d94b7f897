"""Test settings: the base settings with fast hashing and a recording email backend."""
import os

# Before base reads it: the suite needs no environment (`make test`), and a worker process
# it starts inherits the same key.
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)

from .base import *  # noqa: E402,F401,F403
from .base import DATABASES, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
# The webhook tests post as Postmark and Mailgun would to a site that uses them.
WEBHOOK_PROVIDERS = ["postmark", "mailgun"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
TIME_ZONE = "UTC"
SITE_URL = "https://shop.example.com"
# pytest-django runs with DEBUG off, so the derived development key does not apply.
SUPPRESSION_HASH_KEY = "test-suppression-hash-key"

# A file-backed test database, so a real Celery worker in another process can see it;
# one per test run, so two runs in one checkout do not delete each other's database.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A commit does not wait for the disk: nothing of a test run is kept after it, and what
    # other sessions see, and when, is the same.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = " ".join(filter(None, [options.get("options"), "-c synchronous_commit=off"]))
