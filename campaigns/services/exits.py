"""Journey exits: end active enrollments on an exit event or a purchase of the trigger's items.

The exit rules only ever become true for an enrollment when something new appears: an
exit event or an order line of its customer, an event or order whose time passes into
`now`, or the enrollment itself. So a tick re-checks only the enrollments of customers
with such news since the campaign's last check (its `exit_watermark`), and sweeps all of
a campaign's active enrollments at most once per EXIT_SWEEP_EVERY as a safety net. An idle
tick costs one indexed read per campaign with exit rules, whatever the number of journeys.
"""
import datetime as dt

from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils.dateparse import parse_datetime

from campaigns.models import Campaign, Enrollment, Event, EventLine, Order, OrderLine

# Trigger setting: the journey ends when the customer buys any product of its trigger
# event's lines (a cart's, a viewed product, the product due for reorder).
EXIT_ON_PURCHASE_OF_ITEMS = "exit_on_purchase_of_items"
# Ids are taken when a row is inserted but seen when its transaction commits, so a row can
# appear behind a larger id read earlier. Each check re-reads the rows whose ids were not
# yet taken this long before the previous check: a transaction that commits within it is
# never missed (the ingest's batches take well under a second).
EXIT_LAG = dt.timedelta(minutes=10)
# The safety net: a full check of every active enrollment of a campaign this often, for
# whatever commits later still (a long import) or a rule edited outside a save.
EXIT_SWEEP_EVERY = dt.timedelta(hours=1)
# Customers per UPDATE when many had news since the last check.
EXIT_CHUNK = 2000
# How many id marks a campaign keeps at most (one per check inside EXIT_LAG, and the one
# before it): when ticks come faster, the newest are kept, which only widens a check.
EXIT_MARKS = 32


def _has_exit_rules(campaign: Campaign) -> bool:
    return bool(campaign.exit_event_types) or bool(
        (campaign.trigger_config or {}).get(EXIT_ON_PURCHASE_OF_ITEMS))


def enrollments_exit(*, now: dt.datetime) -> int:
    """End active enrollments whose customer did one of the campaign's exit events, or,
    for a campaign with "exit_on_purchase_of_items", bought a product of the trigger
    event's lines (a cart's items, the product viewed or due for reorder).

    An enrollment that began with an order (one survey per order) ends only on exit
    events about that order or about no order in particular (a refund of another order
    leaves it alone); any other enrollment ends on any exit event after its trigger.
    Only what happened strictly after the trigger counts: the trigger event itself, or
    another one at the same instant (a shop sending cart.updated and checkout.started
    together), never ends the journey it began.

    Only the enrollments of customers with news since the campaign's last check are
    re-checked (see the module docstring); a full check runs on a campaign's first check,
    after it was saved (its rules may have changed), after the clock went back, and once
    per EXIT_SWEEP_EVERY. Safe to run twice or concurrently: the updates only touch
    active enrollments, and an older watermark written last only widens the next check.
    """
    campaigns = [c for c in Campaign.objects.filter(status=Campaign.Status.ACTIVE)
                 if _has_exit_rules(c)]
    if not campaigns:
        return 0
    mark = {"at": now.isoformat(), **_ids_now()}
    exited = 0
    for campaign in campaigns:
        state = campaign.exit_watermark or {}
        customers = _news_customers(campaign, state, now=now)
        if customers is None:
            exited += _exits_apply(campaign, customers=None, now=now)
            state = {**state, "swept_at": now.isoformat()}
        else:
            ordered = sorted(customers)
            for start in range(0, len(ordered), EXIT_CHUNK):
                exited += _exits_apply(campaign, customers=ordered[start:start + EXIT_CHUNK],
                                       now=now)
        campaign.exit_watermark = {**state, "checked_at": now.isoformat(),
                                   "marks": _marks_keep([*state.get("marks", []), mark], now=now)}
    Campaign.objects.bulk_update(campaigns, ["exit_watermark"])
    return exited


def _ids_now() -> dict[str, int]:
    """The largest id of each table whose new rows can end a journey, in one statement."""
    tables = {"event": Event, "line": OrderLine, "enrollment": Enrollment}
    columns = ", ".join(f"(SELECT MAX(id) FROM {model._meta.db_table})"
                        for model in tables.values())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}")
        row = cursor.fetchone()
    return {name: value or 0 for name, value in zip(tables, row)}


def _marks_keep(marks: list[dict], *, now: dt.datetime) -> list[dict]:
    """The marks a next check can need: those inside EXIT_LAG of `now` and the newest
    before it (the next check's floor)."""
    cutoff = now - EXIT_LAG
    # Marks ahead of now (the clock went back: a replay of the past) are dropped.
    marks = sorted((m for m in marks if parse_datetime(m["at"]) <= now),
                   key=lambda m: parse_datetime(m["at"]))
    older = [m for m in marks if parse_datetime(m["at"]) <= cutoff]
    recent = [m for m in marks if parse_datetime(m["at"]) > cutoff]
    return older[-1:] + recent[-(EXIT_MARKS - 1):]


def _news_customers(campaign: Campaign, state: dict, *, now: dt.datetime) -> set[int] | None:
    """The customers whose enrollments in `campaign` may meet an exit rule that did not
    hold at its last check, or None when all its active enrollments need a check."""
    checked_at = parse_datetime(state.get("checked_at") or "")
    swept_at = parse_datetime(state.get("swept_at") or "")
    if (checked_at is None or swept_at is None or now < checked_at
            or now - swept_at >= EXIT_SWEEP_EVERY or campaign.updated_at >= checked_at):
        return None
    floors = [m for m in state.get("marks", []) if parse_datetime(m["at"]) <= checked_at - EXIT_LAG]
    if not floors:
        return None
    floor = floors[-1]
    # Each part is one index range: new rows by id (the trailing floor), and rows whose
    # time passed into now since the last check (events and orders can come dated ahead).
    # New enrollments of any campaign: a range of the primary key (by campaign, the
    # database would read all of the campaign's enrollments).
    parts = [Enrollment.objects.filter(id__gt=floor["enrollment"])]
    if campaign.exit_event_types:
        exit_events = Event.objects.filter(type__in=campaign.exit_event_types)
        parts += [exit_events.filter(id__gt=floor["event"]),
                  exit_events.filter(occurred_at__gt=checked_at, occurred_at__lte=now)]
    if (campaign.trigger_config or {}).get(EXIT_ON_PURCHASE_OF_ITEMS):
        # Placed orders only: the index on their time is partial. An order dated ahead
        # and cancelled before its time comes is left to the sweep.
        parts += [OrderLine.objects.filter(id__gt=floor["line"]),
                  Order.objects.filter(status=Order.Status.PLACED, placed_at__gt=checked_at,
                                       placed_at__lte=now)]
    first, *rest = [part.order_by().values_list("customer_id") for part in parts]
    return {customer_id for (customer_id,) in first.union(*rest)}


def _exits_apply(campaign: Campaign, *, customers: list[int] | None, now: dt.datetime) -> int:
    """The exit rules as UPDATE … WHERE EXISTS over the campaign's active enrollments, or
    only those of `customers`."""
    active = Enrollment.objects.filter(campaign=campaign, state=Enrollment.State.ACTIVE)
    if customers is not None:
        active = active.filter(customer_id__in=customers)
    exited = 0
    if campaign.exit_event_types:
        changes = {"state": Enrollment.State.EXITED, "finished_at": now,
                   "exit_reason": "exit_event", "next_action_at": None}
        exit_events = Event.objects.filter(
            customer_id=OuterRef("customer_id"),
            type__in=campaign.exit_event_types,
            occurred_at__gt=OuterRef("triggered_at"),
            occurred_at__lte=now,
        )
        exited += active.filter(trigger_event__order__isnull=True).filter(
            Exists(exit_events)).update(**changes)
        exited += active.filter(trigger_event__order__isnull=False).filter(Exists(
            exit_events.filter(Q(order__isnull=True) | Q(order_id=OuterRef("trigger_event__order_id")))
        )).update(**changes)
    if (campaign.trigger_config or {}).get(EXIT_ON_PURCHASE_OF_ITEMS):
        exited += _exit_on_purchase_of_items(active, now=now)
    return exited


def _exit_on_purchase_of_items(active, *, now: dt.datetime) -> int:
    """One UPDATE … WHERE EXISTS: the trigger event's lines (by their index on the event)
    joined by sku to the customer's order lines placed after the trigger (by their index on
    customer and time)."""
    bought = OrderLine.objects.filter(
        customer_id=OuterRef(OuterRef("customer_id")),
        placed_at__gt=OuterRef(OuterRef("triggered_at")),
        placed_at__lte=now,
        sku=OuterRef("sku"),
    )
    lines_bought = EventLine.objects.filter(event_id=OuterRef("trigger_event_id")).filter(
        Exists(bought))
    changes = {"state": Enrollment.State.EXITED, "finished_at": now,
               "exit_reason": "purchase_of_items", "next_action_at": None}
    return active.filter(trigger_event__isnull=False).filter(Exists(lines_bought)).update(
        **changes)
