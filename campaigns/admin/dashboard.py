"""The impact dashboard in the admin: the shop's health (surveys, retention, churn, repeat
purchases, CLV), weekly trends, a cohort heat map, campaign funnels, lift and A/B variants,
each table also as CSV. Charts are drawn by the vendored Chart.js (no CDN: works offline)."""
import csv
import datetime as dt

from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format, number_format
from django.utils.http import urlencode
from django.utils.translation import gettext, gettext_lazy as _

from campaigns import clock
from campaigns.admin.dashboard_referrals import referral_section
from campaigns.admin.deliveries import REASON_WORDS, ReadOnlyAdminMixin
from campaigns.models import Dashboard
from campaigns.selectors.dashboard import Table, dashboard_tables, shop_health
from campaigns.selectors.snapshots import snapshot_state

UTC = dt.timezone.utc
# A year: the demo's history and a shop's seasons fit in the default view.
DEFAULT_DAYS = 365
# A first visit before any snapshot exists queues one build; not again for this long.
FIRST_BUILD_GUARD_SECONDS = 600
TITLES = {
    "weekly_sends": _("Emails sent per week"),
    "weekly_nps": _("NPS per week"),
    "monthly_trends": _("Per month: emails sent, NPS, CSAT and CES"),
    "cohort_retention": _("Cohort retention (sign-up month × months since)"),
    "campaign_funnel": _("Campaign funnel"),
    "campaign_held_back": _("Deferred, skipped and expired messages by reason"),
    "campaign_lift": _("Lift against the holdout group (conversion within 7 days)"),
    "campaign_variants": _("A/B variants against the control (conversion within 7 days of the send)"),
}
# Every table's columns in words (the CSV export keeps the column names, for spreadsheets).
COLUMN_LABELS = {
    "week": _("Week starting"),
    "sent": _("Emails sent"),
    "answers": _("Answers"),
    "promoters": _("Promoters (9–10)"),
    "detractors": _("Detractors (0–6)"),
    "nps": _("NPS"),
    "month": _("Month"),
    "nps_answers": _("NPS answers"),
    "csat": _("CSAT (1–5)"),
    "ces": _("CES (1–7)"),
    "cohort": _("Sign-up month"),
    "cohort_size": _("Customers"),
    "months_since": _("Months since sign-up"),
    "customers": _("Customers who bought"),
    "retention": _("Share who bought (%)"),
    "campaign": _("Campaign"),
    "enrolled": _("Entered"),
    "holdout": _("Held out on purpose"),
    "delivered": _("Delivered"),
    "opened": _("Opened"),
    "clicked": _("Clicked"),
    "converted": _("Bought within 7 days"),
    "outcome": _("What happened"),
    "reason": _("Why"),
    "messages": _("Messages"),
    "treated": _("Customers in the campaign"),
    "treated_conversion_pct": _("Bought, in the campaign (%)"),
    "holdout_conversion_pct": _("Bought, held out (%)"),
    "lift_pp": _("Difference (percentage points)"),
    "ci_low_pp": _("At least (percentage points)"),
    "ci_high_pp": _("At most (percentage points)"),
    "verdict": _("What it means"),
    "step": _("Step"),
    "variant": _("Variant"),
    "sends": _("Emails sent"),
    "opens": _("Opened"),
    "clicks": _("Clicked"),
    "conversions": _("Bought within 7 days"),
    "revenue": _("Revenue from those orders"),
    "conversion_pct": _("Bought (%)"),
    "vs_control_pp": _("Difference from the control (percentage points)"),
}
OUTCOME_WORDS = {
    "deferred": _("postponed"),
    "skipped": _("not sent"),
    "expired": _("dropped after its deadline"),
}
# The shop's health figures: label, one line for a marketer, and how the value is shown.
HEALTH = [
    ("nps", _("NPS"),
     # xgettext:no-python-format (its "%" signs are literal, not placeholders)
     _("Net Promoter Score: % of answers 9–10 minus % of answers 0–6 to "
       "“Would you recommend us?”, from −100 to 100."), "number"),
    ("csat", _("CSAT"), _("Customer satisfaction: the average answer from 1 (very unhappy) "
                          "to 5 (very happy)."), "score"),
    ("ces", _("CES"), _("Customer effort: the average answer from 1 (ordering was very "
                        "difficult) to 7 (very easy)."), "score"),
    ("retention_rate", _("Retention"), _("Of the customers who had bought in the year before "
                                         "the period, the share still buying at its end."),
     "percent"),
    ("churn_rate", _("Churn"), _("The share of those customers lost during the period: 100 % "
                                 "minus retention."), "percent"),
    ("repeat_purchase_rate", _("Repeat purchase rate"),
     _("Of everyone who has ever bought, the share who bought two or more times."), "percent"),
    ("avg_days_between_purchases", _("Days between purchases"),
     _("On average, how many days pass between a customer's purchase and their next one."),
     "number"),
    ("clv", _("Customer lifetime value"),
     _("All revenue so far divided by the number of customers who bought."), "money"),
    ("predictive_clv", _("Expected lifetime value"),
     _("Average order value × orders per customer per year × expected years as a customer "
       "(1 ÷ yearly churn)."), "money"),
]


def figure_words(value, fmt: str) -> str:
    """A health figure as shown: in the reader's number format, "—" when there is nothing
    to go on (no answers, no customers yet)."""
    if value is None:
        return "—"
    if fmt == "percent":
        return f"{number_format(value, 1, use_l10n=True)} %"
    if fmt == "score":
        return number_format(value, 2, use_l10n=True)
    if fmt == "money":
        return number_format(value, 0, use_l10n=True, force_grouping=True)
    return number_format(value, 1, use_l10n=True)


def _column_label(name: str) -> str:
    return str(COLUMN_LABELS.get(name, name.replace("_", " ").capitalize()))


def _rows_in_words(table: Table) -> list[tuple]:
    """Rows as shown on the page: the held-back outcomes and reasons in words, steps
    counted from 1 as the campaign page shows them."""
    if table.name == "campaign_variants":
        # The verdict (last column) comes in English from the statistics: said in words here.
        return [(c, None if step is None else step + 1, *rest[:-1], gettext(rest[-1]))
                for c, step, *rest in table.rows]
    if table.name == "campaign_lift":
        return [(*row[:-1], gettext(row[-1])) for row in table.rows]
    if table.name != "campaign_held_back":
        return table.rows
    return [(campaign, str(OUTCOME_WORDS.get(outcome, outcome)),
             gettext(REASON_WORDS.get(reason, reason.replace("_", " "))), n)
            for campaign, outcome, reason, n in table.rows]


def _first_build_queue() -> bool:
    """Queue the first snapshot build (once per guard period): the page never asks anyone
    to run a command. True when this request queued it."""
    from campaigns import tasks

    if not cache.add("dashboard-first-snapshot-build", 1, FIRST_BUILD_GUARD_SECONDS):
        return False
    tasks.queue_on_commit(tasks.metric_snapshots)
    return True


class PeriodInvalid(ValueError):
    pass


def dashboard_period(params, *, today: dt.date) -> tuple[dt.date, dt.date]:
    """[from, to) from ?from=YYYY-MM-DD&to=YYYY-MM-DD; default the last 365 days to today.

    Raises PeriodInvalid with a readable message for a malformed or empty period.
    """
    try:
        end = dt.date.fromisoformat(params["to"]) if params.get("to") else today + dt.timedelta(1)
        start = (dt.date.fromisoformat(params["from"]) if params.get("from")
                 else end - dt.timedelta(days=DEFAULT_DAYS))
    except ValueError as exc:
        raise PeriodInvalid(gettext("Give the dates as YYYY-MM-DD, e.g. 2026-01-31.")) from exc
    if start >= end:
        raise PeriodInvalid(gettext("The period's start must come before its end."))
    return start, end


def _moment(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=UTC)


def _heat(share: float) -> str:
    """A cell colour from white (0 %) to deep green (100 %)."""
    lightness = 97 - round(0.6 * min(max(share, 0.0), 100.0))
    return f"hsl(140, 55%, {lightness}%)"


def cohort_matrix(table: Table) -> dict:
    """The cohort rows as a grid for the heat map: one row per cohort, one cell per month."""
    width = max((row[2] for row in table.rows), default=0) + 1
    grid: dict = {}
    for cohort, size, offset, customers, share in table.rows:
        entry = grid.setdefault(cohort, {"cohort": cohort, "size": size, "cells": [None] * width})
        entry["cells"][offset] = {"share": share, "customers": customers, "colour": _heat(share)}
    return {"months": list(range(width)), "rows": [grid[c] for c in sorted(grid)]}


@admin.register(Dashboard)
class DashboardAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Not a list of rows: the impact dashboard, for anyone who may view messages."""

    def get_urls(self):
        export = path("export/<slug:table>.csv", self.admin_site.admin_view(self.export_view),
                      name="campaigns_dashboard_export")
        return [export, *super().get_urls()]

    def _period(self, request):
        return dashboard_period(request.GET, today=clock.now().astimezone(UTC).date())

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            start, end = self._period(request)
        except PeriodInvalid as exc:
            messages.error(request, str(exc))
            start, end = dashboard_period({}, today=clock.now().astimezone(UTC).date())
        tables = dashboard_tables(since=_moment(start), until=_moment(end))
        query = urlencode({"from": start.isoformat(), "to": end.isoformat()})
        sections = [
            {"name": name, "title": TITLES[name], "table": table,
             "headers": [_column_label(c) for c in table.columns],
             "rows": _rows_in_words(table),
             "csv_url": f"{reverse('admin:campaigns_dashboard_export', args=[name])}?{query}"}
            for name, table in tables.items()
        ]
        state = snapshot_state()
        health = shop_health(since=_moment(start), until=_moment(end))
        referrals = referral_section(since=_moment(start), until=_moment(end))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Impact dashboard"),
            "opts": self.model._meta,
            "start": start, "end": end,
            "sections": {s["name"]: s for s in sections},
            "chart_data": {**{name: table.as_dicts() for name, table in tables.items()},
                           "health": health["months"], "referrals": referrals["months"],
                           "referral_funnel": referrals["funnel"]},
            "chart_labels": {**self._chart_labels(), **referrals["chart_labels"]},
            "referrals": referrals,
            "cohorts": cohort_matrix(tables["cohort_retention"]),
            "snapshots": state,
            "first_build_queued": _first_build_queue() if state is None else False,
            "health": health,
            "health_cards": [
                {"key": key, "label": label, "help": help_text,
                 "shown": figure_words((health["year"] or {}).get(key), fmt)}
                for key, label, help_text, fmt in HEALTH
            ],
            "health_headers": [_("Month"), *(label for _key, label, _help, _fmt in HEALTH)],
            "health_rows": [
                [date_format(row["month"], "YEAR_MONTH_FORMAT"),
                 *(figure_words(row.get(key), fmt) for key, _label, _help, fmt in HEALTH)]
                for row in health["months"]
            ],
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/campaigns/dashboard.html", context)

    @staticmethod
    def _chart_labels() -> dict:
        """The charts' texts, translated here so the script holds no words of its own."""
        return {name: str(label) for name, label in {
            "sent": _("Emails sent"), "nps": _("NPS"), "csat": _("CSAT (1–5)"),
            "ces": _("CES (1–7)"), "retention_rate": _("Retention (%)"),
            "churn_rate": _("Churn (%)"), "repeat_purchase_rate": _("Repeat purchase rate (%)"),
            "clv": _("Customer lifetime value"), "predictive_clv": _("Expected lifetime value"),
            "avg_days_between_purchases": _("Days between purchases"),
            "enrolled": _("Entered"), "delivered": _("Delivered"), "opened": _("Opened"),
            "clicked": _("Clicked"), "converted": _("Bought within 7 days"),
            "conversion_pct": _("Bought within 7 days of the email (%)"),
            "opened_pct": _("Opened (%)"), "clicked_pct": _("Clicked (%)"),
            "step": _("step"),
        }.items()}

    def export_view(self, request, table):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if table not in TITLES:
            raise Http404(gettext("No such table."))
        try:
            start, end = self._period(request)
        except PeriodInvalid as exc:
            return HttpResponseBadRequest(str(exc), content_type="text/plain")
        data = dashboard_tables(since=_moment(start), until=_moment(end), names=(table,))[table]
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{table}_{start.isoformat()}_{end.isoformat()}.csv"')
        writer = csv.writer(response)
        writer.writerow(data.columns)
        writer.writerows(data.rows)
        return response
