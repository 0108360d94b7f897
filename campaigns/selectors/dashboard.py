"""Reads for the impact dashboard: each one a few grouped queries returning plain rows.

Each function here counts its table live and returns (columns, rows), so the chart, the
HTML table and the CSV export read the same data; `dashboard_tables` serves them from the
nightly snapshots where those reach (`selectors/dashboard_snapshots.py`), with the same
numbers.
"""
import datetime as dt
from dataclasses import dataclass

from django.db.models import Avg, Count, Exists, Q
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek

from campaigns import stats
from campaigns.models import (
    Campaign, Customer, Enrollment, JourneyStep, Message, MessageLog, Order, SurveyResponse,
)
from campaigns.selectors import metrics

UTC = dt.timezone.utc
# States of a message that went (or may have gone) to the provider.
HANDED_OVER = (Message.State.SENT, Message.State.UNKNOWN)
# An order within this time after a send converts it.
CONVERSION_WINDOW = dt.timedelta(days=metrics.ATTRIBUTION_DAYS)
# The outcomes of a message the funnel explains, with their reasons.
HELD_BACK = ("deferred", Message.State.SKIPPED, Message.State.EXPIRED)


@dataclass(frozen=True)
class Table:
    """What a chart shows: named columns and rows of plain values (dates, ints, floats, str)."""

    name: str
    columns: tuple[str, ...]
    rows: list[tuple]

    def as_dicts(self) -> list[dict]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def _day(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def weekly_sends(*, since: dt.datetime, until: dt.datetime) -> Table:
    """Emails handed to the provider per ISO week (Monday, UTC) in [since, until)."""
    rows = (
        Message.objects.filter(state__in=HANDED_OVER, sent_at__gte=since, sent_at__lt=until)
        .annotate(week=TruncWeek("sent_at", tzinfo=UTC)).order_by()
        .values("week").annotate(sent=Count("pk")).order_by("week")
        .values_list("week", "sent")
    )
    return Table("weekly_sends", ("week", "sent"), [(_day(w), n) for w, n in rows])


def weekly_nps(*, since: dt.datetime, until: dt.datetime) -> Table:
    """NPS answers per ISO week (UTC) in [since, until): answers, promoters (9-10),
    detractors (0-6) and nps = % promoters - % detractors, rounded to one decimal."""
    rows = (
        SurveyResponse.objects.filter(kind=SurveyResponse.Kind.NPS,
                                      answered_at__gte=since, answered_at__lt=until)
        .annotate(week=TruncWeek("answered_at", tzinfo=UTC)).order_by().values("week")
        .annotate(answers=Count("pk"), promoters=Count("pk", filter=Q(score__gte=9)),
                  detractors=Count("pk", filter=Q(score__lte=6)))
        .order_by("week").values_list("week", "answers", "promoters", "detractors")
    )
    return Table("weekly_nps", ("week", "answers", "promoters", "detractors", "nps"), [
        (_day(w), n, p, d, round(100.0 * (p - d) / n, 1)) for w, n, p, d in rows
    ])


def monthly_trends(*, since: dt.datetime, until: dt.datetime) -> Table:
    """Per calendar month (UTC) in [since, until): emails handed to the provider, NPS
    (answers and % promoters - % detractors), and mean CSAT (1-5) and CES (1-7) scores."""
    sent = dict(
        Message.objects.filter(state__in=HANDED_OVER, sent_at__gte=since, sent_at__lt=until)
        .annotate(month=TruncMonth("sent_at", tzinfo=UTC)).order_by()
        .values("month").annotate(n=Count("pk")).values_list("month", "n")
    )
    scores: dict = {}
    for month, kind, answers, mean, promoters, detractors in (
        SurveyResponse.objects.filter(answered_at__gte=since, answered_at__lt=until)
        .annotate(month=TruncMonth("answered_at", tzinfo=UTC)).order_by()
        .values("month", "kind")
        .annotate(answers=Count("pk"), mean=Avg("score"),
                  promoters=Count("pk", filter=Q(score__gte=9)),
                  detractors=Count("pk", filter=Q(score__lte=6)))
        .values_list("month", "kind", "answers", "mean", "promoters", "detractors")
    ):
        scores.setdefault(month, {})[kind] = (answers, mean, promoters, detractors)
    rows = []
    for month in sorted(set(sent) | set(scores)):
        by_kind = scores.get(month, {})
        nps = by_kind.get(SurveyResponse.Kind.NPS)
        csat, ces = by_kind.get(SurveyResponse.Kind.CSAT), by_kind.get(SurveyResponse.Kind.CES)
        rows.append((
            _day(month), sent.get(month, 0), nps[0] if nps else 0,
            round(100.0 * (nps[2] - nps[3]) / nps[0], 1) if nps else None,
            round(csat[1], 2) if csat else None, round(ces[1], 2) if ces else None,
        ))
    return Table("monthly_trends", ("month", "sent", "nps_answers", "nps", "csat", "ces"), rows)


def _months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def cohort_retention(*, since: dt.datetime, until: dt.datetime) -> Table:
    """Customers who signed up in each month of [since, until) (sign-up time, else first
    order), and of them the share with an order in each later month: month 0 is the
    sign-up month. retention = customers with an order that month / cohort size × 100."""
    signup = Coalesce("signed_up_at", "first_order_at")
    cohorts = dict(
        Customer.objects.annotate(joined=signup)
        .filter(joined__gte=since, joined__lt=until, erased_at__isnull=True)
        .annotate(cohort=TruncMonth("joined", tzinfo=UTC)).order_by()
        .values("cohort").annotate(size=Count("pk")).values_list("cohort", "size")
    )
    active = (
        Order.objects.filter(status=Order.Status.PLACED, placed_at__lt=until)
        .annotate(joined=Coalesce("customer__signed_up_at", "customer__first_order_at"))
        .filter(joined__gte=since, joined__lt=until, customer__erased_at__isnull=True)
        .annotate(cohort=TruncMonth("joined", tzinfo=UTC),
                  month=TruncMonth("placed_at", tzinfo=UTC)).order_by()
        .values("cohort", "month").annotate(customers=Count("customer", distinct=True))
        .values_list("cohort", "month", "customers")
    )
    return cohort_table({_day(c): size for c, size in cohorts.items()},
                         [(_day(c), _day(m), n) for c, m, n in active])


def cohort_table(sizes: dict[dt.date, int], cells) -> Table:
    """The cohort rows from the cohort sizes by month and (cohort, month, customers) cells."""
    rows = []
    for cohort, month, customers in cells:
        offset = _months_between(cohort, month)
        if offset >= 0 and cohort in sizes:
            size = sizes[cohort]
            rows.append((cohort, size, offset, customers, round(100.0 * customers / size, 1)))
    # A cohort with no orders yet still has its month-0 row, at 0 %.
    seen = {row[0] for row in rows}
    rows += [(c, size, 0, 0, 0.0) for c, size in sizes.items() if c not in seen]
    rows.sort(key=lambda row: (row[0], row[2]))
    return Table("cohort_retention",
                 ("cohort", "cohort_size", "months_since", "customers", "retention"), rows)


def campaign_funnel(*, since: dt.datetime, until: dt.datetime) -> Table:
    """Per campaign, for the enrollments made in [since, until): enrolled (holdouts
    included, also counted apart), sent (handed to the provider), delivered, opened,
    clicked, and converted: sent messages followed by an order of the customer within
    7 days after the send."""
    enrolled = dict(
        Enrollment.objects.filter(enrolled_at__gte=since, enrolled_at__lt=until).order_by()
        .values("campaign").annotate(n=Count("pk")).values_list("campaign", "n")
    )
    holdout = dict(
        Enrollment.objects.filter(enrolled_at__gte=since, enrolled_at__lt=until,
                                  is_holdout=True).order_by()
        .values("campaign").annotate(n=Count("pk")).values_list("campaign", "n")
    )
    ordered = metrics.window_orders("sent_at", CONVERSION_WINDOW)
    sends = (
        Message.objects.filter(enrollment__enrolled_at__gte=since,
                               enrollment__enrolled_at__lt=until, state__in=HANDED_OVER)
        .annotate(converted=Exists(ordered)).order_by().values("campaign")
        .annotate(sent=Count("pk"), delivered=Count("delivered_at"), opened=Count("opened_at"),
                  clicked=Count("clicked_at"), conversions=Count("pk", filter=Q(converted=True)))
        .values_list("campaign", "sent", "delivered", "opened", "clicked", "conversions")
    )
    numbers = {row[0]: row[1:] for row in sends}
    names = campaign_names(set(enrolled) | set(numbers))
    rows = []
    for campaign_id in sorted(names, key=lambda pk: names[pk]):
        sent = numbers.get(campaign_id, (0, 0, 0, 0, 0))
        rows.append((names[campaign_id], enrolled.get(campaign_id, 0),
                     holdout.get(campaign_id, 0), *sent))
    return Table("campaign_funnel", ("campaign", "enrolled", "holdout", "sent", "delivered",
                                     "opened", "clicked", "converted"), rows)


def campaign_held_back(*, since: dt.datetime, until: dt.datetime) -> Table:
    """Per campaign, outcome (deferred, skipped, expired) and reason, for the enrollments
    made in [since, until): how many messages had that outcome for that reason. A message
    deferred twice for the same reason counts once."""
    rows = (
        MessageLog.objects.filter(state__in=HELD_BACK,
                                  message__enrollment__enrolled_at__gte=since,
                                  message__enrollment__enrolled_at__lt=until)
        .order_by().values("message__campaign__name", "state", "reason")
        .annotate(messages=Count("message", distinct=True))
        .order_by("message__campaign__name", "state", "reason")
        .values_list("message__campaign__name", "state", "reason", "messages")
    )
    return Table("campaign_held_back", ("campaign", "outcome", "reason", "messages"),
                 [(c, s, r or "(none)", n) for c, s, r, n in rows])


def campaign_names(ids: set[int]) -> dict[int, str]:
    return dict(Campaign.objects.filter(pk__in=ids).values_list("pk", "name"))


def _percent(value) -> float | None:
    return None if value is None else round(value * 100, 2)


def campaign_lift(*, since: dt.datetime, until: dt.datetime) -> Table:
    """Treated vs holdout per campaign, from `selectors.metrics` (the documented formulas):
    conversion within the attribution window, the difference in percentage points with its
    95 % interval, and the verdict in words."""
    return lift_table(metrics.campaign_lift(since, until))


def lift_table(results: list[dict]) -> Table:
    rows = []
    for row in results:
        treated, holdout = row["treated"], row["holdout"]
        lift = row["lift"]["conversion_rate"]
        rows.append((
            row["campaign"], treated["customers"], _percent(treated["conversion_rate"]),
            holdout["customers"], _percent(holdout["conversion_rate"]),
            _percent(lift["difference"]), _percent(lift["ci_low"]), _percent(lift["ci_high"]),
            lift["verdict_words"],
        ))
    return Table("campaign_lift", (
        "campaign", "treated", "treated_conversion_pct", "holdout", "holdout_conversion_pct",
        "lift_pp", "ci_low_pp", "ci_high_pp", "verdict"), rows)


# The A/B table's verdicts: the lift's statistics, said of a variant against the control.
VARIANT_VERDICTS = stats.VARIANT_VERDICT_WORDS


def campaign_variants(*, since: dt.datetime, until: dt.datetime) -> Table:
    """Per campaign step with A/B variants and per variant, from `metrics.variant_stats`:
    sends (sent_at in the period), opens, clicks, conversions (a placed order within 7 days
    after the send), revenue, conversion rate, and against the step's control (its first
    variant) the difference in percentage points, its 95 % interval and the verdict."""
    return variants_table(metrics.variant_stats(since, until))


def variants_table(results: list[dict]) -> Table:
    positions = dict(JourneyStep.objects.filter(pk__in={r["step_id"] for r in results})
                     .values_list("pk", "position"))
    rows = []
    for step in results:
        for v in step["variants"]:
            vs = v["vs_control"]["conversion_rate"] if v["vs_control"] else None
            rows.append((
                step["campaign"], positions.get(step["step_id"]), v["variant"], v["sends"],
                v["opens"], v["clicks"], v["conversions"], round(v["revenue"], 2),
                _percent(v["conversion_rate"]),
                _percent(vs["difference"]) if vs else None, _percent(vs["ci_low"]) if vs else None,
                _percent(vs["ci_high"]) if vs else None,
                VARIANT_VERDICTS[vs["verdict"]] if vs else "Control.",
            ))
    return Table("campaign_variants", (
        "campaign", "step", "variant", "sends", "opens", "clicks", "conversions", "revenue",
        "conversion_pct", "vs_control_pp", "ci_low_pp", "ci_high_pp", "verdict"), rows)


def shop_health(*, since: dt.datetime, until: dt.datetime) -> dict:
    """The shop's health from the nightly snapshots only (never the raw tables, so the page
    stays fast however big the shop): one row per month starting in [since, until), each
    `metrics.health_figures` for that month (the open one up to the last build), and the
    figures for the 365 days before the last build. {"months": [...], "year": {...} | None}.
    """
    from campaigns.selectors import snapshots

    first = since.astimezone(UTC).date().replace(day=1)
    months, year = snapshots.health_stored(first, until.astimezone(UTC).date())
    return {
        "months": [{"month": row.day, **row.values} for row in months],
        "year": None if year is None else {"through": year.day, **year.values},
    }


DASHBOARD_TABLES = {f.__name__: f for f in (
    weekly_sends, weekly_nps, monthly_trends, cohort_retention, campaign_funnel, campaign_held_back,
    campaign_lift, campaign_variants)}


# Off: every table is counted live (the benchmark times both; the tests compare both).
SNAPSHOTS_ENABLED = True


def dashboard_tables(*, since: dt.datetime, until: dt.datetime,
                     names: tuple[str, ...] = tuple(DASHBOARD_TABLES),
                     snapshots: bool | None = None) -> dict[str, Table]:
    """The dashboard's tables by name (the CSV export's table name), for [since, until).

    Closed days come from the nightly snapshots where they reach (`selectors/
    dashboard_snapshots.py`), the open day(s) are counted live; without snapshots, or for a
    period that is not whole UTC days, everything is counted live. Same numbers either way.
    """
    from campaigns.selectors import dashboard_snapshots

    use = SNAPSHOTS_ENABLED if snapshots is None else snapshots
    reach = dashboard_snapshots.snapshot_reach(since, until) if use else None
    if reach is None:
        return {name: DASHBOARD_TABLES[name](since=since, until=until) for name in names}
    return {name: dashboard_snapshots.SNAPSHOT_TABLES[name](reach) for name in names}
