"""The customer's best hour: learned nightly from the local hours of their purchases and
email clicks, and the due time of a send step that waits for it."""
import dataclasses
import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, IntegerField, Q, When
from django.db.models.functions import ExtractHour

from campaigns import clock
from campaigns.models import Customer, Message, MessageEvent, Order

# Data points (purchases and clicks) a customer needs before an hour is theirs.
MIN_POINTS = 3
WINDOW = dt.timedelta(days=365)
# Between two equally frequent hours, the one with more points this recent wins.
RECENT = dt.timedelta(days=90)
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


def _best(hours: dict[int, list[int]]) -> int | None:
    """The most frequent hour of {hour: [points, points in the last RECENT]}; None below
    MIN_POINTS. A tie goes to the hour with more recent points (habits change), then to
    the earlier hour."""
    if sum(points for points, _recent in hours.values()) < MIN_POINTS:
        return None
    return max(hours, key=lambda hour: (*hours[hour], -hour))


def _local_hour(field: str, zone_field: str, names: set[str], zones: dict):
    """The local hour of `field` in the zone named by `zone_field`, in SQL: one branch per
    zone name of the chunk (AT TIME ZONE on PostgreSQL, Django's zoneinfo function on
    SQLite); an empty or unknown name reads the site's zone."""
    site = ZoneInfo(settings.TIME_ZONE)
    branches = [When(**{zone_field: name}, then=ExtractHour(field, tzinfo=_zone(name, zones)))
                for name in sorted(names) if name and _zone(name, zones) is not site]
    default = ExtractHour(field, tzinfo=site)
    return Case(*branches, default=default, output_field=IntegerField()) if branches else default


def _hour_counts(customers, *, moment: str, names, zones,
                 recent_since) -> list[tuple[int, int, int, int]]:
    """(customer id, local hour, points, recent points) of the moments at the path `moment`
    from the customer (filtered already, so the annotations reuse that join). Read from
    the customer's side: its id range bounds both tables' index scans."""
    return list(
        customers.annotate(local_hour=_local_hour(moment, "time_zone", names, zones))
        .order_by().values_list("id", "local_hour")
        .annotate(points=Count(moment), recent=Count(moment, filter=Q(
            **{f"{moment}__gte": recent_since})))
    )


def best_hours_learn(*, now: dt.datetime | None = None,
                     chunk: int = LEARN_CHUNK) -> BestHourReport:
    """Recompute every (not erased) customer's best hour from the last 365 days: the most
    frequent local hour of their purchases and email clicks, with at least MIN_POINTS of
    them; a tie goes to the hour with more points in the last RECENT, then the earlier one.

    PostgreSQL does it in two statements over every customer (local hours with AT TIME
    ZONE); elsewhere (SQLite) a chunked pass computes the same. Only customers whose hour
    changes are written. Safe to run at any time; a second run changes nothing.
    """
    now = now or clock.now()
    if connection.vendor == "postgresql":
        return _learn_postgresql(now=now)
    return _learn_chunked(now=now, chunk=chunk)


def _learn_postgresql(*, now: dt.datetime) -> BestHourReport:
    customer = connection.ops.quote_name(Customer._meta.db_table)
    order = connection.ops.quote_name(Order._meta.db_table)
    message = connection.ops.quote_name(Message._meta.db_table)
    event = connection.ops.quote_name(MessageEvent._meta.db_table)
    report = BestHourReport()
    with transaction.atomic(), connection.cursor() as cursor:
        # The sorts by customer and hour fit in memory instead of spilling (as in rfm).
        cursor.execute("SELECT set_config('work_mem', %s, true)", [settings.RFM_WORK_MEM])
        # The zone names customers use that both Python and PostgreSQL know; any other
        # name (or none) reads the site's zone, so one odd value cannot fail the night.
        cursor.execute(f"SELECT DISTINCT time_zone FROM {customer} WHERE time_zone <> ''")
        used = [name for (name,) in cursor.fetchall()]
        cursor.execute("SELECT name FROM pg_timezone_names WHERE name = ANY(%s)", [used])
        known = [name for (name,) in cursor.fetchall() if _zone(name, {}).key == name]
        cursor.execute(
            f"""WITH points AS (
                    SELECT customer_id, placed_at AS at FROM {order}
                    WHERE status = %(placed)s AND placed_at >= %(since)s AND placed_at <= %(now)s
                    UNION ALL
                    SELECT m.customer_id, e.occurred_at FROM {event} e
                    JOIN {message} m ON m.id = e.message_id
                    WHERE e.event_type = 'clicked' AND e.occurred_at >= %(since)s
                        AND e.occurred_at <= %(now)s
                ), hours AS (
                    SELECT p.customer_id,
                        EXTRACT(HOUR FROM p.at AT TIME ZONE CASE WHEN c.time_zone = ANY(%(known)s)
                            THEN c.time_zone ELSE %(site)s END)::int AS hour,
                        COUNT(*) AS points, COUNT(*) FILTER (WHERE p.at >= %(recent)s) AS recent
                    FROM points p JOIN {customer} c ON c.id = p.customer_id
                    WHERE c.erased_at IS NULL
                    GROUP BY 1, 2
                ), enough AS (
                    SELECT customer_id FROM hours GROUP BY customer_id
                    HAVING SUM(points) >= %(minimum)s
                ), best AS (
                    SELECT DISTINCT ON (h.customer_id) h.customer_id, h.hour
                    FROM hours h JOIN enough USING (customer_id)
                    ORDER BY h.customer_id, h.points DESC, h.recent DESC, h.hour
                )
                UPDATE {customer} c SET best_hour = n.hour
                FROM (SELECT c2.id, best.hour FROM {customer} c2
                      LEFT JOIN best ON best.customer_id = c2.id
                      WHERE c2.erased_at IS NULL) n
                WHERE c.id = n.id AND c.best_hour IS DISTINCT FROM n.hour""",
            {"placed": Order.Status.PLACED, "since": now - WINDOW, "now": now,
             "recent": now - RECENT, "known": known, "site": settings.TIME_ZONE,
             "minimum": MIN_POINTS},
        )
        report.updated = cursor.rowcount
    counts = Customer.objects.filter(erased_at__isnull=True).aggregate(
        customers=Count("pk"), with_hour=Count("best_hour"))
    report.customers, report.with_hour = counts["customers"], counts["with_hour"]
    return report


def _learn_chunked(*, now: dt.datetime, chunk: int) -> BestHourReport:
    """Walks the customers in id order, a chunk at a time: one read of the chunk's
    customers, one of their orders' local hours and one of their clicks' (counted per
    customer and hour in SQL, with zoneinfo on SQLite), then one UPDATE per distinct new
    hour among the customers whose hour changed (at most 25)."""
    since, recent_since = now - WINDOW, now - RECENT
    report = BestHourReport()
    zones: dict[str, ZoneInfo] = {}
    customers = Customer.objects.filter(erased_at__isnull=True).order_by("id")
    last_id = 0
    while rows := list(customers.filter(id__gt=last_id)
                       .values_list("id", "time_zone", "best_hour")[:chunk]):
        first_id, last_id = rows[0][0], rows[-1][0]
        names = {time_zone for _id, time_zone, _old in rows}
        counts: dict[int, dict[int, list[int]]] = defaultdict(dict)
        chunk_customers = Customer.objects.filter(id__gte=first_id, id__lte=last_id,
                                                  erased_at__isnull=True)
        orders = _hour_counts(
            chunk_customers.filter(orders__status=Order.Status.PLACED,
                                   orders__placed_at__gte=since, orders__placed_at__lte=now),
            moment="orders__placed_at", names=names, zones=zones, recent_since=recent_since)
        clicks = _hour_counts(
            chunk_customers.filter(messages__events__event_type="clicked",
                                   messages__events__occurred_at__gte=since,
                                   messages__events__occurred_at__lte=now),
            moment="messages__events__occurred_at", names=names, zones=zones,
            recent_since=recent_since)
        for customer_id, hour, points, recent in orders + clicks:
            total = counts[customer_id].setdefault(hour, [0, 0])
            total[0] += points
            total[1] += recent
        changes: dict[int | None, list[int]] = defaultdict(list)
        for customer_id, _time_zone, old in rows:
            new = _best(counts.get(customer_id, {}))
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
