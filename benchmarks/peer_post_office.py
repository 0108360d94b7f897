"""The django-post-office side of benchmarks/peers_bench.py (run by it, in .venv-peers).

    DATABASE_URL=postgres://…/lcrm_bench_peer_po .venv-peers/bin/python \
        benchmarks/peer_post_office.py --setup --template var/peers_template.json
    DATABASE_URL=… .venv-peers/bin/python benchmarks/peer_post_office.py --emails 10000

post-office 3.12.0 with its defaults (batches of 100, 5 threads, a `Log` row per sent
mail): `mail.send_many()` renders each email from a Django-template version of our welcome
and bulk-inserts it, then `mail.send_queued_mail_until_done()` sends the queue through
anymail's test backend, the backend our side uses. The test outbox is emptied after every
batch (anymail's test backend finds each message with `outbox.index`, O(n)), as ours is.
Prints one JSON line: the timed phase's wall time, this process's CPU before it, and the
CPU of the PostgreSQL backends that served it.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import django
import environ
from django.conf import settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

FROM_EMAIL = "Nordic Goods <hello@example.com>"
POST_OFFICE_BACKEND = "anymail.backends.test.EmailBackend"


def settings_configure() -> None:
    settings.configure(
        DEBUG=False, SECRET_KEY="bench-only", USE_TZ=True, TIME_ZONE="UTC",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "post_office"],
        DATABASES={"default": environ.Env.db_url_config(os.environ["DATABASE_URL"])},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        DEFAULT_FROM_EMAIL=FROM_EMAIL,
        EMAIL_BACKEND=POST_OFFICE_BACKEND,
        TEMPLATES=[
            {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True},
            {"BACKEND": "post_office.template.backends.post_office.PostOfficeTemplates",
             "APP_DIRS": True, "DIRS": [], "OPTIONS": {"context_processors": []}},
        ],
        POST_OFFICE={"BACKENDS": {"default": POST_OFFICE_BACKEND}, "CELERY_ENABLED": False},
        ANYMAIL={},
        LOGGING={"version": 1, "disable_existing_loggers": False,
                 "loggers": {"post_office": {"level": "WARNING"}}},
    )
    django.setup()


def peer_setup(template_path: str) -> None:
    """Migrate, empty the queue and store the welcome as a post-office EmailTemplate."""
    from django.core.management import call_command
    from post_office.models import EmailTemplate

    call_command("migrate", verbosity=0)
    template = json.loads(Path(template_path).read_text())
    EmailTemplate.objects.update_or_create(name="welcome", defaults={
        "subject": template["subject"], "content": template["text"],
        "html_content": template["html"]})
    Path(template_path + ".po-context").write_text(json.dumps(template["context"]))


def peer_run(emails: int, template_path: str) -> dict:
    from django.core import mail as django_mail
    from django.db import connection
    from post_office import mail
    from post_office.models import STATUS, Email, EmailTemplate

    from pgcpu import BackendCpu, self_cpu

    tracker = BackendCpu()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE post_office_log, post_office_email CASCADE")
    template = EmailTemplate.objects.get(name="welcome")
    sample = json.loads(Path(template_path + ".po-context").read_text())
    url = sample["unsubscribe_url"]
    kwargs = [{
        "recipients": [f"b{i}@example.com"], "sender": FROM_EMAIL, "template": template,
        "context": {**sample, "unsubscribe_url": url[:-8] + f"{i:08d}"},
    } for i in range(emails)]
    sizes = {}
    send_queued = mail.send_queued

    def send_queued_emptying(*args, **kwargs):
        result = send_queued(*args, **kwargs)
        outbox = getattr(django_mail, "outbox", [])
        if outbox and not sizes:
            sizes.update(_sizes(outbox[0]))
        django_mail.outbox = []
        return result

    mail.send_queued = send_queued_emptying
    writes = row_writes()
    lockfile = os.path.join(tempfile.gettempdir(), f"lcrm_bench_peer_po_{os.getpid()}")
    cpu_before = self_cpu()
    tracker.start()
    started = time.perf_counter()
    mail.send_many(kwargs)
    queued = time.perf_counter()
    mail.send_queued_mail_until_done(lockfile=lockfile)
    elapsed = time.perf_counter() - started
    pg_cpu = tracker.stop()
    cpu_after = self_cpu()
    writes = row_writes() - writes
    sent = Email.objects.filter(status=STATUS.sent).count()
    assert sent == emails, f"sent {sent} of {emails}"
    return {"side": "post-office", "emails": emails, "elapsed": elapsed,
            "queue_s": queued - started, "cpu_before": cpu_before,
            "cpu_phase_self": cpu_after - cpu_before, "pg_cpu": pg_cpu,
            "pg_backends": len(tracker.pids), "sizes": sizes,
            "row_writes_per_email": writes / emails}


def row_writes() -> int:
    """Rows inserted, updated and deleted so far (this connection's counters flushed)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
                       "FROM pg_stat_user_tables")
        return int(cursor.fetchone()[0])


def _sizes(message) -> dict:
    html = next((body for body, kind in getattr(message, "alternatives", []) if kind == "text/html"), "")
    return {"subject": len(message.subject), "text": len(message.body), "html": len(html)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--template", default="var/peers_template.json")
    parser.add_argument("--emails", type=int, default=10000)
    args = parser.parse_args()
    settings_configure()
    if args.setup:
        peer_setup(args.template)
        return
    print(json.dumps(peer_run(args.emails, args.template)), flush=True)


if __name__ == "__main__":
    main()
