"""Product segments benchmark: member counts with bought / viewed / spent conditions.

    DATABASE_URL=postgres://…/scratch .venv/bin/python benchmarks/segments_products_bench.py
    … --customers 100000 --lines 300000 --views 100000 --runs 3 [--reuse] [--plans]

It needs a scratch database in DATABASE_URL (it migrates and, unless --reuse finds the data
there, flushes it). Customers, 2,000 products in 11 top categories (two levels, plus a
"Kitchenware" that is not under "Kitchen"), placed orders over a year (4 % refunded), their
lines (2 % with a SKU not in the catalogue, 3 % refunded) and product.viewed events with
their lines are written by INSERT … SELECT generate_series. Then each rule's member count
(segment_count, the query the admin and the refresh run) is timed, median of --runs, and
with --plans PostgreSQL's plan (EXPLAIN ANALYZE) of each is printed.
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
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from campaigns import models as m  # noqa: E402
from campaigns.selectors.segments import segment_customers  # noqa: E402

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc)
YEAR_MINUTES = 366 * 1440
PRODUCTS = 2000
TOPS = ["Kitchen", "Kitchenware", "Garden", "Bath", "Toys", "Books", "Sport", "Office", "Pets",
        "Beauty", "Tools"]

RULES = {
    "bought ≥ 2 items in Kitchen, 90 days": {
        "field": "bought", "category": "Kitchen", "op": ">=", "value": 2,
        "window": {"last_days": 90}},
    "bought one SKU, ever": {"field": "bought", "sku": "P-17", "op": "did"},
    "did not buy brand Brand7, 30 days": {
        "field": "bought", "brand": "Brand7", "op": "did_not", "window": {"last_days": 30}},
    "bought at most 0 in Kitchen > Sub1, ever": {
        "field": "bought", "category": "Kitchen > Sub1", "op": "<=", "value": 0},
    "spent ≥ 100 in Garden, 365 days": {
        "field": "spent_on", "category": "Garden", "op": ">=", "value": 100,
        "window": {"last_days": 365}},
    "viewed Kitchen ≥ 2 times, 30 days": {
        "field": "viewed", "category": "Kitchen", "op": ">=", "value": 2,
        "window": {"last_days": 30}},
    "SE and bought Kitchen lately and not viewed Toys": {"all": [
        {"field": "country", "op": "is", "value": "SE"},
        {"field": "bought", "category": "Kitchen", "op": "did", "window": {"last_days": 90}},
        {"not": {"field": "viewed", "category": "Toys", "op": "did"}}]},
}


def _sql(statement: str, params=None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _timed(label, work):
    started = time.perf_counter()
    result = work()
    print(f"  {label}: {time.perf_counter() - started:,.1f} s", flush=True)
    return result


def data_build(customers: int, lines: int, views: int) -> None:
    orders = lines // 2
    p = {"now": NOW, "n": customers, "o": orders, "l": lines, "v": views,
         "year": YEAR_MINUTES, "products": PRODUCTS, "tops": TOPS}
    _sql("SET synchronous_commit TO off")
    _timed(f"{customers:,} customers", lambda: _sql(
        """INSERT INTO campaigns_customer (created_at, updated_at, external_id, email, first_name,
               last_name, locale, time_zone, country, order_count, total_spent, points_balance,
               tier, tier_points, marketing_consent, attributes, lifecycle_stage)
           SELECT %(now)s, %(now)s, 'c-' || g, 'c' || g || '@example.com', 'Kari', 'Nordmann',
               'sv', 'Europe/Stockholm', CASE WHEN g %% 3 = 0 THEN 'NO' ELSE 'SE' END,
               0, 0, 0, '', 0, true, '{}', ''
           FROM generate_series(1, %(n)s) AS g""", p))
    _timed(f"{PRODUCTS:,} products", lambda: _sql(
        """INSERT INTO campaigns_product (created_at, updated_at, sku, name, names, url, image_url,
               price, currency, category, brand, in_stock, attributes)
           SELECT %(now)s, %(now)s, 'P-' || g, 'Product ' || g, '{}', '', '', 10 + g %% 200,
               'SEK', (%(tops)s::text[])[1 + g %% 11]
                   || CASE WHEN g %% 3 = 0 THEN '' ELSE ' > Sub' || (g %% 5) END,
               'Brand' || (g %% 40), true, '{}'
           FROM generate_series(1, %(products)s) AS g""", p))
    p["low"] = m.Customer.objects.order_by("id").values_list("id", flat=True)[0]
    p["plow"] = m.Product.objects.order_by("id").values_list("id", flat=True)[0]
    _timed(f"{orders:,} orders", lambda: _sql(
        """INSERT INTO campaigns_order (created_at, updated_at, customer_id, external_id, amount,
               currency, placed_at, status)
           SELECT %(now)s, %(now)s, %(low)s + (g::bigint * 104729) %% %(n)s, 'o-' || g,
               50 + g %% 400, 'SEK', %(now)s - interval '1 minute' * ((g::bigint * 7907) %% %(year)s),
               CASE WHEN g %% 25 = 0 THEN 'refunded' ELSE 'placed' END
           FROM generate_series(1, %(o)s) AS g ORDER BY 7""", p))
    p["olow"] = m.Order.objects.order_by("id").values_list("id", flat=True)[0]
    # Two lines per order on average; 2 % unknown SKUs (no product yet), 3 % refunded.
    _timed(f"{lines:,} order lines", lambda: _sql(
        """INSERT INTO campaigns_orderline (customer_id, sku, product_id, quantity, price,
               order_id, placed_at, refunded_quantity)
           SELECT o.customer_id,
               CASE WHEN g %% 50 = 0 THEN 'UNKNOWN-' || g ELSE 'P-' || (1 + k) END,
               CASE WHEN g %% 50 = 0 THEN NULL ELSE %(plow)s + k END,
               1 + g %% 3, CASE WHEN g %% 40 = 0 THEN NULL ELSE 10 + k %% 200 END,
               o.id, o.placed_at, CASE WHEN g %% 33 = 0 THEN 1 + g %% 3 ELSE 0 END
           FROM generate_series(1, %(l)s) AS g CROSS JOIN
                LATERAL (SELECT (g::bigint * 7919) %% %(products)s AS k) AS pick
                JOIN campaigns_order o ON o.id = %(olow)s + (g - 1) %% %(o)s
           ORDER BY o.placed_at""", p))
    _timed(f"{views:,} product.viewed events", lambda: _sql(
        """INSERT INTO campaigns_event (event_id, customer_id, type, occurred_at, received_at,
               properties)
           SELECT 'v-' || g, %(low)s + (g::bigint * 15485863) %% %(n)s, 'product.viewed',
               %(now)s - interval '1 minute' * ((g::bigint * 6007) %% %(year)s), %(now)s, '{}'
           FROM generate_series(1, %(v)s) AS g ORDER BY 4""", p))
    _timed(f"{views:,} viewed lines", lambda: _sql(
        """INSERT INTO campaigns_eventline (customer_id, sku, product_id, quantity, event_id,
               occurred_at)
           SELECT e.customer_id, 'P-' || (1 + e.id %% %(products)s),
               %(plow)s + e.id %% %(products)s, 1, e.id, e.occurred_at
           FROM campaigns_event e WHERE e.type = 'product.viewed'""", p))
    _sql("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--views", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--plans", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database.")
    call_command("migrate", verbosity=0)
    if not (args.reuse and m.OrderLine.objects.exists()):
        call_command("flush", interactive=False, verbosity=0)
        print("building the data set:", flush=True)
        data_build(args.customers, args.lines, args.views)
    print(f"{m.Customer.objects.count():,} customers, {m.OrderLine.objects.count():,} order "
          f"lines, {m.EventLine.objects.count():,} viewed lines", flush=True)
    for label, rule in RULES.items():
        customers = segment_customers(rule, now=NOW)
        times, count = [], None
        for _ in range(args.runs):
            started = time.perf_counter()
            count = customers.count()
            times.append(time.perf_counter() - started)
        print(f"{label}: {count:,} members, {statistics.median(times) * 1000:,.0f} ms "
              f"(median of {args.runs})", flush=True)
        if args.plans:
            print(customers.values("pk").explain(analyze=True), flush=True)


if __name__ == "__main__":
    main()
