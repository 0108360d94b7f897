"""Provider events: store once, then apply them to the message, the address and the consent."""
import datetime as dt
import logging
import re
import uuid

from django.conf import settings
from django.db import transaction

from campaigns import clock
from campaigns.delivery.status import SUPPRESSING, Effect, event_effect
from campaigns.models import ConsentSource, Message, MessageEvent, MessageLog
from campaigns.services.consent import consent_withdraw_all, suppression_add

logger = logging.getLogger(__name__)

# Our own Message-ID header: "<message uuid@site domain>" (delivery/messages.py).
_OUR_MESSAGE_ID = re.compile(r"<?([0-9a-fA-F-]{32,36})@[^>]*>?")
# The message field each engagement effect fills the first time it happens.
_FIRST_SEEN = {
    Effect.DELIVERED: "delivered_at",
    Effect.OPENED: "opened_at",
    Effect.CLICKED: "clicked_at",
    Effect.BOUNCED: "bounced_at",
    Effect.COMPLAINED: "complained_at",
}
# How long an event may wait for its task before the sweep queues it again.
SWEEP_AFTER = dt.timedelta(minutes=5)


def message_event_store(
    *, provider: str, event_id: str, event_type: str, occurred_at: dt.datetime, payload: dict
) -> tuple[MessageEvent, bool]:
    """Insert the event unless (provider, event_id) is already stored; safe under races."""
    return MessageEvent.objects.get_or_create(
        provider=provider,
        event_id=event_id,
        defaults={"event_type": event_type, "occurred_at": occurred_at, "payload": payload},
    )


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except (TypeError, ValueError):
        return None


def message_for_event(payload: dict) -> Message | None:
    """The message an event is about: our uuid in the metadata, the provider's message id,
    or our Message-ID header; None when it is not one of ours."""
    candidates = Message.objects.select_related("customer")
    message_uuid = _uuid(payload.get("message_uuid", ""))
    if message_uuid is not None:
        found = candidates.filter(message_id=message_uuid).first()
        if found is not None:
            return found
    message_id = (payload.get("message_id") or "").strip()
    if not message_id:
        return None
    bare = message_id.strip("<>")
    found = candidates.filter(provider_message_id__in={message_id, bare, f"<{bare}>"}).first()
    if found is not None:
        return found
    match = _OUR_MESSAGE_ID.fullmatch(message_id)
    if match and (own := _uuid(match.group(1))) is not None:
        return candidates.filter(message_id=own).first()
    return None


def _tracking_allowed(effect: Effect) -> bool:
    if effect == Effect.OPENED:
        return settings.TRACK_OPENS
    if effect == Effect.CLICKED:
        return settings.TRACK_CLICKS
    return True


# Provider events that prove it took the message: an `unknown` send (the hand-over broke
# after the request went out) was in fact sent (RL-7). A rejection proves it was not.
ACCEPTED_EVENTS = {"queued", "sent", "deferred", "delivered", "opened", "clicked", "bounced",
                   "complained", "unsubscribed", "autoresponded"}
REFUSED_EVENTS = {"rejected", "failed"}


def _reconcile(event: MessageEvent, message: Message) -> None:
    """Settle an `unknown` message from what the provider reports about it."""
    if event.event_type in ACCEPTED_EVENTS:
        state = Message.State.SENT
    elif event.event_type in REFUSED_EVENTS:
        state = Message.State.FAILED
    else:
        return
    if Message.objects.filter(pk=message.pk, state=Message.State.UNKNOWN).update(state=state):
        MessageLog.objects.create(
            message=message, at=event.occurred_at, state=state, reason="reconciled",
            detail=f"{event.provider} reported {event.event_type} after the hand-over broke")
        message.state = state


def _apply(event: MessageEvent, message: Message, effect: Effect) -> str:
    """The event's effect on one of our messages; returns the outcome in a few words."""
    if message.state == Message.State.UNKNOWN:
        _reconcile(event, message)
    if not _tracking_allowed(effect):
        # The site does not track opens / clicks (EU guidance treats pixels like
        # cookies): a provider that reports them anyway is not listened to.
        return f"ignored: {effect.value} tracking is off"
    field = _FIRST_SEEN.get(effect)
    if field is not None:
        # First time only; never cleared, so order of arrival does not matter.
        Message.objects.filter(pk=message.pk, **{f"{field}__isnull": True}).update(
            **{field: event.occurred_at}
        )
    customer = message.customer
    if effect in SUPPRESSING:
        # The address the provider reported is the one that bounced or complained, even if
        # the customer has a new address by now.
        address = event.payload.get("recipient") or customer.email
        if address:
            suppression_add(email=address, reason=SUPPRESSING[effect])
    if effect == Effect.COMPLAINED:
        consent_withdraw_all(customer=customer, source=ConsentSource.COMPLAINT,
                             method=f"{event.provider} complaint", at=event.occurred_at)
        return "suppressed: complained"
    if effect == Effect.UNSUBSCRIBED:
        consent_withdraw_all(customer=customer, source=ConsentSource.PROVIDER,
                             method=f"{event.provider} unsubscribe", at=event.occurred_at)
        return "consent withdrawn"
    if effect == Effect.BOUNCED:
        return "suppressed: bounced"
    return effect.value if effect != Effect.NONE else "recorded"


def message_event_process(*, event_id: int, now: dt.datetime | None = None) -> str:
    """Apply one stored event; returns its outcome. Idempotent: a processed event is left
    alone, and every effect is itself a no-op the second time.

    Suppression is monotonic: nothing here removes one, so a late "delivered" after a
    bounce changes only `delivered_at`. An event about a message that is not ours is
    kept and marked, not an error. The event row is locked while it is applied, so two
    workers given the same id apply it once.
    """
    now = now or clock.now()
    with transaction.atomic():
        event = MessageEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.processed_at is not None:
            return event.outcome if event is not None else "missing"
        effect = event_effect(event.event_type, event.payload.get("reject_reason") or None)
        message = message_for_event(event.payload)
        if message is None:
            outcome = "ignored: unknown message"
        else:
            event.message = message
            outcome = _apply(event, message, effect)
        # The address was needed only to apply the event.
        event.payload = {**event.payload, "recipient": ""}
        event.processed_at, event.outcome = now, outcome[:64]
        event.save(update_fields=["message", "payload", "processed_at", "outcome"])
    return outcome


def message_event_fail(*, event_id: int, error: Exception, now: dt.datetime | None = None) -> None:
    """Mark an event that could not be applied, so it is visible and not retried forever."""
    MessageEvent.objects.filter(pk=event_id, processed_at__isnull=True).update(
        processed_at=now or clock.now(), outcome=f"error: {type(error).__name__}"[:64]
    )


def message_events_unprocessed(*, now: dt.datetime, limit: int = 1000) -> list[int]:
    """Ids of events whose processing task seems lost (stored more than 5 minutes ago)."""
    return list(
        MessageEvent.objects.filter(processed_at__isnull=True, received_at__lt=now - SWEEP_AFTER)
        .order_by("received_at").values_list("pk", flat=True)[:limit]
    )
