"""Word of mouth in figures: referred share of new customers, the referral funnel, referred
customers' retention and CLV next to the others', promoters who referred a friend.

`referral_figures` is the one definition: `manage.py metrics --json` prints it under
"referrals" and the nightly snapshots store it per month (`referral_rows`), which is all
the dashboard reads. Every funnel step counts what happened inside the period (an invite by
its send, a click by its time, a sign-up by its referral, a first order by its time), so a
month's numbers do not move once it is over. Retention, repeat purchases and CLV follow
`selectors/metrics.py` exactly, once for the referred customers (a counted referral) and
once for everyone else, each in one grouped query.
"""
from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import Count, Exists, Min, OuterRef, Q, Sum
from django.db.models.functions import Coalesce

from campaigns.models import (
    Customer, Message, MetricSnapshot, Order, Referral, ReferralClick, SurveyResponse,
)
from campaigns.selectors import metrics

COUNTED = Referral.Status.COUNTED
# States of a message that went (or may have gone) to the provider.
HANDED_OVER = (Message.State.SENT, Message.State.UNKNOWN)
# The figures by name, in the order the dashboard and the command show them.
REFERRAL_FIGURES = (
    "new_customers", "signups", "referred_share", "ignored_codes", "invites", "clicks",
    "first_orders", "rewarded", "points_granted", "referred_retention", "others_retention",
    "referred_repeat_rate", "others_repeat_rate", "referred_clv", "others_clv", "promoters",
    "promoters_referring", "promoters_referring_share",
)


def _referred():
    """True for an order (or row with a `customer_id`) of a customer a friend referred."""
    return Exists(Referral.objects.filter(referred_id=OuterRef("customer_id"), status=COUNTED))


def _placed_by_group():
    return Order.objects.filter(status=Order.Status.PLACED).annotate(referred=_referred())


def _split(rows, default=0) -> tuple:
    """(referred, others) from (referred flag, value) rows."""
    values = dict(rows)
    return values.get(True, default), values.get(False, default)


def _active_at(moment: dt.datetime) -> tuple[int, int]:
    """`metrics.customers_active_at` for (referred, others)."""
    since = moment - dt.timedelta(days=metrics.ACTIVE_DAYS)
    return _split(_placed_by_group().filter(placed_at__gte=since, placed_at__lt=moment)
                  .order_by().values("referred")
                  .annotate(n=Count("customer_id", distinct=True)).values_list("referred", "n"))


def _buyers(start: dt.datetime, end: dt.datetime) -> dict:
    """Per group (referred, others), from the customers with a placed order before `end`:
    `buyers`, `repeaters` (two or more), `revenue`, and `new` (their first placed order in
    [start, end): `metrics.new_customers`). One query: the per-customer sums grouped again
    by the group (the ORM cannot group twice), the group decided once per customer."""
    per_customer = (Order.objects.filter(status=Order.Status.PLACED, placed_at__lt=end)
                    .order_by().values("customer_id")
                    .annotate(n=Count("id"), spent=Sum("amount"), first=Min("placed_at")))
    sql, params = per_customer.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS(SELECT 1 FROM {Referral._meta.db_table} r "
            "WHERE r.referred_id = t.customer_id AND r.status = %s) AS referred, "
            "COUNT(*), SUM(CASE WHEN t.n >= 2 THEN 1 ELSE 0 END), SUM(t.spent), "
            "SUM(CASE WHEN t.first >= %s THEN 1 ELSE 0 END) "
            f"FROM ({sql}) t GROUP BY 1",
            (COUNTED, connection.ops.adapt_datetimefield_value(start), *params))
        rows = cursor.fetchall()
    groups = {True: {"buyers": 0, "repeaters": 0, "revenue": 0, "new": 0},
              False: {"buyers": 0, "repeaters": 0, "revenue": 0, "new": 0}}
    for referred, buyers, repeaters, revenue, new in rows:
        groups[bool(referred)] = {"buyers": buyers, "repeaters": repeaters or 0,
                                  "revenue": revenue or 0, "new": new or 0}
    return groups


def _buyer_figures(start: dt.datetime, end: dt.datetime) -> dict:
    """Retention over [start, end) (`metrics.retention`), repeat purchase rate and historic
    CLV at `end` (`metrics.repeat_purchase_rate`, `metrics.clv`), per group."""
    at_start, at_end, groups = _active_at(start), _active_at(end), _buyers(start, end)
    out = {}
    for i, (name, referred) in enumerate((("referred", True), ("others", False))):
        group = groups[referred]
        out[f"{name}_retention"] = metrics._percent(at_end[i] - group["new"], at_start[i])
        out[f"{name}_repeat_rate"] = metrics._percent(group["repeaters"], group["buyers"])
        out[f"{name}_clv"] = (float(group["revenue"]) / group["buyers"]) if group["buyers"] else None
    return out


def _promoters(start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    """Customers with an NPS answer of 9-10 in the period, and those of them with a counted
    referral before the period's end."""
    referred_someone = Referral.objects.filter(referrer_id=OuterRef("customer_id"),
                                               status=COUNTED, referred_at__lt=end)
    row = (SurveyResponse.objects.filter(kind=SurveyResponse.Kind.NPS, score__gte=9,
                                         answered_at__gte=start, answered_at__lt=end)
           .aggregate(promoters=Count("customer_id", distinct=True),
                      referring=Count("customer_id", distinct=True,
                                      filter=Exists(referred_someone))))
    return row["promoters"], row["referring"]


def referral_figures(start: dt.datetime, end: dt.datetime) -> dict:
    """Word of mouth for [start, end) (keys: REFERRAL_FIGURES).

    - new_customers: customers created in the period; signups: counted referrals made in
      it (a new customer who arrived with a live code not their own); referred_share:
      signups / new_customers in %; ignored_codes: codes posted in it that did not count.
    - the funnel: invites (emails carrying the referral link handed to the provider),
      clicks (visits of a live referral link), signups, first_orders (referred friends'
      first orders placed in the period).
    - rewarded / points_granted: referrals rewarded in the period, points to both sides.
    - referred_* / others_*: retention over the period (metrics.retention), repeat purchase
      rate and historic CLV at its end (metrics.repeat_purchase_rate, metrics.clv), for the
      customers a friend referred and for everyone else.
    - promoters: customers who answered NPS 9-10 in the period; promoters_referring: those
      of them who have referred a friend (counted) by its end, and their share in %.
    """
    metrics._check_period(start, end)
    referrals = Referral.objects.filter(referred_at__gte=start, referred_at__lt=end).aggregate(
        signups=Count("id", filter=Q(status=COUNTED)),
        ignored=Count("id", filter=Q(status=Referral.Status.IGNORED)))
    firsts = Referral.objects.filter(status=COUNTED, first_order_at__gte=start,
                                     first_order_at__lt=end).count()
    rewards = Referral.objects.filter(rewarded_at__gte=start, rewarded_at__lt=end).aggregate(
        n=Count("id"), points=Coalesce(Sum("referrer_points"), 0) + Coalesce(Sum("friend_points"), 0))
    new = Customer.objects.filter(created_at__gte=start, created_at__lt=end).count()
    invites = Message.objects.filter(referral_invite=True, state__in=HANDED_OVER,
                                     sent_at__gte=start, sent_at__lt=end).count()
    clicks = ReferralClick.objects.filter(clicked_at__gte=start, clicked_at__lt=end).count()
    groups = _buyer_figures(start, end)
    promoters, referring = _promoters(start, end)
    return {
        "new_customers": new,
        "signups": referrals["signups"],
        "referred_share": metrics._percent(referrals["signups"], new),
        "ignored_codes": referrals["ignored"],
        "invites": invites,
        "clicks": clicks,
        "first_orders": firsts,
        "rewarded": rewards["n"],
        "points_granted": rewards["points"],
        "referred_retention": groups["referred_retention"],
        "others_retention": groups["others_retention"],
        "referred_repeat_rate": groups["referred_repeat_rate"],
        "others_repeat_rate": groups["others_repeat_rate"],
        "referred_clv": groups["referred_clv"],
        "others_clv": groups["others_clv"],
        "promoters": promoters,
        "promoters_referring": referring,
        "promoters_referring_share": metrics._percent(referring, promoters),
    }


# Snapshots ------------------------------------------------------------------------------

def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)


def _month_after(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def referral_rows(first_month: dt.date, today: dt.date) -> list[MetricSnapshot]:
    """`referral_figures` for each calendar month from `first_month` through the one
    `today` falls in (the open month up to today's midnight; none for a month that has not
    started by then), as unsaved REFERRAL snapshot rows labelled "month"."""
    rows = []
    month = first_month.replace(day=1)
    while month < today:
        end = min(_month_after(month), today)
        rows.append(MetricSnapshot(kind=MetricSnapshot.Kind.REFERRAL, day=month, label="month",
                                   values=referral_figures(_midnight(month), _midnight(end))))
        month = _month_after(month)
    return rows


def referral_months(*, since: dt.datetime, until: dt.datetime) -> list[dict]:
    """The stored months starting in [since's month, until), oldest first: {"month": date,
    **figures}. Snapshots only, never the raw tables (the dashboard stays fast)."""
    first = since.astimezone(dt.timezone.utc).date().replace(day=1)
    last = until.astimezone(dt.timezone.utc).date()
    stored = (MetricSnapshot.objects.filter(kind=MetricSnapshot.Kind.REFERRAL, label="month",
                                            day__gte=first, day__lt=last).order_by("day"))
    return [{"month": row.day, **row.values} for row in stored]


# The funnel's steps, in order; they add up over months.
FUNNEL_STEPS = ("invites", "clicks", "signups", "first_orders")


def referral_summary(months: list[dict]) -> dict:
    """The period's totals from its months: the funnel's steps and sign-ups, new customers
    and the referred share added up; the rest (not additive) as of the last month."""
    total = {key: sum(m.get(key) or 0 for m in months)
             for key in (*FUNNEL_STEPS, "new_customers", "rewarded", "points_granted")}
    total["referred_share"] = metrics._percent(total["signups"], total["new_customers"])
    last = months[-1] if months else {}
    for key in ("referred_retention", "others_retention", "referred_repeat_rate",
                "others_repeat_rate", "referred_clv", "others_clv", "promoters",
                "promoters_referring", "promoters_referring_share"):
        total[key] = last.get(key)
    total["last_month"] = last.get("month")
    return total
