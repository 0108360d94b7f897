"""The impact dashboard in the admin: weekly trends, a cohort heat map, campaign funnels, lift
and A/B variants, each table also as CSV. Charts are drawn by the vendored Chart.js (no CDN: works offline)."""
import csv
import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode

from campaigns import clock
from campaigns.models import Dashboard
from campaigns.selectors.dashboard import Table, dashboard_tables
from campaigns.selectors.snapshots import snapshot_state

UTC = dt.timezone.utc
DEFAULT_DAYS = 182
TITLES = {
    "weekly_sends": "Emails sent per week",
    "weekly_nps": "NPS per week",
    "monthly_trends": "Per month: emails sent, NPS, CSAT and CES",
    "cohort_retention": "Cohort retention (sign-up month × months since)",
    "campaign_funnel": "Campaign funnel",
    "campaign_held_back": "Deferred, skipped and expired messages by reason",
    "campaign_lift": "Lift against the holdout group (conversion within 7 days)",
    "campaign_variants": "A/B variants against the control (conversion within 7 days of the send)",
}


class PeriodInvalid(ValueError):
    pass


def dashboard_period(params, *, today: dt.date) -> tuple[dt.date, dt.date]:
    """[from, to) from ?from=YYYY-MM-DD&to=YYYY-MM-DD; default the last 182 days to today.

    Raises PeriodInvalid with a readable message for a malformed or empty period.
    """
    try:
        end = dt.date.fromisoformat(params["to"]) if params.get("to") else today + dt.timedelta(1)
        start = (dt.date.fromisoformat(params["from"]) if params.get("from")
                 else end - dt.timedelta(days=DEFAULT_DAYS))
    except ValueError as exc:
        raise PeriodInvalid("Give the dates as YYYY-MM-DD, e.g. 2026-01-31.") from exc
    if start >= end:
        raise PeriodInvalid("The period's start must come before its end.")
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
class DashboardAdmin(admin.ModelAdmin):
    """Not a list of rows: the impact dashboard, for anyone who may view messages."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

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
             "csv_url": f"{reverse('admin:campaigns_dashboard_export', args=[name])}?{query}"}
            for name, table in tables.items()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Impact dashboard",
            "opts": self.model._meta,
            "start": start, "end": end,
            "sections": {s["name"]: s for s in sections},
            "chart_data": {name: table.as_dicts() for name, table in tables.items()},
            "cohorts": cohort_matrix(tables["cohort_retention"]),
            "snapshots": snapshot_state(),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/campaigns/dashboard.html", context)

    def export_view(self, request, table):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if table not in TITLES:
            raise Http404("No such table.")
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
