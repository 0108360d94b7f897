"""Real posts to anymail's webhook URLs: authentication, replay, once-only storage, effects."""
import base64
import copy
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from django.core import mail
from django.test import override_settings

from campaigns.models import ConsentEvent, Message, MessageEvent, Suppression
from campaigns.services.consent import consent_record, email_hash
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from campaigns.tasks import message_events_sweep
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory, TemplateTranslationFactory,
)

pytestmark = pytest.mark.django_db
DATA = Path(__file__).resolve().parent.parent / "data"
SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
MAILGUN_URL = "/anymail/mailgun/tracking/"
POSTMARK_URL = "/anymail/postmark/tracking/"
MAILGUN = override_settings(ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY})
POSTMARK = override_settings(ANYMAIL={"WEBHOOK_SECRET": "postmark:8Qz-long-random-secret"})
ADDRESS = "customer@example.se"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def mailgun_signed(payload: dict, *, timestamp: int, key: str = SIGNING_KEY) -> dict:
    """Sign like Mailgun: HMAC-SHA256 over timestamp + token with the signing key."""
    payload = copy.deepcopy(payload)
    signature = payload["signature"]
    signature["timestamp"] = str(timestamp)
    signature["signature"] = hmac.new(
        key.encode(), f"{timestamp}{signature['token']}".encode(), hashlib.sha256
    ).hexdigest()
    return payload


def mailgun_event(name: str, message: Message, *, at: int, token: str | None = None) -> dict:
    payload = load(name)
    payload["event-data"]["user-variables"] = {"message_uuid": str(message.message_id)}
    payload["event-data"]["timestamp"] = at + 0.25
    if token:
        payload["signature"]["token"] = token
    return mailgun_signed(payload, timestamp=at)


def postmark_event(name: str, message: Message) -> dict:
    payload = load(name)
    payload["Metadata"] = {"message_uuid": str(message.message_id)}
    return payload


def basic_auth(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def now_ts(clock) -> int:
    return int(clock.now.timestamp())


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST JSON like the provider does, running the queued Celery task (eager) after commit."""
    def _post(url, payload, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data=json.dumps(payload), content_type="application/json",
                               **headers)
    return _post


@pytest.fixture
def sent(frozen_clock, welcome, policy):
    """A welcome email sent through the real sending service to a consenting customer."""
    customer = CustomerFactory(email=ADDRESS)
    consent_record(customer=customer, granted=True, source="api")
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    scheduler_tick(now=frozen_clock.now)
    messages_send_due(now=frozen_clock.now)
    message = Message.objects.get(customer=customer)
    assert message.state == Message.State.SENT and len(mail.outbox) == 1
    return message


def next_marketing_message(customer, clock):
    """A purchase journey's email to the same customer a day later, through the sender."""
    translation = TemplateTranslationFactory(subject="Thanks!", html_body="<p>Thanks</p>",
                                             text_body="Thanks")
    campaign = CampaignFactory(trigger_event_type="purchase", priority=10)
    JourneyStepFactory(campaign=campaign, position=0, template=translation.template)
    clock.advance(days=1)
    EventFactory(customer=customer, type="purchase", occurred_at=clock.now)
    scheduler_tick(now=clock.now)
    messages_send_due(now=clock.now)
    return Message.objects.get(customer=customer, campaign=campaign)


# --- Mailgun: signed posts ---------------------------------------------------------------

@MAILGUN
def test_a_signed_mailgun_delivery_is_stored_once_and_marks_the_message_delivered(sent, post, frozen_clock):
    payload = mailgun_event("mailgun_delivered.json", sent, at=now_ts(frozen_clock))

    response = post(MAILGUN_URL, payload)

    assert response.status_code == 200
    event = MessageEvent.objects.get()
    assert (event.provider, event.event_id, event.event_type) == (
        "mailgun", payload["signature"]["token"], "delivered")
    assert (event.message, event.outcome) == (sent, "delivered")
    assert event.processed_at == frozen_clock.now
    assert event.payload["recipient"] == ""  # the address is not kept once applied
    sent.refresh_from_db()
    assert sent.delivered_at is not None and sent.bounced_at is None


@MAILGUN
def test_a_mailgun_post_with_a_wrong_signature_is_refused_and_stores_nothing(sent, post, frozen_clock):
    payload = mailgun_event("mailgun_complained.json", sent, at=now_ts(frozen_clock))
    forged = mailgun_signed(payload, timestamp=now_ts(frozen_clock), key="key-guessed")

    response = post(MAILGUN_URL, forged)

    assert response.status_code == 400
    assert not MessageEvent.objects.exists() and not Suppression.objects.exists()


@MAILGUN
def test_an_unsigned_mailgun_post_is_refused(sent, post, frozen_clock):
    payload = load("mailgun_complained.json")
    del payload["signature"]

    assert post(MAILGUN_URL, payload).status_code == 400
    assert not MessageEvent.objects.exists() and not Suppression.objects.exists()


@MAILGUN
def test_a_stale_signed_mailgun_post_is_ignored_as_a_replay_with_a_200(
        sent, post, frozen_clock, settings, caplog):
    # EM-21: logged and ignored, and answered 200 so the provider does not retry it forever.
    signed_at = now_ts(frozen_clock)
    payload = mailgun_event("mailgun_complained.json", sent, at=signed_at)
    frozen_clock.advance(seconds=settings.WEBHOOK_MAX_AGE_SECONDS + 1)

    response = post(MAILGUN_URL, payload)

    assert response.status_code == 200
    assert not MessageEvent.objects.exists() and not Suppression.objects.exists()
    assert "ignored a Mailgun webhook" in caplog.text and ADDRESS not in caplog.text


@MAILGUN
def test_a_stale_mailgun_post_with_a_wrong_signature_is_still_refused(sent, post, frozen_clock, settings):
    payload = mailgun_event("mailgun_complained.json", sent, at=now_ts(frozen_clock))
    payload["signature"]["signature"] = "0" * 64
    frozen_clock.advance(seconds=settings.WEBHOOK_MAX_AGE_SECONDS + 1)

    assert post(MAILGUN_URL, payload).status_code == 400
    assert not MessageEvent.objects.exists()


@MAILGUN
def test_a_mailgun_post_signed_in_the_future_is_refused(sent, post, frozen_clock):
    payload = mailgun_event("mailgun_delivered.json", sent, at=now_ts(frozen_clock) + 3600)

    assert post(MAILGUN_URL, payload).status_code == 400
    assert not MessageEvent.objects.exists()


@MAILGUN
def test_a_mailgun_post_a_few_hours_late_is_still_accepted(sent, post, frozen_clock):
    # Mailgun retries for 8 hours after an outage here; those posts must not be lost.
    payload = mailgun_event("mailgun_failed_permanent.json", sent, at=now_ts(frozen_clock))
    frozen_clock.advance(hours=8)

    assert post(MAILGUN_URL, payload).status_code == 200
    assert Suppression.objects.filter(email_hash=email_hash(ADDRESS), reason="bounced").exists()


@MAILGUN
def test_a_duplicated_and_a_replayed_mailgun_post_are_stored_once(sent, post, frozen_clock):
    payload = mailgun_event("mailgun_complained.json", sent, at=now_ts(frozen_clock))

    first = post(MAILGUN_URL, payload)
    duplicate = post(MAILGUN_URL, payload)  # the provider's retry
    frozen_clock.advance(hours=1)
    replay = post(MAILGUN_URL, payload)  # someone who captured it, within the window

    assert [first.status_code, duplicate.status_code, replay.status_code] == [200, 200, 200]
    assert MessageEvent.objects.count() == 1
    assert Suppression.objects.count() == 1
    assert ConsentEvent.objects.filter(source="complaint").count() == 1


@MAILGUN
def test_a_complaint_suppresses_at_once_and_the_sender_skips_the_next_marketing_email(
    sent, post, frozen_clock
):
    post(MAILGUN_URL, mailgun_event("mailgun_complained.json", sent, at=now_ts(frozen_clock)))

    suppression = Suppression.objects.get()
    assert (suppression.email_hash, suppression.reason) == (email_hash(ADDRESS), "complained")
    withdrawn = ConsentEvent.objects.get(customer=sent.customer, granted=False)
    assert (withdrawn.topic, withdrawn.source) == ("marketing", "complaint")
    sent.refresh_from_db()
    assert sent.complained_at is not None

    following = next_marketing_message(sent.customer, frozen_clock)

    assert (following.state, following.reason) == ("skipped", "suppressed")
    assert len(mail.outbox) == 1  # only the welcome


@MAILGUN
def test_a_late_delivered_after_a_bounce_leaves_the_address_suppressed(sent, post, frozen_clock):
    bounce = mailgun_event("mailgun_failed_permanent.json", sent, at=now_ts(frozen_clock))
    post(MAILGUN_URL, bounce)
    frozen_clock.advance(minutes=30)
    late = mailgun_event("mailgun_delivered.json", sent, at=now_ts(frozen_clock) - 1200)

    assert post(MAILGUN_URL, late).status_code == 200

    assert Suppression.objects.get().reason == "bounced"
    sent.refresh_from_db()
    assert sent.bounced_at is not None and sent.delivered_at is not None
    assert next_marketing_message(sent.customer, frozen_clock).reason == "suppressed"


@MAILGUN
def test_the_bounce_diagnostics_are_kept_without_the_address(sent, post, frozen_clock):
    post(MAILGUN_URL, mailgun_event("mailgun_failed_permanent.json", sent, at=now_ts(frozen_clock)))

    event = MessageEvent.objects.get()
    assert "User unknown" in event.payload["mta_response"]
    assert ADDRESS not in json.dumps(event.payload)


@MAILGUN
def test_an_event_for_a_message_that_is_not_ours_is_stored_and_ignored(sent, post, frozen_clock):
    payload = load("mailgun_complained.json")
    payload["event-data"]["user-variables"] = {"message_uuid": "not-a-uuid"}
    payload["event-data"]["message"]["headers"]["message-id"] = "other-app.123@mg.example.com"
    payload = mailgun_signed(payload, timestamp=now_ts(frozen_clock))

    response = post(MAILGUN_URL, payload)

    assert response.status_code == 200
    event = MessageEvent.objects.get()
    assert (event.message, event.outcome) == (None, "ignored: unknown message")
    assert not Suppression.objects.exists()


@MAILGUN
def test_an_event_is_matched_by_the_provider_message_id_without_metadata(sent, post, frozen_clock):
    Message.objects.filter(pk=sent.pk).update(
        provider_message_id="<20260302090000.1.DF5966851B4BAA99@mg.example.com>")
    payload = load("mailgun_failed_permanent.json")
    payload["event-data"].pop("user-variables")
    payload = mailgun_signed(payload, timestamp=now_ts(frozen_clock))

    post(MAILGUN_URL, payload)

    assert MessageEvent.objects.get().message == sent
    assert Suppression.objects.filter(reason="bounced").exists()


@MAILGUN
def test_one_event_that_fails_to_apply_does_not_fail_the_webhook_or_the_next(
    sent, post, frozen_clock, monkeypatch
):
    import campaigns.services.deliverability as deliverability

    def broken(**kwargs):
        raise RuntimeError("suppression store down")

    monkeypatch.setattr(deliverability, "suppression_add", broken)
    bad = post(MAILGUN_URL, mailgun_event("mailgun_failed_permanent.json", sent, at=now_ts(frozen_clock)))
    monkeypatch.undo()
    good = post(MAILGUN_URL, mailgun_event("mailgun_delivered.json", sent, at=now_ts(frozen_clock)))

    assert (bad.status_code, good.status_code) == (200, 200)
    outcomes = dict(MessageEvent.objects.values_list("event_type", "outcome"))
    assert outcomes == {"bounced": "error: RuntimeError", "delivered": "delivered"}


# --- Postmark: basic auth ----------------------------------------------------------------

@POSTMARK
@pytest.mark.parametrize("credentials", [None, "postmark:wrong", "someone:8Qz-long-random-secret"])
def test_a_postmark_post_without_the_right_basic_auth_is_refused(sent, post, credentials):
    headers = {"HTTP_AUTHORIZATION": basic_auth(credentials)} if credentials else {}

    response = post(POSTMARK_URL, postmark_event("postmark_bounce.json", sent), **headers)

    assert response.status_code == 400
    assert not MessageEvent.objects.exists() and not Suppression.objects.exists()


@POSTMARK
def test_a_postmark_hard_bounce_with_basic_auth_suppresses_the_address(sent, post):
    response = post(POSTMARK_URL, postmark_event("postmark_bounce.json", sent),
                    HTTP_AUTHORIZATION=basic_auth("postmark:8Qz-long-random-secret"))

    assert response.status_code == 200
    event = MessageEvent.objects.get()
    assert (event.provider, event.event_id, event.message) == ("postmark", "4323372036854775807", sent)
    assert Suppression.objects.get().reason == "bounced"


@POSTMARK
def test_a_postmark_soft_bounce_is_a_deferral_and_suppresses_nothing(sent, post):
    # Mailbox full: Postmark keeps trying and reports a HardBounce if it never gets through.
    payload = postmark_event("postmark_bounce.json", sent)
    payload.update(ID=4323372036854775808, Type="SoftBounce", TypeCode=4096,
                   Name="Soft bounce", Inactive=False,
                   Description="Unable to temporarily deliver this email.")

    response = post(POSTMARK_URL, payload,
                    HTTP_AUTHORIZATION=basic_auth("postmark:8Qz-long-random-secret"))

    assert response.status_code == 200
    event = MessageEvent.objects.get()
    assert (event.event_type, event.message) == ("deferred", sent)
    assert not Suppression.objects.exists()
    sent.refresh_from_db()
    assert sent.bounced_at is None


@POSTMARK
def test_a_postmark_delivery_posted_twice_without_an_event_id_is_stored_once(sent, post):
    payload = postmark_event("postmark_delivery.json", sent)
    auth = basic_auth("postmark:8Qz-long-random-secret")

    post(POSTMARK_URL, payload, HTTP_AUTHORIZATION=auth)
    post(POSTMARK_URL, payload, HTTP_AUTHORIZATION=auth)

    event = MessageEvent.objects.get()
    assert event.event_id.startswith("sha256:")
    sent.refresh_from_db()
    assert sent.delivered_at.isoformat().startswith("2026-03-02T09:00:04")


@POSTMARK
def test_an_unsubscribe_at_postmark_withdraws_consent_with_source_provider(sent, post):
    post(POSTMARK_URL, postmark_event("postmark_subscription_change.json", sent),
         HTTP_AUTHORIZATION=basic_auth("postmark:8Qz-long-random-secret"))

    withdrawn = ConsentEvent.objects.get(customer=sent.customer, granted=False)
    assert (withdrawn.topic, withdrawn.source) == ("marketing", "provider")
    sent.customer.refresh_from_db()
    assert sent.customer.marketing_consent is False
    assert not Suppression.objects.exists()


@POSTMARK
def test_a_rotated_webhook_secret_accepts_both_values(sent, post, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": ["postmark:old-secret", "postmark:new-secret"]}
    payload = postmark_event("postmark_delivery.json", sent)

    old = post(POSTMARK_URL, payload, HTTP_AUTHORIZATION=basic_auth("postmark:old-secret"))
    new = post(POSTMARK_URL, payload, HTTP_AUTHORIZATION=basic_auth("postmark:new-secret"))

    assert (old.status_code, new.status_code) == (200, 200)


# --- Open and click tracking -------------------------------------------------------------

@pytest.fixture
def anymail_test_backend(settings):
    """anymail's test backend (pytest-django swaps in locmem): it records what the
    provider would be told, in `anymail_test_params`."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"


def test_open_and_click_tracking_are_off_on_every_message_by_default(anymail_test_backend, sent):
    params = mail.outbox[0].anymail_test_params

    # Explicitly off, so an account-level default at the provider cannot switch them on.
    assert params["track_opens"] is False and params["track_clicks"] is False


@pytest.fixture
def tracking_on(settings):
    settings.TRACK_OPENS = settings.TRACK_CLICKS = True


def test_open_and_click_tracking_are_on_when_the_site_switches_them_on(
    anymail_test_backend, tracking_on, sent
):
    params = mail.outbox[0].anymail_test_params

    assert params["track_opens"] is True and params["track_clicks"] is True


@POSTMARK
def test_an_open_reported_while_tracking_is_off_is_not_recorded(sent, post):
    post(POSTMARK_URL, postmark_event("postmark_open.json", sent),
         HTTP_AUTHORIZATION=basic_auth("postmark:8Qz-long-random-secret"))

    assert MessageEvent.objects.get().outcome == "ignored: opened tracking is off"
    sent.refresh_from_db()
    assert sent.opened_at is None


@POSTMARK
@override_settings(TRACK_OPENS=True)
def test_an_open_is_recorded_when_open_tracking_is_on(sent, post):
    post(POSTMARK_URL, postmark_event("postmark_open.json", sent),
         HTTP_AUTHORIZATION=basic_auth("postmark:8Qz-long-random-secret"))

    sent.refresh_from_db()
    assert sent.opened_at.isoformat() == "2026-03-02T09:30:00+00:00"


# --- A lost task -------------------------------------------------------------------------

@MAILGUN
def test_an_event_whose_task_was_lost_is_applied_by_the_sweep(sent, client, frozen_clock):
    payload = mailgun_event("mailgun_failed_permanent.json", sent, at=now_ts(frozen_clock))
    # No on-commit capture: the queued task never runs, as if the broker lost it.
    assert client.post(MAILGUN_URL, data=json.dumps(payload),
                       content_type="application/json").status_code == 200
    assert MessageEvent.objects.get().processed_at is None

    frozen_clock.advance(minutes=6)
    assert message_events_sweep() == 1

    assert MessageEvent.objects.get().outcome == "suppressed: bounced"
    assert Suppression.objects.filter(reason="bounced").exists()


# --- Configuration -----------------------------------------------------------------------

def test_a_provider_backend_without_a_webhook_secret_is_an_error_outside_debug(settings):
    from django.core import checks

    from campaigns.checks import webhook_secret_check

    settings.DEBUG, settings.EMAIL_BACKEND = False, "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "token"}
    problems = webhook_secret_check(None)
    assert [(p.id, p.level) for p in problems] == [("campaigns.E103", checks.ERROR)]

    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "postmark:secret"}
    assert webhook_secret_check(None) == []
