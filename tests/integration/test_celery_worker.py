"""A real Celery worker with embedded beat, on the configured broker and database.

The worker runs in its own process, on the broker the suite is configured with (the
broker-less filesystem transport by default, Redis when CELERY_BROKER_URL says so), and
reads the test database. Beat ticks every second; the welcome must arrive exactly once.
"""
import email
import email.header
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from campaigns.models import Message
from campaigns.services.consent import consent_record
from tests.factories import CustomerFactory, EventFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    pytest.skip(f"no worker test for {connection.vendor}")


def worker_env(tmp_path, **extra) -> dict:
    """The environment of a worker process on the test database and configured broker,
    ticking every second, with its mail in tmp_path/outbox."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "loyaltycrm.settings.base",
        # DEBUG is off in the worker as in production: the test run's keys, given.
        "SECRET_KEY": settings.SECRET_KEY,
        "SUPPRESSION_HASH_KEY": settings.SUPPRESSION_HASH_KEY,
        "DATABASE_URL": database_url(),
        "LOYALTYCRM_VAR_DIR": str(tmp_path / "var"),
        "EMAIL_BACKEND": "campaigns.delivery.outbox.EmlFileBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "outbox"),
        "TICK_SECONDS": "1",
        "SITE_URL": "https://shop.example.com",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "filesystem://"),
        **extra,
    }


@pytest.fixture
def worker(tmp_path):
    env = worker_env(tmp_path)
    log = open(tmp_path / "worker.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "loyaltycrm", "worker", "-B",
         "-Q", "plan,send,default", "--pool=solo", "--loglevel=INFO",
         "-s", str(tmp_path / "beat-schedule")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield tmp_path / "outbox"
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    if os.environ.get("SHOW_WORKER_LOG"):
        print((tmp_path / "worker.log").read_text())


def wait_for(predicate, *, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def test_a_real_worker_sends_the_welcome_once(welcome, worker):
    customer = CustomerFactory(first_name="Astrid", locale="sv")
    consent_record(customer=customer, granted=True, source="api")
    EventFactory(customer=customer, type="signup", occurred_at=customer.created_at)

    delivered = wait_for(lambda: Message.objects.filter(state="sent").exists(), timeout=90)

    log = (worker.parent / "worker.log").read_text()
    assert delivered, f"no welcome sent; worker log:\n{log[-3000:]}"
    # A few more ticks must not send it again.
    time.sleep(3)
    files = sorted(worker.glob("*.eml"))
    assert len(files) == 1
    assert Message.objects.get().state == "sent"
    sent = email.message_from_bytes(files[0].read_bytes())
    assert sent["To"] == customer.email
    subject = str(email.header.make_header(email.header.decode_header(sent["Subject"])))
    assert subject == "Välkommen, Astrid!"
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_real_worker_runs_an_import_started_from_the_admin(worker, settings):
    """The admin's import job, in the worker: on PostgreSQL its chunks are written by the
    import's writer thread, on the worker's own connections."""
    from django.core.files.base import ContentFile

    from campaigns.models import Customer, ImportJob
    from campaigns.tasks import import_job

    settings.MEDIA_ROOT = worker.parent / "var" / "media"  # where the worker looks
    rows = 12_000  # three chunks
    content = "external_id,email,first_name\n" + "".join(
        f"w-{n},person{n}@example.com,Kari\n" for n in range(rows)) + "w-bad,not-an-email,X\n"
    job = ImportJob(kind=ImportJob.Kind.CUSTOMERS)
    job.file.save("customers.csv", ContentFile(content.encode()), save=True)

    import_job.delay(job.pk)
    finished = wait_for(lambda: ImportJob.objects.get(pk=job.pk).status in ("done", "failed"),
                        timeout=120)

    job.refresh_from_db()
    log = (worker.parent / "worker.log").read_text()
    assert finished and job.status == "done", f"{job.status} {job.error}\n{log[-3000:]}"
    assert (job.rows_done, job.created, job.rejected) == (rows + 1, rows, 1)
    assert Customer.objects.filter(external_id__startswith="w-").count() == rows
    assert job.rejects_file
