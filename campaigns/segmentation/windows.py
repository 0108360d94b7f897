"""Pure: time windows as bounds, and set-based aggregate conditions (shared by the compilers)."""
import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Q

from .validation import Window

COMPARE = {"=": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


def day_start(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


def month_start(year: int, month: int) -> dt.date:
    while month < 1:
        year, month = year - 1, month + 12
    return dt.date(year, month, 1)


def window_range(window: Window, *, now: dt.datetime, zone: ZoneInfo) -> dict:
    """Lookups (gte / lt / lte -> moment) bounding a time window; periods in the site's zone."""
    if window.last_days:
        return {"gte": now - dt.timedelta(days=window.last_days), "lte": now}
    if window.period:
        local = now.astimezone(zone)
        span = window.period.split("_", 1)[1]
        months = {"month": 1, "quarter": 3, "year": 12}[span]
        first = {"month": local.month, "quarter": (local.month - 1) // 3 * 3 + 1, "year": 1}[span]
        start = month_start(local.year, first)
        if window.period.startswith("this_"):
            return {"gte": day_start(start, zone), "lte": now}
        previous = month_start(start.year, start.month - months)
        return {"gte": day_start(previous, zone), "lt": day_start(start, zone)}
    bounds = {}
    if window.start:
        bounds["gte"] = day_start(window.start, zone)
    if window.end:
        bounds["lt"] = day_start(window.end + dt.timedelta(days=1), zone)
    return bounds


def q(name: str, lookup: str, value) -> Q:
    return Q(**{f"{name}__{lookup}": value})


def compare(name: str, op: str, value) -> Q:
    if op == "between":
        return q(name, "gte", value[0]) & q(name, "lte", value[1])
    return q(name, COMPARE[op], value)


def aggregate_q(rows, aggregate, op: str, value, zero) -> Q:
    """Customers whose aggregate over `rows` satisfies op/value, as set-based subqueries.

    `zero` is the aggregate of a customer without rows (0 for counts and sums, None for
    averages, which then never match).
    """
    having = compare("v", op, value)
    matched = (rows.order_by().values("customer_id").annotate(v=aggregate).filter(having)
               .values("customer_id"))
    test = Q(pk__in=matched)
    if zero is not None and satisfies(zero, op, value):
        test |= ~Exists(rows.filter(customer_id=OuterRef("pk")))
    return test


def satisfies(actual, op: str, value) -> bool:
    if op == "between":
        return value[0] <= actual <= value[1]
    return {"=": actual == value, ">": actual > value, ">=": actual >= value,
            "<": actual < value, "<=": actual <= value}[op]
