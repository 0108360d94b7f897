"""Time to reorder: each product's typical reorder interval, learned from the shop's own
order history, and a `product.reorder_due` event when a customer's interval has passed.

Both are set-based: the nightly learning is one window-function query over the recent
order lines, and the emission reads only the lines whose interval ended since its last run
(per distinct interval, a range scan of the index on product and time), at most hourly.
"""
import datetime as dt

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce

from campaigns.models import Customer, Event, EventLine, Heartbeat, OrderLine, Product
from campaigns.services.planning import REORDER_DUE

# Learning: the median gap between a customer's consecutive purchases of a product, over
# the lines of the last two years, once at least this many repeat pairs exist.
REORDER_HISTORY_DAYS = 730
REORDER_MIN_PAIRS = 5
REORDER_MAX_DAYS = 365
# Emission: at most once an hour (the idle tick reads one row otherwise); a first run, or
# one after a long pause, looks back this far.
REORDER_EVERY = dt.timedelta(hours=1)
REORDER_LOOKBACK = dt.timedelta(days=2)
HEARTBEAT_NAME = "reorder_due"
EMIT_BATCH = 2000

_GAP_DAYS = {
    "postgresql": "EXTRACT(EPOCH FROM (placed_at - previous)) / 86400.0",
    "sqlite": "julianday(placed_at) - julianday(previous)",
}


def _median_gaps_sql(vendor: str) -> str:
    """Per product: the median gap in days and the number of repeat pairs (ROW_NUMBER and
    COUNT over the gaps: the same SQL on PostgreSQL and SQLite)."""
    lines = OrderLine._meta.db_table
    return f"""
        WITH consecutive AS (
            SELECT product_id, placed_at,
                   LAG(placed_at) OVER (PARTITION BY customer_id, product_id
                                        ORDER BY placed_at, id) AS previous
            FROM {lines}
            WHERE product_id IS NOT NULL AND placed_at > %s AND refunded_quantity < quantity
        ), gaps AS (
            SELECT product_id, {_GAP_DAYS[vendor]} AS days
            FROM consecutive WHERE previous IS NOT NULL
        ), ranked AS (
            SELECT product_id, days,
                   ROW_NUMBER() OVER (PARTITION BY product_id ORDER BY days) AS position,
                   COUNT(*) OVER (PARTITION BY product_id) AS pairs
            FROM gaps WHERE days >= 1
        )
        SELECT product_id, AVG(days), pairs FROM ranked
        WHERE pairs >= %s AND position IN ((pairs + 1) / 2, (pairs + 2) / 2)
        GROUP BY product_id, pairs"""


def reorder_intervals_learn(*, now: dt.datetime) -> int:
    """Set every product's `learned_reorder_days` from the order history (None when there
    are fewer than REORDER_MIN_PAIRS repeat purchases); returns how many products changed.

    A gap under a day (two orders on the same day) is one shopping trip, not a reorder.
    One read of the medians, one of the current values, and one UPDATE per 1,000 changed
    products: nightly work in proportion to the recent order lines.
    """
    with connection.cursor() as cursor:
        cursor.execute(_median_gaps_sql(connection.vendor),
                       [now - dt.timedelta(days=REORDER_HISTORY_DAYS), REORDER_MIN_PAIRS])
        learned = {product_id: min(REORDER_MAX_DAYS, max(1, round(float(days))))
                   for product_id, days, _pairs in cursor.fetchall()}
    current = dict(Product.objects.values_list("id", "learned_reorder_days"))
    changed = [Product(id=product_id, learned_reorder_days=learned.get(product_id))
               for product_id, days in current.items() if learned.get(product_id) != days]
    Product.objects.bulk_update(changed, ["learned_reorder_days"], batch_size=1000)
    return len(changed)


def _due_lines(*, days: int, since: dt.datetime, now: dt.datetime):
    """The last purchases of products with this interval whose interval ended in
    (since, now]: not bought again since, not refunded, the customer not erased."""
    later = OrderLine.objects.filter(
        customer_id=OuterRef("customer_id"), product_id=OuterRef("product_id"),
    ).filter(Q(placed_at__gt=OuterRef("placed_at"))
             | Q(placed_at=OuterRef("placed_at"), id__gt=OuterRef("id")))
    products = Product.objects.annotate(
        interval=Coalesce("reorder_days", "learned_reorder_days")).filter(interval=days)
    span = dt.timedelta(days=days)
    return OrderLine.objects.filter(
        product__in=products.values("id"),
        placed_at__gt=since - span, placed_at__lte=now - span,
        refunded_quantity__lt=F("quantity"),
    ).exclude(Exists(later)).exclude(
        customer_id__in=Customer.objects.filter(erased_at__isnull=False).values("id"))


def reorder_due_emit(*, now: dt.datetime, force: bool = False) -> int:
    """Emit a `product.reorder_due` event (one line: the product) for each customer whose
    interval for a product they bought passed since the last run; returns how many.

    Runs at most once per REORDER_EVERY unless `force`. Each event's id is
    "reorder-due:<order line id>", so a rerun, or two workers at once, emit it once; the
    event happens when the interval ended, at the line's time plus the interval.
    `reorder_days` set on a product wins over the learned interval.
    """
    last = Heartbeat.objects.filter(name=HEARTBEAT_NAME).values_list("at", flat=True).first()
    if last is not None and not force and now - last < REORDER_EVERY:
        return 0
    since = max(last or now - REORDER_LOOKBACK, now - REORDER_LOOKBACK)
    intervals = sorted(set(Product.objects.annotate(
        interval=Coalesce("reorder_days", "learned_reorder_days"))
        .filter(interval__isnull=False).values_list("interval", flat=True)))
    emitted = 0
    for days in intervals:
        lines = _due_lines(days=days, since=since, now=now).order_by("id").values_list(
            "id", "customer_id", "product_id", "sku", "quantity", "price", "placed_at",
            "order__external_id")
        last_id = 0
        while rows := list(lines.filter(id__gt=last_id)[:EMIT_BATCH]):
            emitted += _events_write(rows, days=days)
            last_id = rows[-1][0]
    if not Heartbeat.objects.filter(name=HEARTBEAT_NAME).update(at=now):
        Heartbeat.objects.get_or_create(name=HEARTBEAT_NAME, defaults={"at": now})
    return emitted


def _events_write(rows: list[tuple], *, days: int) -> int:
    """The events of one batch of due lines and their lines, in four statements."""
    span = dt.timedelta(days=days)
    events = {
        f"reorder-due:{line_id}": Event(
            event_id=f"reorder-due:{line_id}", customer_id=customer_id, type=REORDER_DUE,
            occurred_at=placed_at + span,
            properties={"sku": sku, "reorder_days": days, "order_id": order_id or "",
                        "last_purchased_at": placed_at.isoformat(), "quantity": quantity},
        )
        for line_id, customer_id, _product, sku, quantity, _price, placed_at, order_id in rows
    }
    with transaction.atomic():
        Event.objects.bulk_create(events.values(), ignore_conflicts=True)
        stored = dict(Event.objects.filter(event_id__in=list(events), lines__isnull=True)
                      .values_list("event_id", "id"))
        new_lines = [
            EventLine(event_id=stored[f"reorder-due:{line_id}"], customer_id=customer_id,
                      sku=sku, product_id=product_id, quantity=quantity, price=price,
                      occurred_at=placed_at + span)
            for line_id, customer_id, product_id, sku, quantity, price, placed_at, _o in rows
            if f"reorder-due:{line_id}" in stored
        ]
        EventLine.objects.bulk_create(new_lines)
    return len(new_lines)

