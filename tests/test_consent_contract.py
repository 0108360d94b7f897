"""RFC 8058 end to end (EM-1 … EM-10) and the right-to-object notice (GD-7)."""
import re

import pytest
from django.core import mail
from django.test import Client
from django.test.client import MULTIPART_CONTENT

from campaigns.models import ConsentEvent, Message, MessageLog, Purpose, Subscription
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from campaigns.tokens import unsubscribe_token
from tests.helpers import consenting_customer, run_tick
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory, TemplateTranslationFactory,
)

pytestmark = pytest.mark.django_db
HEADER = re.compile(r"^<https://[^>]+>(,\s*<mailto:[^>]+>)?$")


def unsubscribe_url(customer) -> str:
    return f"/u/{unsubscribe_token(customer_id=customer.pk)}"


def consent_state(customer):
    customer.refresh_from_db()
    return (customer.marketing_consent, ConsentEvent.objects.filter(customer=customer).count(),
            list(Subscription.objects.filter(customer=customer).values_list("topic", "subscribed")))


def test_an_unsubscribe_after_the_message_was_queued_makes_no_provider_call(frozen_clock, welcome, policy):
    customer = consenting_customer()
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    assert scheduler_tick(now=frozen_clock.now).due == 1
    assert Message.objects.get(customer=customer).state == "pending"

    response = Client(enforce_csrf_checks=True).post(
        unsubscribe_url(customer), {"List-Unsubscribe": "One-Click"})
    messages_send_due(now=frozen_clock.now)

    assert response.status_code == 200
    assert mail.outbox == []  # the anymail test backend saw no call
    assert Message.objects.get(customer=customer).state == "skipped"


@pytest.mark.parametrize("content_type", ["urlencoded", "multipart"])
def test_one_click_post_works_without_cookies_under_csrf_enforcement(content_type):
    customer = consenting_customer()
    client = Client(enforce_csrf_checks=True)
    if content_type == "urlencoded":
        response = client.post(unsubscribe_url(customer), "List-Unsubscribe=One-Click",
                               content_type="application/x-www-form-urlencoded")
    else:
        response = client.post(unsubscribe_url(customer), {"List-Unsubscribe": "One-Click"},
                               content_type=MULTIPART_CONTENT)

    assert response.status_code in (200, 202)
    assert "Location" not in response
    assert not response.cookies
    customer.refresh_from_db()
    assert customer.marketing_consent is False
    event = ConsentEvent.objects.filter(customer=customer).latest("id")
    assert (event.granted, event.source, event.method) == (False, "unsubscribe_link", "one-click")


def test_one_click_post_is_idempotent_and_says_the_same_for_unknown_and_forged_tokens():
    customer = consenting_customer()
    client = Client(enforce_csrf_checks=True)
    first = client.post(unsubscribe_url(customer), {"List-Unsubscribe": "One-Click"})
    second = client.post(unsubscribe_url(customer), {"List-Unsubscribe": "One-Click"})
    unknown = client.post(f"/u/{unsubscribe_token(customer_id=999999)}", {"List-Unsubscribe": "One-Click"})
    forged_token = unsubscribe_token(customer_id=customer.pk)
    forged = client.post(f"/u/{forged_token[:-1]}{'A' if forged_token[-1] != 'A' else 'B'}",
                         {"List-Unsubscribe": "One-Click"})

    assert {r.status_code for r in (first, second, unknown, forged)} == {200}
    assert first.content == second.content == unknown.content == forged.content
    assert ConsentEvent.objects.filter(customer=customer, granted=False).count() == 1


def test_five_gets_of_the_unsubscribe_url_change_nothing():
    customer = consenting_customer()
    before = consent_state(customer)

    for _ in range(5):
        response = Client().get(unsubscribe_url(customer))
        assert response.status_code == 200

    assert consent_state(customer) == before
    assert "Avsluta alla utskick" in response.content.decode()  # the (Swedish) customer's page


def test_the_token_never_contains_the_address():
    customer = CustomerFactory(email="ola.nordmann@example.no")

    token = unsubscribe_token(customer_id=customer.pk)

    assert "ola" not in token.lower() and "example" not in token.lower()


def test_marketing_carries_list_unsubscribe_and_transactional_does_not(frozen_clock, welcome, policy):
    customer = consenting_customer(locale="en")
    receipt = TemplateTranslationFactory(template__purpose=Purpose.TRANSACTIONAL,
                                         subject="Your receipt", text_body="Receipt", html_body="<p>Receipt</p>")
    receipts = CampaignFactory(trigger_event_type="receipt", priority=90)
    JourneyStepFactory(campaign=receipts, template=receipt.template)
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    EventFactory(customer=customer, type="receipt", occurred_at=frozen_clock.now)

    run_tick(frozen_clock.now)

    by_subject = {m.subject: m for m in mail.outbox}
    marketing, transactional = by_subject["Welcome, Astrid!"], by_subject["Your receipt"]
    assert HEADER.match(marketing.extra_headers["List-Unsubscribe"])
    assert marketing.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "List-Unsubscribe" not in transactional.extra_headers
    assert "List-Unsubscribe-Post" not in transactional.extra_headers
    assert "/u/" not in transactional.body
    # One provider call per recipient (EM-3): each message has exactly one address.
    assert all(len(m.to) == 1 for m in mail.outbox)
    # EM-4 / EM-5: name, postal address and a visible link in both parts.
    url = marketing.extra_headers["List-Unsubscribe"].strip("<>")
    html = marketing.alternatives[0][0]
    for part in (html, marketing.body):
        assert url in part and "Nordic Goods AB" in part and "Storgatan 1" in part
    # The ground each went on is recorded.
    reasons = dict(Message.objects.filter(customer=customer).values_list("subject", "reason"))
    assert reasons == {"Welcome, Astrid!": "consent", "Your receipt": "transactional"}


def test_two_recipients_get_different_unsubscribe_urls(frozen_clock, welcome, policy):
    for customer in (consenting_customer(), consenting_customer()):
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

    run_tick(frozen_clock.now)

    urls = {m.extra_headers["List-Unsubscribe"] for m in mail.outbox}
    assert len(mail.outbox) == 2 and len(urls) == 2


OBJECTION = "Your right to object"


def test_the_first_marketing_email_states_the_right_to_object_and_later_ones_do_not(
        frozen_clock, welcome, policy):
    customer = consenting_customer(locale="en")
    other = CampaignFactory(trigger_event_type="newsletter", priority=10)
    JourneyStepFactory(campaign=other, template=TemplateTranslationFactory(
        subject="News", text_body="News", html_body="<p>News</p>").template)
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    run_tick(frozen_clock.now)
    EventFactory(customer=customer, type="newsletter", occurred_at=frozen_clock.advance(days=2))

    run_tick(frozen_clock.now)

    first, later = mail.outbox
    assert OBJECTION in first.body and OBJECTION in first.alternatives[0][0]
    assert OBJECTION not in later.body and OBJECTION not in later.alternatives[0][0]
    # Every marketing email still offers the way out.
    assert "object to marketing at any time" in later.body


def test_the_right_to_object_is_in_the_customers_language(frozen_clock, welcome, policy):
    customer = consenting_customer(locale="nb")
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

    run_tick(frozen_clock.now)

    assert "Din rett til å protestere" in mail.outbox[0].body


def test_a_sent_message_names_its_ground_in_its_own_row(frozen_clock, welcome, policy):
    customer = consenting_customer()
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

    run_tick(frozen_clock.now)

    message = Message.objects.get(customer=customer)
    assert (message.state, message.reason, message.ground_detail) == (
        "sent", "consent", "recorded opt-in consent")
    assert not MessageLog.objects.filter(message=message).exists()  # the log keeps deviations
