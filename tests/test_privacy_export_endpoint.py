"""POST /privacy/<token>/export: the export emailed to the address on file, and nothing else."""
import json

import pytest
from django.core import mail
from django.test import Client

from campaigns.models import PrivacyRequest
from campaigns.services.gdpr import customer_erase
from campaigns.tokens import unsubscribe_token
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def url(token: str) -> str:
    return f"/privacy/{token}/export"


@pytest.fixture
def customer():
    return CustomerFactory(email="nils@example.se", first_name="Nils")


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)  # as a mail client or another site would post


def test_a_post_emails_one_export_to_the_address_on_file(customer, client, frozen_clock,
                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(unsubscribe_token(customer_id=customer.pk)))

    assert response.status_code == 200
    assert "Request received" in response.content.decode()
    [email] = mail.outbox
    assert email.to == ["nils@example.se"]
    # In the (Swedish) customer's language.
    assert email.subject == "Dina uppgifter hos Nordic Goods AB"
    assert "Du bad om en kopia av de uppgifter Nordic Goods AB har om dig" in email.body
    assert "List-Unsubscribe" not in email.extra_headers  # transactional
    name, content, mimetype = email.attachments[0]
    assert (name, mimetype) == ("customer-data.json", "application/json")
    assert json.loads(content)["customer"]["first_name"] == "Nils"
    record = PrivacyRequest.objects.get()
    assert (record.actor, record.completed_at, record.counts) == (
        "customer (email link)", frozen_clock.now, {"sent": 1})


def test_a_second_post_the_same_day_sends_nothing_more(customer, client, frozen_clock,
                                                       django_capture_on_commit_callbacks):
    token = unsubscribe_token(customer_id=customer.pk)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(token))
        second = client.post(url(token))
        frozen_clock.advance(hours=25)
        client.post(url(token))

    assert second.status_code == 200
    assert len(mail.outbox) == 2


def test_gets_change_nothing(customer, client):
    token = unsubscribe_token(customer_id=customer.pk)

    responses = [client.get(url(token)) for _ in range(5)]

    assert {r.status_code for r in responses} == {200}
    assert "Email me a copy" in responses[0].content.decode()
    assert mail.outbox == [] and not PrivacyRequest.objects.exists()


@pytest.mark.parametrize("token", ["forged", "unknown-customer", "erased"])
def test_a_bad_token_gets_the_same_answer_and_nothing_happens(customer, client, token,
                                                              django_capture_on_commit_callbacks):
    known = client.post(url(unsubscribe_token(customer_id=customer.pk))).content
    mail.outbox.clear()
    PrivacyRequest.objects.all().delete()
    if token == "forged":
        token = unsubscribe_token(customer_id=customer.pk)[:-2] + "xx"
    elif token == "unknown-customer":
        token = unsubscribe_token(customer_id=customer.pk + 1000)
    else:
        erased = CustomerFactory()
        customer_erase(customer=erased, actor="command")
        PrivacyRequest.objects.all().delete()
        token = unsubscribe_token(customer_id=erased.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(token))

    assert (response.status_code, response.content) == (200, known)
    assert mail.outbox == [] and not PrivacyRequest.objects.exists()


def test_the_task_carries_only_the_request_id(customer, client, monkeypatch,
                                              django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("campaigns.tasks.privacy_export_send.apply_async",
                        lambda args, **kwargs: queued.append(tuple(args)))

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(unsubscribe_token(customer_id=customer.pk)))

    assert queued == [(PrivacyRequest.objects.get().pk,)]
