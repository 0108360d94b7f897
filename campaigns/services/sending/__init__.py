"""Send due messages, in the order an email travels: claim and decide, hand over, record.

`messages_send_due` loops, group by group:

1. `decide.group_decide` — one short transaction claims a group of due messages
   (`FOR UPDATE SKIP LOCKED`), locks their customers, re-checks everything at the last
   moment and marks the allowed ones `sending` (their cap slots reserved);
2. `handover.HandOver` — with no transaction open, renders each and hands it to the
   backend; up to `in_flight` calls run at once, each thread on its own connection;
3. `record.outcomes_record` — the outcomes that came back are recorded at once.

A group is at most the number of free hand-over slots and is only claimed once the
shared provider rate limit granted a token for each message in it, so everything marked
`sending` is at the provider (or about to be) that instant: a crash leaves at most one
group per process `unknown`, never a message that was not handed over, and a database
outage loses no outcome that came back (the record is retried).
"""
import collections
import datetime as dt
import functools
import logging
import time

from django.conf import settings
from django.db.models import Max

from campaigns import clock
from campaigns.delivery.ratelimit import RateLimiter, UnlimitedRateLimiter, rate_limiter_for
from campaigns.models import JourneyStep
from campaigns.services.sending.decide import (
    CAP_LOOKBACK, Batch, SendReport, campaigns_due, cap_policy_current, group_decide,
    messages_due_count,
)
from campaigns.services.sending.handover import (
    RELEASED, TEMPLATE_ERROR, HandOver, email_prepare, site_domain,
)
from campaigns.services.sending.record import MAX_ATTEMPTS, outcomes_record

__all__ = ["CAP_LOOKBACK", "MAX_ATTEMPTS", "SendReport", "cap_policy_current",
           "messages_due_count", "messages_send_due"]

logger = logging.getLogger(__name__)

# Longer than this without a token (a provider's Retry-After), a send call stops instead
# of holding its worker.
LONGEST_TOKEN_WAIT = 5.0
# When the provider says 429 to this share of the last calls (or asks for a long wait),
# it means the account as a whole: every worker pauses for its Retry-After. An isolated
# 429 only holds back its own message (RL-8: never retried before its Retry-After), so
# throttling here and there does not stop the whole send.
RATE_LIMITED_WINDOW = 50
RATE_LIMITED_SHARE = 0.2


def _last_positions(campaign_ids) -> dict[int, int]:
    return dict(JourneyStep.objects.filter(campaign_id__in=campaign_ids).values("campaign_id")
                .annotate(last=Max("position")).values_list("campaign_id", "last"))


def messages_send_due(
    *,
    now: dt.datetime | None = None,
    limit: int | None = None,
    max_seconds: float | None = None,
    message_ids: list[int] | None = None,
    in_flight: int | None = None,
    group_size: int | None = None,
    backend: str | None = None,
    limiter: RateLimiter | None = None,
) -> SendReport:
    """Send due messages until none is due, `limit` were claimed or `max_seconds` passed.

    `now` fixes the moment (tests, the simulator); without it each group reads the clock
    and the provider's shared rate limit applies (`limiter` overrides either way: a rate
    limit is about real seconds, which a virtual clock does not have). `message_ids`
    restricts the claim to those rows (tests). Idempotent: rows that are not
    due and pending are left alone, and concurrent callers take disjoint rows.
    """
    report = SendReport()
    moment = now or clock.now()
    campaigns = campaigns_due(now=moment, message_ids=message_ids)
    if not campaigns:
        return report
    batch = Batch()
    in_flight = in_flight or settings.SEND_IN_FLIGHT
    group_size = group_size or settings.SEND_GROUP_SIZE
    if limiter is None:
        limiter = (rate_limiter_for(provider=backend or settings.EMAIL_BACKEND) if now is None
                   else UnlimitedRateLimiter())
    started = time.monotonic()
    domain = site_domain()
    last_positions = _last_positions(campaigns)
    handover = HandOver(in_flight=in_flight, backend=backend, now=moment)
    record = functools.partial(
        _outcomes_record, report=report, limiter=limiter, last_positions=last_positions,
        limited=collections.deque(maxlen=RATE_LIMITED_WINDOW))  # recent calls: 429 or not
    smallest = max(1, min(group_size, handover.in_flight) // 2)
    try:
        while True:
            if limit is not None and report.claimed >= limit or (
                    max_seconds is not None and time.monotonic() - started >= max_seconds):
                campaigns = []
            if not campaigns and not handover.busy:
                break
            # What came back is recorded before the next group is marked `sending`, so the
            # rows in `sending` are the calls in flight.
            record(handover.collect(block=False), now=moment)
            token_wait = None  # None: no group was tried this round
            wanted = min(handover.free(), group_size,
                         limit - report.claimed if limit is not None else group_size)
            # Claim when a worthwhile group fits in the free slots (or nothing is in
            # flight); otherwise wait for calls to come back first.
            if campaigns and (wanted >= smallest or not handover.busy):
                moment = now or clock.now()
                token_wait = _group_send(campaigns, wanted, now=moment, batch=batch,
                                         report=report, limiter=limiter, handover=handover,
                                         domain=domain, message_ids=message_ids)
            # Wait for calls to come back when no group went out (no room, or no token).
            outcomes = handover.collect(block=token_wait != 0.0,
                                        timeout=min(max(token_wait or 0.0, 0.05), 1.0))
            record(outcomes, now=moment)
    finally:
        # Whatever stopped the loop (the end, an error, the database gone), the calls in
        # flight finish and what they say is recorded.
        record(handover.close(), now=moment)
    return report


def _group_send(campaigns, wanted, *, now, batch, report, limiter, handover, domain,
                message_ids) -> float:
    """Claim, decide and hand over one group. Returns 0.0, or the seconds until the rate
    limit has a token again when it granted none."""
    granted, wait = limiter.take(wanted)
    if not granted:
        if wait > LONGEST_TOKEN_WAIT:
            # Paused by the provider for a while (Retry-After): this call ends and the
            # next tick's task starts again; the messages wait as they are, pending.
            campaigns.clear()
        elif not handover.busy:
            # The rate is used up for now (by this or another worker): wait for a token.
            time.sleep(wait)
        return max(wait, 0.001)
    started = time.perf_counter()
    claimed, to_send = group_decide(campaign_id=campaigns[0], limit=granted, now=now,
                                    batch=batch, report=report, message_ids=message_ids)
    report.timings["decide"] += time.perf_counter() - started
    report.claimed += claimed
    if claimed < granted:
        campaigns.pop(0)  # this campaign has nothing more due (or it is locked by others)
    if granted > len(to_send):
        limiter.give_back(granted - len(to_send))
    for index, message in enumerate(to_send):
        try:
            started = time.perf_counter()
            email, failed = email_prepare(message, now=now, domain=domain)
            report.timings["render"] += time.perf_counter() - started
            if failed:
                handover.outcome_add(failed)
                continue
            started = time.perf_counter()
            handover.submit(message, email)
            report.timings["handover"] += time.perf_counter() - started
        except BaseException:
            _not_handed_over(to_send[index + 1:], handover=handover)
            raise
    return 0.0


def _not_handed_over(messages, *, handover) -> None:
    """The group was marked `sending` and the call stopped before these went out (a
    Celery soft time limit, a shutdown): they were never handed over, so the record that
    follows (`messages_send_due`'s finally) puts them back to pending, due as they were,
    instead of leaving them to turn `unknown`. The one being handed over when it stopped
    stays `sending` (it may be at the provider) until the tick settles it."""
    for message in messages:
        handover.outcome_add((message, RELEASED, {
            "reason": "interrupted", "detail": "the send task stopped before handing it over"}))


def _outcomes_record(outcomes, *, now, report, limiter, last_positions, limited) -> None:
    if not outcomes:
        return
    asked = [data["retry_after"].total_seconds() for _, _, data in outcomes if data.get("retry_after")]
    limited.extend(data.get("reason") == "provider_rate_limited" for _, outcome, data in outcomes
                   if outcome not in (TEMPLATE_ERROR, RELEASED))
    if asked and (max(asked) > LONGEST_TOKEN_WAIT
                  or sum(limited) >= RATE_LIMITED_SHARE * RATE_LIMITED_WINDOW):
        limiter.pause(max(asked))
    started = time.perf_counter()
    outcomes_record(outcomes, now=now, report=report, last_positions=last_positions)
    report.timings["record"] += time.perf_counter() - started
