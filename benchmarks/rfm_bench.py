"""RFM and lifecycle benchmark: the nightly recompute for N customers.

    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE lcrm_bench_rfm"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lcrm_bench_rfm \\
        .venv/bin/python benchmarks/rfm_bench.py --customers 1000000 --runs 5

It needs a scratch database in DATABASE_URL (it migrates and flushes it). The customers
come from the scheduler benchmark's `customers_grow` (one INSERT … SELECT FROM
generate_series on PostgreSQL), then one UPDATE gives them varied order facts: 10 % never
ordered, the rest 1-20 orders, a last order up to 400 days ago, a spend per order of
50-550. It prints the first scoring (every stage blank before: every row is written, no
events) and, as the median of --runs, a night: the clock moves one day, --daily-buyers
customers (1 % by default) place an order that day, and the scoring reruns (recency ranks
shift, stages move, lifecycle events are inserted; only changed rows are written).
"""
import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scheduler_bench import NOW, customers_grow, db_timer  # noqa: E402  (sets Django up)

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from campaigns import models as m  # noqa: E402
from campaigns.services.rfm import customers_score, score_counts_words  # noqa: E402


def orders_vary() -> None:
    """Varied, reproducible order facts for every customer, in one statement."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT setseed(0.42)")
            cursor.execute(
                """UPDATE campaigns_customer SET
                       order_count = f.n,
                       last_order_at = CASE WHEN f.n = 0 THEN NULL ELSE %s - f.age END,
                       first_order_at = CASE WHEN f.n = 0 THEN NULL
                                             ELSE %s - f.age - f.tenure END,
                       total_spent = f.n * (50 + f.basket)
                   FROM (SELECT id,
                           CASE WHEN random() < 0.1 THEN 0
                                ELSE LEAST(20, 1 + floor(-ln(1 - random()) * 3)::int) END AS n,
                           random() * interval '400 days' AS age,
                           random() * interval '700 days' AS tenure,
                           round((random() * 500)::numeric, 2) AS basket
                         FROM campaigns_customer) f
                   WHERE campaigns_customer.id = f.id""",
                [NOW, NOW],
            )
            cursor.execute("VACUUM ANALYZE campaigns_customer")
        return
    import random

    rng = random.Random(42)
    for customer in m.Customer.objects.only("id").iterator():
        n = 0 if rng.random() < 0.1 else rng.randint(1, 20)
        age = dt.timedelta(days=rng.uniform(0, 400))
        m.Customer.objects.filter(pk=customer.pk).update(
            order_count=n, total_spent=n * rng.randint(50, 550),
            last_order_at=NOW - age if n else None,
            first_order_at=NOW - age - dt.timedelta(days=rng.uniform(0, 700)) if n else None,
        )


def day_of_orders(now: dt.datetime, buyers: int) -> None:
    """`buyers` random customers (prospects included) order once, some time on the day."""
    if connection.vendor != "postgresql":
        from django.db.models import F
        from django.db.models.functions import Coalesce

        ids = list(m.Customer.objects.order_by("?").values_list("id", flat=True)[:buyers])
        m.Customer.objects.filter(pk__in=ids).update(
            order_count=F("order_count") + 1, total_spent=F("total_spent") + 300,
            last_order_at=now - dt.timedelta(hours=3),
            first_order_at=Coalesce("first_order_at", now - dt.timedelta(hours=3)))
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE campaigns_customer c SET
                   order_count = c.order_count + 1,
                   total_spent = c.total_spent + 50 + round((random() * 500)::numeric, 2),
                   last_order_at = %s - random() * interval '1 day',
                   first_order_at = COALESCE(c.first_order_at, %s - interval '12 hours')
               FROM (SELECT id FROM campaigns_customer TABLESAMPLE BERNOULLI (%s)) b
               WHERE c.id = b.id""",
            [now, now, 100.0 * buyers / m.Customer.objects.count()],
        )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1000000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--daily-buyers", type=int, default=None,
                        help="customers who order each simulated day (default 1 %%)")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    started = time.perf_counter()
    customers_grow(args.customers, 0)
    orders_vary()
    print(f"database: {connection.vendor}; {args.customers:,} customers built in "
          f"{time.perf_counter() - started:.1f} s")

    now = NOW
    with db_timer() as spent:
        started = time.perf_counter()
        report = customers_score(now=now)
        wall = time.perf_counter() - started
    print(f"first scoring: {wall:.1f} s ({spent[0]:.1f} s in the database): "
          f"{score_counts_words(report)}")
    print("  stages:", ", ".join(f"{k} {v:,}" for k, v in sorted(report.by_stage.items())))

    walls, events = [], []
    buyers = args.daily_buyers if args.daily_buyers is not None else args.customers // 100
    for _ in range(args.runs):
        now += dt.timedelta(days=1)
        day_of_orders(now, buyers)
        started = time.perf_counter()
        report = customers_score(now=now)
        walls.append(time.perf_counter() - started)
        events.append(report.events)
        print(f"  nightly rerun: {walls[-1]:.1f} s; {score_counts_words(report)}")
    print(f"nightly rerun, median of {args.runs}: {statistics.median(walls):.1f} s "
          f"(min {min(walls):.1f}, max {max(walls):.1f}); events per night "
          f"{statistics.median(events):,.0f}")


if __name__ == "__main__":
    main()
