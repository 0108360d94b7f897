"""Run the scheduler on a virtual clock, in-process and synchronously."""
import dataclasses
import datetime as dt
from collections import Counter, defaultdict

from django.db import transaction
from django.test.utils import override_settings
from django.db.models import Max

from campaigns import clock
from campaigns.models import Campaign, Enrollment, Event, Message, MessageLog
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due


class _DryRun(Exception):
    """Raised to roll the whole simulation back."""


@dataclasses.dataclass
class CampaignSummary:
    enrolled: int = 0
    sent: int = 0
    deferred: int = 0
    skipped: Counter = dataclasses.field(default_factory=Counter)
    expired: Counter = dataclasses.field(default_factory=Counter)
    failed: Counter = dataclasses.field(default_factory=Counter)


def _summarise(enrollment_floor: int, log_floor: int, sent_ids: list[int]) -> dict[str, CampaignSummary]:
    summary: dict[str, CampaignSummary] = defaultdict(CampaignSummary)
    for name, in Enrollment.objects.filter(id__gt=enrollment_floor).values_list("campaign__name"):
        summary[name].enrolled += 1
    # Sends are not logged (the message row explains them): the sender names them.
    for name, in Message.objects.filter(id__in=sent_ids).values_list("campaign__name"):
        summary[name].sent += 1
    for name, state, reason in MessageLog.objects.filter(id__gt=log_floor).values_list(
        "message__campaign__name", "state", "reason"
    ):
        entry = summary[name]
        if state == "deferred":
            entry.deferred += 1
        elif state in ("skipped", "expired", "failed"):
            getattr(entry, state)[reason or "-"] += 1
    return dict(summary)


def simulation_run(*, start: dt.datetime, end: dt.datetime, step: dt.timedelta,
                   dry_run: bool = False, on_tick=None, prepare=None) -> dict[str, CampaignSummary]:
    """Tick from `start` to `end` (exclusive) every `step`; sends go through the
    configured email backend with each message dated at its virtual moment.

    With dry_run everything happens inside one transaction that is rolled back;
    `prepare()` runs first inside it (e.g. to switch a draft campaign on).
    """
    if step <= dt.timedelta(0) or end <= start:
        raise ValueError("the span must be positive and the step longer than zero")
    enrollment_floor = Enrollment.objects.aggregate(m=Max("id"))["m"] or 0
    log_floor = MessageLog.objects.aggregate(m=Max("id"))["m"] or 0
    summary, sent_ids = {}, []
    try:
        with transaction.atomic():
            if prepare:
                prepare()
            moment = start
            while moment < end:
                with clock.frozen_at(moment):
                    report = scheduler_tick(now=moment)
                    sent_ids += messages_send_due(now=moment).sent_ids
                if on_tick:
                    on_tick(moment, report)
                moment += step
            summary = _summarise(enrollment_floor, log_floor, sent_ids)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return summary


def campaign_forecast(*, campaigns: list, days: int, now: dt.datetime) -> dict[str, CampaignSummary]:
    """What these campaigns would have done had they been on for the last `days` days.

    Replays the real events and customers of that span with the campaigns switched on
    (drafts and paused ones included), under the real caps, quiet hours and the other
    campaigns' real sends, and rolls everything back: nothing is sent or stored. Past
    behaviour is the honest predictor for event-triggered journeys, whose future
    triggers nobody knows yet.
    """
    start = now - dt.timedelta(days=days)
    ids = [c.pk for c in campaigns]

    def switch_on():
        before = Event.objects.filter(occurred_at__lt=start).aggregate(m=Max("id"))["m"] or 0
        Campaign.objects.filter(pk__in=ids).update(
            status=Campaign.Status.ACTIVE, event_watermark=before, event_ceiling=before,
            planned_through=start,
        )

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        summary = simulation_run(start=start, end=now, step=dt.timedelta(hours=1),
                                 dry_run=True, prepare=switch_on)
    names = {c.name for c in campaigns}
    return {name: entry for name, entry in summary.items() if name in names}
