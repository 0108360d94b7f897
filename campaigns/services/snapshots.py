"""The nightly metric snapshots the impact dashboard reads for closed days."""
from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Min

from campaigns.models import (
    Enrollment, Message, MetricSnapshot, MetricSnapshotState, Referral, SurveyResponse,
)
from campaigns.selectors import snapshots as daily
from campaigns.selectors.referrals import referral_rows

logger = logging.getLogger(__name__)

UTC = dt.timezone.utc
# Every night the last 35 closed days are snapshotted again: late provider events (opens,
# clicks), conversions (an order up to 7 days after a send or trigger) and the later
# messages of journeys that run up to four weeks after the enrollment land on past days.
REBUILD_DAYS = 35


def _first_day_with_data(today: dt.date) -> dt.date:
    firsts = [
        Enrollment.objects.aggregate(first=Min("enrolled_at"))["first"],
        Enrollment.objects.aggregate(first=Min("triggered_at"))["first"],
        Message.objects.aggregate(first=Min("sent_at"))["first"],
        SurveyResponse.objects.aggregate(first=Min("answered_at"))["first"],
        Referral.objects.aggregate(first=Min("referred_at"))["first"],
    ]
    days = [moment.astimezone(UTC).date() for moment in firsts if moment is not None]
    return min(days, default=today)


def metric_snapshots_build(*, now: dt.datetime, since: dt.date | None = None,
                           rebuild_days: int = REBUILD_DAYS) -> dict:
    """Snapshot every closed UTC day up to yesterday that is not snapshotted yet, the last
    `rebuild_days` days again, and every day from `since` when given; then the cohort cells
    as of today's midnight.

    Idempotent: a day snapshotted again replaces its rows. The first build starts at the
    first day with data (a backfill). Runs in one transaction under the state row's lock, so
    the dashboard sees either the old snapshots or the new ones, and two builds queue.
    Returns the days rebuilt and the rows written.
    """
    if rebuild_days < 0:
        raise ValueError("rebuild_days cannot be negative")
    today = now.astimezone(UTC).date()
    if since is not None and since > today:
        raise ValueError("the snapshots cannot start after today")
    with transaction.atomic():
        state = MetricSnapshotState.objects.select_for_update().order_by("pk").first()
        if state is None:
            start = _first_day_with_data(today)
            state = MetricSnapshotState(first_day=start, built_through=start, built_at=now)
        else:
            start = min(state.built_through, today - dt.timedelta(days=rebuild_days))
        if since is not None:
            start = min(start, since)
        start = min(start, today)
        state.first_day = min(state.first_day, start)
        lo, hi = daily.midnight(start), daily.midnight(today)
        rows = []
        if start < today:
            for build in daily.DAILY.values():
                rows += build(lo, hi)
        MetricSnapshot.objects.filter(kind__in=daily.DAY_KINDS, day__gte=start, day__lt=today).delete()
        # Cohorts change with every order of an old customer: rebuilt whole each night.
        MetricSnapshot.objects.filter(kind=MetricSnapshot.Kind.COHORT).delete()
        rows += daily.cohort_sizes(None, hi)
        rows += daily.cohort_cells(hi)
        # Health figures are not additive: each month touched by the rebuild is computed
        # again whole (the open month up to today), and the 365-day figure every night.
        health_from = start.replace(day=1)
        MetricSnapshot.objects.filter(kind=MetricSnapshot.Kind.HEALTH, label="month",
                                      day__gte=health_from).delete()
        MetricSnapshot.objects.filter(kind=MetricSnapshot.Kind.HEALTH, label="year").delete()
        rows += daily.health_rows(health_from, today)
        # Word of mouth, per month like the health figures (not additive either).
        MetricSnapshot.objects.filter(kind=MetricSnapshot.Kind.REFERRAL, label="month",
                                      day__gte=health_from).delete()
        rows += referral_rows(health_from, today)
        MetricSnapshot.objects.bulk_create(rows, batch_size=5000)
        state.built_through, state.built_at = today, now
        state.save()
    summary = {"from": start.isoformat(), "through": today.isoformat(),
               "days": (today - start).days, "rows": len(rows)}
    logger.info("metric_snapshots_build %s", summary)
    return summary
