"""Segment benchmark: count and members refresh for a three-condition rule on 1,000,000 customers.

    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE lcrm_bench_segments"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lcrm_bench_segments \\
        .venv/bin/python benchmarks/segment_bench.py --customers 1000000 --runs 5

It needs a scratch PostgreSQL database in DATABASE_URL (it migrates and flushes it). The
population is made with INSERT … SELECT FROM generate_series: customers spread over five
countries (40 % SE) with marketing consent for two in three; orders for 30 % of them (1-4
each over the past year, one in twelve refunded); 'newsletter_click' events for 40 %. It
times, as medians of --runs:

* count() of: country = SE AND ≥ 2 orders in the last 90 days AND marketing consent, first
  without the segment indexes of migration 0005 (migrated to 0004), then with them;
* segment_members_refresh() on that population: the first refresh (everyone enters), a
  refresh with nothing changed, and one after 1 % of the customers moved country;

and prints EXPLAIN ANALYZE of the count with the indexes.
"""
import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltycrm.settings.base")
# A local run, as before DEBUG became opt-in (the key is made once in var/).
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from campaigns import clock  # noqa: E402
from campaigns.models import Segment, SegmentMembership  # noqa: E402
from campaigns.selectors.segments import segment_customers  # noqa: E402
from campaigns.services.segments import segment_members_refresh  # noqa: E402

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
RULE = {"all": [
    {"field": "country", "op": "is", "value": "SE"},
    {"field": "order_count", "op": ">=", "value": 2, "window": {"last_days": 90}},
    {"field": "marketing_consent", "op": "is", "value": True},
]}


def population_build(total: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO campaigns_customer (created_at, updated_at, external_id, email,
                   first_name, last_name, locale, time_zone, country, signed_up_at,
                   order_count, total_spent, points_balance, tier, marketing_consent, attributes,
                   lifecycle_stage)
               SELECT %s, %s, 's-' || g, 's' || g || '@example.com', 'Kari', 'Nordmann',
                   'sv', 'Europe/Stockholm', (ARRAY['SE','SE','NO','DK','FI'])[g %% 5 + 1],
                   %s - (g %% 1000) * interval '1 day', 0, 0, 0, '', g %% 3 <> 0, '{}', ''
               FROM generate_series(1, %s) AS g""",
            [NOW, NOW, NOW, total],
        )
        cursor.execute(
            """INSERT INTO campaigns_order (created_at, updated_at, customer_id, external_id,
                   amount, currency, placed_at, status)
               SELECT %s, %s, c.id, 'o-' || c.id || '-' || k, 100 + (c.id * k) %% 900, 'SEK',
                   %s - ((c.id * 7 + k * 53) %% 365) * interval '1 day',
                   CASE WHEN (c.id + k) %% 12 = 0 THEN 'refunded' ELSE 'placed' END
               FROM campaigns_customer c, generate_series(1, c.id %% 4 + 1) AS k
               WHERE c.id %% 10 < 3""",
            [NOW, NOW, NOW],
        )
        cursor.execute(
            """INSERT INTO campaigns_event (customer_id, type, occurred_at, received_at,
                   properties)
               SELECT c.id, 'newsletter_click', %s - (c.id %% 200) * interval '1 day', %s, '{}'
               FROM campaigns_customer c WHERE c.id %% 5 < 2""",
            [NOW, NOW],
        )
        cursor.execute("VACUUM ANALYZE")


def timed(function, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def count_once() -> int:
    return segment_customers(RULE, now=NOW).count()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL to a scratch database.")
    clock.set_virtual(NOW)
    call_command("migrate", "campaigns", "0004", verbosity=0)
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", "campaigns", "0004", verbosity=0)
    started = time.perf_counter()
    population_build(args.customers)
    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT count(*) FROM campaigns_order), (SELECT count(*) FROM campaigns_event)")
        orders, events = cursor.fetchone()
    print(f"database: postgresql; {args.customers:,} customers, {orders:,} orders, {events:,} events "
          f"built in {time.perf_counter() - started:.1f} s; runs: {args.runs} (medians)")

    seconds, count = timed(count_once, args.runs)
    print(f"count without the segment indexes (0004): {seconds * 1000:7.0f} ms  ({count:,} customers)")
    call_command("migrate", "campaigns", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    seconds, count = timed(count_once, args.runs)
    print(f"count with the segment indexes (0005):    {seconds * 1000:7.0f} ms  ({count:,} customers)")

    sql, params = segment_customers(RULE, now=NOW).order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ({sql}) members", params)
        print("\n".join("    " + row[0] for row in cursor.fetchall()))

    segment = Segment.objects.create(name="bench", rule=RULE)
    refreshes = []
    for run in range(args.runs):
        SegmentMembership.objects.filter(segment=segment).delete()
        started = time.perf_counter()
        entered = segment_members_refresh(segment, now=NOW)
        refreshes.append(time.perf_counter() - started)
    print(f"refresh, everyone enters:   {statistics.median(refreshes):6.2f} s  ({len(entered):,} entered)")
    seconds, entered = timed(lambda: segment_members_refresh(segment, now=NOW), args.runs)
    print(f"refresh, nothing changed:   {seconds:6.2f} s  ({len(entered):,} entered)")
    moves = []
    for run in range(args.runs):
        with connection.cursor() as cursor:
            # 1 % of the customers swap between SE and NO: some leave, others enter.
            cursor.execute(
                "UPDATE campaigns_customer SET country = CASE WHEN country = 'SE' THEN 'NO' "
                "WHEN country = 'NO' THEN 'SE' ELSE country END WHERE id %% 97 = %s", [run])
        started = time.perf_counter()
        entered = segment_members_refresh(segment, now=NOW)
        moves.append(time.perf_counter() - started)
    print(f"refresh, 1 % moved country: {statistics.median(moves):6.2f} s  ({len(entered):,} entered "
          f"in the last run; {segment.member_count:,} members)")


if __name__ == "__main__":
    main()
