"""Test sends: mailed to a staff address, marked as a test, and nowhere in the outbox,
statistics, caps or the customer's history."""
import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse

from campaigns.models import Enrollment, Message, MessageLog
from campaigns.services.test_sends import (
    TEST_HEADER, SendTestRefused, template_test_recipients, template_test_send,
)
from tests.factories import EventFactory
from tests.helpers import consenting_customer, run_tick

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc
URL = "admin:campaigns_messagetemplate_test_send"
RENDERED = {"subject": "Hej Astrid", "html": "<p>Hej</p>", "text": "Hej"}


def marketer(email="me@shop.example", *codenames) -> tuple[User, Client]:
    user = User.objects.create_user(f"m-{User.objects.count()}", password="pw", is_staff=True,
                                    email=email)
    user.user_permissions.set(Permission.objects.filter(
        codename__in=codenames or ("change_messagetemplate", "view_customer")))
    client = Client()
    client.force_login(user)
    return user, client


def draft(**changes) -> dict:
    return {"subject": "Hej {{ customer.first_name }}", "purpose": "marketing", "locale": "sv",
            "html_body": "<p>Hej {{ customer.first_name }}</p>",
            "text_body": "Hej {{ customer.first_name }}", "layout": "", "customer": "",
            **changes}


def test_a_test_goes_to_the_users_own_address_marked_as_a_test_and_counts_nowhere(
    frozen_clock, welcome, policy
):
    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    frozen_clock.set(now)
    customer = consenting_customer(first_name="Kari", locale="en")
    before = model_to_dict(customer)
    user, client = marketer()

    response = client.post(reverse(URL), draft(customer=customer.pk, to=user.email))

    assert response.status_code == 200
    assert "me@shop.example" in response.json()["sent"]
    (email,) = mail.outbox
    assert email.to == ["me@shop.example"]
    assert email.subject == "[TEST] Hej Kari"
    assert email.extra_headers[TEST_HEADER] == "1"
    assert "List-Unsubscribe" not in email.extra_headers
    assert "<p>Hej Kari</p>" in email.alternatives[0][0]
    assert "/u/sample-token" in email.alternatives[0][0]  # a link that unsubscribes nobody
    # No outbox row, no log, no journey, nothing changed on the customer …
    assert (Message.objects.count(), MessageLog.objects.count(), Enrollment.objects.count()) == (0, 0, 0)
    customer.refresh_from_db()
    assert model_to_dict(customer) == before
    # … so the caps (one marketing email a day) still let the real welcome through.
    EventFactory(customer=customer, type="signup", occurred_at=now)
    run_tick(now)
    assert [m.to for m in mail.outbox[1:]] == [[customer.email]]
    assert Message.objects.get().state == Message.State.SENT


def test_a_test_can_go_to_a_colleague_but_not_to_anyone_else():
    user, client = marketer()
    User.objects.create_user("colleague", is_staff=True, email="colleague@shop.example")
    User.objects.create_user("shopper", is_staff=False, email="shopper@example.com")
    User.objects.create_user("gone", is_staff=True, is_active=False, email="gone@shop.example")

    assert template_test_recipients(user=user) == ["me@shop.example", "colleague@shop.example"]
    assert client.post(reverse(URL), draft(to="colleague@shop.example")).status_code == 200
    refused = client.post(reverse(URL), draft(to="shopper@example.com"))
    assert refused.status_code == 400 and list(refused.json()["field_errors"]) == ["to"]
    with pytest.raises(SendTestRefused):
        template_test_send(user=user, to="gone@shop.example", rendered=RENDERED)
    assert [e.to for e in mail.outbox] == [["colleague@shop.example"]]


def test_tests_are_limited_per_user_and_hour(settings, frozen_clock):
    settings.TEST_SENDS_PER_HOUR = 2
    user, client = marketer()
    _, other = marketer("other@shop.example")

    codes = [client.post(reverse(URL), draft(to=user.email)).status_code for _ in range(3)]

    assert codes == [200, 200, 429]
    assert other.post(reverse(URL), draft(to="other@shop.example")).status_code == 200
    frozen_clock.advance(hours=1)
    assert client.post(reverse(URL), draft(to=user.email)).status_code == 200
    assert len(mail.outbox) == 4


def test_a_draft_with_problems_is_not_sent():
    user, client = marketer()

    response = client.post(reverse(URL), draft(to=user.email, html_body="<p>{{ oops </p>"))

    assert response.status_code == 400 and "nothing was sent" in response.json()["error"]
    assert mail.outbox == []


def test_a_test_send_needs_the_change_permission():
    user, client = marketer("me@shop.example", "view_messagetemplate")

    assert client.post(reverse(URL), draft(to=user.email)).status_code == 403
    assert mail.outbox == []
