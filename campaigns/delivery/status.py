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


def event_effect(event_type: str, reject_reason: str | None = None) -> Effect:
    """The effect of one normalised event; unknown types and reasons do nothing."""
    if event_type == EventType.REJECTED:
        return REJECT_EFFECTS.get(reject_reason, Effect.NONE)
    return EVENT_EFFECTS.get(event_type, Effect.NONE)
