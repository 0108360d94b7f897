"""Reads behind the nightly metric snapshots: the dashboard's counters per UTC day.

Each `daily_*` function counts one dashboard table for the days in [start, end) (UTC
midnights), grouped by day and key, as unsaved `MetricSnapshot` rows. The nightly build
stores them for closed days; the dashboard runs the same functions live for the open
day(s) and adds the stored rows of the closed ones, so both paths share one definition.
Every counter here adds up across days: counts of rows that belong to exactly one day
(a message to its send day, an enrollment to its day, a customer to the day they joined).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import (
    Count, Exists, OuterRef, Q, Sum,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMonth

from campaigns.models import (
    Customer, Enrollment, Message, MessageLog, MetricSnapshot, MetricSnapshotState, Order,
    SurveyResponse,
)
from campaigns.selectors import metrics

UTC = dt.timezone.utc
Kind = MetricSnapshot.Kind
# States of a message that went (or may have gone) to the provider.
HANDED_OVER = (Message.State.SENT, Message.State.UNKNOWN)
# An order within this time after a send converts it (the funnel).
CONVERSION_WINDOW = dt.timedelta(days=metrics.ATTRIBUTION_DAYS)
# The outcomes of a message the funnel explains, with their reasons.
HELD_BACK = ("deferred", Message.State.SKIPPED, Message.State.EXPIRED)
# The tables kept per day of an event; cohorts are rebuilt whole (see daily_cohorts).
DAY_KINDS = (Kind.SENDS, Kind.SURVEY, Kind.FUNNEL, Kind.HELD_BACK, Kind.LIFT, Kind.VARIANT)


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=UTC)


def _day(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=UTC)


def as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _row(kind, day, values, **key) -> MetricSnapshot:
    return MetricSnapshot(kind=kind, day=as_date(day), values=values, **key)


def daily_sends(start: dt.datetime, end: dt.datetime) -> list[MetricSnapshot]:
    """Emails handed to the provider, per day of sent_at."""
    rows = (Message.objects.filter(state__in=HANDED_OVER, sent_at__gte=start, sent_at__lt=end)
            .annotate(day=_day("sent_at")).order_by().values("day").annotate(n=Count("pk"))
            .values_list("day", "n"))
    return [_row(Kind.SENDS, day, {"sent": n}) for day, n in rows]


def daily_survey(start: dt.datetime, end: dt.datetime) -> list[MetricSnapshot]:
    """Survey answers per day of answered_at and kind: how many, NPS promoters (9-10) and
    detractors (0-6), and the sum of the scores (for the mean)."""
    rows = (SurveyResponse.objects.filter(answered_at__gte=start, answered_at__lt=end)
            .annotate(day=_day("answered_at")).order_by().values("day", "kind")
            .annotate(answers=Count("pk"), promoters=Count("pk", filter=Q(score__gte=9)),
                      detractors=Count("pk", filter=Q(score__lte=6)), score_sum=Sum("score"))
            .values_list("day", "kind", "answers", "promoters", "detractors", "score_sum"))
    return [_row(Kind.SURVEY, day, {"answers": n, "promoters": p, "detractors": d,
                                    "score_sum": total}, label=kind)
            for day, kind, n, p, d, total in rows]


def daily_funnel(start: dt.datetime, end: dt.datetime) -> list[MetricSnapshot]:
    """Per day of enrollment and campaign: enrolled, holdouts, and of their messages those
    handed over, delivered, opened, clicked, and converted (a placed order of the customer
    within 7 days after sent_at)."""
    enrolled = (Enrollment.objects.filter(enrolled_at__gte=start, enrolled_at__lt=end)
                .annotate(day=_day("enrolled_at")).order_by().values("day", "campaign")
                .annotate(n=Count("pk"), holdout=Count("pk", filter=Q(is_holdout=True)))
                .values_list("day", "campaign", "n", "holdout"))
    ordered = metrics.window_orders("sent_at", CONVERSION_WINDOW)
    sends = (
        Message.objects.filter(enrollment__enrolled_at__gte=start,
                               enrollment__enrolled_at__lt=end, state__in=HANDED_OVER)
        .annotate(converted=Exists(ordered), day=_day("enrollment__enrolled_at")).order_by()
        .values("day", "campaign")
        .annotate(sent=Count("pk"), delivered=Count("delivered_at"), opened=Count("opened_at"),
                  clicked=Count("clicked_at"), converted_n=Count("pk", filter=Q(converted=True)))
        .values_list("day", "campaign", "sent", "delivered", "opened", "clicked", "converted_n")
    )
    zero = {"sent": 0, "delivered": 0, "opened": 0, "clicked": 0, "converted": 0}
    rows: dict[tuple, dict] = {}
    for day, campaign_id, n, holdout in enrolled:
        rows[(as_date(day), campaign_id)] = {"enrolled": n, "holdout": holdout, **zero}
    for day, campaign_id, *numbers in sends:
        values = rows.setdefault((as_date(day), campaign_id), {"enrolled": 0, "holdout": 0})
        values.update(zip(zero, numbers))
    return [_row(Kind.FUNNEL, day, values, campaign_id=campaign_id)
            for (day, campaign_id), values in rows.items()]


def daily_held_back(start: dt.datetime, end: dt.datetime) -> list[MetricSnapshot]:
    """Per day of enrollment, campaign, outcome and reason: messages held back (a message
    logged twice with one outcome and reason counts once)."""
    rows = (
        MessageLog.objects.filter(state__in=HELD_BACK, message__enrollment__enrolled_at__gte=start,
                                  message__enrollment__enrolled_at__lt=end)
        .annotate(day=_day("message__enrollment__enrolled_at")).order_by()
        .values("day", "message__campaign", "state", "reason")
        .annotate(messages=Count("message", distinct=True))
        .values_list("day", "message__campaign", "state", "reason", "messages")
    )
    return [_row(Kind.HELD_BACK, day, {"messages": n}, campaign_id=campaign_id,
                 label=f"{state}:{reason}")
            for day, campaign_id, state, reason, n in rows]


def _sums(row: dict) -> dict:
    return {"n": row["n"], "conversions": row["conversions"],
            "revenue": str(row["total"] if row["total"] is not None else Decimal(0)),
            "revenue_sq": float(row["total_sq"] or 0)}


def daily_lift(start: dt.datetime, end: dt.datetime) -> list[MetricSnapshot]:
    """`metrics.campaign_lift`'s sums per day of triggered_at, campaign and arm (7-day window)."""
    window = dt.timedelta(days=metrics.ATTRIBUTION_DAYS)
    rows = (metrics.lift_queryset(start, end, window).annotate(day=_day("triggered_at"))
            .values("day", "campaign_id", "is_holdout").annotate(**metrics.arm_sums()).order_by())
    return [_row(Kind.LIFT, r["day"], _sums(r), campaign_id=r["campaign_id"],
                 label="holdout" if r["is_holdout"] else "treated") for r in rows]


def daily_variants(start: dt.datetime, end: dt.datetime) -> list[MetricSnapshot]:
    """`metrics.variant_stats`' sums per day of sent_at, campaign, step and variant."""
    window = dt.timedelta(days=metrics.ATTRIBUTION_DAYS)
    rows = (metrics.variant_queryset(start, end, window).annotate(day=_day("sent_at"))
            .values("day", "campaign_id", "step_id", "variant_id")
            .annotate(**metrics.variant_sums()).order_by())
    return [_row(Kind.VARIANT, r["day"], {**_sums(r), "opens": r["opens"], "clicks": r["clicks"]},
                 campaign_id=r["campaign_id"], step_id=r["step_id"], variant_id=r["variant_id"])
            for r in rows]


DAILY = {Kind.SENDS: daily_sends, Kind.SURVEY: daily_survey, Kind.FUNNEL: daily_funnel,
         Kind.HELD_BACK: daily_held_back, Kind.LIFT: daily_lift, Kind.VARIANT: daily_variants}


def _joined():
    return Coalesce("signed_up_at", "first_order_at")


def cohort_sizes(start: dt.datetime | None, end: dt.datetime) -> list[MetricSnapshot]:
    """Customers (not erased) per day they joined (signed up, else first ordered) in [start,
    end); no start: every day before `end`."""
    joined = Q(joined__lt=end) if start is None else Q(joined__gte=start, joined__lt=end)
    rows = (Customer.objects.annotate(joined=_joined())
            .filter(joined, erased_at__isnull=True)
            .annotate(day=_day("joined")).order_by().values("day").annotate(n=Count("pk"))
            .values_list("day", "n"))
    return [_row(Kind.COHORT, day, {"size": n}) for day, n in rows]


def cohort_cells(cutoff: dt.datetime) -> list[MetricSnapshot]:
    """Per joining day and calendar month: customers with a placed order that month before
    `cutoff` (the month of the cut-off counts only its orders before it). Distinct customers
    add up across joining days: each customer joined on one day."""
    rows = (Order.objects.filter(status=Order.Status.PLACED, placed_at__lt=cutoff,
                                 customer__erased_at__isnull=True)
            .annotate(joined=Coalesce("customer__signed_up_at", "customer__first_order_at"))
            .filter(joined__lt=cutoff)
            .annotate(day=_day("joined"), month=TruncMonth("placed_at", tzinfo=UTC)).order_by()
            .values("day", "month").annotate(n=Count("customer", distinct=True))
            .values_list("day", "month", "n"))
    return [_row(Kind.COHORT, day, {"customers": n}, month=as_date(month))
            for day, month, n in rows if as_date(month) >= as_date(day).replace(day=1)]


def cohort_cells_live(*, joined_from: dt.datetime, joined_until: dt.datetime,
                      placed_from: dt.datetime, placed_until: dt.datetime,
                      stored_until: dt.datetime | None = None) -> list[tuple]:
    """(cohort month, order month, customers) counted live: customers who joined in
    [joined_from, joined_until) with a placed order in [placed_from, placed_until). With
    `stored_until`, a customer who also ordered between the start of that order's month
    and `stored_until` is left out: the stored cells count them already."""
    orders = (Order.objects.filter(status=Order.Status.PLACED, placed_at__gte=placed_from,
                                   placed_at__lt=placed_until, customer__erased_at__isnull=True)
              .annotate(joined=Coalesce("customer__signed_up_at", "customer__first_order_at"))
              .filter(joined__gte=joined_from, joined__lt=joined_until)
              .annotate(cohort=TruncMonth("joined", tzinfo=UTC),
                        month=TruncMonth("placed_at", tzinfo=UTC)))
    if stored_until is not None:
        earlier = Order.objects.filter(
            customer=OuterRef("customer"), status=Order.Status.PLACED,
            placed_at__gte=OuterRef("month"), placed_at__lt=stored_until)
        orders = orders.filter(~Exists(earlier))
    return list(orders.order_by().values("cohort", "month")
                .annotate(n=Count("customer", distinct=True))
                .values_list("cohort", "month", "n"))


def snapshot_state() -> MetricSnapshotState | None:
    return MetricSnapshotState.objects.order_by("pk").first()


def stored(kind: str, start: dt.date, end: dt.date, **filters) -> list[MetricSnapshot]:
    """The stored snapshot rows of one kind for the days in [start, end)."""
    return list(MetricSnapshot.objects.filter(kind=kind, day__gte=start, day__lt=end, **filters)
                .order_by())


def _month_after(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def health_rows(first_month: dt.date, today: dt.date) -> list[MetricSnapshot]:
    """The shop's health (`metrics.health_figures`) for each calendar month from
    `first_month` through the one before `today` ends (the open month up to today's
    midnight), and for the 365 days before today. A few aggregate queries per month."""
    rows = []
    month = first_month.replace(day=1)
    while month < today:
        end = min(_month_after(month), today)
        rows.append(_row(Kind.HEALTH, month, metrics.health_figures(midnight(month), midnight(end)),
                         label="month"))
        month = _month_after(month)
    year = metrics.health_figures(midnight(today) - dt.timedelta(days=metrics.ACTIVE_DAYS),
                                  midnight(today))
    rows.append(_row(Kind.HEALTH, today, year, label="year"))
    return rows


def health_stored(start: dt.date, end: dt.date) -> tuple[list[MetricSnapshot], MetricSnapshot | None]:
    """The stored monthly health rows for the months starting in [start, end), oldest
    first, and the latest 365-day row (None before the first build)."""
    months = list(MetricSnapshot.objects.filter(kind=Kind.HEALTH, label="month", day__gte=start,
                                                day__lt=end).order_by("day"))
    year = (MetricSnapshot.objects.filter(kind=Kind.HEALTH, label="year").order_by("-day")
            .first())
    return months, year

