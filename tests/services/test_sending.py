"""The send gate: consent and caps re-checked at the last moment, headers, outcomes."""
import datetime as dt

import pytest
from django.core import mail

from campaigns.models import ConsentEvent, Message, MessageLog, Suppression
from campaigns.services.consent import consent_record, email_hash
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.helpers import consenting_customer, run_tick
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory, TemplateTranslationFactory,
)

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


def signup(customer, at):
    return EventFactory(customer=customer, type="signup", occurred_at=at)


def test_a_customer_without_consent_is_skipped_with_the_reason(frozen_clock, welcome, policy):
    customer = CustomerFactory()
    signup(customer, frozen_clock.now)

    run_tick(frozen_clock.now)

    message = Message.objects.get(customer=customer)
    assert (message.state, message.reason) == ("skipped", "no_consent")
    assert mail.outbox == []


def test_an_unsubscribe_after_the_message_was_queued_still_stops_it(frozen_clock, welcome, policy):
    customer = consenting_customer()
    signup(customer, frozen_clock.now)
    assert scheduler_tick(now=frozen_clock.now).due == 1  # queued for the senders

    consent_record(customer=customer, granted=False, source="unsubscribe_link")
    messages_send_due(now=frozen_clock.now)

    assert Message.objects.get(customer=customer).reason == "no_consent"
    assert mail.outbox == []


def test_a_suppressed_address_is_never_mailed(frozen_clock, welcome, policy):
    customer = consenting_customer()
    Suppression.objects.create(email_hash=email_hash(customer.email.upper()), reason="bounced")
    signup(customer, frozen_clock.now)

    run_tick(frozen_clock.now)

    assert Message.objects.get(customer=customer).reason == "suppressed"
    assert mail.outbox == []


def test_marketing_mail_carries_one_click_unsubscribe_and_the_legal_footer(frozen_clock, welcome, policy):
    customer = consenting_customer(first_name="Astrid", locale="sv")
    signup(customer, frozen_clock.now)

    run_tick(frozen_clock.now)

    email = mail.outbox[0]
    url = email.extra_headers["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://shop.example.com/u/")
    assert customer.email not in url
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.extra_headers["Date"] == "Mon, 02 Mar 2026 09:00:00 GMT"
    html = email.alternatives[0][0]
    assert url in html and url in email.body
    assert "Storgatan 1" in html and "Storgatan 1" in email.body
    assert "Avregistrera dig" in html  # the footer speaks the customer's language


def test_a_capped_welcome_waits_exactly_until_the_cap_frees(frozen_clock, welcome, policy):
    customer = consenting_customer(time_zone="Europe/Stockholm")
    other = CampaignFactory(trigger_event_type="newsletter", priority=10)
    JourneyStepFactory(campaign=other, template=TemplateTranslationFactory().template)
    EventFactory(customer=customer, type="newsletter", occurred_at=frozen_clock.now)
    run_tick(frozen_clock.now)  # 09:00 UTC: the newsletter goes out
    signup(customer, frozen_clock.advance(hours=2))

    run_tick(frozen_clock.now)

    welcome_message = Message.objects.get(customer=customer, campaign=welcome)
    assert (welcome_message.state, welcome_message.reason) == ("pending", "frequency_cap")
    assert welcome_message.due_at == dt.datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert MessageLog.objects.filter(message=welcome_message, state="deferred").exists()

    run_tick(frozen_clock.set(dt.datetime(2026, 3, 3, 9, 0, tzinfo=UTC)))

    welcome_message.refresh_from_db()
    assert welcome_message.state == "sent"
    assert welcome_message.sent_at - welcome_message.first_due_at == dt.timedelta(hours=22)
    assert welcome_message.lag_seconds == 0  # went out the moment the cap allowed it
    assert len(mail.outbox) == 2


def test_a_capped_message_whose_cap_frees_after_its_deadline_expires_with_the_cap_as_reason(
    frozen_clock, welcome, policy
):
    customer = consenting_customer()
    other = CampaignFactory(trigger_event_type="newsletter", priority=10)
    JourneyStepFactory(campaign=other, template=TemplateTranslationFactory().template)
    EventFactory(customer=customer, type="newsletter", occurred_at=frozen_clock.now)
    run_tick(frozen_clock.now)
    # The signup happened 3 hours before the newsletter, so its 24 h end before the cap frees.
    signup(customer, frozen_clock.now - dt.timedelta(hours=3))

    run_tick(frozen_clock.advance(minutes=1))

    message = Message.objects.get(customer=customer, campaign=welcome)
    assert (message.state, message.reason) == ("expired", "frequency_cap")


def test_a_signup_in_quiet_hours_is_welcomed_in_the_morning(frozen_clock, welcome, policy):
    customer = consenting_customer(time_zone="Europe/Stockholm")
    signup(customer, frozen_clock.set(dt.datetime(2026, 3, 2, 21, 30, tzinfo=UTC)))  # 22:30 local

    run_tick(frozen_clock.now)
    assert Message.objects.get(customer=customer).reason == "quiet_hours"
    run_tick(frozen_clock.set(dt.datetime(2026, 3, 3, 7, 0, tzinfo=UTC)))  # 08:00 local

    assert Message.objects.get(customer=customer).state == "sent"
    assert len(mail.outbox) == 1


def test_a_template_error_fails_the_message_with_a_reason_and_does_not_crash(frozen_clock, welcome, policy):
    translation = welcome.steps.get().template.translations.get(locale="en")
    translation.text_body = "Hi {{ customer.nickname }}"
    translation.save()
    customer = consenting_customer(locale="en")
    signup(customer, frozen_clock.now)

    run_tick(frozen_clock.now)

    message = Message.objects.get(customer=customer)
    assert (message.state, message.reason) == ("failed", "template_error")
    assert "nickname" in message.log.last().detail


def test_one_click_post_unsubscribes_without_login_and_get_changes_nothing(client, frozen_clock, welcome):
    customer = consenting_customer()
    signup(customer, frozen_clock.now)
    from campaigns.tokens import unsubscribe_token

    url = f"/u/{unsubscribe_token(customer_id=customer.pk)}"
    assert client.get(url).status_code == 200
    customer.refresh_from_db()
    assert customer.marketing_consent is True

    response = client.post(url, {"List-Unsubscribe": "One-Click"})
    again = client.post(url, {"List-Unsubscribe": "One-Click"})

    customer.refresh_from_db()
    assert (response.status_code, again.status_code) == (200, 200)
    assert customer.marketing_consent is False
    withdrawal = ConsentEvent.objects.get(customer=customer, granted=False)
    assert (withdrawal.source, withdrawal.method) == ("unsubscribe_link", "one-click")


def test_an_unknown_token_gets_the_same_answer_and_changes_nothing(client):
    response = client.post("/u/forged-token", {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert ConsentEvent.objects.count() == 0
