"""Referral rewards: the scheduler's tick grants, holds and reverses them through the ledger.

A counted referral waits (`pending`) for the new customer's first order. Then, by the
programme (`ReferralProgram`, one row): nothing while it is off; with a refund window and
"reward only after the window", it is `holding` until the window has passed without a
refund; else both sides are rewarded at once (`granted`). A granted referral whose first
order is refunded inside the window is `reversed`: the points are taken back, a coupon not
yet used expires.

Set-based: each chunk of due referrals costs a fixed number of statements, whatever its
size; a tick with nothing due reads the programme row and runs one query, unlocked. Concurrent
ticks take disjoint rows (`FOR UPDATE SKIP LOCKED`, a SQLite write transaction is
exclusive) and re-read each row's state under its lock, and the ledger's and the coupons'
unique (referral, customer[, kind]) refuse a second grant of one side.
"""
import dataclasses
import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, Min, OuterRef, Q, Subquery

from campaigns.models import Coupon, Customer, Event, Order, PointsEntry, Referral, ReferralProgram
from campaigns.services.bulk import rows_insert, rows_update
from campaigns.services.coupons import coupon_code_new
from campaigns.services.loyalty import points_entries_add

logger = logging.getLogger(__name__)

REWARDED_EVENT = "referral.rewarded"
CHUNK = 500
MAX_CHUNKS = 20
Reward = Referral.Reward
# Why a first order earned nothing, or the referrer's side nothing (Referral.reward_note).
NOTE_PROGRAMME_OFF = "programme_off"
NOTE_REFUNDED = "refunded"
NOTE_MONTHLY_LIMIT = "monthly_limit"
NOTE_NO_REFERRER = "no_referrer"
NOTE_ERASED = "erased"
# The fields of a referral the tick writes.
WRITTEN = ("first_order_id", "first_order_at", "reward", "reward_note", "referrer_points",
           "friend_points", "rewarded_at", "reversed_at")


def referral_program_read() -> ReferralProgram:
    """The programme's row, or the defaults unsaved when there is none yet: a read only
    (the tick also runs in the simulator's sandbox, which refuses writes to the row)."""
    return ReferralProgram.objects.order_by("pk").first() or ReferralProgram()


@dataclasses.dataclass
class _Due:
    pk: int
    reward: str
    referrer_id: int | None
    referred_id: int
    first_order_id: int | None
    first_order_at: dt.datetime | None
    order_status: str | None
    order_changed_at: dt.datetime | None  # when the order last changed: its refund
    # The row as it stands (every field the tick writes, so one UPDATE sets them all).
    current: dict


def _first_order(now: dt.datetime):
    """The referred customer's first order as of `now` (a cancelled one never counts)."""
    return (Order.objects.filter(customer=OuterRef("referred_id"), placed_at__lte=now)
            .exclude(status=Order.Status.CANCELLED).order_by("placed_at", "pk"))


def _due_parts(*, now: dt.datetime, window: dt.timedelta) -> list[Q]:
    """Referrals with something to do: pending ones whose friend has placed an order;
    holding ones whose window has passed; with a window, granted ones whose first order
    was refunded within it. Each part is a range of the (reward, first_order_at) index."""
    held = Order.objects.filter(pk=OuterRef("first_order_id"))
    parts = [Q(reward=Reward.PENDING, status=Referral.Status.COUNTED) & Q(Exists(_first_order(now))),
             Q(reward=Reward.HOLDING, first_order_at__lte=now - window)]
    if window:
        parts.append(Q(reward=Reward.GRANTED, first_order_at__gt=now - window) & Q(Exists(
            held.filter(status=Order.Status.REFUNDED, updated_at__lte=now))))
    return parts


def _due(*, now: dt.datetime, window: dt.timedelta) -> Q:
    parts = _due_parts(now=now, window=window)
    due = parts[0]
    for part in parts[1:]:
        due |= part
    return due


def _anything_due(*, now: dt.datetime, window: dt.timedelta) -> bool:
    """Whether any referral is due, in one statement: on PostgreSQL a UNION of the parts,
    so that each is its own index range (an OR of them reads the whole table)."""
    if not connection.features.supports_slicing_ordering_in_compound:
        return Referral.objects.filter(_due(now=now, window=window)).exists()
    first, *others = [Referral.objects.filter(part).order_by().values("pk")[:1]
                      for part in _due_parts(now=now, window=window)]
    return bool(list(first.union(*others, all=True)))


def _due_locked(*, now: dt.datetime, window: dt.timedelta) -> list[_Due]:
    """Lock and read the next chunk of due referrals, in one query."""
    first = _first_order(now)
    held = Order.objects.filter(pk=OuterRef("first_order_id"))
    rows = (Referral.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(_due(now=now, window=window))
            .annotate(
                pending_order=Subquery(first.values("pk")[:1]),
                pending_order_at=Subquery(first.values("placed_at")[:1]),
                pending_status=Subquery(first.values("status")[:1]),
                pending_changed=Subquery(first.values("updated_at")[:1]),
                held_status=Subquery(held.values("status")[:1]),
                held_changed=Subquery(held.values("updated_at")[:1]))
            .order_by("pk")
            .values("pk", "referrer_id", "referred_id", *WRITTEN, "pending_order",
                    "pending_order_at", "pending_status", "pending_changed", "held_status",
                    "held_changed")
            [:CHUNK])
    result = []
    for row in rows:
        if row["reward"] == Reward.PENDING:
            order_id, order_at = row["pending_order"], row["pending_order_at"]
            status, changed = row["pending_status"], row["pending_changed"]
        else:
            order_id, order_at = row["first_order_id"], row["first_order_at"]
            status, changed = row["held_status"], row["held_changed"]
        current = {name: row[name] for name in WRITTEN}
        current.update(first_order_id=order_id, first_order_at=order_at)
        result.append(_Due(row["pk"], row["reward"], row["referrer_id"], row["referred_id"],
                           order_id, order_at, status, changed, current))
    return result


def _refunded_in_window(row: _Due, window: dt.timedelta, now: dt.datetime) -> bool:
    """Refunded by `now` and within the window after the first order (never, for no window)."""
    return bool(window) and row.order_status == Order.Status.REFUNDED and (
        row.order_changed_at is not None and row.order_changed_at <= now
        and row.order_changed_at < row.first_order_at + window)


def _month_start(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The calendar month of `now` in the site's time zone, as [start, end)."""
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


def referral_rewards_apply(*, now: dt.datetime) -> int:
    """Move every due referral on (see the module's docstring); returns how many were
    rewarded now. Each chunk is one short transaction."""
    program = referral_program_read()
    window = dt.timedelta(days=program.refund_window_days)
    # Most ticks have nothing to do: one read, no transaction (on SQLite a transaction
    # takes the database's write lock).
    if not _anything_due(now=now, window=window):
        return 0
    granted = 0
    for _ in range(MAX_CHUNKS):
        with transaction.atomic():
            rows = _due_locked(now=now, window=window)
            if rows:
                granted += _chunk_apply(rows, program=program, window=window, now=now)
        if len(rows) < CHUNK:
            break
    return granted


def _chunk_apply(rows: list[_Due], *, program: ReferralProgram, window: dt.timedelta,
                 now: dt.datetime) -> int:
    changes: dict[int, dict] = {}
    to_grant, to_reverse = [], []
    hold = program.hold_until_window_passes and bool(window)
    for row in rows:
        change = changes[row.pk] = dict(row.current)
        if row.reward == Reward.GRANTED:
            to_reverse.append(row)
        elif not program.active:
            change.update(reward=Reward.NOT_GRANTED, reward_note=NOTE_PROGRAMME_OFF)
        elif _refunded_in_window(row, window, now):
            change.update(reward=Reward.NOT_GRANTED, reward_note=NOTE_REFUNDED)
        elif hold and row.first_order_at + window > now:
            change.update(reward=Reward.HOLDING)
        else:
            to_grant.append(row)
    customer_ids = sorted({pk for row in to_grant + to_reverse
                           for pk in (row.referrer_id, row.referred_id) if pk is not None})
    # The customers' row locks, in id order, order their balance changes with any other
    # writer of the ledger (ingest, journeys, expiry).
    locked = {pk: (balance, erased_at) for pk, balance, erased_at in (
        Customer.objects.select_for_update().filter(pk__in=customer_ids).order_by("pk")
        .values_list("pk", "points_balance", "erased_at"))} if customer_ids else {}
    balances = {pk: balance for pk, (balance, _) in locked.items()}
    live = {pk for pk, (_, erased_at) in locked.items() if erased_at is None}
    entries, coupons, events = [], [], []
    _grant(to_grant, program=program, live=live, now=now, changes=changes, entries=entries,
           coupons=coupons, events=events)
    reversed_ids = _reverse(to_reverse, live=live, now=now, changes=changes, entries=entries)
    points_entries_add(entries=entries, balances=balances, now=now)
    rows_insert(Coupon, coupons)
    if reversed_ids:
        Coupon.objects.filter(referral_id__in=reversed_ids, redeemed_at__isnull=True,
                              expires_at__gt=now).update(expires_at=now)
    rows_update(Referral, [{"id": pk, **change} for pk, change in changes.items()],
                fields=list(WRITTEN))
    rows_insert(Event, events, skip_conflicts=True)
    granted = sum(1 for row in to_grant if changes[row.pk]["reward"] == Reward.GRANTED)
    logger.info("referral rewards: %d granted, %d reversed, %d moved in all",
                granted, len(reversed_ids), len(changes))
    return granted


def _grant(rows: list[_Due], *, program, live: set[int], now, changes, entries, coupons,
           events) -> None:
    """Reward both sides of each row (the referrer within the monthly limit)."""
    limit = program.monthly_limit_per_referrer
    referrers = sorted({row.referrer_id for row in rows if row.referrer_id in live})
    given: dict[int, int] = {}
    if limit and referrers:
        start, end = _month_start(now)
        # Rewards given this month count, even one reversed since: a refunded first order
        # does not give the slot back.
        given = dict(Referral.objects.filter(
            referrer_id__in=referrers, rewarded_at__gte=start, rewarded_at__lt=end,
            reward__in=[Reward.GRANTED, Reward.REVERSED], reward_note="",
        ).order_by().values("referrer_id").annotate(n=Count("pk")).values_list("referrer_id", "n"))
    points = program.reward_kind == ReferralProgram.RewardKind.POINTS
    expires_at = now + dt.timedelta(days=program.coupon_valid_days)
    for row in sorted(rows, key=lambda r: (r.first_order_at, r.pk)):
        change = changes[row.pk]
        note = ""
        referrer = row.referrer_id if row.referrer_id in live else None
        if referrer is None:
            note = NOTE_NO_REFERRER
        elif limit and given.get(referrer, 0) >= limit:
            referrer, note = None, NOTE_MONTHLY_LIMIT
        friend = row.referred_id if row.referred_id in live else None
        if friend is None and referrer is None:
            change.update(reward=Reward.NOT_GRANTED, reward_note=NOTE_ERASED)
            continue
        if referrer is not None:
            given[referrer] = given.get(referrer, 0) + 1
        change.update(reward=Reward.GRANTED, reward_note=note, rewarded_at=now,
                      referrer_points=0, friend_points=0)
        for role, customer_id, amount in (("referrer", referrer, program.referrer_points),
                                          ("friend", friend, program.friend_points)):
            if customer_id is None or (points and not amount):
                continue
            code = ""
            if points:
                change[f"{role}_points"] = amount
                entries.append({"customer_id": customer_id, "delta": amount,
                                "kind": PointsEntry.Kind.REFERRAL,
                                "reason": f"referral:{row.pk}:{role}", "referral_id": row.pk})
            else:
                code = coupon_code_new()
                coupons.append({"code": code, "customer_id": customer_id, "referral_id": row.pk,
                                "issued_at": now, "expires_at": expires_at, "redeemed_order": ""})
            events.append({
                "event_id": f"{REWARDED_EVENT}:{row.pk}:{role}", "customer_id": customer_id,
                "type": REWARDED_EVENT, "occurred_at": now, "received_at": now,
                "properties": {"role": role, "points": amount if points else 0,
                               "coupon": code, "referral_id": row.pk},
            })


def _reverse(rows: list[_Due], *, live: set[int], now, changes, entries) -> list[int]:
    """Take back what each row's sides were given (points; coupons expire by the caller)."""
    for row in rows:
        referrer_points, friend_points = (row.current["referrer_points"],
                                          row.current["friend_points"])
        changes[row.pk].update(reward=Reward.REVERSED, reversed_at=now)
        for role, customer_id, amount in (("referrer", row.referrer_id, referrer_points),
                                          ("friend", row.referred_id, friend_points)):
            # An erased customer's balance is gone with them: nothing to take back.
            if customer_id in live and amount:
                entries.append({"customer_id": customer_id, "delta": -amount,
                                "kind": PointsEntry.Kind.REVERSAL,
                                "reason": f"referral:{row.pk}:{role}:reversed",
                                "referral_id": row.pk})
    return [row.pk for row in rows]


def referral_rewards_next_at(*, after: dt.datetime) -> dt.datetime | None:
    """The earliest moment after `after` at which a tick would move a referral on, or None
    (the simulator skips the ticks before it): a pending friend's first order, a hold's
    window passing, a granted first order's refund."""
    program = referral_program_read()
    window = dt.timedelta(days=program.refund_window_days)
    pending = Referral.objects.filter(reward=Reward.PENDING, status=Referral.Status.COUNTED)
    candidates = [
        Order.objects.filter(customer_id__in=pending.values("referred_id"), placed_at__gt=after)
        .exclude(status=Order.Status.CANCELLED).aggregate(m=Min("placed_at"))["m"],
    ]
    held = Referral.objects.filter(reward=Reward.HOLDING).aggregate(m=Min("first_order_at"))["m"]
    if held is not None:
        candidates.append(max(held + window, after + dt.timedelta(microseconds=1)))
    if window:
        candidates.append(Order.objects.filter(
            pk__in=Referral.objects.filter(reward=Reward.GRANTED).values("first_order_id"),
            status=Order.Status.REFUNDED, updated_at__gt=after,
        ).aggregate(m=Min("updated_at"))["m"])
    known = [c for c in candidates if c is not None]
    return min(known) if known else None
