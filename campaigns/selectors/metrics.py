"""Loyalty and impact metrics for a period [start, end): plain dicts and lists, set-based SQL.

Every figure here is documented in the README ("Metrics"). Orders count only while their
status is `placed`: refunded and cancelled orders are left out everywhere (revenue,
customers, conversions). Money is summed as given; the shop is assumed to sell in one
currency.
"""
from __future__ import annotations

import datetime as dt

from django.db.models import (
    Avg, Count, DecimalField, DurationField, Exists, ExpressionWrapper, F, FloatField, Min,
    OuterRef, Q, Subquery, Sum, Value,
)
from django.db.models.functions import Cast, Coalesce, TruncMonth
from django.utils import timezone

from campaigns import stats
from campaigns.models import Campaign, Enrollment, Message, Order, StepVariant, SurveyResponse
from campaigns.models.customers import Customer

ACTIVE_DAYS = 365
ATTRIBUTION_DAYS = 7
COHORT_MONTHS = 12


def _check_period(start: dt.datetime, end: dt.datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("give time-zone-aware moments for the period")
    if start >= end:
        raise ValueError("the period must start before it ends")


def _placed():
    return Order.objects.filter(status=Order.Status.PLACED)


def _percent(part, whole):
    return 100.0 * part / whole if whole else None


def _float(value):
    return float(value) if value is not None else None


# Surveys --------------------------------------------------------------------------------

def survey_scores(start: dt.datetime, end: dt.datetime) -> dict:
    """NPS (% promoters 9-10 - % detractors 0-6), mean CSAT and CES, over answers in the period."""
    _check_period(start, end)
    nps = Q(kind=SurveyResponse.Kind.NPS)
    row = SurveyResponse.objects.filter(answered_at__gte=start, answered_at__lt=end).aggregate(
        nps_answers=Count("id", filter=nps),
        promoters=Count("id", filter=nps & Q(score__gte=9)),
        detractors=Count("id", filter=nps & Q(score__lte=6)),
        csat=Avg("score", filter=Q(kind=SurveyResponse.Kind.CSAT)),
        csat_answers=Count("id", filter=Q(kind=SurveyResponse.Kind.CSAT)),
        ces=Avg("score", filter=Q(kind=SurveyResponse.Kind.CES)),
        ces_answers=Count("id", filter=Q(kind=SurveyResponse.Kind.CES)),
    )
    n = row["nps_answers"]
    return {
        "nps": (_percent(row["promoters"], n) - _percent(row["detractors"], n)) if n else None,
        "nps_answers": n,
        "csat": _float(row["csat"]),
        "csat_answers": row["csat_answers"],
        "ces": _float(row["ces"]),
        "ces_answers": row["ces_answers"],
    }


# Customers and retention ----------------------------------------------------------------

def customers_active_at(moment: dt.datetime) -> int:
    """Customers with a placed order in the 365 days before `moment`: [moment - 365 d, moment)."""
    return (_placed().filter(placed_at__gte=moment - dt.timedelta(days=ACTIVE_DAYS), placed_at__lt=moment)
            .values("customer_id").distinct().count())


def new_customers(start: dt.datetime, end: dt.datetime) -> int:
    """Customers whose first placed order falls inside [start, end)."""
    return (_placed().values("customer_id").annotate(first=Min("placed_at"))
            .filter(first__gte=start, first__lt=end).count())


def retention(start: dt.datetime, end: dt.datetime) -> dict:
    """Retention = (customers at end - new customers) / customers at start x 100; churn = 100 - it."""
    _check_period(start, end)
    at_start, at_end = customers_active_at(start), customers_active_at(end)
    new = new_customers(start, end)
    rate = _percent(at_end - new, at_start)
    return {
        "customers_at_start": at_start,
        "customers_at_end": at_end,
        "new_customers": new,
        "retention_rate": rate,
        "churn_rate": 100.0 - rate if rate is not None else None,
    }


def repeat_purchase_rate(end: dt.datetime) -> float | None:
    """% of customers with a placed order before `end` who have two or more."""
    row = (_placed().filter(placed_at__lt=end).values("customer_id").annotate(n=Count("id"))
           .aggregate(buyers=Count("customer_id"), repeaters=Count("customer_id", filter=Q(n__gte=2))))
    return _percent(row["repeaters"], row["buyers"])


def _previous_order(alias: str = "placed_at"):
    """The placed_at of the customer's previous placed order (ties broken by id)."""
    return Subquery(
        _placed().filter(customer_id=OuterRef("customer_id"))
        .filter(Q(placed_at__lt=OuterRef(alias)) | Q(placed_at=OuterRef(alias), id__lt=OuterRef("id")))
        .order_by("-placed_at", "-id").values("placed_at")[:1]
    )


def avg_days_between_purchases(start: dt.datetime, end: dt.datetime) -> float | None:
    """Mean gap, in days, between consecutive placed orders of a customer, over the gaps
    whose later order falls inside [start, end)."""
    _check_period(start, end)
    gaps = (_placed().filter(placed_at__gte=start, placed_at__lt=end)
            .annotate(previous=_previous_order()).filter(previous__isnull=False)
            .annotate(gap=ExpressionWrapper(F("placed_at") - F("previous"), output_field=DurationField())))
    row = gaps.aggregate(total=Sum("gap"), n=Count("id"))
    if not row["n"]:
        return None
    return row["total"].total_seconds() / 86400 / row["n"]


def clv(end: dt.datetime) -> dict:
    """Historic CLV: revenue from placed orders before `end` / customers with such an order.

    Predictive CLV, over the 365 days before `end`:
    average order value x orders per active customer per year x expected lifetime in years,
    where the expected lifetime is 1 / yearly churn and the yearly churn comes from the
    retention formula for the year [end - 365 d, end). None when nobody churned (no finite
    lifetime) or there is nothing to go on.
    """
    row = _placed().filter(placed_at__lt=end).aggregate(
        revenue=Sum("amount"), buyers=Count("customer_id", distinct=True))
    historic = float(row["revenue"]) / row["buyers"] if row["buyers"] else None

    year_start = end - dt.timedelta(days=ACTIVE_DAYS)
    year = _placed().filter(placed_at__gte=year_start, placed_at__lt=end).aggregate(
        revenue=Sum("amount"), orders=Count("id"), buyers=Count("customer_id", distinct=True))
    yearly = retention(year_start, end)
    predictive = aov = frequency = lifetime = None
    if year["orders"]:
        aov = float(year["revenue"]) / year["orders"]
        frequency = year["orders"] / year["buyers"]
        churn = yearly["churn_rate"]
        if churn is not None and churn > 0:
            lifetime = 100.0 / churn
            predictive = aov * frequency * lifetime
    return {"clv": historic, "predictive_clv": predictive, "avg_order_value_year": aov,
            "orders_per_customer_year": frequency, "expected_lifetime_years": lifetime}


def cohort_retention(end: dt.datetime, months: int = COHORT_MONTHS) -> list[dict]:
    """Signup month x months since: % of a cohort with a placed order in that calendar month.

    Cohorts are the `months` calendar months up to and including the one `end` falls in
    (months in the current time zone); cells for months that start on or after `end` are
    left out. One row per cohort: {"cohort": "YYYY-MM", "size": n, "retention": [% month 0, …]}.
    """
    if months < 1:
        raise ValueError("months must be 1 or more")
    last = end - dt.timedelta(microseconds=1)
    first_month = _month_add(last.year, last.month, -(months - 1))
    first = timezone.make_aware(dt.datetime(first_month[0], first_month[1], 1))
    members = Customer.objects.filter(signed_up_at__gte=first, signed_up_at__lt=end)
    sizes = dict(members.annotate(cohort=TruncMonth("signed_up_at")).values("cohort")
                 .annotate(n=Count("id")).values_list("cohort", "n"))
    active = (_placed().filter(customer__signed_up_at__gte=first, customer__signed_up_at__lt=end,
                               placed_at__lt=end)
              .annotate(cohort=TruncMonth("customer__signed_up_at"), month=TruncMonth("placed_at"))
              .values("cohort", "month").annotate(n=Count("customer_id", distinct=True)))
    cells = {}
    for row in active:  # at most months x (months + 1) rows, never one per customer
        since = (row["month"].year - row["cohort"].year) * 12 + row["month"].month - row["cohort"].month
        if since >= 0:
            cells[(_key(row["cohort"]), since)] = row["n"]
    table = []
    for cohort in sorted(sizes, key=_key):
        key = _key(cohort)
        span = (last.year - cohort.year) * 12 + last.month - cohort.month
        table.append({"cohort": key, "size": sizes[cohort],
                      "retention": [_percent(cells.get((key, k), 0), sizes[cohort]) for k in range(span + 1)]})
    return table


def _key(month) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def _month_add(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


# Campaign impact ------------------------------------------------------------------------

def window_orders(moment: str, window: dt.timedelta):
    """Placed orders of the row's customer in (moment, moment + window]: the conversion rule
    of the lift, the A/B statistics and the dashboard's funnel."""
    return _placed().filter(customer_id=OuterRef("customer_id"), placed_at__gt=OuterRef(moment),
                            placed_at__lte=OuterRef(moment) + window)


def _window_revenue(moment: str, window: dt.timedelta):
    return Coalesce(
        Subquery(window_orders(moment, window).values("customer_id")
                 .annotate(s=Sum("amount")).values("s")[:1]),
        Value(0), output_field=DecimalField(max_digits=14, decimal_places=2))


def _arm(n, conversions, revenue, revenue_sq) -> dict:
    n, mean, variance = stats.summary_from_sums(n, float(revenue or 0), float(revenue_sq or 0))
    return {"customers": n, "conversions": conversions,
            "conversion_rate": conversions / n if n else None,
            "revenue": float(revenue or 0), "revenue_per_customer": mean, "_variance": variance}


def _compare(treated: dict, control: dict) -> dict:
    conversion = stats.proportion_difference(
        treated["conversions"], treated["customers"], control["conversions"], control["customers"])
    revenue = stats.mean_difference(
        treated["customers"], treated["revenue_per_customer"], treated["_variance"],
        control["customers"], control["revenue_per_customer"], control["_variance"])
    keep = ("difference", "ci_low", "ci_high", "method", "verdict", "verdict_words")
    return {"conversion_rate": {k: conversion[k] for k in keep},
            "revenue_per_customer": {k: revenue[k] for k in keep}}


def _public(arm: dict) -> dict:
    return {k: v for k, v in arm.items() if not k.startswith("_")}


def _check_window(attribution_days: int) -> dt.timedelta:
    if attribution_days < 1:
        raise ValueError("the attribution window must be 1 day or more")
    return dt.timedelta(days=attribution_days)


def lift_queryset(start: dt.datetime, end: dt.datetime, window: dt.timedelta):
    """Enrollments triggered in [start, end), each with `converted` and `revenue` within the
    window: group it (by campaign and is_holdout, and by day for the snapshots) and sum."""
    return (Enrollment.objects.filter(triggered_at__gte=start, triggered_at__lt=end)
            .annotate(converted=Exists(window_orders("triggered_at", window)),
                      revenue=_window_revenue("triggered_at", window)))


def arm_sums():
    """The sums an arm is made of; they add up across days (the snapshots keep them per day)."""
    return {"n": Count("id"), "conversions": Count("id", filter=Q(converted=True)),
            "total": Sum("revenue"),
            "total_sq": Sum(Cast("revenue", FloatField()) * Cast("revenue", FloatField()))}


def campaign_lift(start: dt.datetime, end: dt.datetime, attribution_days: int = ATTRIBUTION_DAYS) -> list[dict]:
    """Per campaign: treated vs holdout enrollments triggered in the period.

    A conversion is a placed order within `attribution_days` after the enrollment's
    trigger, (triggered_at, triggered_at + window]; revenue is the sum of those orders. Each
    enrollment counts once (a customer enrolled twice counts twice).
    """
    _check_period(start, end)
    window = _check_window(attribution_days)
    rows = (lift_queryset(start, end, window).values("campaign_id", "is_holdout")
            .annotate(**arm_sums()).order_by())
    return lift_from_sums([(r["campaign_id"], r["is_holdout"], r["n"], r["conversions"], r["total"],
                            r["total_sq"]) for r in rows], attribution_days)


def lift_from_sums(rows, attribution_days: int = ATTRIBUTION_DAYS) -> list[dict]:
    """`campaign_lift`'s result from (campaign id, is holdout, n, conversions, revenue, sum of
    squared revenue) rows, one per arm: the dashboard's snapshots give the same rows."""
    arms: dict[int, dict] = {}
    for campaign_id, is_holdout, n, conversions, total, total_sq in rows:
        arms.setdefault(campaign_id, {})[is_holdout] = _arm(n, conversions, total, total_sq)
    names = dict(Campaign.objects.filter(id__in=arms).values_list("id", "name"))
    result = []
    empty = _arm(0, 0, 0, 0)
    for campaign_id in sorted(arms):
        treated, holdout = arms[campaign_id].get(False, empty), arms[campaign_id].get(True, empty)
        result.append({"campaign_id": campaign_id, "campaign": names.get(campaign_id, ""),
                       "attribution_days": attribution_days,
                       "treated": _public(treated), "holdout": _public(holdout),
                       "lift": _compare(treated, holdout)})
    return result


def variant_queryset(start: dt.datetime, end: dt.datetime, window: dt.timedelta):
    """Messages with a variant sent in [start, end), each with `converted` and `revenue`
    within the window after the send."""
    return (Message.objects.filter(variant__isnull=False, sent_at__gte=start, sent_at__lt=end)
            .annotate(converted=Exists(window_orders("sent_at", window)),
                      revenue=_window_revenue("sent_at", window)))


def variant_sums():
    return {**arm_sums(), "opens": Count("id", filter=Q(opened_at__isnull=False)),
            "clicks": Count("id", filter=Q(clicked_at__isnull=False))}


def variant_stats(start: dt.datetime, end: dt.datetime, attribution_days: int = ATTRIBUTION_DAYS) -> list[dict]:
    """Per campaign step with A/B variants: sends, opens, clicks, conversions, revenue per variant.

    Counts sent messages (sent_at in the period) with a variant. A conversion is a placed
    order within `attribution_days` after the send. Each variant is compared with the step's
    first variant (the control) with the same statistics as the holdout lift.
    """
    _check_period(start, end)
    window = _check_window(attribution_days)
    rows = (variant_queryset(start, end, window)
            .values("campaign_id", "step_id", "variant_id").annotate(**variant_sums())
            .order_by("campaign_id", "step_id", "variant_id"))
    return variants_from_sums([
        (r["campaign_id"], r["step_id"], r["variant_id"], r["n"], r["opens"], r["clicks"],
         r["conversions"], r["total"], r["total_sq"]) for r in rows])


def variants_from_sums(rows) -> list[dict]:
    """`variant_stats`'s result from (campaign id, step id, variant id, sends, opens, clicks,
    conversions, revenue, sum of squared revenue) rows, one per variant."""
    rows = sorted(rows, key=lambda row: row[:3])
    variant_names = dict(StepVariant.objects.filter(id__in={row[2] for row in rows})
                         .values_list("id", "name"))
    steps: dict[tuple, list] = {}
    for campaign_id, step_id, variant_id, n, opens, clicks, conversions, total, total_sq in rows:
        arm = _arm(n, conversions, total, total_sq)
        arm = {"variant_id": variant_id, "variant": variant_names.get(variant_id, ""), "sends": n,
               "opens": opens, "clicks": clicks, **arm}
        steps.setdefault((campaign_id, step_id), []).append(arm)
    names = dict(Campaign.objects.filter(id__in={c for c, _ in steps}).values_list("id", "name"))
    result = []
    for (campaign_id, step_id), variants in steps.items():
        control = variants[0]
        out = []
        for v in variants:
            public = _public(v)
            public.pop("customers")
            public["vs_control"] = None if v is control else _compare(v, control)
            out.append(public)
        result.append({"campaign_id": campaign_id, "campaign": names.get(campaign_id, ""),
                       "step_id": step_id, "control": control["variant"], "variants": out})
    return result


# The shop's health figures, in the order the dashboard and the command show them.
HEALTH_FIGURES = (
    "nps", "nps_answers", "csat", "csat_answers", "ces", "ces_answers", "customers_at_start",
    "customers_at_end", "new_customers", "retention_rate", "churn_rate", "repeat_purchase_rate",
    "avg_days_between_purchases", "clv", "predictive_clv",
)


def health_figures(start: dt.datetime, end: dt.datetime) -> dict:
    """The shop's health for [start, end): survey scores, retention and churn, repeat
    purchase rate, days between purchases and CLV (keys: HEALTH_FIGURES).

    The one place these figures are computed: `manage.py metrics` prints them and the
    nightly snapshots store them per month for the dashboard, so both always agree.
    """
    _check_period(start, end)
    values = clv(end)
    return {
        **survey_scores(start, end),
        **retention(start, end),
        "repeat_purchase_rate": repeat_purchase_rate(end),
        "avg_days_between_purchases": avg_days_between_purchases(start, end),
        "clv": values["clv"],
        "predictive_clv": values["predictive_clv"],
    }


def metrics_for_period(start: dt.datetime, end: dt.datetime, attribution_days: int = ATTRIBUTION_DAYS) -> dict:
    """Everything `manage.py metrics` prints (and the dashboard shows) for [start, end)."""
    from campaigns.selectors.referrals import referral_figures

    _check_period(start, end)
    return {
        "from": start.isoformat(), "to": end.isoformat(),
        **health_figures(start, end),
        "cohort_retention": cohort_retention(end),
        "lift": campaign_lift(start, end, attribution_days),
        "ab_variants": variant_stats(start, end, attribution_days),
        "referrals": referral_figures(start, end),
    }


__all__ = [
    "avg_days_between_purchases", "campaign_lift", "clv", "cohort_retention", "customers_active_at",
    "health_figures", "metrics_for_period", "new_customers", "repeat_purchase_rate", "retention", "survey_scores",
    "variant_stats",
]
