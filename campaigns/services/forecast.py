"""The forecast: what campaigns would do, as a background job with progress.

Two halves, each said for what it is:

- the last `days` days, replayed (`simulation_dry_run`): the real customers, events,
  caps and quiet hours of that span with the campaigns switched on, in a sandbox that
  writes, locks and sends nothing real;
- the next `days` days, from data: for triggers whose future is known today (a lapse
  coming due, a birthday, a scheduled run) who is due; for the others (an event, entering
  a segment) an estimate at the replayed pace.

The answer is plain data (counts, reason codes, customer ids); the job page words it.
"""
import calendar
import datetime as dt
import logging
import time

from django.db import transaction
from django.db.models import Q

from campaigns import clock
from campaigns.models import Campaign, Customer, ForecastJob
from campaigns.services.planning import schedule_occurrences
from campaigns.services.simulation import SAMPLE_SIZE, simulation_dry_run

logger = logging.getLogger(__name__)

DAYS = 14
MAX_DAYS = 90
REPLAY_STEP = dt.timedelta(hours=1)
# The future half counts the customers who are due, as the planner would pick them.
KNOWN, ESTIMATE, UNKNOWN = "known", "estimate", "unknown"


def forecast_job_create(*, campaign_ids: list[int], days: int = DAYS, user=None) -> ForecastJob:
    """A queued forecast of these campaigns; the worker starts it once this commits."""
    if not campaign_ids:
        raise ValueError("a forecast needs at least one campaign")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a forecast covers 1 to {MAX_DAYS} days")
    job = ForecastJob.objects.create(campaign_ids=sorted(set(campaign_ids)), days=days,
                                     requested_by=user if getattr(user, "pk", None) else None)
    # Imported here: tasks import the services.
    from campaigns.tasks import forecast as forecast_task

    transaction.on_commit(lambda: forecast_task.delay(job.pk))
    return job


def forecast_job_again(*, job: ForecastJob, user=None) -> ForecastJob:
    """A new job for the same campaigns: after a failure, or a worker that died with it.

    A new row rather than a reset one, so a worker still busy with the old job (it was
    only slow) cannot write into the new one.
    """
    return forecast_job_create(campaign_ids=job.campaign_ids, days=job.days, user=user)


def forecast_job_run(*, job_id: int) -> ForecastJob | None:
    """Run a queued forecast: progress saved as it goes, then the answer or the error.

    Only a queued job starts (a conditional update), so a redelivered task does not run
    it twice.
    """
    jobs = ForecastJob.objects.filter(pk=job_id)
    if not jobs.filter(state=ForecastJob.State.QUEUED).update(
            state=ForecastJob.State.RUNNING, started_at=clock.now(), progress=0):
        return None
    job = jobs.get()

    def progress(percent: int) -> None:
        jobs.update(progress=max(0, min(99, percent)))

    try:
        result = forecast_compute(campaign_ids=job.campaign_ids, days=job.days,
                                  now=clock.now(), progress=progress)
    except Exception as error:
        logger.exception("forecast %s failed", job_id)
        jobs.update(state=ForecastJob.State.FAILED, error=f"{type(error).__name__}: {error}"[:2000],
                    finished_at=clock.now())
        raise
    jobs.update(state=ForecastJob.State.DONE, progress=100, result=result,
                finished_at=clock.now())
    return jobs.get()


def forecast_compute(*, campaign_ids: list[int], days: int, now: dt.datetime,
                     progress=None) -> dict:
    """The forecast's answer as plain data (see the module's docstring)."""
    started = time.monotonic()
    campaigns = list(Campaign.objects.filter(pk__in=campaign_ids).order_by("pk"))
    start = now - dt.timedelta(days=days)
    summary = simulation_dry_run(
        start=start, end=now, step=REPLAY_STEP, campaign_ids=[c.pk for c in campaigns],
        progress=(lambda p: progress(int(p * 0.9))) if progress else None)
    by_id = {entry.campaign_id: entry for entry in summary.values()}
    answer = []
    for campaign in campaigns:
        entry = by_id.get(campaign.pk)
        past = {"enrolled": 0, "sent": 0, "deferred": 0, "waiting": 0, "deferred_reasons": {},
                "skipped": {}, "expired": {}, "failed": {}, "sample": []}
        if entry is not None:
            past.update(
                enrolled=entry.enrolled, sent=entry.sent, deferred=entry.deferred,
                waiting=entry.waiting,
                deferred_reasons=dict(entry.deferred_reasons.most_common()),
                skipped=dict(entry.skipped.most_common()),
                expired=dict(entry.expired.most_common()),
                failed=dict(entry.failed.most_common()), sample=entry.sample)
        answer.append({
            "id": campaign.pk, "name": campaign.name, "status": campaign.status,
            "trigger": campaign.trigger, "past": past,
            "future": future_estimate(campaign, days=days, now=now, past_enrolled=past["enrolled"]),
        })
    if progress:
        progress(99)
    return {"now": now.isoformat(), "start": start.isoformat(), "days": days,
            "campaigns": answer, "seconds": round(time.monotonic() - started, 1)}


def _sample(customers) -> list[int]:
    return list(customers.order_by("id").values_list("id", flat=True)[:SAMPLE_SIZE])


def future_estimate(campaign: Campaign, *, days: int, now: dt.datetime,
                    past_enrolled: int) -> dict:
    """Who would enter in the next `days` days: {"kind", "count", "basis", "sample"}.

    `kind` says how we know: KNOWN (the trigger's moments are in the data today),
    ESTIMATE (at the pace of the replayed days) or UNKNOWN. Read-only.
    """
    until = now + dt.timedelta(days=days)
    config = campaign.trigger_config or {}
    customers = Customer.objects.filter(erased_at__isnull=True)
    if campaign.trigger == Campaign.Trigger.INACTIVITY:
        lapse = dt.timedelta(days=int(config.get("days", 90)))
        due = customers.filter(last_order_at__gt=now - lapse, last_order_at__lte=until - lapse)
        return {"kind": KNOWN, "basis": "lapse", "count": due.count(), "sample": _sample(due),
                "lapse_days": lapse.days}
    if campaign.trigger == Campaign.Trigger.DATE_ATTRIBUTE:
        attribute = config.get("attribute", "birthday")
        matches = Q()
        day = now.astimezone(dt.timezone.utc).date() + dt.timedelta(days=1)
        while day <= until.date():
            matches |= Q(**{f"attributes__{attribute}__endswith": f"-{day:%m-%d}"})
            if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
                matches |= Q(**{f"attributes__{attribute}__endswith": "-02-29"})
            day += dt.timedelta(days=1)
        due = customers.filter(matches)
        return {"kind": KNOWN, "basis": "date", "count": due.count(), "sample": _sample(due),
                "attribute": attribute}
    if campaign.trigger == Campaign.Trigger.SCHEDULE:
        try:
            runs = schedule_occurrences(campaign, after=now, until=until)
        except (KeyError, TypeError, ValueError):
            return {"kind": UNKNOWN, "basis": "schedule_unset", "count": 0, "sample": []}
        audience = customers
        if "segment" in config:
            audience = audience.filter(segment_memberships__segment_id=campaign.trigger_segment_id())
        share = int(config.get("share", 100))
        size = audience.count()
        # With a share, who is drawn is not known beforehand; how many runs there are is.
        return {"kind": KNOWN if share >= 100 or not runs else ESTIMATE, "basis": "schedule",
                "count": len(runs) * round(size * share / 100), "runs": len(runs),
                "share": share, "sample": _sample(audience) if runs else []}
    # An event or a segment entry: nobody knows who will sign up or buy; the replayed
    # days are the honest pace.
    return {"kind": ESTIMATE, "basis": "pace", "count": past_enrolled, "sample": []}
