"""Points: earning on orders and events, reversal on refunds, tiers, FIFO expiry and the
`points.expiring` reminder event.

The ledger (PointsEntry) is append-only; Customer.points_balance is the sum of its
deltas, written in the same transaction as each entry, under the customer's row lock.
"""
import dataclasses
import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from campaigns.loyalty import EXPIRING_EVENT, months_before, points_for_amount
from campaigns.models import Customer, EarningRule, Event, Order, PointsEntry, Tier
from campaigns.services.bulk import filter_in, rows_insert, rows_update

logger = logging.getLogger(__name__)

Kind = PointsEntry.Kind
REVERSING_EVENTS = {"refund": Order.Status.REFUNDED, "order_cancelled": Order.Status.CANCELLED}
TIER_WINDOW = dt.timedelta(days=365)
CHUNK = 1000


def points_add(
    *, customer_id: int, delta: int, kind: str, reason: str, now: dt.datetime, **refs
) -> PointsEntry | None:
    """Append one entry and re-derive the cached balance and tier, in one transaction.

    `refs` are the entry's order / event / enrollment and step. A second entry for the
    same (order, kind), (event, kind) or (enrollment, step) is refused by the database
    and returns None: replays and concurrent duplicates change nothing.
    """
    with transaction.atomic():
        # The row lock orders concurrent changes of one customer's balance.
        Customer.objects.select_for_update().filter(pk=customer_id).values_list("pk").get()
        balance = (PointsEntry.objects.filter(customer_id=customer_id)
                   .aggregate(b=Sum("delta"))["b"] or 0) + delta
        try:
            with transaction.atomic():
                entry = PointsEntry.objects.create(
                    customer_id=customer_id, kind=kind, delta=delta, balance_after=balance,
                    reason=reason[:100], created_at=now, **refs,
                )
        except IntegrityError:
            return None
        Customer.objects.filter(pk=customer_id).update(points_balance=balance)
        tiers_refresh(customer_ids=[customer_id], now=now)
    return entry


@dataclasses.dataclass(frozen=True)
class StoredEvent:
    """A newly stored event as `points_events_apply` needs it; `order` for a purchase."""

    pk: int
    customer_id: int
    type: str
    properties: dict
    order: "OrderRef | None" = None
    # A refund naming lines that leaves some unrefunded: no status change, no reversal.
    partial: bool = False


@dataclasses.dataclass
class OrderRef:
    """An order as the batch knows it (its status may change within the batch)."""

    pk: int
    customer_id: int
    external_id: str
    amount: Decimal
    currency: str
    status: str
    created: bool = False  # by this batch: it has no ledger entries yet


def points_events_apply(
    *, events: list[StoredEvent], customers: dict[int, Customer], now: dt.datetime
) -> set[int]:
    """What a batch of newly stored events does to the points, in their order, set-based.

    A purchase earns on its order by its currency's spend rule (once per order, only while
    it is placed); a `refund` or `order_cancelled` naming an order of the same customer
    (`properties.order`, the shop's order id) marks it so and reverses what it earned
    (once), unless it is `partial` (it names lines and leaves some unrefunded); any
    other type earns its bonus rule's points, if there is one.

    The caller holds the row locks of every customer in `customers` (by id), whose
    `points_balance` is updated in place for the caller to write; the ledger entries,
    the orders' new statuses and the tiers are written here, with a fixed number of
    statements. Returns the customers with an order cancelled: their order facts must be
    refreshed (`customers_order_facts_refresh`) once the caller has written them.
    """
    rules = list(EarningRule.objects.filter(active=True).values_list(
        "kind", "currency", "event_type", "points_per_unit", "points"))
    spend = {}
    bonus = {}
    for kind, currency, event_type, per_unit, points in rules:
        # The first rule wins, as `.first()` did.
        if kind == EarningRule.Kind.SPEND:
            spend.setdefault(currency, per_unit)
        else:
            bonus.setdefault(event_type, points)
    refs = {(e.customer_id, str((e.properties or {}).get("order") or ""))
            for e in events if e.type in REVERSING_EVENTS}
    orders = {e.order.pk: e.order for e in events if e.order is not None}
    if refs:
        for pk, customer_id, external_id, amount, currency, status in filter_in(
                Order.objects, "external_id", sorted({ref for _, ref in refs})).values_list(
                "pk", "customer_id", "external_id", "amount", "currency", "status"):
            if (customer_id, external_id) in refs:
                orders.setdefault(pk, OrderRef(pk, customer_id, external_id, amount,
                                               currency, status))
    by_ref = {(o.customer_id, o.external_id): o for o in orders.values()}
    ledger = {}
    known = sorted(pk for pk, order in orders.items() if not order.created)
    if known:
        ledger = {(order_id, kind): delta for order_id, kind, delta in filter_in(
            PointsEntry.objects, "order", known).values_list("order_id", "kind", "delta")}
    entries, statuses, cancelled = [], {}, set()

    def add(event: StoredEvent, delta: int, kind: str, reason: str, **refs) -> None:
        customer = customers[event.customer_id]
        customer.points_balance += delta
        entries.append({"customer_id": event.customer_id, "kind": kind, "delta": delta,
                        "balance_after": customer.points_balance, "reason": reason[:100],
                        "created_at": now, "enrollment_id": None, "step_id": None,
                        "order_id": refs.get("order_id"), "event_id": refs.get("event_id")})

    for event in events:
        order = event.order
        if event.type == "purchase" and order is not None:
            rate = spend.get(order.currency)
            if rate is None or order.status != Order.Status.PLACED or (order.pk, Kind.ORDER) in ledger:
                continue
            points = points_for_amount(amount=order.amount, points_per_unit=rate)
            if points > 0:
                ledger[order.pk, Kind.ORDER] = points
                add(event, points, Kind.ORDER, f"order:{order.external_id}", order_id=order.pk)
        elif event.type in REVERSING_EVENTS:
            if event.partial:
                continue
            order = by_ref.get((event.customer_id, str((event.properties or {}).get("order") or "")))
            if order is None:
                continue
            if order.status == Order.Status.PLACED:
                order.status = statuses[order.pk] = REVERSING_EVENTS[event.type]
                if order.status == Order.Status.CANCELLED:
                    cancelled.add(order.customer_id)
            earned = ledger.get((order.pk, Kind.ORDER))
            if earned is None or (order.pk, Kind.REVERSAL) in ledger:
                continue
            ledger[order.pk, Kind.REVERSAL] = -earned
            add(event, -earned, Kind.REVERSAL, f"reversal:{order.external_id}", order_id=order.pk)
        elif event.type in bonus:
            add(event, bonus[event.type], Kind.BONUS, f"event:{event.type}", event_id=event.pk)
    rows_insert(PointsEntry, entries)
    rows_update(Order, [{"id": pk, "status": status, "updated_at": now}
                        for pk, status in statuses.items()], fields=["status", "updated_at"])
    if entries:
        tiers_refresh(customer_ids=sorted({e["customer_id"] for e in entries}), now=now)
    return cancelled


def points_entries_add(*, entries: list[dict], balances: dict[int, int], now: dt.datetime) -> None:
    """Append many ledger entries at once, set-based: the cached balances and the tiers of
    their customers follow in the same fixed number of statements, whatever the count.

    Each entry is a dict of `customer_id`, `delta`, `kind`, `reason` and its references
    (`referral_id`, `order_id`, …). The caller holds the row locks of those customers and
    passes their balances (`balances`, updated here in place). A duplicate of an entry the
    unique constraints guard raises: the caller's state check under its locks must have
    ruled it out, and the caller's transaction then writes nothing.
    """
    if not entries:
        return
    refs = ("enrollment_id", "step_id", "order_id", "event_id", "referral_id")
    rows = []
    for entry in entries:
        customer_id = entry["customer_id"]
        balances[customer_id] += entry["delta"]
        rows.append({"customer_id": customer_id, "kind": entry["kind"], "delta": entry["delta"],
                     "balance_after": balances[customer_id], "reason": entry["reason"][:100],
                     "created_at": now, **{ref: entry.get(ref) for ref in refs}})
    rows_insert(PointsEntry, rows)
    touched = sorted({row["customer_id"] for row in rows})
    rows_update(Customer, [{"id": pk, "points_balance": balances[pk]} for pk in touched],
                fields=["points_balance"])
    tiers_refresh(customer_ids=touched, now=now)


def tiers_refresh(*, now: dt.datetime, customer_ids: list[int] | None = None) -> int:
    """Recompute tier points (earned in the last 365 days, reversals deducted, expiry
    not) and the tier, set-based: for `customer_ids`, or every customer with a ledger.

    With no tiers configured only the tier points are updated and the tier is left as is.
    """
    customers = Customer.objects.all()
    if customer_ids is not None:
        customers = customers.filter(pk__in=customer_ids)
    else:
        customers = customers.filter(
            Q(Exists(PointsEntry.objects.filter(customer=OuterRef("pk")))) | ~Q(tier_points=0))
    earned = (PointsEntry.objects.filter(
        customer=OuterRef("pk"), kind__in=[*PointsEntry.EARNING_KINDS, Kind.REVERSAL],
        created_at__gt=now - TIER_WINDOW,
    ).order_by().values("customer").annotate(s=Sum("delta")).values("s"))
    changed = customers.update(tier_points=Coalesce(Subquery(earned), 0))
    tiers = list(Tier.objects.order_by("-threshold").values_list("name", "threshold"))
    if tiers:
        customers.update(tier=Case(
            *[When(tier_points__gte=threshold, then=Value(name)) for name, threshold in tiers],
            default=Value(""),
        ))
    return changed


def _lots(cutoff: dt.datetime):
    """Earning entries up to `cutoff` whose order or referral reward was not reversed: the
    FIFO lots."""
    reversed_ = PointsEntry.objects.filter(order=OuterRef("order"), kind=Kind.REVERSAL)
    # A referral's reversal is per side: the same referral and customer.
    referral_reversed = PointsEntry.objects.filter(
        referral=OuterRef("referral"), customer=OuterRef("customer"), kind=Kind.REVERSAL)
    return PointsEntry.objects.filter(
        kind__in=PointsEntry.EARNING_KINDS, created_at__lte=cutoff,
    ).exclude(Q(order__isnull=False) & Q(Exists(reversed_))).exclude(
        Q(referral__isnull=False) & Q(Exists(referral_reversed)))


def _expiring(cutoff: dt.datetime, customers):
    """Per customer, the points of lots earned by `cutoff` not yet used up:
    lots − points already expired (FIFO: expiry uses the oldest lots first), at most the
    balance. Returns a queryset of (customer id, points, balance) with points > 0."""
    lots = (_lots(cutoff).filter(customer=OuterRef("pk")).order_by().values("customer")
            .annotate(s=Sum("delta")).values("s"))
    used = (PointsEntry.objects.filter(customer=OuterRef("pk"), kind=Kind.EXPIRY).order_by()
            .values("customer").annotate(s=Sum("delta")).values("s"))
    due = (customers.filter(erased_at__isnull=True)
           .annotate(lots=Coalesce(Subquery(lots), 0), used=Coalesce(Subquery(used), 0))
           .annotate(due=F("lots") + F("used"))
           .filter(due__gt=0, points_balance__gt=0))
    return due.annotate(expiring=Case(
        When(due__lt=F("points_balance"), then=F("due")), default=F("points_balance"),
        output_field=IntegerField(),
    )).values_list("pk", "expiring", "points_balance")


def points_expire(*, now: dt.datetime) -> int:
    """Write an expiry entry for every customer with points older than
    POINTS_EXPIRY_MONTHS (0 = points never expire). Idempotent: a second run the same
    moment finds those lots used. Returns the number of customers whose points expired."""
    months = settings.POINTS_EXPIRY_MONTHS
    if not months:
        return 0
    cutoff = months_before(now, months)
    candidates = list(_expiring(cutoff, Customer.objects.all()).values_list("pk", flat=True))
    total = 0
    for start in range(0, len(candidates), CHUNK):
        ids = candidates[start:start + CHUNK]
        with transaction.atomic():
            list(Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk")
                 .values_list("pk", flat=True))
            rows = list(_expiring(cutoff, Customer.objects.filter(pk__in=ids)))
            if not rows:
                continue
            PointsEntry.objects.bulk_create([
                PointsEntry(customer_id=pk, kind=Kind.EXPIRY, delta=-points,
                            balance_after=balance - points, reason="expiry", created_at=now)
                for pk, points, balance in rows
            ])
            Customer.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(points_balance=Case(
                *[When(pk=pk, then=Value(balance - points)) for pk, points, balance in rows],
                output_field=IntegerField(),
            ))
            total += len(rows)
    logger.info("points expired for %d customer(s)", total)
    return total


def points_expiring_notify(*, now: dt.datetime) -> int:
    """Emit `points.expiring` for customers with a lot that reached the reminder point
    (POINTS_EXPIRY_REMINDER_DAYS before it expires) in the last 24 hours and points that
    will expire by then. The event id (customer, expiry date) makes a rerun a no-op.
    Properties: `points` (that will expire by `expires_on`) and `expires_on`."""
    months = settings.POINTS_EXPIRY_MONTHS
    if not months:
        return 0
    horizon = now + dt.timedelta(days=settings.POINTS_EXPIRY_REMINDER_DAYS)
    cutoff = months_before(horizon, months)
    since = months_before(horizon - dt.timedelta(days=1), months)
    fresh_lot = _lots(cutoff).filter(customer=OuterRef("pk"), created_at__gt=since)
    rows = list(_expiring(cutoff, Customer.objects.filter(Exists(fresh_lot))))
    expires_on = horizon.date().isoformat()
    created = Event.objects.bulk_create([
        Event(event_id=f"{EXPIRING_EVENT}:{pk}:{expires_on}", customer_id=pk,
              type=EXPIRING_EVENT, occurred_at=now, received_at=now,
              properties={"points": points, "expires_on": expires_on})
        for pk, points, _ in rows
    ], ignore_conflicts=True)
    logger.info("points.expiring for %d customer(s)", len(created))
    return len(rows)


def loyalty_nightly(*, now: dt.datetime) -> dict:
    """Expire, recompute every tier (the 12-month window moves), then remind."""
    expired = points_expire(now=now)
    tiers = tiers_refresh(now=now)
    reminded = points_expiring_notify(now=now)
    return {"expired": expired, "tiers": tiers, "reminded": reminded}
