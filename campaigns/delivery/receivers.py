"""anymail tracking-signal receiver: persist the event once, queue its processing, return.

The provider waits for the HTTP answer (and retries after a few seconds), so nothing here
looks anything up: one INSERT, one queued task carrying the row id.
"""
import hashlib
import json
import logging
import re

from anymail.signals import tracking
from django.dispatch import receiver

from campaigns import clock
from campaigns.delivery.status import event_type_refined

logger = logging.getLogger(__name__)

_ADDRESS = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
MAX_EVENT_ID = 200


def _masked(text) -> str:
    """Provider diagnostics, with addresses removed (kept for the admin; no personal data)."""
    if not text:
        return ""
    return _ADDRESS.sub("<address>", str(text))[:500]


def _raw(esp_event):
    """The provider's raw event as plain JSON-able data (a QueryDict for form posts)."""
    if hasattr(esp_event, "lists"):
        return {key: values for key, values in esp_event.lists()}
    return esp_event


def event_key(event) -> str:
    """The provider's event id; a digest of the raw event where the provider gives none.

    Postmark, for one, sends ids only with bounces: the same delivery posted twice is the
    same bytes, so the digest makes it one row all the same (RL-13).
    """
    if event.event_id and len(str(event.event_id)) <= MAX_EVENT_ID:
        return str(event.event_id)
    raw = json.dumps(_raw(event.esp_event), sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def event_payload(event) -> dict:
    """What processing needs and the admin shows; not the raw event (IPs, user agents)."""
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    return {
        "message_id": str(event.message_id or "")[:300],
        "message_uuid": str(metadata.get("message_uuid") or "")[:64],
        # Cleared once the event is processed: only the suppression keeps (a hash of) it.
        "recipient": str(event.recipient or "")[:320],
        "reject_reason": event.reject_reason or "",
        "description": _masked(event.description),
        "mta_response": _masked(event.mta_response),
        "tags": [str(tag)[:100] for tag in (event.tags or [])][:10],
    }


@receiver(tracking, dispatch_uid="campaigns.tracking_received")
def tracking_received(sender, event, esp_name, **kwargs):
    """Store the event once per (provider, event id) and queue its processing.

    A database error propagates: anymail answers 500 and the provider posts again later,
    which the unique (provider, event id) turns into a no-op if the first try did land.
    """
    from campaigns.services.deliverability import message_event_store
    from campaigns.tasks import message_event_process

    provider = str(esp_name).lower()[:32]
    row, created = message_event_store(
        provider=provider,
        event_id=event_key(event),
        event_type=event_type_refined(provider, str(event.event_type), event.esp_event)[:32],
        occurred_at=event.timestamp or clock.now(),
        payload=event_payload(event),
    )
    if created:
        message_event_process.delay_on_commit(row.pk)
    else:
        logger.info("duplicate %s event %s ignored", esp_name, row.pk)
