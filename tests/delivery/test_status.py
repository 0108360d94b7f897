"""Every anymail event type and reject reason, sent through the tracking signal, ends in the
expected state of the message, the suppression list and the consent log (EM-13, EM-14)."""
import datetime as dt

import pytest
from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking

from campaigns.delivery.status import EVENT_EFFECTS, REJECT_EFFECTS
from campaigns.models import ConsentEvent, MessageEvent, Suppression
from campaigns.services.consent import consent_record, email_hash
from tests.factories import CustomerFactory, SentMessageFactory

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 3, 2, 9, 5, tzinfo=dt.timezone.utc)
INBOUND_TYPES = {EventType.INBOUND, EventType.INBOUND_FAILED}


def constants(cls) -> set[str]:
    return {value for name, value in vars(cls).items() if name.isupper()}


# (event type, reject reason) -> (message field set, suppression reason, consent withdrawn by)
EXPECTED = {
    (EventType.QUEUED, None): (None, None, None),
    (EventType.SENT, None): (None, None, None),
    (EventType.FAILED, None): (None, None, None),
    (EventType.BOUNCED, RejectReason.BOUNCED): ("bounced_at", "bounced", None),
    (EventType.BOUNCED, None): ("bounced_at", "bounced", None),
    (EventType.DEFERRED, RejectReason.OTHER): (None, None, None),
    (EventType.DELIVERED, None): ("delivered_at", None, None),
    (EventType.AUTORESPONDED, None): (None, None, None),
    (EventType.OPENED, None): ("opened_at", None, None),
    (EventType.CLICKED, None): ("clicked_at", None, None),
    (EventType.COMPLAINED, None): ("complained_at", "complained", "complaint"),
    (EventType.UNSUBSCRIBED, None): (None, None, "provider"),
    (EventType.SUBSCRIBED, None): (None, None, None),
    (EventType.UNKNOWN, None): (None, None, None),
    (EventType.REJECTED, RejectReason.INVALID): ("bounced_at", "bounced", None),
    (EventType.REJECTED, RejectReason.BOUNCED): ("bounced_at", "bounced", None),
    (EventType.REJECTED, RejectReason.SPAM): ("complained_at", "complained", "complaint"),
    (EventType.REJECTED, RejectReason.UNSUBSCRIBED): (None, None, "provider"),
    (EventType.REJECTED, RejectReason.TIMED_OUT): (None, None, None),
    (EventType.REJECTED, RejectReason.BLOCKED): (None, None, None),
    (EventType.REJECTED, RejectReason.OTHER): (None, None, None),
    (EventType.REJECTED, None): (None, None, None),
}
FIELDS = ["delivered_at", "opened_at", "clicked_at", "bounced_at", "complained_at"]


def test_the_table_covers_every_tracking_event_type_and_reject_reason_anymail_defines():
    assert set(EVENT_EFFECTS) == constants(EventType) - INBOUND_TYPES
    assert set(REJECT_EFFECTS) == constants(RejectReason)
    assert {t for t, _ in EXPECTED} == constants(EventType) - INBOUND_TYPES
    assert {r for t, r in EXPECTED if t == EventType.REJECTED} - {None} == constants(RejectReason)


@pytest.fixture
def message(db):
    customer = CustomerFactory(email="kari@example.no")
    consent_record(customer=customer, granted=True, source="api")
    return SentMessageFactory(enrollment__customer=customer)


def send_signal(message, event_type, reject_reason, *, event_id="evt-1", at=AT):
    tracking.send(sender=object, esp_name="Test", event=AnymailTrackingEvent(
        event_type=event_type, reject_reason=reject_reason, timestamp=at, event_id=event_id,
        message_id=message.provider_message_id, recipient="kari@example.no",
        metadata={"message_uuid": str(message.message_id)}, esp_event={"id": event_id},
    ))


@pytest.mark.parametrize(("event_type", "reject_reason"), sorted(EXPECTED, key=str), ids=str)
def test_each_event_ends_in_its_expected_state(
    message, settings, django_capture_on_commit_callbacks, event_type, reject_reason
):
    settings.TRACK_OPENS = settings.TRACK_CLICKS = True
    field, suppression, withdrawn_by = EXPECTED[(event_type, reject_reason)]

    with django_capture_on_commit_callbacks(execute=True):
        send_signal(message, event_type, reject_reason)

    event = MessageEvent.objects.get()
    assert event.message == message and event.processed_at is not None
    message.refresh_from_db()
    assert [f for f in FIELDS if getattr(message, f) is not None] == ([field] if field else [])
    if field:
        assert getattr(message, field) == AT
    assert list(Suppression.objects.values_list("email_hash", "reason")) == (
        [(email_hash("kari@example.no"), suppression)] if suppression else [])
    assert list(ConsentEvent.objects.filter(granted=False).values_list("source", flat=True)) == (
        [withdrawn_by] if withdrawn_by else [])
    message.customer.refresh_from_db()
    assert message.customer.marketing_consent is (withdrawn_by is None)


def test_only_the_first_delivery_time_counts_and_nothing_clears_a_bounce(
    message, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send_signal(message, EventType.BOUNCED, RejectReason.BOUNCED, event_id="b")
        send_signal(message, EventType.DELIVERED, None, event_id="d1", at=AT + dt.timedelta(hours=1))
        send_signal(message, EventType.DELIVERED, None, event_id="d2", at=AT + dt.timedelta(hours=2))

    message.refresh_from_db()
    assert message.bounced_at == AT
    assert message.delivered_at == AT + dt.timedelta(hours=1)
    assert Suppression.objects.get().reason == "bounced"


def test_a_deferral_then_a_bounce_suppresses_only_at_the_bounce(
    message, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send_signal(message, EventType.DEFERRED, RejectReason.OTHER, event_id="d")
        assert not Suppression.objects.exists()
        send_signal(message, EventType.BOUNCED, RejectReason.BOUNCED, event_id="b")

    assert Suppression.objects.get().reason == "bounced"
