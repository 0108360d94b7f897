"""Scheduler benchmark: idle tick cost, win-back enrolment and send throughput.

    make bench                                   # PostgreSQL database lcrm_bench (created)
    .venv/bin/python benchmarks/scheduler_bench.py --customers 100000 1000000 --lapsed 100000 --due 5000 --runs 5

It needs a scratch database in DATABASE_URL (it migrates and flushes it). The synthetic
base is made with one INSERT … SELECT per table on PostgreSQL (a Python bulk insert on
SQLite), so a million customers take seconds. It prints, as medians of --runs:

* idle tick: a whole tick with nothing due — wall time and database time;
* win-back enrolment: planning --lapsed customers who lapsed since the last tick;
* throughput: --due welcome emails through plan → advance → claim → consent/cap/quiet-
  hours gate → render → anymail's test backend → recorded, in one process.
"""
import argparse
import datetime as dt
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltycrm.settings.base")
os.environ["EMAIL_BACKEND"] = "anymail.backends.test.EmailBackend"

import django  # noqa: E402

django.setup()

from anymail.backends.test import EmailBackend as TestBackend  # noqa: E402
from django.core import mail  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from campaigns import models as m  # noqa: E402
from campaigns.services.demo import demo_load  # noqa: E402
from campaigns.services.planning import enrollments_plan  # noqa: E402
from campaigns.services.scheduling import scheduler_tick  # noqa: E402
from campaigns.services import sending  # noqa: E402
from campaigns.services.sending import messages_send  # noqa: E402

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 11:00 in Stockholm: outside quiet hours


@contextmanager
def db_timer():
    """Sums the time spent inside database calls."""
    spent = [0.0]

    def wrapper(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[0] += time.perf_counter() - started

    with connection.execute_wrapper(wrapper):
        yield spent


def customers_grow(total: int, have: int) -> None:
    """Add customers have+1..total with consent (cached flag), orders long ago."""
    if total <= have:
        return
    long_ago = NOW - dt.timedelta(days=400)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO campaigns_customer (created_at, updated_at, external_id, email,
                       first_name, last_name, locale, time_zone, country, signed_up_at,
                       first_order_at, last_order_at, order_count, total_spent, points_balance,
                       tier, tier_points, marketing_consent, attributes, lifecycle_stage)
                   SELECT %s, %s, 'b-' || g, 'b' || g || '@example.com', 'Kari', 'Nordmann',
                       'nb', 'Europe/Oslo', 'NO', %s, %s, %s, 1, 100, 0, '', 0, true, '{}', ''
                   FROM generate_series(%s, %s) AS g""",
                [NOW, NOW, long_ago, long_ago, long_ago, have + 1, total],
            )
        return
    batch = []
    for i in range(have + 1, total + 1):
        batch.append(m.Customer(external_id=f"b-{i}", email=f"b{i}@example.com", first_name="Kari",
                                locale="nb", time_zone="Europe/Oslo", marketing_consent=True,
                                first_order_at=long_ago, last_order_at=long_ago, order_count=1))
        if len(batch) == 10000:
            m.Customer.objects.bulk_create(batch)
            batch = []
    m.Customer.objects.bulk_create(batch)


def idle_ticks(now, runs):
    walls, dbs = [], []
    for _ in range(runs):
        now += dt.timedelta(minutes=1)
        with db_timer() as spent:
            started = time.perf_counter()
            report = scheduler_tick(now=now)
            walls.append(time.perf_counter() - started)
        assert not report.batches and not report.enrolled, "the idle tick found work"
        dbs.append(spent[0])
    return now, statistics.median(walls) * 1000, statistics.median(dbs) * 1000


def winback_enrolment(now, lapsed, runs):
    winback = m.Campaign.objects.get(slug="win-back")
    times = []
    for run in range(runs):
        now += dt.timedelta(days=1)
        m.Enrollment.objects.filter(campaign=winback).delete()
        ids = list(m.Customer.objects.order_by("id").values_list("id", flat=True)[:lapsed])
        # They all placed their last order just over 90 days ago, so they lapsed since the
        # last tick.
        m.Customer.objects.filter(id__in=ids).update(last_order_at=now - dt.timedelta(days=90, minutes=5))
        m.Campaign.objects.filter(pk=winback.pk).update(planned_through=now - dt.timedelta(minutes=10))
        started = time.perf_counter()
        enrollments_plan(now=now)
        times.append(time.perf_counter() - started)
        assert winback.enrollments.count() == lapsed, winback.enrollments.count()
    m.Enrollment.objects.filter(campaign=winback).delete()
    m.Customer.objects.update(last_order_at=NOW - dt.timedelta(days=400))
    return now, statistics.median(times)


@contextmanager
def stage_timer():
    """Sums the wall time of each stage of the send path (monkeypatched, benchmark only).

    `deliver` is rendering plus anymail's hand-over with no database call: its time per
    email bounds what one process can reach however lean the rest becomes.
    """
    spent = {name: 0.0 for name in STAGES}
    originals = {name: getattr(sending, f"_{name}") for name in STAGES
                 if name not in ("tick", "anymail")}

    def timed(name, function):
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started
        return run

    for name, function in originals.items():
        setattr(sending, f"_{name}", timed(name, function))
    backend_send = TestBackend.send_messages
    TestBackend.send_messages = timed("anymail", backend_send)
    global scheduler_tick
    tick = scheduler_tick
    scheduler_tick = timed("tick", tick)
    try:
        yield spent
    finally:
        for name, function in originals.items():
            setattr(sending, f"_{name}", function)
        TestBackend.send_messages = backend_send
        scheduler_tick = tick


# `anymail` (the backend's send_messages: payload and address parsing) is part of `deliver`.
STAGES = ("tick", "decide_batch", "deliver", "anymail", "record")


def throughput(now, due, runs):
    """Returns (now, emails per second, database ms per email, stage ms per email), medians."""
    rates, db_per_email, stages = [], [], {name: [] for name in STAGES}
    for run in range(runs):
        now += dt.timedelta(days=2)  # past the daily cap of the previous run
        ids = list(m.Customer.objects.order_by("?").values_list("id", flat=True)[:due])
        m.Enrollment.objects.filter(customer_id__in=ids).delete()
        m.Event.objects.bulk_create([
            m.Event(customer_id=cid, type="signup", occurred_at=now, event_id=f"bench-{now:%Y%m%d%H%M}-{cid}")
            for cid in ids
        ], batch_size=5000)
        sent = 0
        with db_timer() as spent, stage_timer() as staged:
            started = time.perf_counter()
            while True:
                report = scheduler_tick(now=now, claim_limit=100000)
                for batch in report.batches:
                    mail.outbox = []
                    messages_send(message_ids=batch, now=now)
                    # anymail's test backend finds each message's index in the outbox
                    # (list.index, O(n)): emptied per batch, as a real backend keeps nothing.
                    sent += len(mail.outbox)
                if not report.batches and not report.enrolled:
                    break
            elapsed = time.perf_counter() - started
        assert sent == due, f"sent {sent} of {due}"
        rates.append(due / elapsed)
        db_per_email.append(spent[0] * 1000 / due)
        for name in STAGES:
            stages[name].append(staged[name] * 1000 / due)
    return (now, statistics.median(rates), statistics.median(db_per_email),
            {name: statistics.median(times) for name, times in stages.items()})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, nargs="+", default=[100000, 1000000])
    parser.add_argument("--lapsed", type=int, default=100000)
    parser.add_argument("--due", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    demo_load(customers=0)
    m.Campaign.objects.update(planned_through=NOW)
    print(f"database: {connection.vendor}; runs: {args.runs} (medians)")
    now, have = NOW, 0
    for index, total in enumerate(args.customers):
        customers_grow(total, have)
        have = total
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        now, wall, db = idle_ticks(now, args.runs)
        print(f"customers {total:>9,}: idle tick {wall:6.1f} ms wall, {db:6.1f} ms in the database")
        if index == 0:
            now, seconds = winback_enrolment(now, min(args.lapsed, total), args.runs)
            print(f"  win-back: {min(args.lapsed, total):,} newly lapsed customers enrolled in {seconds:.2f} s")
            now, rate, db_ms, stages = throughput(now, args.due, args.runs)
            print(f"  throughput: {args.due:,} welcomes planned, gated, rendered, sent and recorded at "
                  f"{rate:,.0f} emails/s (one process); {db_ms:.2f} ms of database time per email")
            print("  per email: " + ", ".join(f"{name} {ms:.3f} ms" for name, ms in stages.items()))
            print(f"  render + anymail hand-over alone (no database): {stages['deliver']:.3f} ms per "
                  f"email, a ceiling of {1000 / stages['deliver']:,.0f} emails/s for one process; "
                  f"anymail's send_messages alone {stages['anymail']:.3f} ms "
                  f"(ceiling {1000 / stages['anymail']:,.0f}/s)")


if __name__ == "__main__":
    main()
