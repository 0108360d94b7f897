"""Claim and decide: one short transaction takes a group of due messages and settles each.

The claim happens inside the deciding transaction (`FOR UPDATE SKIP LOCKED` on
PostgreSQL; SQLite's IMMEDIATE transaction serialises instead), so a message is never
"claimed" on its own: a worker that dies here rolls back and leaves nothing behind. The
batch's customers are locked in id order, and every message is re-checked at the last
moment: campaign, enrollment, deadline, erasure, suppression, consent for its topic,
caps and quiet hours. Allowed messages become `sending` with their send time and legal
ground, which reserves their cap slot before the locks are released.
"""
import dataclasses
import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, Sum

from campaigns.capping import CapPolicy, send_window_decide
from campaigns.delivery.messages import sending_domain
from campaigns.models import (
    Campaign, Coupon, Customer, Event, FrequencyPolicy, JourneyStep, Message, MessageLog,
    PointsEntry, Purpose, StepVariant, Subscription, Suppression, Tier,
)
from campaigns.services.consent import country_policies_current, email_hash, legal_ground
from campaigns.selectors.catalogue import catalogue_snapshot
from campaigns.selectors.recommendations import recommendations_attach
from campaigns.services.personalisation import personalisation_attach
from campaigns.services.referral_context import referral_attach
from campaigns.services.rendering import message_template
from campaigns.services.scheduling import customer_zone, enrollment_continue
from campaigns.services.subscriptions import subscription_pending_customers

CAP_LOOKBACK = dt.timedelta(days=8)


@dataclasses.dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    skipped: int = 0
    expired: int = 0
    failed: int = 0
    unknown: int = 0
    released: int = 0
    # Wall seconds spent per stage (decide, render, handover, record): the benchmark
    # prints them, so no one has to patch the code to see where the time goes.
    timings: dict = dataclasses.field(default_factory=lambda: defaultdict(float))
    # Ids of the messages this call sent (the simulator's summary reads them).
    sent_ids: list = dataclasses.field(default_factory=list)


def cap_policy_current() -> CapPolicy:
    row = FrequencyPolicy.objects.order_by("id").first()
    if row is None:
        return CapPolicy()
    return CapPolicy(
        max_per_day=row.max_per_day,
        max_per_week=row.max_per_week,
        min_gap=row.min_gap,
        quiet_start=row.quiet_hours_start,
        quiet_end=row.quiet_hours_end,
    )


class Batch:
    """What stays the same for one send call: the policies, the tiers and, loaded on first
    use, each campaign, step, variant and template with its translations."""

    def __init__(self):
        self.policy = cap_policy_current()
        self.policies = country_policies_current()
        self.tiers = list(Tier.objects.values_list("name", "threshold"))
        self.lease = dt.timedelta(seconds=settings.CLAIM_LEASE_SECONDS)
        # Every message goes out from DEFAULT_FROM_EMAIL (handover.py).
        self.sending_domain = sending_domain(settings.DEFAULT_FROM_EMAIL)
        self.campaigns: dict[int, Campaign] = {}
        self.steps: dict[int, JourneyStep] = {}
        self.variants: dict[int, StepVariant] = {}
        # Messages left untouched for a higher-priority rival: not claimed again by this
        # call, or a group of them would be taken over and over.
        self.passed_over: set[int] = set()

    def load(self, messages: list[Message]) -> None:
        """Attach campaign, step and variant to each message, reading only unseen ones."""
        missing = {m.campaign_id for m in messages} - self.campaigns.keys()
        if missing:
            self.campaigns.update(Campaign.objects.in_bulk(missing))
        missing = {m.step_id for m in messages} - self.steps.keys()
        if missing:
            self.steps.update(JourneyStep.objects.select_related("template").prefetch_related(
                "template__translations").in_bulk(missing))
        missing = {m.variant_id for m in messages} - {None} - self.variants.keys()
        if missing:
            self.variants.update(StepVariant.objects.select_related("template").prefetch_related(
                "template__translations").in_bulk(missing))
        for message in messages:
            message.campaign = self.campaigns[message.campaign_id]
            message.step = self.steps[message.step_id]
            message.variant = self.variants.get(message.variant_id)


def campaigns_due(*, now: dt.datetime, message_ids=None) -> list[int]:
    """Active campaigns with due pending messages, highest priority first (one grouped read
    through the (state, due_at) index: its cost follows the due work)."""
    rows = Message.objects.filter(state=Message.State.PENDING, due_at__lte=now,
                                  campaign__status=Campaign.Status.ACTIVE)
    if message_ids is not None:
        rows = rows.filter(id__in=message_ids)
    return [campaign_id for campaign_id, _, _ in rows.order_by().values("campaign_id").annotate(
        n=Count("id"), top=Max("priority")).order_by("-top", "campaign_id").values_list(
        "campaign_id", "top", "n")]


def messages_due_count(*, now: dt.datetime) -> int:
    return Message.objects.filter(state=Message.State.PENDING, due_at__lte=now,
                                  campaign__status=Campaign.Status.ACTIVE).count()


def _claim(*, campaign_id: int, now, limit: int, message_ids, passed_over) -> list[int]:
    """Due pending messages of one campaign, oldest first, locked for this transaction.

    The partial index `message_due_queue` (campaign, due time; pending rows only) makes this
    a range read that stops at `limit`, however many rows wait behind it.
    """
    rows = Message.objects.filter(state=Message.State.PENDING, campaign_id=campaign_id,
                                  due_at__lte=now, campaign__status=Campaign.Status.ACTIVE)
    if message_ids is not None:
        rows = rows.filter(id__in=message_ids)
    if passed_over:
        rows = rows.exclude(id__in=passed_over)
    if connection.vendor == "postgresql":
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    return list(rows.order_by("due_at", "id").values_list("id", flat=True)[:limit])


def settle(message: Message, *, state: str, reason: str, now, detail: str = "",
           log_state: str = "", end_journey: bool = False, **fields):
    """Record a deviation with its reason, in the row and in the message's log.

    A final state lets the enrollment go on to its next step (or ends it).
    """
    message.state, message.reason = state, reason
    for name, value in fields.items():
        setattr(message, name, value)
    message.save(update_fields=["state", "reason", *fields])
    MessageLog.objects.create(
        message=message, at=now, state=log_state or state, reason=reason, detail=detail[:300]
    )
    if state in Message.FINAL_STATES:
        enrollment_continue(message=message, now=now, end=end_journey)


@dataclasses.dataclass
class _Inputs:
    """Everything the gate reads for one group's customers, loaded in a few queries."""
    recent: dict
    subscriptions: dict
    suppressed: set  # customer ids whose address is on the suppression list
    rivals: dict
    pending: set
    had_marketing: set


def _inputs_load(customers: dict[int, Customer], message_ids, *, now) -> _Inputs:
    customer_ids = list(customers)
    recent = defaultdict(list)
    for customer_id, sent_at in Message.objects.filter(
        customer_id__in=customer_ids, counts_toward_cap=True,
        state__in=Message.CAP_STATES, sent_at__gt=now - CAP_LOOKBACK,
    ).values_list("customer_id", "sent_at"):
        recent[customer_id].append(sent_at)
    subscriptions = defaultdict(dict)
    for customer_id, topic, subscribed in Subscription.objects.filter(
        customer_id__in=customer_ids).values_list("customer_id", "topic", "subscribed"):
        subscriptions[customer_id][topic] = subscribed
    hashes = {pk: email_hash(c.email) for pk, c in customers.items() if c.email}
    listed = set(Suppression.objects.filter(email_hash__in=hashes.values())
                 .values_list("email_hash", flat=True))
    suppressed = {pk for pk, digest in hashes.items() if digest in listed}
    # Capped messages of these customers that are due but not in this group, by priority.
    rivals = dict(
        Message.objects.filter(
            customer_id__in=customer_ids, counts_toward_cap=True, due_at__lte=now,
            state=Message.State.PENDING, campaign__status=Campaign.Status.ACTIVE,
        ).exclude(id__in=message_ids).order_by().values("customer_id")
        .annotate(top=Max("priority")).values_list("customer_id", "top")
    )
    # Customers who already got a marketing email: the first one states the right to
    # object (GDPR art. 21(4)).
    had_marketing = set(Message.objects.filter(
        customer_id__in=customer_ids, state__in=Message.CAP_STATES,
    ).filter(
        Q(variant__isnull=True, step__template__purpose=Purpose.MARKETING)
        | Q(variant__template__purpose=Purpose.MARKETING)
    ).order_by().values_list("customer_id", flat=True).distinct())
    return _Inputs(recent=recent, subscriptions=subscriptions, suppressed=suppressed,
                   rivals=rivals, had_marketing=had_marketing,
                   pending=subscription_pending_customers(customer_ids=customer_ids, now=now))


def _gate(message, *, now, batch: Batch, inputs: _Inputs, report) -> bool:
    """Decide one claimed message inside the locked transaction. True means send it.

    An allowed message gets `legal_ground` and `ground_detail`, which its row keeps.
    """
    customer = message.customer
    if message.enrollment.state != message.enrollment.State.ACTIVE:
        report.skipped += 1
        settle(message, state=Message.State.SKIPPED, reason=message.enrollment.exit_reason or "exited", now=now)
        return False
    if message.expires_at is not None and now > message.expires_at:
        report.expired += 1
        # A message deferred by the caps and now too late expired because of them.
        settle(message, state=Message.State.EXPIRED, reason=message.reason or "deadline", now=now,
               detail=f"deadline {message.expires_at:%Y-%m-%d %H:%M} UTC passed")
        return False
    template = message_template(message)
    if customer.erased_at is not None or not customer.email:
        # Erasure skips pending rows itself; this catches one claimed in the meantime.
        report.skipped += 1
        settle(message, state=Message.State.SKIPPED, reason="erased", now=now)
        return False
    if customer.pk in inputs.suppressed:
        report.skipped += 1
        settle(message, state=Message.State.SKIPPED, reason="suppressed", now=now)
        return False
    if template.purpose not in Purpose.values:
        # The schema refuses this; a row written around it is still never sent.
        report.skipped += 1
        settle(message, state=Message.State.SKIPPED, reason="unclassified", now=now,
               detail=f"template {template.name} is not classified marketing or transactional")
        return False
    message.legal_ground, message.ground_detail = "transactional", "transactional message"
    if template.purpose == Purpose.MARKETING:
        ground = legal_ground(
            customer=customer, topic=template.topic, similar_products=template.similar_products,
            subscriptions=inputs.subscriptions.get(customer.pk, {}), policies=batch.policies,
            pending=customer.pk in inputs.pending, now=now,
        )
        if not ground:
            report.skipped += 1
            settle(message, state=Message.State.SKIPPED, reason=ground.reason, now=now,
                   detail=f"{ground.detail} at send time ({template.topic})")
            return False
        message.legal_ground, message.ground_detail = ground.ground, ground.detail
        if message.counts_toward_cap and inputs.rivals.get(customer.pk, -1) > message.priority:
            # A higher-priority message for this customer is due too: it goes first. This
            # one is left untouched (nothing was written) and is taken again later.
            report.released += 1
            batch.passed_over.add(message.pk)
            return False
        capped = batch.policy if message.counts_toward_cap else dataclasses.replace(
            batch.policy, max_per_day=0, max_per_week=0, min_gap=None
        )
        decision = send_window_decide(
            now=now,
            recent_sends=inputs.recent[customer.pk] if message.counts_toward_cap else [],
            policy=capped,
            zone=customer_zone(customer.time_zone),
        )
        if not decision.allowed:
            return _blocked(message, decision=decision, now=now, report=report)
    return True


def _blocked(message, *, decision, now, report) -> bool:
    when = f"{decision.not_before:%Y-%m-%d %H:%M} UTC"
    if message.expires_at is not None and decision.not_before > message.expires_at:
        report.expired += 1
        settle(message, state=Message.State.EXPIRED, reason=decision.reason, now=now,
               detail=f"earliest allowed {when} is past the deadline")
        return False
    on_blocked = message.step.on_blocked
    if on_blocked == JourneyStep.OnBlocked.WAIT:
        report.deferred += 1
        settle(message, state=Message.State.PENDING, reason=decision.reason, now=now,
               detail=f"deferred until {when}", due_at=decision.not_before,
               claimed_until=None, deferrals=message.deferrals + 1, log_state="deferred")
        return False
    report.skipped += 1
    settle(message, state=Message.State.SKIPPED, reason=decision.reason, now=now,
           detail=f"blocked until {when}; the step says: {message.step.get_on_blocked_display()}",
           end_journey=on_blocked == JourneyStep.OnBlocked.DROP)
    return False


# What deciding, rendering and recording read of a message and its enrollment: the rest
# (a dozen dates filled in later) is not loaded, nor decoded.
_MESSAGE_COLUMNS = (
    "id", "enrollment", "step", "campaign", "customer", "variant", "priority",
    "counts_toward_cap", "state", "reason", "due_at", "expires_at", "deferrals", "attempts",
    "message_id", "enrollment__state", "enrollment__exit_reason", "enrollment__trigger_event",
)


def _messages_load(ids: list[int], batch: Batch) -> list[Message]:
    messages = list(Message.objects.filter(id__in=ids).select_related("enrollment")
                    .only(*_MESSAGE_COLUMNS).order_by("-priority", "due_at", "id"))
    batch.load(messages)
    triggers = Event.objects.select_related("order").only(
        "id", "type", "occurred_at", "properties", "order__external_id", "order__amount", "order__currency",
    ).in_bulk({m.enrollment.trigger_event_id for m in messages} - {None})
    for message in messages:
        message.enrollment.trigger_event = triggers.get(message.enrollment.trigger_event_id)
    return messages


def _rewards_attach(messages: list[Message], batch: Batch) -> None:
    """What the templates may say about the journey's rewards, read once for the group."""
    enrollment_ids = [m.enrollment_id for m in messages]
    granted = dict(
        PointsEntry.objects.filter(enrollment_id__in=enrollment_ids)
        .values("enrollment_id").annotate(points=Sum("delta")).values_list("enrollment_id", "points")
    )
    coupons = {c.enrollment_id: c for c in Coupon.objects.filter(
        enrollment_id__in=enrollment_ids).order_by("-id")}
    for message in messages:
        message.granted_points = granted.get(message.enrollment_id, 0)
        message.coupon = coupons.get(message.enrollment_id)
        message.tiers = batch.tiers


def _sending_mark(messages: list[Message], *, now, batch: Batch) -> None:
    """`sending`, the send time and the legal ground: the cap slot is reserved before the
    locks go, and the row alone explains why it was sent. One UPDATE per distinct ground."""
    by_ground = defaultdict(list)
    for message in messages:
        by_ground[(message.legal_ground, message.ground_detail[:300])].append(message.pk)
        message.state, message.sent_at = Message.State.SENDING, now
        message.attempts += 1
    for (ground, detail), ids in by_ground.items():
        Message.objects.filter(id__in=ids).update(
            state=Message.State.SENDING, sent_at=now, claimed_until=now + batch.lease,
            attempts=F("attempts") + 1, reason=ground, ground_detail=detail,
            sending_domain=batch.sending_domain,
        )


def group_decide(*, campaign_id: int, limit: int, now, batch: Batch, report,
                 message_ids=None) -> tuple[int, list[Message]]:
    """Claim up to `limit` due messages of one campaign and decide each, in one transaction.

    Returns (how many were claimed, the messages now `sending`, ready to hand over).
    """
    with transaction.atomic():
        ids = _claim(campaign_id=campaign_id, now=now, limit=limit, message_ids=message_ids,
                     passed_over=batch.passed_over)
        if not ids:
            return 0, []
        customer_ids = sorted(set(
            Message.objects.filter(id__in=ids).values_list("customer_id", flat=True)))
        # Per-customer locks in a fixed order: two workers cannot both take the last slot.
        customers = {c.pk: c for c in Customer.objects.select_for_update().filter(
            id__in=customer_ids).order_by("id")}
        messages = _messages_load(ids, batch)
        inputs = _inputs_load(customers, ids, now=now)
        to_send = []
        for message in messages:
            message.customer = customers[message.customer_id]
            if not _gate(message, now=now, batch=batch, inputs=inputs, report=report):
                continue
            if message.legal_ground != "transactional":
                message.first_marketing = message.customer_id not in inputs.had_marketing
                inputs.had_marketing.add(message.customer_id)
            if message.counts_toward_cap:
                inputs.recent[message.customer_id].append(now)
            to_send.append(message)
        _rewards_attach(to_send, batch)
        # One view of the catalogue for the batch: validated once, by its first reader.
        catalogue = catalogue_snapshot()
        personalisation_attach(to_send, catalogue=catalogue)
        referral_attach(to_send, now=now)
        recommendations_attach(to_send, now=now, catalogue=catalogue)
        _sending_mark(to_send, now=now, batch=batch)
    return len(ids), to_send
