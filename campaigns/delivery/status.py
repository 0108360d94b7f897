"""Map anymail's normalised EventType / RejectReason to what the CRM does about it (pure)."""
import enum

from anymail.signals import EventType, RejectReason


class Effect(enum.Enum):
    """What one provider event does to the message, the address and the consent."""

    NONE = "none"  # recorded only
    DELIVERED = "delivered"  # message.delivered_at
    OPENED = "opened"  # message.opened_at (only with open tracking on)
    CLICKED = "clicked"  # message.clicked_at (only with click tracking on)
    BOUNCED = "bounced"  # message.bounced_at + suppression (reason bounced)
    COMPLAINED = "complained"  # message.complained_at + suppression (complained) + consent withdrawn
    UNSUBSCRIBED = "unsubscribed"  # marketing consent withdrawn, source provider


# Every tracking event type anymail defines. Inbound types never reach the tracking signal.
EVENT_EFFECTS = {
    EventType.QUEUED: Effect.NONE,
    EventType.SENT: Effect.NONE,
    EventType.REJECTED: Effect.NONE,  # refined by the reject reason below
    # The provider could not build or send it (e.g. a template error on its side): the
    # address is not at fault.
    EventType.FAILED: Effect.NONE,
    EventType.BOUNCED: Effect.BOUNCED,
    # The receiving server said "later": the provider retries and reports bounced or
    # delivered in the end.
    EventType.DEFERRED: Effect.NONE,
    EventType.DELIVERED: Effect.DELIVERED,
    EventType.AUTORESPONDED: Effect.NONE,
    EventType.OPENED: Effect.OPENED,
    EventType.CLICKED: Effect.CLICKED,
    EventType.COMPLAINED: Effect.COMPLAINED,
    EventType.UNSUBSCRIBED: Effect.UNSUBSCRIBED,
    # A sign-up on a provider-hosted form is no proof of consent here: consent is given
    # only through the CRM's own pages and API, so this changes nothing.
    EventType.SUBSCRIBED: Effect.NONE,
    EventType.UNKNOWN: Effect.NONE,
}

# A "rejected" event: the provider refused to send, often because of its own suppression
# list. Its reason says whether the address itself is the problem (EM-13, EM-14).
REJECT_EFFECTS = {
    RejectReason.INVALID: Effect.BOUNCED,
    RejectReason.BOUNCED: Effect.BOUNCED,
    RejectReason.SPAM: Effect.COMPLAINED,  # the provider remembers an earlier complaint
    RejectReason.UNSUBSCRIBED: Effect.UNSUBSCRIBED,  # ... or an unsubscribe at the provider
    # Repeated timeouts, the provider's policy, anything else: not the address's fault.
    RejectReason.TIMED_OUT: Effect.NONE,
    RejectReason.BLOCKED: Effect.NONE,
    RejectReason.OTHER: Effect.NONE,
}

# Effects that put the address on the suppression list, with the suppression reason.
SUPPRESSING = {Effect.BOUNCED: "bounced", Effect.COMPLAINED: "complained"}


# Temporary failures some providers report, and anymail normalises, as "bounced": the
# receiving server said "later" (mailbox full, over quota), the provider keeps trying and
# reports a hard bounce if it never gets through. They are stored as "deferred", which
# does not suppress (EM-14). Keyed by provider (anymail's esp_name, lower case), the raw
# event's field and its values.
SOFT_BOUNCES = {
    # Postmark: "SoftBounce — unable to temporarily deliver message"; anymail maps it
    # to bounced and says "might also receive HardBounce later".
    "postmark": ("Type", {"SoftBounce"}),
}


def event_type_refined(provider: str, event_type: str, raw) -> str:
    """anymail's normalised type, with a provider's soft bounce turned into "deferred"."""
    field, values = SOFT_BOUNCES.get(provider, (None, ()))
    if event_type == EventType.BOUNCED and isinstance(raw, dict) and raw.get(field) in values:
        return EventType.DEFERRED
    return event_type


def event_effect(event_type: str, reject_reason: str | None = None) -> Effect:
    """The effect of one normalised event; unknown types and reasons do nothing."""
    if event_type == EventType.REJECTED:
        return REJECT_EFFECTS.get(reject_reason, Effect.NONE)
    return EVENT_EFFECTS.get(event_type, Effect.NONE)
