"""Admin for forecasts: the job page follows a forecast's progress, then words its answer.

A forecast is started from the campaign list (the "Forecast" action); its page refreshes
itself until the job is done, then says per campaign how many customers would have
entered and been emailed in the last days, how many would enter in the next ones, who
(a sample, with links), and what the caps and quiet hours would hold back, in words.
"""
import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns import clock
from campaigns.models import Campaign, Customer, ForecastJob
from campaigns.services.forecast import ESTIMATE, KNOWN, forecast_job_again

from .deliveries import REASON_WORDS, ReadOnlyAdminMixin

# A job still queued or running this long after it was created lost its worker (the
# task's hard time limit is far shorter): its page offers to run it again.
STALE_AFTER = dt.timedelta(minutes=15)
REFRESH_SECONDS = 2


def reason_words(code: str) -> str:
    return str(REASON_WORDS.get(code, code.replace("_", " ")))


def _reasons(counts: dict) -> list[dict]:
    return [{"words": reason_words(code), "count": n} for code, n in counts.items()]


def _customers(ids: list[int]) -> list[dict]:
    """Links to the customers' pages, named as the customer list names them, without an
    address (the page behind the link shows what the viewer may see)."""
    found = Customer.objects.in_bulk(ids)
    people = []
    for pk in ids:
        customer = found.get(pk)
        if customer is None:
            continue
        name = f"{customer.first_name} {customer.last_name}".strip()
        # The shop's own customer number tells apart two customers of the same name.
        name = f"{name} ({customer.external_id})" if name else customer.external_id
        people.append({"name": name, "url": reverse("admin:campaigns_customer_change", args=[pk])})
    return people


def _future_words(future: dict, days: int) -> str:
    count = future.get("count", 0)
    basis = future.get("basis")
    if basis == "lapse":
        return ngettext(
            "%(count)s customer reaches %(lapse)s days without an order in the next %(days)s "
            "days. Known from their last order: they enter unless they order first.",
            "%(count)s customers reach %(lapse)s days without an order in the next %(days)s "
            "days. Known from their last orders: they enter unless they order first.", count,
        ) % {"count": count, "lapse": future.get("lapse_days"), "days": days}
    if basis == "date":
        return ngettext(
            "%(count)s customer has their %(attribute)s in the next %(days)s days. Known "
            "from their profile.",
            "%(count)s customers have their %(attribute)s in the next %(days)s days. Known "
            "from their profiles.", count,
        ) % {"count": count, "attribute": future.get("attribute", ""), "days": days}
    if basis == "schedule":
        runs = future.get("runs", 0)
        if not runs:
            return _("No scheduled run falls in the next %(days)s days.") % {"days": days}
        return ngettext(
            "%(runs)s scheduled run in the next %(days)s days would reach about %(count)s "
            "customers (%(share)s %% of the audience as it is today).",
            "%(runs)s scheduled runs in the next %(days)s days would reach about %(count)s "
            "customers in all (%(share)s %% of the audience as it is today, each run).", runs,
        ) % {"runs": runs, "days": days, "count": count, "share": future.get("share", 100)}
    if basis == "schedule_unset":
        return _("The schedule has no first run or interval yet, so nobody can be counted.")
    return ngettext(
        "About %(count)s customer in the next %(days)s days, if customers behave as they did "
        "in the last %(days)s days. An estimate: nobody knows yet who will sign up or buy.",
        "About %(count)s customers in the next %(days)s days, if customers behave as they "
        "did in the last %(days)s days. An estimate: nobody knows yet who will sign up or buy.",
        count,
    ) % {"count": count, "days": days}


def _campaign_words(entry: dict, days: int) -> dict:
    past, future = entry["past"], entry["future"]
    lines = [
        ngettext("%(count)s customer would have entered.",
                 "%(count)s customers would have entered.", past["enrolled"])
        % {"count": past["enrolled"]},
        ngettext("%(count)s email would have been sent.",
                 "%(count)s emails would have been sent.", past["sent"])
        % {"count": past["sent"]},
    ]
    if past.get("waiting"):
        lines.append(ngettext(
            "%(count)s email would still have been waiting when the forecast started.",
            "%(count)s emails would still have been waiting when the forecast started.",
            past["waiting"]) % {"count": past["waiting"]})
    held = []
    if past["deferred_reasons"]:
        held.append({"title": _("Held back for a while, then sent or still waiting"),
                     "reasons": _reasons(past["deferred_reasons"])})
    if past["skipped"]:
        held.append({"title": _("Not sent"), "reasons": _reasons(past["skipped"])})
    if past["expired"]:
        held.append({"title": _("Dropped: too late to send"), "reasons": _reasons(past["expired"])})
    if past["failed"]:
        held.append({"title": _("Would have failed"), "reasons": _reasons(past["failed"])})
    campaign_url = None
    if Campaign.objects.filter(pk=entry["id"]).exists():
        campaign_url = reverse("admin:campaigns_campaign_change", args=[entry["id"]])
    return {
        "name": entry["name"], "url": campaign_url,
        "status": Campaign.Status(entry["status"]).label if entry["status"] in Campaign.Status.values
        else entry["status"],
        "past_lines": lines, "held": held, "past_people": _customers(past["sample"]),
        "past_more": max(0, past["enrolled"] - len(past["sample"])),
        "future_words": _future_words(future, days),
        "future_kind": {KNOWN: _("known"), ESTIMATE: _("estimate")}.get(future["kind"], _("unknown")),
        "future_people": _customers(future.get("sample", [])),
        "future_more": max(0, future.get("count", 0) - len(future.get("sample", []))),
    }


@admin.register(ForecastJob)
class ForecastJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A forecast is a record: started by the campaign list's action, viewed here."""

    list_display = ["__str__", "campaign_names", "state", "progress", "requested_by", "created_at"]
    list_filter = ["state"]

    @admin.display(description=gettext_lazy("campaigns"))
    def campaign_names(self, job):
        names = dict(Campaign.objects.filter(pk__in=job.campaign_ids).values_list("pk", "name"))
        return ", ".join(names.get(pk, f"#{pk}") for pk in job.campaign_ids)

    def get_urls(self):
        return [
            path("<int:job_id>/again/", self.admin_site.admin_view(self.again_view),
                 name="campaigns_forecastjob_again"),
            *super().get_urls(),
        ]

    def again_view(self, request, job_id: int):
        """Run the same forecast again (a new job): after a failure or a lost worker."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        job = ForecastJob.objects.filter(pk=job_id).first()
        if job is None:
            raise Http404
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        again = forecast_job_again(job=job, user=request.user)
        self.message_user(request, _("The forecast runs again."), messages.INFO)
        return HttpResponseRedirect(reverse("admin:campaigns_forecastjob_change", args=[again.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        try:
            job = ForecastJob.objects.get(pk=int(object_id))
        except (ValueError, ForecastJob.DoesNotExist):
            raise Http404 from None
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        stale = not job.finished and clock.now() - job.created_at > STALE_AFTER
        result = job.result or {}
        days = result.get("days", job.days)
        campaigns = [_campaign_words(entry, days) for entry in result.get("campaigns", [])]
        names = dict(Campaign.objects.filter(pk__in=job.campaign_ids).values_list("pk", "name"))
        start = parse_datetime(result["start"]) if result.get("start") else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(job),
            "job": job,
            "names": [names.get(pk, f"#{pk}") for pk in job.campaign_ids],
            "campaigns": campaigns,
            "days": days,
            "start": start,
            "seconds": result.get("seconds"),
            "refresh": REFRESH_SECONDS if not job.finished and not stale else None,
            "can_run_again": job.finished or stale,
            "stale": stale,
            "again_url": reverse("admin:campaigns_forecastjob_again", args=[job.pk]),
        }
        context.update(extra_context or {})
        return TemplateResponse(request, "admin/campaigns/forecast/job.html", context)
