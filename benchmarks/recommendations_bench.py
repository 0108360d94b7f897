"""Recommendations benchmark: the nightly recompute, and what recommendations add per email.

    make bench-recs                               # PostgreSQL database lcrm_bench_recs (created)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lcrm_bench_recs \\
        .venv/bin/python benchmarks/recommendations_bench.py --products 50000 \\
        --customers 1000000 --lines 3000000 --runs 3
    ... --reuse                                   # keep the data of an earlier run

It needs a scratch PostgreSQL database in DATABASE_URL (it migrates and, unless --reuse
finds the data there, flushes it). Every table is filled by INSERT … SELECT
generate_series: products in a three-level category tree (10 × 10 × 5 paths) with 200
brands, 5 % out of stock; customers (the scheduler benchmark's); orders of 1-5 lines over
the year before a fixed "now", placed by random customers, whose first product follows a
skewed popularity (product rank ~ 50,000 · u³) and whose other lines are, half the time,
a fixed "companion" of the first (so there is something to find) and otherwise skewed
random; 3 % of the lines refunded. Then ANALYZE (autovacuum may be off), and it prints:

* the nightly `recommendations_compute`, median of --runs (each run replaces the lists);
* the send pipeline's added cost per email: --batch messages' contexts built and the same
  template rendered with and without `recommendations(4)` in its HTML and text parts (the
  "with" runs include the batch's loading, `recommendations_load`), with the process's
  catalogue cache warm and bypassed, interleaved, median per-email difference of
  --render-runs runs; then loading and picking alone.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scheduler_bench import NOW, customers_grow  # noqa: E402  (sets Django up)

from pgcpu import proc_cpu  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from campaigns import models as m  # noqa: E402
from campaigns import templating  # noqa: E402
from campaigns.selectors.catalogue import catalogue_snapshot  # noqa: E402
from campaigns.selectors.recommendations import recommendations_load  # noqa: E402
from campaigns.services.recommendations import recommendations_compute  # noqa: E402
from campaigns.services.rendering import message_context  # noqa: E402
from campaigns.templating.recommendations import recommendations_most  # noqa: E402


def _sql(statement: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _timed(label: str, work):
    started = time.perf_counter()
    result = work()
    print(f"  {label}: {time.perf_counter() - started:,.1f} s", flush=True)
    return result


def products_make(count: int) -> None:
    _sql("""INSERT INTO campaigns_product (created_at, updated_at, sku, name, names, url,
                image_url, price, currency, category, brand, in_stock, attributes)
            SELECT %s, %s, 'p-' || g, 'Product ' || g, '{}',
                   'https://shop.example.com/p/' || g, 'https://shop.example.com/i/' || g || '.jpg',
                   10 + (g %% 90) * 10, 'SEK',
                   'Dept ' || (g %% 10) || ' > Aisle ' || (g / 10 %% 10) || ' > Shelf ' || (g / 100 %% 5),
                   'Brand ' || (g %% 200), (g %% 20) <> 0, '{}'
            FROM generate_series(1, %s) g""", [NOW, NOW, count])


def orders_make(customers: int, products: int, lines: int) -> None:
    """About lines / 3 orders of 1-5 lines (3 on average)."""
    orders = lines // 3
    first_customer = m.Customer.objects.order_by("id").values_list("id", flat=True).first()
    _sql("SELECT setseed(0.42)")
    _sql("""INSERT INTO campaigns_order (created_at, updated_at, customer_id, external_id, amount,
                currency, placed_at, status)
            SELECT %s, %s, %s + floor(random() * %s)::bigint, 'o-' || g, 300, 'SEK',
                   %s - random() * interval '365 days', 'placed'
            FROM generate_series(1, %s) g""",
         [NOW, NOW, first_customer, customers, NOW, orders])
    first_product = m.Product.objects.order_by("id").values_list("id", flat=True).first()
    # rank = floor(N · u³): a few products sell a lot, most rarely. The companion of a
    # product is a fixed other one (rank · 7 + 13), bought with it half the time.
    _sql("""INSERT INTO campaigns_orderline (order_id, customer_id, sku, product_id, quantity,
                price, placed_at, refunded_quantity)
            SELECT o.id, o.customer_id, 'p-' || (l.rank + 1), %s + l.rank,
                   1 + (random() < 0.2)::int, 100, o.placed_at, (random() < 0.03)::int * 2
            FROM (SELECT id, customer_id, placed_at, floor(%s * power(random(), 3))::int AS first
                  FROM campaigns_order) o
            CROSS JOIN LATERAL (
                SELECT CASE WHEN k = 1 THEN o.first
                            WHEN random() < 0.5 THEN (o.first * 7 + 13 * k) %% %s
                            ELSE floor(%s * power(random(), 3))::int END AS rank
                FROM generate_series(1, 1 + (o.id %% 5)::int) k) l""",
         [first_product, products, products, products])


def data_make(args) -> None:
    call_command("flush", interactive=False, verbosity=0)
    _timed(f"{args.products:,} products", lambda: products_make(args.products))
    _timed(f"{args.customers:,} customers", lambda: customers_grow(args.customers, 0))
    _timed(f"about {args.lines:,} order lines",
           lambda: orders_make(args.customers, args.products, args.lines))
    _timed("ANALYZE", lambda: _sql("ANALYZE"))


RECS = """{% for p in recommendations(4) %}
<td><a href="{{ p.url }}"><img src="{{ p.image_url }}" alt="">{{ p.name }}</a>
{{ p.price }} {{ p.currency }}<br><small>{{ p.reason }}</small></td>{% endfor %}"""
RECS_TEXT = "{% for p in recommendations(4) %}\n- {{ p.name }}, {{ p.price }} {{ p.currency }}: {{ p.url }} ({{ p.reason }}){% endfor %}"
HTML = "<p>Hi {{ customer.first_name }}, you have {{ loyalty.balance }} points.</p><table><tr>%s</tr></table><p>{{ company.name }}</p>"
TEXT = "Hi {{ customer.first_name }}, you have {{ loyalty.balance }} points.%s\n{{ company.name }}"


def _messages(batch: int) -> list[m.Message]:
    """`batch` in-memory messages of customers who have orders (nothing is written)."""
    customers = list(m.Customer.objects.filter(
        id__in=m.Order.objects.order_by("id").values("customer_id")[:batch * 3]).order_by("id")[:batch])
    campaign = m.Campaign(name="Bench")
    messages = []
    for i, customer in enumerate(customers, 1):
        message = m.Message(id=i, customer=customer, campaign=campaign,
                            enrollment=m.Enrollment(trigger_event=None))
        message.granted_points, message.coupon, message.tiers = 0, None, []
        messages.append(message)
    return messages


def _render_batch(messages, *, with_recs: bool, cached: bool = True) -> float:
    sources = {"subject": "Hi {{ customer.first_name }}",
               "html_body": HTML % (RECS if with_recs else ""),
               "text_body": TEXT % (RECS_TEXT if with_recs else "")}
    key = ("bench-recs", with_recs)
    names = templating.template_names(cache_key=key, **sources)
    started = time.perf_counter()
    if with_recs:
        # As the sender does: as many per customer as the template's calls can ask for.
        most = recommendations_most(cache_key=key, **sources)
        loaded = recommendations_load(customers={x.customer_id: x.customer.locale for x in messages},
                                      now=NOW, most=most,
                                      catalogue=catalogue_snapshot(cached=cached))
    for message in messages:
        message.__dict__.pop("recommended_shown", None)
        if with_recs:
            message.recommender = loaded
        context = message_context(message=message, unsubscribe_url="", names=names)
        templating.template_render(cache_key=key, context=context, **sources)
    return (time.perf_counter() - started) / len(messages)


def _median_ms(values) -> str:
    return f"{statistics.median(values) * 1000:.3f}"


def render_cost(batch: int, runs: int) -> None:
    """Interleaved per run: without recommendations, with them on a warm catalogue cache
    (the worker's steady state), with them and the cache bypassed (every list and product
    read again: a process's first batch, or the first after a catalogue change)."""
    messages = _messages(batch)
    _render_batch(messages, with_recs=False)  # warm: compile, connection, the cache
    _render_batch(messages, with_recs=True)
    shown = sum(len(getattr(x, "recommended_shown", [])) for x in messages)
    without, warm, cold = [], [], []
    for _ in range(runs):
        without.append(_render_batch(messages, with_recs=False))
        warm.append(_render_batch(messages, with_recs=True))
        cold.append(_render_batch(messages, with_recs=True, cached=False))
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"  render, {len(messages):,} emails per batch, {runs} interleaved runs "
          f"({shown / len(messages):.1f} products shown per email), median per email:")
    print(f"    without recommendations: {_median_ms(without)} ms")
    for label, with_ in (("cache warm", warm), ("cache bypassed", cold)):
        diffs = [b - a for a, b in zip(without, with_)]
        print(f"    with recommendations(4), {label}: {_median_ms(with_)} ms, added "
              f"{_median_ms(diffs)} ms (range {min(diffs) * 1000:.3f} to "
              f"{max(diffs) * 1000:.3f})")
    # Of which: the batch's loading and the picks, without any rendering.
    customers = {x.customer_id: x.customer.locale for x in messages}
    for label, cached in (("cache warm", True), ("cache bypassed", False)):
        loads, picks = [], []
        for _ in range(runs):
            started = time.perf_counter()
            loaded = recommendations_load(customers=customers, now=NOW, most=4,
                                          catalogue=catalogue_snapshot(cached=cached))
            loads.append((time.perf_counter() - started) / len(messages))
            started = time.perf_counter()
            for x in messages:
                loaded.pick(customer_id=x.customer_id, n=4)
            picks.append((time.perf_counter() - started) / len(messages))
        added = [a + b for a, b in zip(loads, picks)]
        print(f"    {label}: loading {_median_ms(loads)} ms + picking {_median_ms(picks)} ms "
              f"= {_median_ms(added)} ms per email; the rest of 'added' is rendering the "
              f"four products")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=50000)
    parser.add_argument("--customers", type=int, default=1000000)
    parser.add_argument("--lines", type=int, default=3000000)
    parser.add_argument("--runs", type=int, default=3, help="compute runs (0: skip)")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--render-runs", type=int, default=7)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("recommendations_bench needs PostgreSQL in DATABASE_URL")
    call_command("migrate", verbosity=0)
    if not (args.reuse and m.OrderLine.objects.exists()):
        print("data:")
        data_make(args)
    print(f"{m.Product.objects.count():,} products, {m.Customer.objects.count():,} customers, "
          f"{m.OrderLine.objects.count():,} order lines", flush=True)
    times, cpus = [], []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    for run in range(args.runs):
        cpu = proc_cpu(backend)
        started = time.perf_counter()
        counts = recommendations_compute(now=NOW)
        times.append(time.perf_counter() - started)
        cpus.append((proc_cpu(backend) or 0) - (cpu or 0))
        print(f"  compute run {run + 1}: {times[-1]:.1f} s, database CPU {cpus[-1]:.1f} s "
              f"({counts.pairs:,} pairs, {counts.top_sellers:,} top sellers)", flush=True)
    if times:
        print(f"recommendations_compute: median {statistics.median(times):.1f} s "
              f"(database CPU {statistics.median(cpus):.1f} s) of {args.runs} runs "
              f"(goal < 60 s); load average now {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} CPUs")
    render_cost(args.batch, args.render_runs)


if __name__ == "__main__":
    main()
