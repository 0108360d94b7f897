"""Send claimed messages: decide under per-customer locks, send outside, then record.

1. One short transaction locks the batch's customers in id order and re-checks, for each
   message, the campaign, the enrollment, the deadline, consent, suppression, caps and
   quiet hours. Allowed messages become `sending` with their send time set, which
   reserves their cap slot before the locks are released.
2. With no transaction open, each message is rendered and handed to the email backend
   (one connection for the batch).
3. A second short transaction records each outcome and lets the journey go on.
A crash between 1 and 3 leaves `sending` rows, which the tick turns into `unknown`.
"""
import dataclasses
import datetime as dt
import logging
from collections import defaultdict

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import Max, Q, Sum

from campaigns.capping import CapPolicy, send_window_decide
from campaigns.delivery import failures
from campaigns.delivery.failures import send_failure
from campaigns.delivery.messages import email_build, sending_domain
from campaigns.exceptions import TemplateRenderError
from campaigns.models import (
    Campaign, Coupon, Customer, Event, FrequencyPolicy, JourneyStep, Message, MessageLog, PointsEntry,
    Purpose, StepVariant, Subscription, Suppression, Tier,
)
from campaigns.services.bulk import rows_insert
from campaigns.services.consent import country_policies_current, email_hash, legal_ground
from campaigns.services.rendering import message_render, message_template
from campaigns.services.scheduling import (
    customer_zone, enrollment_continue, enrollments_continue,
)
from campaigns.services.subscriptions import subscription_pending_customers

logger = logging.getLogger(__name__)

CAP_LOOKBACK = dt.timedelta(days=8)
MAX_ATTEMPTS = 5


@dataclasses.dataclass
class SendReport:
    sent: int = 0
    deferred: int = 0
    skipped: int = 0
    expired: int = 0
    failed: int = 0
    unknown: int = 0
    released: int = 0


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


def _settle(message: Message, *, state: str, reason: str, now, detail: str = "",
            log_state: str = "", end_journey: bool = False, **fields):
    """Record a state change with its reason, in the row and in the message's log.

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


def _gate(message, *, now, policy, recent, subscriptions, suppressed, rivals, report,
          policies, pending):
    """Decide one claimed message inside the locked transaction. True means send it.

    An allowed message gets `legal_ground` (and `ground_detail`), which the sent log keeps.
    """
    campaign, customer = message.campaign, message.customer
    if campaign.status != campaign.Status.ACTIVE:
        # Paused between claim and send: hand the row back untouched, it waits.
        message.state, message.claimed_until = Message.State.PENDING, None
        message.save(update_fields=["state", "claimed_until"])
        report.released += 1
        return False
    if message.enrollment.state != message.enrollment.State.ACTIVE:
        report.skipped += 1
        _settle(message, state=Message.State.SKIPPED, reason=message.enrollment.exit_reason or "exited", now=now)
        return False
    if message.expires_at is not None and now > message.expires_at:
        report.expired += 1
        # A message deferred by the caps and now too late expired because of them.
        _settle(message, state=Message.State.EXPIRED, reason=message.reason or "deadline", now=now,
                detail=f"deadline {message.expires_at:%Y-%m-%d %H:%M} UTC passed")
        return False
    template = message_template(message)
    if customer.erased_at is not None or not customer.email:
        # Erasure skips pending rows itself; this catches one claimed in the meantime.
        report.skipped += 1
        _settle(message, state=Message.State.SKIPPED, reason="erased", now=now)
        return False
    if email_hash(customer.email) in suppressed:
        report.skipped += 1
        _settle(message, state=Message.State.SKIPPED, reason="suppressed", now=now)
        return False
    if template.purpose not in Purpose.values:
        # The schema refuses this; a row written around it is still never sent.
        report.skipped += 1
        _settle(message, state=Message.State.SKIPPED, reason="unclassified", now=now,
                detail=f"template {template.name} is not classified marketing or transactional")
        return False
    message.legal_ground, message.ground_detail = "transactional", "transactional message"
    if template.purpose == Purpose.MARKETING:
        ground = legal_ground(
            customer=customer, topic=template.topic, similar_products=template.similar_products,
            subscriptions=subscriptions.get(customer.pk, {}), policies=policies,
            pending=customer.pk in pending, now=now,
        )
        if not ground:
            report.skipped += 1
            _settle(message, state=Message.State.SKIPPED, reason=ground.reason, now=now,
                    detail=f"{ground.detail} at send time ({template.topic})")
            return False
        message.legal_ground, message.ground_detail = ground.ground, ground.detail
        if message.counts_toward_cap and rivals.get(customer.pk, -1) > message.priority:
            # A higher-priority message for this customer is due in another batch: it
            # goes first. This one steps back untouched and is claimed again next tick.
            message.state, message.claimed_until = Message.State.PENDING, None
            message.save(update_fields=["state", "claimed_until"])
            report.released += 1
            return False
        capped = policy if message.counts_toward_cap else dataclasses.replace(
            policy, max_per_day=0, max_per_week=0, min_gap=None
        )
        decision = send_window_decide(
            now=now,
            recent_sends=recent[customer.pk] if message.counts_toward_cap else [],
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
        _settle(message, state=Message.State.EXPIRED, reason=decision.reason, now=now,
                detail=f"earliest allowed {when} is past the deadline")
        return False
    on_blocked = message.step.on_blocked
    if on_blocked == JourneyStep.OnBlocked.WAIT:
        report.deferred += 1
        _settle(message, state=Message.State.PENDING, reason=decision.reason, now=now,
                detail=f"deferred until {when}", due_at=decision.not_before,
                claimed_until=None, deferrals=message.deferrals + 1, log_state="deferred")
        return False
    report.skipped += 1
    _settle(message, state=Message.State.SKIPPED, reason=decision.reason, now=now,
            detail=f"blocked until {when}; the step says: {message.step.get_on_blocked_display()}",
            end_journey=on_blocked == JourneyStep.OnBlocked.DROP)
    return False


def _messages_load(message_ids) -> list[Message]:
    """The batch's claimed messages with what deciding and rendering read.

    A batch has thousands of messages but a handful of campaigns, steps and templates:
    each of those is loaded once and shared, instead of once per message by a join.
    """
    messages = list(
        Message.objects.filter(id__in=message_ids, state=Message.State.CLAIMED)
        .select_related("enrollment").order_by("-priority", "due_at", "id")
    )
    campaigns = Campaign.objects.in_bulk({m.campaign_id for m in messages})
    steps = JourneyStep.objects.select_related("template").prefetch_related(
        "template__translations").in_bulk({m.step_id for m in messages})
    variants = StepVariant.objects.select_related("template").prefetch_related(
        "template__translations").in_bulk({m.variant_id for m in messages} - {None})
    triggers = Event.objects.select_related("order").in_bulk(
        {m.enrollment.trigger_event_id for m in messages} - {None})
    for message in messages:
        message.campaign = campaigns[message.campaign_id]
        message.step = steps[message.step_id]
        message.variant = variants.get(message.variant_id)
        message.enrollment.trigger_event = triggers.get(message.enrollment.trigger_event_id)
    return messages


def _decide_batch(message_ids, *, now, report) -> list[Message]:
    with transaction.atomic():
        customer_ids = sorted(set(
            Message.objects.filter(id__in=message_ids, state=Message.State.CLAIMED)
            .values_list("customer_id", flat=True)
        ))
        # Per-customer locks in a fixed order: two workers cannot both take the last slot.
        customers = {c.pk: c for c in Customer.objects.select_for_update().filter(
            id__in=customer_ids).order_by("id")}
        messages = _messages_load(message_ids)
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
        suppressed = set(Suppression.objects.filter(
            email_hash__in=[email_hash(c.email) for c in customers.values()]
        ).values_list("email_hash", flat=True))
        # Capped messages of these customers that are due in other batches, by priority.
        rivals = dict(
            Message.objects.filter(
                customer_id__in=customer_ids, counts_toward_cap=True, due_at__lte=now,
                state__in=(Message.State.PENDING, Message.State.CLAIMED),
                campaign__status=Campaign.Status.ACTIVE,
            ).exclude(id__in=message_ids).order_by().values("customer_id")
            .annotate(top=Max("priority")).values_list("customer_id", "top")
        )
        policy = cap_policy_current()
        policies = country_policies_current()
        pending = subscription_pending_customers(customer_ids=customer_ids, now=now)
        # Customers who already got a marketing email: the first one states the right
        # to object (GDPR art. 21(4)).
        had_marketing = set(Message.objects.filter(
            customer_id__in=customer_ids, state__in=Message.CAP_STATES,
        ).filter(
            Q(variant__isnull=True, step__template__purpose=Purpose.MARKETING)
            | Q(variant__template__purpose=Purpose.MARKETING)
        ).order_by().values_list("customer_id", flat=True).distinct())
        lease = dt.timedelta(seconds=settings.CLAIM_LEASE_SECONDS)
        to_send = []
        for message in messages:
            message.customer = customers[message.customer_id]
            if _gate(message, now=now, policy=policy, recent=recent, subscriptions=subscriptions,
                     suppressed=suppressed, rivals=rivals, report=report, policies=policies,
                     pending=pending):
                if message.legal_ground != "transactional":
                    message.first_marketing = message.customer_id not in had_marketing
                    had_marketing.add(message.customer_id)
                message.state, message.sent_at = Message.State.SENDING, now
                message.claimed_until = now + lease
                if message.counts_toward_cap:
                    recent[message.customer_id].append(now)
                to_send.append(message)
        granted = dict(
            PointsEntry.objects.filter(enrollment_id__in=[m.enrollment_id for m in to_send])
            .values("enrollment_id").annotate(points=Sum("delta")).values_list("enrollment_id", "points")
        )
        coupons = {c.enrollment_id: c for c in Coupon.objects.filter(
            enrollment_id__in=[m.enrollment_id for m in to_send]).order_by("-id")}
        tiers = list(Tier.objects.values_list("name", "threshold"))
        for message in to_send:
            message.granted_points = granted.get(message.enrollment_id, 0)
            message.coupon = coupons.get(message.enrollment_id)
            message.tiers = tiers
        # Setting `sending` and the send time reserves the cap slots before the locks go.
        Message.objects.filter(id__in=[m.pk for m in to_send]).update(
            state=Message.State.SENDING, sent_at=now, claimed_until=now + lease,
            # Every message goes out from DEFAULT_FROM_EMAIL (_deliver below).
            sending_domain=sending_domain(settings.DEFAULT_FROM_EMAIL),
        )
    return to_send


def _deliver(messages, *, now) -> list[tuple[Message, str, dict]]:
    """Render and hand each message to the backend; no transaction is open here.

    One message's trouble never stops the batch: the outcomes of the others are recorded.
    """
    outcomes = []
    domain = settings.SITE_URL.split("://")[-1].split("/")[0].split(":")[0] or "localhost"
    with get_connection() as connection:
        for message in messages:
            try:
                rendered, locale, unsubscribe_url = message_render(message=message)
                email = email_build(
                    rendered=rendered, to=message.customer.email,
                    from_email=settings.DEFAULT_FROM_EMAIL, sent_at=now,
                    message_uuid=str(message.message_id), domain=domain,
                    unsubscribe_url=unsubscribe_url, tags=[message.campaign.slug],
                )
                email.connection = connection
            except TemplateRenderError as exc:
                outcomes.append((message, "template_error", {"detail": str(exc)}))
                continue
            try:
                email.send()
            except Exception as exc:  # classified: retry, unknown or failed (delivery/failures.py)
                failure = send_failure(exc, now=now)
                logger.warning("message %s: %s (%s)", message.pk, failure.reason, failure.outcome)
                outcomes.append((message, failure.outcome, {
                    "reason": failure.reason, "detail": failure.detail,
                    "retry_after": failure.retry_after}))
                continue
            status = getattr(email, "anymail_status", None)
            provider_id = (status.message_id if status is not None else None) or ""
            outcomes.append((message, "sent", {"provider_message_id": str(provider_id),
                                               "subject": rendered["subject"], "locale": locale}))
    return outcomes


def _record_sent(messages: list[tuple[Message, dict]], *, now) -> None:
    """The common case in bulk: one UPDATE, one log INSERT, one UPDATE per step position.

    A sent message's reason is the legal ground it went on (consent, existing_customer,
    transactional): "why did this customer get it?" has its answer in the row and the log.
    """
    if not messages:
        return
    rows = []
    for message, data in messages:
        # Scheduling lag: how late after the moment it was allowed to go (its due time,
        # after any deferral) it went out. Under one tick is healthy.
        rows.append((message.pk, data["provider_message_id"][:200], data["subject"][:300],
                     data["locale"], (now - message.due_at).total_seconds(),
                     getattr(message, "legal_ground", "")))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {Message._meta.db_table} AS m SET state = %s, reason = v.ground,
                        claimed_until = NULL, provider_message_id = v.pid, subject = v.subject,
                        locale = v.locale, lag_seconds = v.lag
                    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[],
                                %s::double precision[], %s::text[])
                         AS v(id, pid, subject, locale, lag, ground)
                    WHERE m.id = v.id""",
                [Message.State.SENT, *map(list, zip(*rows))],
            )
    else:
        for pk, provider_id, subject, locale, lag, ground in rows:
            Message.objects.filter(pk=pk).update(
                state=Message.State.SENT, reason=ground, claimed_until=None,
                provider_message_id=provider_id, subject=subject, locale=locale, lag_seconds=lag,
            )
    sent = [message for message, _ in messages]
    # The sent entry names the legal ground the send rested on: "why did they get it?".
    rows_insert(MessageLog, [
        {"message_id": m.pk, "at": now, "state": Message.State.SENT,
         "reason": getattr(m, "legal_ground", ""), "detail": getattr(m, "ground_detail", "")[:300]}
        for m in sent
    ])
    enrollments_continue(messages=sent, now=now)


def _record(outcomes, *, now, report) -> None:
    with transaction.atomic():
        sent = [(message, data) for message, outcome, data in outcomes if outcome == "sent"]
        report.sent += len(sent)
        _record_sent(sent, now=now)
        for message, outcome, data in outcomes:
            if outcome == "sent":
                continue
            if outcome == failures.RETRY and message.attempts < MAX_ATTEMPTS:
                # Nothing reached the customer: free the cap slot and try again later, not
                # sooner than the provider asked (Retry-After).
                report.deferred += 1
                delay = failures.retry_delay(attempts=message.attempts, asked=data["retry_after"])
                _settle(message, state=Message.State.PENDING, reason=data["reason"], now=now,
                        detail=f"{data['detail']}; next try in {_duration(delay)}",
                        sent_at=None, claimed_until=None, due_at=now + delay,
                        log_state="deferred")
            elif outcome == failures.UNKNOWN:
                # It may have reached the customer: it keeps its send time (and cap slot)
                # and is never resent; a later webhook can still confirm it (RL-7).
                report.unknown += 1
                _settle(message, state=Message.State.UNKNOWN, reason=data["reason"], now=now,
                        detail=f"{data['detail']}; legal ground: "
                               f"{getattr(message, 'legal_ground', '') or 'n/a'}",
                        claimed_until=None)
            else:
                report.failed += 1
                detail = data["detail"]
                if outcome == failures.RETRY:
                    detail = f"{detail}; gave up after {message.attempts} attempts"
                _settle(message, state=Message.State.FAILED,
                        reason=data.get("reason", outcome), now=now,
                        detail=detail, sent_at=None, claimed_until=None)


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def messages_send(*, message_ids: list[int], now: dt.datetime) -> SendReport:
    """Send the claimed messages among `message_ids`; others are left alone (idempotent)."""
    report = SendReport()
    to_send = _decide_batch(message_ids, now=now, report=report)
    if to_send:
        _record(_deliver(to_send, now=now), now=now, report=report)
    return report
