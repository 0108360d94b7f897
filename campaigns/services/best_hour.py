"""The customer's best hour: learned nightly from the local hours of their purchases and
email clicks, and the due time of a send step that waits for it."""
import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from campaigns import clock
from campaigns.models import Customer, MessageEvent, Order

# Data points (purchases and clicks) a customer needs before an hour is theirs.
MIN_POINTS = 3
WINDOW = dt.timedelta(days=365)
# Customers per pass: three reads and at most 25 updates each, whatever the chunk holds.
LEARN_CHUNK = 5000


@dataclasses.dataclass
class BestHourReport:
    customers: int = 0  # customers looked at (erased ones are left alone)
    with_hour: int = 0  # customers who have a best hour now
    updated: int = 0  # customers whose best hour changed (the rows written)


def _zone(name: str, cache: dict) -> ZoneInfo:
    if name not in cache:
        try:
            cache[name] = ZoneInfo(name) if name else ZoneInfo(settings.TIME_ZONE)
        except (KeyError, ValueError):
            cache[name] = ZoneInfo(settings.TIME_ZONE)
    return cache[name]


def best_hour_of(moments: list[dt.datetime], zone: ZoneInfo) -> int | None:
    """The most frequent local hour of `moments`, None below MIN_POINTS. A tie goes to
    the hour of the most recent moment among the tied ones (recent habits win)."""
    if len(moments) < MIN_POINTS:
        return None
    counts: Counter = Counter()
    latest: dict[int, dt.datetime] = {}
    for moment in moments:
        hour = moment.astimezone(zone).hour
        counts[hour] += 1
        if hour not in latest or moment > latest[hour]:
            latest[hour] = moment
    return max(counts, key=lambda hour: (counts[hour], latest[hour], -hour))


def best_hours_learn(*, now: dt.datetime | None = None,
                     chunk: int = LEARN_CHUNK) -> BestHourReport:
    """Recompute every (not erased) customer's best hour from the last 365 days.

    Walks the customers in id order, a chunk at a time: one read of the chunk's customers,
    one of their orders' times, one of their clicks' times, then one UPDATE per distinct
    new hour among the customers whose hour changed (at most 25). Local hours are computed
    in Python with zoneinfo, so SQLite and PostgreSQL share one code path and an unknown
    zone name falls back to the site's zone instead of failing the night. Safe to run at
    any time; a second run changes nothing.
    """
    now = now or clock.now()
    since = now - WINDOW
    report = BestHourReport()
    zones: dict[str, ZoneInfo] = {}
    customers = Customer.objects.filter(erased_at__isnull=True).order_by("id")
    last_id = 0
    while rows := list(customers.filter(id__gt=last_id)
                       .values_list("id", "time_zone", "best_hour")[:chunk]):
        first_id, last_id = rows[0][0], rows[-1][0]
        moments: dict[int, list[dt.datetime]] = defaultdict(list)
        for customer_id, at in Order.objects.filter(
            customer_id__gte=first_id, customer_id__lte=last_id, status=Order.Status.PLACED,
            placed_at__gte=since, placed_at__lte=now,
        ).order_by().values_list("customer_id", "placed_at"):
            moments[customer_id].append(at)
        for customer_id, at in MessageEvent.objects.filter(
            message__customer_id__gte=first_id, message__customer_id__lte=last_id,
            event_type="clicked", occurred_at__gte=since, occurred_at__lte=now,
        ).order_by().values_list("message__customer_id", "occurred_at"):
            moments[customer_id].append(at)
        changes: dict[int | None, list[int]] = defaultdict(list)
        for customer_id, time_zone, old in rows:
            new = best_hour_of(moments.get(customer_id, []), _zone(time_zone, zones))
            report.with_hour += new is not None
            if new != old:
                changes[new].append(customer_id)
        with transaction.atomic():
            for hour, ids in changes.items():
                report.updated += Customer.objects.filter(id__in=ids).update(best_hour=hour)
        report.customers += len(rows)
    return report


def best_hour_due(*, after: dt.datetime, best_hour: int | None, fallback: dt.time,
                  zone: ZoneInfo, expires_at: dt.datetime | None = None) -> dt.datetime:
    """The first moment at or after `after` when the customer's local clock shows their
    best hour (hh:00), or the fallback time when they have none.

    Computed on the local calendar with zoneinfo, so it stays at that local hour across
    daylight saving changes. When that moment would be at or past the deadline
    (`expires_at`), the message keeps `after`, the earliest time it is allowed.
    """
    at = dt.time(best_hour) if best_hour is not None else fallback
    local = after.astimezone(zone)
    for days in range(3):
        day = local.date() + dt.timedelta(days=days)
        candidate = dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.timezone.utc)
        if candidate >= after:
            break
    if expires_at is not None and candidate >= expires_at:
        return after
    return candidate
