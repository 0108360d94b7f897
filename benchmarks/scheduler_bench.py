"""Scheduler benchmark: idle tick cost, win-back enrolment and send throughput.

    make bench                                   # PostgreSQL database lcrm_bench (created)
    .venv/bin/python benchmarks/scheduler_bench.py --customers 100000 1000000 --lapsed 100000 --due 5000 --runs 5

It needs a scratch database in DATABASE_URL (it migrates and flushes it). The synthetic
base is made with one INSERT … SELECT per table on PostgreSQL (a Python bulk insert on
SQLite), so a million customers take seconds. It prints, as medians of --runs:

* idle tick: a whole tick with nothing due — wall time and database time — with the
  product journeys of the demo active (abandoned cart, browse abandonment, time to
  reorder), --carts customers in the middle of an abandoned-cart journey (their exits by a
  newer cart or a purchase of the cart's products), and one order line per customer for
  the reorder reminders (`--carts 0` leaves them out); once with every exit checked on
  each tick (as before the exit watermark), once as the tick runs now;
* the hourly reorder emission (services.reorder) over those lines, and the nightly
  learning of reorder intervals;
* win-back enrolment: planning --lapsed customers who lapsed since the last tick;
* throughput: --due welcome emails through plan → claim and consent/cap/quiet-hours
  gate → render → anymail's test backend → recorded, in one process, with the time per
  stage, this process's CPU and the row writes per email (pg_stat_user_tables).
  `--throughput-only --json PATH` runs only this and writes the figures as JSON.
"""
import argparse
import json
import datetime as dt
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltycrm.settings.base")
# A local run, as before DEBUG became opt-in (the key is made once in var/).
os.environ.setdefault("DEBUG", "true")
# anymail's test backend, its outbox kept short (outbox_trim.py says why).
os.environ.setdefault("EMAIL_BACKEND", "outbox_trim.EmailBackend")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from campaigns import models as m  # noqa: E402
from campaigns.services.demo import demo_load  # noqa: E402
from campaigns.services.exits import EXIT_LAG  # noqa: E402
from campaigns.services.planning import enrollments_plan  # noqa: E402
from campaigns.services.reorder import reorder_due_emit, reorder_intervals_learn  # noqa: E402
from campaigns.services.scheduling import scheduler_tick  # noqa: E402
from campaigns.services.sending import messages_send_due  # noqa: E402

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


def orders_with_lines(total: int, have: int) -> None:
    """One order of one demo product for customers have+1..total (PostgreSQL only), placed
    over the last 400 days at every minute of the day, so an hour of reorder reminders
    falls due at any moment."""
    if connection.vendor != "postgresql" or total <= have:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO campaigns_order (created_at, updated_at, customer_id, external_id,
                   amount, currency, placed_at, status)
               SELECT %s, %s, id, 'bo-' || id, 149, 'SEK',
                   %s - make_interval(days => (id %% 400)::int, mins => (id %% 1440)::int), 'placed'
               FROM campaigns_customer WHERE external_id LIKE 'b-%%' AND id > %s AND id <= %s""",
            [NOW, NOW, NOW - dt.timedelta(days=1), *_customer_id_range(have, total)])
        cursor.execute(
            """WITH products AS (SELECT id, sku, price,
                   row_number() OVER (ORDER BY sku) - 1 AS n FROM campaigns_product)
               INSERT INTO campaigns_orderline (order_id, customer_id, sku, product_id,
                   quantity, price, placed_at, refunded_quantity)
               SELECT o.id, o.customer_id, p.sku, p.id, 1, p.price, o.placed_at, 0
               FROM campaigns_order o JOIN products p
                 ON p.n = o.customer_id %% (SELECT count(*) FROM products)
               WHERE o.external_id LIKE 'bo-%%' AND o.customer_id > %s AND o.customer_id <= %s""",
            _customer_id_range(have, total))


def _customer_id_range(have: int, total: int) -> list[int]:
    """The ids of the have+1..total-th customers."""
    ids = m.Customer.objects.order_by("id").values_list("id", flat=True)
    low = ids[have - 1] if have else 0
    return [low, ids[total - 1]]


def carts_open(now, count: int) -> None:
    """`count` customers left a cart of two products 10 minutes ago; one tick (not timed)
    starts their abandoned-cart journeys, which then wait an hour."""
    if connection.vendor != "postgresql" or not count:
        return
    at = now - dt.timedelta(minutes=10)
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO campaigns_event (event_id, customer_id, type, occurred_at,
                   received_at, properties)
               SELECT 'bench-cart-' || id, id, 'checkout.started', %s, %s, '{}'
               FROM campaigns_customer ORDER BY id DESC LIMIT %s""", [at, at, count])
        cursor.execute(
            """INSERT INTO campaigns_eventline (event_id, customer_id, sku, product_id,
                   quantity, price, occurred_at)
               SELECT e.id, e.customer_id, p.sku, p.id, 1, p.price, e.occurred_at
               FROM campaigns_event e CROSS JOIN (
                   SELECT id, sku, price FROM campaigns_product ORDER BY sku LIMIT 2) p
               WHERE e.event_id LIKE 'bench-cart-%%'""")
        cursor.execute("ANALYZE campaigns_event, campaigns_eventline, campaigns_orderline")
    scheduler_tick(now=now)
    cart = m.Campaign.objects.get(slug="abandoned-cart")
    active = cart.enrollments.filter(state=m.Enrollment.State.ACTIVE).count()
    assert active == count, f"{active} active carts of {count}"


PRODUCT_JOURNEYS = ["abandoned-cart", "browse-abandonment", "time-to-reorder"]


def _product_journeys(*, active: bool) -> None:
    m.Campaign.objects.filter(slug__in=PRODUCT_JOURNEYS).update(
        status=m.Campaign.Status.ACTIVE if active else m.Campaign.Status.PAUSED)


def _reorder_reminders_forget() -> None:
    m.Enrollment.objects.filter(campaign__slug="time-to-reorder").delete()
    m.Event.objects.filter(type="product.reorder_due").delete()


def reorder_work(now, runs):
    """Medians of the hourly reorder emission (an hour of due lines) and of the nightly
    learning of intervals; the emitted events are then removed."""
    emits, learns, emitted = [], [], []
    for _ in range(runs):
        m.Heartbeat.objects.filter(name="reorder_due").update(at=now - dt.timedelta(hours=1))
        started = time.perf_counter()
        emitted.append(reorder_due_emit(now=now))
        emits.append(time.perf_counter() - started)
        _reorder_reminders_forget()
        started = time.perf_counter()
        reorder_intervals_learn(now=now)
        learns.append(time.perf_counter() - started)
    return statistics.median(emits) * 1000, statistics.median(emitted), statistics.median(learns)


def idle_ticks(now, runs, exit_sweep=False):
    """Medians of `runs` idle ticks a minute apart. With `exit_sweep` every tick checks
    the exits of every active enrollment (as before the exit watermark): the watermarks
    are forgotten before each tick, outside the timing."""
    walls, dbs = [], []
    for _ in range(runs):
        now += dt.timedelta(minutes=1)
        if exit_sweep:
            m.Campaign.objects.update(exit_watermark={})
        with db_timer() as spent:
            started = time.perf_counter()
            report = scheduler_tick(now=now)
            walls.append(time.perf_counter() - started)
        assert not report.due and not report.enrolled, "the idle tick found work"
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


# Wall time of each stage of the send path, per email; `tick` is the scheduler's (plan and
# advance), the others come from the sender's own report (SendReport.timings).
STAGES = ("tick", "decide", "render", "handover", "record")
# The tables the send path writes; their pg_stat_user_tables counters give row writes.
WRITTEN = ("campaigns_enrollment", "campaigns_message", "campaigns_messagelog")


def row_writes() -> dict[str, int]:
    """Rows inserted, updated and deleted so far, per table (PostgreSQL's statistics)."""
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        # Counters reach the shared statistics when a backend flushes them: force ours.
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables "
            "WHERE relname = ANY(%s)", [list(WRITTEN)])
        return dict(cursor.fetchall())


def _flush_stats() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")


def throughput(now, due, runs, in_flight=1):
    """Medians of: emails per second, database ms per email, stage ms per email, row writes
    per email (by table), CPU seconds per email of this process."""
    rates, db_per_email, cpu_per_email = [], [], []
    stages = {name: [] for name in STAGES}
    writes = {name: [] for name in WRITTEN}
    for run in range(runs):
        now += dt.timedelta(days=2)  # past the daily cap of the previous run
        ids = list(m.Customer.objects.order_by("?").values_list("id", flat=True)[:due])
        m.Enrollment.objects.filter(customer_id__in=ids).delete()
        m.Event.objects.bulk_create([
            m.Event(customer_id=cid, type="signup", occurred_at=now, event_id=f"bench-{now:%Y%m%d%H%M}-{cid}")
            for cid in ids
        ], batch_size=5000)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # What autovacuum does on a real server after this many changes (this
                # machine's PostgreSQL runs without it): the planner's row estimates.
                cursor.execute("ANALYZE campaigns_message, campaigns_enrollment, campaigns_event")
        _flush_stats()
        time.sleep(1.1)  # other backends' counters (the setup's) reach the statistics
        before = row_writes()
        sent, tick_seconds, timings = 0, 0.0, {name: 0.0 for name in STAGES[1:]}
        with db_timer() as spent:
            cpu = time.process_time()
            started = time.perf_counter()
            while True:
                tick_started = time.perf_counter()
                tick = scheduler_tick(now=now)
                tick_seconds += time.perf_counter() - tick_started
                report = messages_send_due(now=now, in_flight=in_flight)
                for name in timings:
                    timings[name] += report.timings.get(name, 0.0)
                sent += report.sent
                if not report.claimed and not tick.enrolled:
                    break
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
        after = row_writes()
        assert sent == due, f"sent {sent} of {due}"
        rates.append(due / elapsed)
        db_per_email.append(spent[0] * 1000 / due)
        cpu_per_email.append(cpu / due)
        for name, seconds in {"tick": tick_seconds, **timings}.items():
            stages[name].append(seconds * 1000 / due)
        for name in WRITTEN:
            writes[name].append((after.get(name, 0) - before.get(name, 0)) / due)
    return (now, statistics.median(rates), statistics.median(db_per_email),
            {name: statistics.median(times) for name, times in stages.items()},
            {name: statistics.median(values) for name, values in writes.items()},
            statistics.median(cpu_per_email))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, nargs="+", default=[100000, 1000000])
    parser.add_argument("--lapsed", type=int, default=100000)
    parser.add_argument("--due", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--carts", type=int, default=5000,
                        help="customers in an abandoned-cart journey during the idle ticks")
    parser.add_argument("--in-flight", type=int, default=1,
                        help="provider calls in flight (1: on the sender's thread, best for a local backend)")
    parser.add_argument("--throughput-only", action="store_true",
                        help="only the send throughput, on --customers[0] customers")
    parser.add_argument("--json", help="write the throughput figures to this file as JSON")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    demo_load(customers=0)
    # Saved before the bench's time begins (demo_load ran on the real clock): a campaign
    # saved after its last exit check is checked in full again (services/exits.py).
    m.Campaign.objects.update(planned_through=NOW, updated_at=NOW - dt.timedelta(days=1))
    # Active only while the idle ticks are measured (their emails would join the
    # throughput figures otherwise).
    _product_journeys(active=False)
    print(f"database: {connection.vendor}; runs: {args.runs} (medians)")
    now, have = NOW, 0
    for index, total in enumerate(args.customers):
        customers_grow(total, have)
        if args.carts and not args.throughput_only:
            orders_with_lines(total, have)
        have = total
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        if not args.throughput_only:
            now, wall, db = idle_ticks(now, args.runs)
            print(f"customers {total:>9,}: idle tick {wall:6.1f} ms wall, {db:6.1f} ms in the database")
        if index == 0:
            if not args.throughput_only:
                now, seconds = winback_enrolment(now, min(args.lapsed, total), args.runs)
                print(f"  win-back: {min(args.lapsed, total):,} newly lapsed customers enrolled in {seconds:.2f} s")
            now = throughput_report(now, args)
        if args.throughput_only:
            break
        if args.carts:
            now = product_journeys_report(now, args, total)


def product_journeys_report(now, args, total):
    """The idle tick again with the product journeys active and --carts open carts (after
    the other figures, which they would otherwise join), then the reorder jobs."""
    _product_journeys(active=True)
    carts_open(now, args.carts)
    # The hourly emission ran just now: the idle ticks below are between two.
    reorder_due_emit(now=now, force=True)
    _reorder_reminders_forget()
    load = os.getloadavg()[0]
    now, wall, db = idle_ticks(now, args.runs, exit_sweep=True)
    print(f"  with the product journeys active, {args.carts:,} open carts and {total:,} order "
          f"lines, every exit checked on each tick (as before the exit watermark): idle tick "
          f"{wall:6.1f} ms wall, {db:6.1f} ms in the database; load {load:.2f}")
    # Past the exit lag: from here each check has a trailing floor (services/exits.py).
    for _ in range(int(EXIT_LAG / dt.timedelta(minutes=1)) + 2):
        now += dt.timedelta(minutes=1)
        scheduler_tick(now=now)
    load = os.getloadavg()[0]
    now, wall, db = idle_ticks(now, args.runs)
    print(f"  with the product journeys active, {args.carts:,} open carts and {total:,} order "
          f"lines: idle tick {wall:6.1f} ms wall, {db:6.1f} ms in the database; load {load:.2f}")
    emit_ms, emitted, learn_s = reorder_work(now, args.runs)
    print(f"  reorder: the hourly emission {emit_ms:.1f} ms ({emitted:,.0f} reminders due in "
          f"the hour); learning the intervals from {total:,} lines {learn_s:.2f} s")
    m.Enrollment.objects.filter(campaign__slug="abandoned-cart").delete()
    m.Event.objects.filter(event_id__startswith="bench-cart-").delete()
    _product_journeys(active=False)
    return now


def throughput_report(now, args):
    load = os.getloadavg()
    now, rate, db_ms, stages, writes, cpu = throughput(now, args.due, args.runs, args.in_flight)
    print(f"  throughput: {args.due:,} welcomes planned, gated, rendered, sent and recorded at "
          f"{rate:,.0f} emails/s (one process); {db_ms:.2f} ms of database time and "
          f"{cpu * 1000:.2f} ms of this process's CPU per email; load {load[0]:.2f}")
    print("  per email: " + ", ".join(f"{name} {ms:.3f} ms" for name, ms in stages.items()))
    print(f"  row writes per email: {sum(writes.values()):.2f} (" + ", ".join(
        f"{name.removeprefix('campaigns_')} {count:.2f}" for name, count in writes.items()) + ")")
    print(f"  render + hand-over alone (no database): {stages['render'] + stages['handover']:.3f} ms "
          f"per email, a ceiling of {1000 / (stages['render'] + stages['handover']):,.0f} emails/s")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "emails_per_s": rate, "cpu_s_per_email": cpu, "db_ms_per_email": db_ms,
            "row_writes_per_email": sum(writes.values()), "row_writes": writes,
            "stages_ms_per_email": stages, "load": list(load), "due": args.due, "runs": args.runs,
        }, indent=2))
    return now


if __name__ == "__main__":
    main()
