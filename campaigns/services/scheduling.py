"""The scheduler's tick: plan enrollments, advance journeys, count the due messages.

Planning (triggers and exits) lives in services.planning; this module moves journeys on.

Every step is set-based and idempotent: unique constraints on (campaign, customer, entry
key) and (enrollment, step) make a second tick, a second beat or a retried task a no-op.
The work a tick does is proportional to what is due, never to the number of customers.
"""
import dataclasses
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import F

from campaigns.models import (
    Campaign, Customer, Enrollment, Heartbeat, JourneyStep, Message, MessageLog, PointsEntry,
)
from campaigns.services.best_hour import best_hour_due
from campaigns.services.bulk import instances_insert, rows_insert
from campaigns.services.coupons import coupon_issue
from campaigns.services.loyalty import points_add
from campaigns.services.planning import enrollments_exit, enrollments_plan, weighted_draw
from campaigns.services.referral_rewards import referral_rewards_apply

ADVANCE_BATCH = 5000
ADVANCE_CHUNK = 500


@dataclasses.dataclass
class TickReport:
    enrolled: int = 0
    exited: int = 0
    advanced: int = 0
    messages_created: int = 0
    released: int = 0
    unknown: int = 0
    due: int = 0  # pending messages due now, for the senders
    referral_rewards: int = 0  # referrals rewarded (both sides) by this tick


def _next_local_time(after: dt.datetime, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    local = after.astimezone(zone)
    candidate = dt.datetime.combine(local.date(), at, tzinfo=zone)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(dt.timezone.utc)


def customer_zone(time_zone: str) -> ZoneInfo:
    """The customer's zone, or the site's when they have none (or an unknown one)."""
    try:
        return ZoneInfo(time_zone) if time_zone else ZoneInfo(settings.TIME_ZONE)
    except (KeyError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def _steps_by_campaign(campaign_ids) -> dict[int, list[JourneyStep]]:
    steps: dict[int, list[JourneyStep]] = {cid: [] for cid in campaign_ids}
    for step in JourneyStep.objects.filter(campaign_id__in=campaign_ids).select_related(
        "template"
    ).prefetch_related("variants").order_by("campaign_id", "position"):
        steps[step.campaign_id].append(step)
    return steps


def journeys_advance(*, now: dt.datetime) -> tuple[int, int]:
    """Move due enrollments through their wait steps; a send step becomes a message row.

    Returns (enrollments advanced, messages created). Works in chunks, each one short
    transaction that locks its enrollments with SKIP LOCKED, so concurrent ticks take
    disjoint chunks; the unique (enrollment, step) makes any overlap a no-op.
    """
    advanced = created = 0
    for _ in range(ADVANCE_BATCH // ADVANCE_CHUNK):
        with transaction.atomic():
            due = list(
                Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(state=Enrollment.State.ACTIVE, next_action_at__lte=now,
                        campaign__status=Campaign.Status.ACTIVE)
                .select_related("campaign")
                .annotate(customer_time_zone=F("customer__time_zone"),
                          customer_best_hour=F("customer__best_hour"))
                .order_by("next_action_at", "id")[:ADVANCE_CHUNK]
            )
            chunk_advanced, chunk_created = _advance_chunk(due, now=now)
        advanced += chunk_advanced
        created += chunk_created
        if len(due) < ADVANCE_CHUNK:
            break
    return advanced, created


def _walk(enrollment: Enrollment, journey: list[JourneyStep], *, now):
    """Where an enrollment goes from here, without writing anything.

    Returns (changes to the enrollment, the message to create or None, reward steps
    passed on the way).
    """
    position, at = enrollment.step_position, enrollment.next_action_at
    rewards = []
    while True:
        # Steps are walked by order, so a gap in the positions is harmless.
        step = next((s for s in journey if s.position >= position), None)
        if step is None:
            return {"state": Enrollment.State.COMPLETED, "finished_at": now,
                    "next_action_at": None, "step_position": position}, None, rewards
        if step.kind == JourneyStep.Kind.SEND:
            # The message row takes over until it is settled.
            return ({"step_position": step.position, "next_action_at": None},
                    _message_for_step(enrollment, step, due_at=at, now=now), rewards)
        if step.kind in (JourneyStep.Kind.REWARD, JourneyStep.Kind.COUPON):
            rewards.append(step)
        if step.wait_duration:
            at = at + step.wait_duration
        if step.wait_until_local_time:
            at = _next_local_time(at, step.wait_until_local_time,
                                  customer_zone(enrollment.customer_time_zone))
        position = step.position + 1
        if at > now:
            return {"step_position": position, "next_action_at": at}, None, rewards


def points_grant(*, enrollment: Enrollment, step: JourneyStep, now: dt.datetime) -> bool:
    """Add a reward step's points to the ledger and the cached balance, once.

    The unique (enrollment, step) on the ledger makes a retry a no-op. Returns True when
    the points were added now.
    """
    return points_add(
        customer_id=enrollment.customer_id, delta=step.reward_points,
        kind=PointsEntry.Kind.JOURNEY, reason=f"campaign:{enrollment.campaign.slug}", now=now,
        enrollment=enrollment, step=step,
    ) is not None


def _advance_chunk(due: list[Enrollment], *, now) -> tuple[int, int]:
    steps = _steps_by_campaign({e.campaign_id for e in due})
    plans = [(enrollment, *_walk(enrollment, steps[enrollment.campaign_id], now=now))
             for enrollment in due]
    for enrollment, _, _, rewards in plans:
        # The holdout group receives nothing, rewards included; and a journey already past
        # its deadline grants nothing it could no longer tell the customer about.
        deadline = enrollment.campaign.deadline
        too_late = deadline is not None and now > enrollment.triggered_at + deadline
        for step in rewards if not (enrollment.is_holdout or too_late) else []:
            if step.kind == JourneyStep.Kind.COUPON:
                coupon_issue(enrollment=enrollment, step=step, now=now)
            else:
                points_grant(enrollment=enrollment, step=step, now=now)
    new_messages = [message for _, _, message, _ in plans if message is not None]
    # Rows first: if the enrollment update below never happens, the next tick finds the
    # existing row instead of making a second one.
    mine, clashed = messages_insert(new_messages, now=now)
    # One UPDATE per distinct move (most enrollments of a chunk make the same one). The
    # chunk's rows are locked, and the old position in the filter keeps a stale move out.
    moves: dict[tuple, list[int]] = {}
    for enrollment, changes, _, _ in plans:
        key = (enrollment.step_position, tuple(sorted(changes.items())))
        moves.setdefault(key, []).append(enrollment.pk)
    advanced = 0
    for (old_position, changes), ids in moves.items():
        advanced += Enrollment.objects.filter(
            pk__in=ids, step_position=old_position, state=Enrollment.State.ACTIVE,
        ).update(**dict(changes))
    # A message settled as it was made (holdout, too late) lets its journey go on; so
    # does one an interrupted earlier tick made and that was settled since.
    settled = [m for m in mine if m.state in Message.FINAL_STATES]
    if clashed:
        pairs = {(m.enrollment_id, m.step_id) for m in clashed}
        settled += [
            row for row in Message.objects.filter(
                enrollment_id__in=[e for e, _ in pairs], state__in=Message.FINAL_STATES,
            ).select_related("step")
            if (row.enrollment_id, row.step_id) in pairs
        ]
    for message in settled:
        enrollment_continue(message=message, now=now)
    return advanced, len(mine)


def messages_insert(new_messages: list[Message], *, now) -> tuple[list[Message], list[Message]]:
    """Insert message rows, skipping conflicts: (the rows made now, those that existed).

    The log keeps deviations only: a message made already settled (holdout, too late)
    gets its log line (its caller lets the journey go on); a pending one is explained by
    its own row (created_at, first_due_at).
    """
    inserted = {
        (enrollment_id, step_id): pk
        for pk, enrollment_id, step_id in instances_insert(
            new_messages, returning=("id", "enrollment", "step"), skip_conflicts=True)
    }
    mine, clashed = [], []
    for message in new_messages:
        message.pk = inserted.get((message.enrollment_id, message.step_id))
        (mine if message.pk is not None else clashed).append(message)
    settled = [m for m in mine if m.state != Message.State.PENDING]
    rows_insert(MessageLog, [
        {"message_id": m.pk, "at": now, "state": m.state, "reason": m.reason,
         "detail": getattr(m, "_detail", "")}
        for m in settled
    ])
    return mine, clashed


def journeys_open(*, enrollments: list[Enrollment], step: JourneyStep, now: dt.datetime) -> int:
    """The messages of enrollments that begin at a send step, due at their trigger's moment.

    Planning inserts such enrollments already standing at that step (no advance needed,
    one write fewer per email) and calls this in the same transaction.
    """
    if not enrollments:
        return 0
    deadline = enrollments[0].campaign.deadline
    if step.send_at_best_hour:
        _customer_hours_annotate(enrollments)
    plain, settled = [], []
    for enrollment in enrollments:
        late = deadline and enrollment.triggered_at + deadline <= now
        (settled if enrollment.is_holdout or late else plain).append(enrollment)
    made = 0
    if plain and not step.variants.all():
        # The common case, many at a time (a burst of lapsed customers): rows built from one
        # template row, without a model instance each (a fifth of the cost).
        made += _messages_insert_plain(plain, step, now=now)
    else:
        settled = enrollments
    mine, _ = messages_insert(
        [_message_for_step(e, step, due_at=e.triggered_at, now=now) for e in settled], now=now)
    for message in mine:
        if message.state in Message.FINAL_STATES:  # holdout, or too late already
            enrollment_continue(message=message, now=now)
    return made + len(mine)


def _messages_insert_plain(enrollments: list[Enrollment], step: JourneyStep, *, now) -> int:
    campaign = enrollments[0].campaign
    template = _message_for_step(enrollments[0], step, due_at=now, now=now)
    fields = [f.attname for f in Message._meta.concrete_fields if not f.primary_key]
    base = {name: getattr(template, name) for name in fields}
    rows = []
    for enrollment in enrollments:
        row = dict(base)
        expires_at = (enrollment.triggered_at + campaign.deadline
                      if campaign.deadline else None)
        due_at = _due_at(enrollment, step, after=enrollment.triggered_at, expires_at=expires_at)
        row.update(enrollment_id=enrollment.pk, customer_id=enrollment.customer_id,
                   first_due_at=due_at, due_at=due_at, expires_at=expires_at,
                   message_id=uuid.uuid4())
        rows.append(row)
    return len(rows_insert(Message, rows, returning=("id",), skip_conflicts=True))


def _customer_hours_annotate(enrollments: list[Enrollment]) -> None:
    """Give each enrollment its customer's zone and best hour, in one query for all."""
    hours = {
        customer_id: (time_zone, best_hour)
        for customer_id, time_zone, best_hour in Customer.objects.filter(
            id__in={e.customer_id for e in enrollments}
        ).values_list("id", "time_zone", "best_hour")
    }
    for enrollment in enrollments:
        enrollment.customer_time_zone, enrollment.customer_best_hour = hours.get(
            enrollment.customer_id, ("", None))


def _due_at(enrollment: Enrollment, step: JourneyStep, *, after: dt.datetime,
            expires_at: dt.datetime | None) -> dt.datetime:
    """When a send step's message is due: `after`, or for a step sent at the customer's
    best hour, the next such local hour (caps and quiet hours still apply at send time)."""
    if not step.send_at_best_hour:
        return after
    return best_hour_due(
        after=after, best_hour=getattr(enrollment, "customer_best_hour", None),
        fallback=step.best_hour_fallback,
        zone=customer_zone(getattr(enrollment, "customer_time_zone", "")),
        expires_at=expires_at)


def _message_for_step(enrollment: Enrollment, step: JourneyStep, *, due_at, now) -> Message:
    campaign = enrollment.campaign
    expires_at = enrollment.triggered_at + campaign.deadline if campaign.deadline else None
    due_at = _due_at(enrollment, step, after=due_at, expires_at=expires_at)
    variants = list(step.variants.all())
    variant = variants[weighted_draw(
        salt=f"variant:{step.pk}", customer_id=enrollment.customer_id,
        weights=[v.weight for v in variants],
    )] if variants else None
    message = Message(
        enrollment=enrollment,
        step=step,
        variant=variant,
        campaign=campaign,
        customer_id=enrollment.customer_id,
        priority=campaign.priority,
        counts_toward_cap=not campaign.exempt_from_caps,
        first_due_at=due_at,
        due_at=due_at,
        expires_at=expires_at,
        created_at=now,
    )
    if enrollment.is_holdout:
        message.state, message.reason = Message.State.SKIPPED, "holdout"
    elif expires_at is not None and expires_at <= now:
        late = now - enrollment.triggered_at
        message.state, message.reason = Message.State.EXPIRED, "deadline"
        message._detail = f"trigger handled {late.total_seconds() / 3600:.1f} h after it happened"
    return message


def enrollment_continue(*, message: Message, now: dt.datetime, end: bool = False) -> None:
    """A settled message lets its enrollment go on to the next step (or end it)."""
    changes = {"next_action_at": now, "step_position": message.step.position + 1}
    if end:
        changes = {"state": Enrollment.State.EXITED, "finished_at": now,
                   "next_action_at": None, "exit_reason": message.reason}
    Enrollment.objects.filter(
        pk=message.enrollment_id, state=Enrollment.State.ACTIVE,
        step_position=message.step.position,
    ).update(**changes)


def messages_recover(*, now: dt.datetime) -> tuple[int, int]:
    """Take back expired claims; a send whose worker vanished becomes `unknown`.

    A claimed row was never handed to the provider, so it is safe to plan again. A row
    left in `sending` may have reached the customer: it is never resent automatically.
    """
    released = Message.objects.filter(
        state=Message.State.CLAIMED, claimed_until__lt=now
    ).update(state=Message.State.PENDING, claimed_until=None)
    lost = list(
        Message.objects.filter(state=Message.State.SENDING, claimed_until__lt=now)
        .values_list("id", flat=True)[:1000]
    )
    unknown = Message.objects.filter(id__in=lost, state=Message.State.SENDING).update(
        state=Message.State.UNKNOWN, reason="worker_lost"
    )
    MessageLog.objects.bulk_create(
        [MessageLog(message_id=i, at=now, state=Message.State.UNKNOWN, reason="worker_lost",
                    detail="the worker stopped while sending; not resent automatically")
         for i in lost]
    )
    # The journey goes on as if it was sent: it may well have been.
    for message in Message.objects.filter(id__in=lost).select_related("step"):
        enrollment_continue(message=message, now=now)
    return released, unknown


def scheduler_tick(*, now: dt.datetime) -> TickReport:
    """One tick: recover, reward referrals, plan, exit, advance, and count what is due.

    Sending is the caller's next step: the senders claim their own groups of due rows
    (services.sending), so the tick writes nothing on the messages it counts.
    """
    report = TickReport()
    report.released, report.unknown = messages_recover(now=now)
    # Before planning: the `referral.rewarded` events it emits start their journeys now.
    report.referral_rewards = referral_rewards_apply(now=now)
    report.enrolled = enrollments_plan(now=now)
    report.exited = enrollments_exit(now=now)
    while True:
        advanced, created = journeys_advance(now=now)
        report.advanced += advanced
        report.messages_created += created
        if advanced < ADVANCE_BATCH:
            break
    report.due = Message.objects.filter(
        state=Message.State.PENDING, due_at__lte=now, campaign__status=Campaign.Status.ACTIVE
    ).count()
    heartbeat_record(name=Heartbeat.TICK, at=now)
    return report


def heartbeat_record(*, name: str, at: dt.datetime) -> None:
    """Note that a periodic job finished at `at` (one row per job, updated in place)."""
    if not Heartbeat.objects.filter(name=name).update(at=at):
        Heartbeat.objects.get_or_create(name=name, defaults={"at": at})
