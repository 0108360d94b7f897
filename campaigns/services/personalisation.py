"""What a template may know of the customer's shopping, loaded once per send batch: the
trigger event with its lines, the last orders with theirs, the segments it names.

Only what some template of the batch reads is loaded (templating.template_names), in a
fixed number of statements whatever the batch's size: the customers' last orders (one
window query), every line wanted — the trigger events', the trigger orders' and the last
orders' — (one raw UNION query, without the products), their products from the process's
catalogue cache (selectors/catalogue.py: a token check, and one query for the products
it does not hold yet), and the memberships of the named segments (one query). The data
is plain dicts (ITEMs, docs/templates.md).
"""
import datetime as dt
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from campaigns import templating
from campaigns.models import Customer, EventLine, Message, Order, OrderLine, SegmentMembership
from campaigns.selectors.catalogue import CatalogueSnapshot, catalogue_snapshot, ids_where

# The last orders a template sees as `orders`, newest first.
ORDERS_SHOWN = 3
# What `event`, `orders` and `in_segment` need loaded; the rest of a context is cheap.
PERSONAL_NAMES = frozenset({"event", "orders", "in_segment"})

_EVENT, _ORDER = 0, 1


def _decimal(value) -> Decimal:
    # Raw rows: PostgreSQL gives Decimal, SQLite an int, a float or a text.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _money(value) -> str:
    return "" if value is None else f"{_decimal(value):.2f}"


@lru_cache(maxsize=256)
def _languages(locale: str) -> tuple[str, ...]:
    locale = (locale or "").strip()
    language = locale.split("-")[0].lower()
    return tuple(dict.fromkeys(x for x in (locale, language, "nb" if language == "no" else "")
                               if x))


class Lines:
    """The lines of one batch's events and orders, made into ITEMs: what is the product's
    (name in a language, url, attributes …) comes from the catalogue cache, built once
    per product and language (selectors/catalogue.py), then each line adds its quantity
    and price. `rows`: (kind, owner, line id, sku, quantity, price, product id)."""

    def __init__(self, rows, records=None, catalogue: CatalogueSnapshot | None = None):
        self._rows: dict[tuple[int, int], list[tuple]] = {}
        for row in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
            self._rows.setdefault((row[0], row[1]), []).append(row)
        self._records = records or {}
        self._catalogue = catalogue
        self._unknown: dict[str, tuple] = {}

    def _product(self, row: tuple, languages: tuple[str, ...]) -> tuple[dict, object]:
        """(the product's ITEM, its unit price) for a line's row."""
        record = self._records.get(row[6]) if row[6] is not None else None
        if record is not None:
            return self._catalogue.item(record.id, languages), record.price
        # Not in the catalogue (yet): the line's own sku.
        base = self._unknown.get(row[3])
        if base is None:
            base = self._unknown[row[3]] = (
                {"sku": row[3], "name": row[3], "url": settings.SITE_URL, "image_url": "",
                 "price": "", "currency": "", "quantity": 1, "line_total": "",
                 "category": "", "brand": "", "in_stock": False,
                 "attributes": templating.Attributes(), "known": False}, None)
        return base

    def items(self, owner: tuple[int, int], *, languages: tuple[str, ...],
              currency: str = "") -> list[dict]:
        """The ITEMs of one event's or order's lines, in their order."""
        found = []
        for row in self._rows.get(owner, ()):
            product, product_price = self._product(row, languages)
            item = dict(product)
            quantity, unit = int(row[4] or 0), row[5] if row[5] is not None else product_price
            item["quantity"] = quantity
            item["price"] = _money(unit)
            item["line_total"] = "" if unit is None else _money(_decimal(unit) * quantity)
            if currency:
                item["currency"] = currency
            found.append(item)
        return found


def _lines(event_ids, order_ids, *, catalogue: CatalogueSnapshot | None = None) -> Lines:
    """The lines of these events and orders (one raw statement: no ORM to compile per
    batch, no join), their products from the catalogue cache (a token check, and one
    statement for the products it does not hold)."""
    parts, params = [], []
    for kind, model, owner, ids in ((_EVENT, EventLine, "event_id", event_ids),
                                    (_ORDER, OrderLine, "order_id", order_ids)):
        if ids:
            where = ids_where(owner, list(ids), params)
            parts.append(f"SELECT {kind}, {owner}, id, sku, quantity, price, product_id "
                         f"FROM {model._meta.db_table} WHERE {where}")
    if not parts:
        return Lines(())
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    product_ids = sorted({row[6] for row in rows if row[6] is not None})
    if not product_ids:
        return Lines(rows)
    catalogue = catalogue if catalogue is not None else catalogue_snapshot()
    return Lines(rows, catalogue.records(product_ids), catalogue)


def _orders_last(customer_ids) -> dict[int, list[dict]]:
    """{customer id: their last ORDERS_SHOWN placed orders, newest first}: one statement."""
    rows = Order.objects.filter(customer_id__in=customer_ids, status=Order.Status.PLACED).annotate(
        rank=Window(RowNumber(), partition_by=[F("customer_id")],
                    order_by=[F("placed_at").desc(), F("id").desc()]),
    ).filter(rank__lte=ORDERS_SHOWN).values_list(
        "customer_id", "id", "external_id", "amount", "currency", "placed_at")
    orders: dict[int, list[dict]] = {}
    for customer_id, pk, external_id, amount, currency, placed_at in rows:
        orders.setdefault(customer_id, []).append({
            "id": pk, "external_id": external_id, "amount": _money(amount), "currency": currency,
            "placed_at": placed_at})
    for found in orders.values():
        found.sort(key=lambda o: (o["placed_at"], o["id"]), reverse=True)
    return orders


def _memberships(customer_ids, segment_names) -> dict[int, set[str]]:
    """{customer id: the named segments they are in (every segment, for None)}. A segment's members are those of its
    last refresh (every SEGMENT_REFRESH_MINUTES, and on save): the list the segment page
    counts and segment-entry journeys start from."""
    found: dict[int, set[str]] = {}
    rows = SegmentMembership.objects.filter(customer_id__in=customer_ids)
    if segment_names is not None:
        rows = rows.filter(segment__name__in=segment_names)
    for customer_id, name in rows.values_list("customer_id", "segment__name"):
        found.setdefault(customer_id, set()).add(name)
    return found


class Membership:
    """`in_segment("name")` for one customer: true when they are in the named segment."""

    __slots__ = ("names",)

    def __init__(self, names):
        self.names = names

    def __call__(self, name) -> bool:
        # Only segments named in quotes are loaded (the editor asks for quotes): any other
        # argument is false, never an error that fails the send.
        return isinstance(name, str) and name in self.names


def template_reads(template) -> tuple[frozenset, frozenset]:
    """(the names any translation of the template reads, the segments it names). Both
    cached per translation version by templating."""
    names, segments = frozenset(), frozenset()
    for translation in template.translations.all():
        sources = {"cache_key": (translation.pk, translation.version),
                   "subject": translation.subject, "html_body": translation.html_body,
                   "text_body": translation.text_body}
        read = templating.template_names(**sources)
        names |= read
        if "in_segment" in read:
            segments |= templating.template_segments(**sources)
    return names, segments


def personalisation_attach(messages: list[Message], *, reads=None,
                           catalogue: CatalogueSnapshot | None = None) -> None:
    """Set `message.personalisation` = {"event", "orders", "segments"} on each message, each
    None unless its template reads it (`reads`: (names, segments) for every message, else
    each message's template's, `template_reads`; segments None: every segment). A fixed
    number of statements (at most three, and the catalogue's token check and the products
    it does not hold), whatever the number of messages. `catalogue`: the batch's view of
    the catalogue, shared with its recommendations."""
    wanted, by_template = [], {}
    for message in messages:
        if reads is None:
            template = message.variant.template if message.variant_id else message.step.template
            if template.pk not in by_template:
                by_template[template.pk] = template_reads(template)
        wanted.append((message, *(reads if reads is not None else by_template[template.pk])))
    trigger_events, trigger_orders, order_customers = set(), set(), set()
    segment_names: set | None = set()
    for message, names, segments in wanted:
        trigger = message.enrollment.trigger_event if "event" in names else None
        if trigger is not None:
            if trigger.order_id is not None:
                trigger_orders.add(trigger.order_id)
            else:
                trigger_events.add(trigger.pk)
        if "orders" in names:
            order_customers.add(message.customer_id)
        if "in_segment" in names and segment_names is not None:
            segment_names = None if segments is None else segment_names | segments
    last_orders = _orders_last(sorted(order_customers)) if order_customers else {}
    order_ids = trigger_orders | {o["id"] for found in last_orders.values() for o in found}
    lines = _lines(sorted(trigger_events), sorted(order_ids), catalogue=catalogue)
    members = {}
    if segment_names is None or segment_names:
        members = _memberships(
            sorted({m.customer_id for m, names, _ in wanted if "in_segment" in names}),
            None if segment_names is None else sorted(segment_names))
    for message, names, segments in wanted:
        languages = _languages(message.customer.locale) if names & PERSONAL_NAMES else ()
        personal = {"event": None, "orders": None, "segments": None}
        trigger = message.enrollment.trigger_event if "event" in names else None
        if trigger is not None:
            personal["event"] = _event_block(trigger, lines, languages)
        if "orders" in names:
            personal["orders"] = [
                {"external_id": o["external_id"], "amount": o["amount"], "currency": o["currency"],
                 "placed_at": o["placed_at"].isoformat(),
                 "items": lines.items((_ORDER, o["id"]), languages=languages,
                                     currency=o["currency"])}
                for o in last_orders.get(message.customer_id, ())]
        if "in_segment" in names:
            personal["segments"] = frozenset(members.get(message.customer_id, ()))
        message.personalisation = personal


def _event_block(trigger, lines, languages) -> dict:
    properties = trigger.properties if isinstance(trigger.properties, dict) else {}
    if trigger.order_id is not None:
        currency = trigger.order.currency
        owner = (_ORDER, trigger.order_id)
    else:
        currency = properties.get("currency") if isinstance(properties.get("currency"), str) else ""
        owner = (_EVENT, trigger.pk)
    occurred = trigger.occurred_at
    return {"type": trigger.type,
            "occurred_at": occurred.isoformat() if isinstance(occurred, dt.datetime) else "",
            "properties": dict(properties),
            "items": lines.items(owner, languages=languages, currency=currency)}


def personalisation_context(personal: dict, names) -> dict:
    """The variables `event`, `orders` and `in_segment` of one message's context (those its
    template reads: all of them when `names` is None)."""
    context = {}
    if personal["event"] is not None:
        context["event"] = personal["event"]
    if names is None or "orders" in names:
        context["orders"] = personal["orders"] or []
    if names is None or "in_segment" in names:
        context["in_segment"] = Membership(personal["segments"] or frozenset())
    return context


def personalisation_sample(customer: Customer) -> dict:
    """A real customer's data for the preview: their latest cart (or their latest order as
    a purchase), their last orders, their segments. A few statements; reads only."""
    languages = _languages(customer.locale)
    cart = EventLine.objects.filter(customer=customer).order_by("-occurred_at", "-id") \
        .select_related("event").only("event__id", "event__type", "event__occurred_at",
                                      "event__properties").first()
    last_orders = _orders_last([customer.pk]).get(customer.pk, [])
    newest_order = last_orders[0] if last_orders else None
    use_cart = cart is not None and (
        newest_order is None or cart.event.occurred_at >= newest_order["placed_at"])
    order_ids = {o["id"] for o in last_orders}
    lines = _lines([cart.event_id] if use_cart else [], sorted(order_ids))
    event = None
    if use_cart:
        properties = cart.event.properties if isinstance(cart.event.properties, dict) else {}
        currency = properties.get("currency") if isinstance(properties.get("currency"), str) else ""
        event = {"type": cart.event.type, "occurred_at": cart.event.occurred_at.isoformat(),
                 "properties": dict(properties),
                 "items": lines.items((_EVENT, cart.event_id), languages=languages,
                                      currency=currency)}
    elif newest_order is not None:
        event = {"type": "purchase", "occurred_at": newest_order["placed_at"].isoformat(),
                 "properties": {},
                 "items": lines.items((_ORDER, newest_order["id"]), languages=languages,
                                      currency=newest_order["currency"])}
    orders = [{"external_id": o["external_id"], "amount": o["amount"], "currency": o["currency"],
               "placed_at": o["placed_at"].isoformat(),
               "items": lines.items((_ORDER, o["id"]), languages=languages,
                                    currency=o["currency"])} for o in last_orders]
    segments = frozenset(SegmentMembership.objects.filter(customer=customer).values_list(
        "segment__name", flat=True))
    return {"event": event, "orders": orders, "segments": segments}
