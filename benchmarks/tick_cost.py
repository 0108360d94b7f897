"""Benchmark: a tick costs in proportion to the due work, not to the number of customers.

Usage (embedded defaults, its own database in a temporary folder):
    .venv/bin/python benchmarks/tick_cost.py [--customers 10000 100000] [--due 1000] [--runs 5]
With DATABASE_URL=postgres://… it runs on PostgreSQL (it creates and drops tables in
that database through migrate/flush: point it at a scratch database).

It prints, per customer count, the median time of an idle tick (nothing due) and of a
tick that plans, claims and sends `--due` welcome emails through Django's in-memory
backend, with emails per second.
"""
import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LOYALTYCRM_VAR_DIR", tempfile.mkdtemp(prefix="lcrm-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltycrm.settings.base")
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from campaigns import models as m  # noqa: E402
from campaigns.services.scheduling import scheduler_tick  # noqa: E402
from campaigns.services.sending import messages_send  # noqa: E402

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def welcome_campaign():
    template = m.MessageTemplate.objects.create(name="Welcome", purpose="marketing")
    m.TemplateTranslation.objects.create(
        template=template, locale="en", subject="Welcome, {{ customer.first_name }}!",
        html_body="<p>Hi {{ customer.first_name }}, welcome to {{ company.name }}.</p>",
        text_body="Hi {{ customer.first_name }}, welcome to {{ company.name }}.",
    )
    campaign = m.Campaign.objects.create(
        name="Welcome", slug="welcome", status="active", trigger="event",
        trigger_event_type="signup", deadline=dt.timedelta(hours=24), priority=100,
    )
    m.JourneyStep.objects.create(campaign=campaign, position=0, kind="send", template=template)
    m.FrequencyPolicy.objects.create(max_per_day=1, max_per_week=3)


def customers_add(count, start):
    batch = []
    for i in range(start, start + count):
        batch.append(m.Customer(
            external_id=f"b-{i}", email=f"b{i}@example.com", first_name="Kari", locale="en",
            time_zone="Europe/Oslo", marketing_consent=True,
        ))
        if len(batch) == 5000:
            m.Customer.objects.bulk_create(batch)
            batch = []
    m.Customer.objects.bulk_create(batch)


def tick_and_send(now):
    started = time.perf_counter()
    report = scheduler_tick(now=now, claim_limit=100000)
    for ids in report.batches:
        messages_send(message_ids=ids, now=now)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    welcome_campaign()
    print(f"database: {connection.vendor}")
    total = 0
    now = NOW
    for target in args.customers:
        customers_add(target - total, total)
        total = target
        idle = []
        for _ in range(args.runs):
            now += dt.timedelta(minutes=1)
            idle.append(tick_and_send(now))
        busy = []
        for run in range(args.runs):
            ids = list(m.Customer.objects.order_by("?").values_list("id", flat=True)[: args.due])
            now += dt.timedelta(days=2)  # past the daily cap of the previous run
            m.Event.objects.bulk_create([
                m.Event(customer_id=cid, type="signup", occurred_at=now,
                        event_id=f"sig-{target}-{run}-{cid}") for cid in ids
            ])
            m.Enrollment.objects.filter(customer_id__in=ids).delete()
            busy.append(tick_and_send(now))
        idle_ms, busy_s = statistics.median(idle) * 1000, statistics.median(busy)
        print(f"customers {target:>8}: idle tick {idle_ms:7.1f} ms | tick sending {args.due} "
              f"welcomes {busy_s:6.2f} s = {args.due / busy_s:7.0f} emails/s")


if __name__ == "__main__":
    main()
