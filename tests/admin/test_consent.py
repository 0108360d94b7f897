"""Consent log and suppression admin: proof is append-only; suppressions are added by address."""
import pytest
from django.urls import reverse

from campaigns.models import ConsentEvent, Suppression
from campaigns.services.consent import consent_record, email_hash
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_consent_proof_can_be_read_but_not_changed_or_deleted(admin_client):
    customer = CustomerFactory()
    consent_record(customer=customer, granted=True, source="api")
    event = ConsentEvent.objects.get()
    change = reverse("admin:campaigns_consentevent_change", args=[event.pk])

    read = admin_client.get(change)
    edit = admin_client.post(change, {"granted": ""})
    delete = admin_client.post(
        reverse("admin:campaigns_consentevent_delete", args=[event.pk]), {"post": "yes"}
    )
    add = admin_client.get(reverse("admin:campaigns_consentevent_add"))

    assert read.status_code == 200
    assert (edit.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    event.refresh_from_db()
    assert event.granted is True


def test_a_marketer_suppresses_an_address_and_only_its_hash_is_kept(admin_client):
    response = admin_client.post(
        reverse("admin:campaigns_suppression_add"),
        {"email": "Someone@Example.com ", "reason": "manual"},
    )

    assert response.status_code == 302
    row = Suppression.objects.get()
    assert (row.email_hash, row.reason) == (email_hash("someone@example.com"), "manual")


def test_suppressing_an_address_twice_keeps_one_row(admin_client):
    url = reverse("admin:campaigns_suppression_add")
    admin_client.post(url, {"email": "a@example.com", "reason": "bounced"})

    admin_client.post(url, {"email": "a@example.com", "reason": "manual"})

    assert list(Suppression.objects.values_list("reason", flat=True)) == ["bounced"]


def test_the_suppression_list_is_searched_by_address(admin_client):
    admin_client.post(reverse("admin:campaigns_suppression_add"),
                      {"email": "a@example.com", "reason": "manual"})
    admin_client.post(reverse("admin:campaigns_suppression_add"),
                      {"email": "b@example.com", "reason": "manual"})

    response = admin_client.get(
        reverse("admin:campaigns_suppression_changelist"), {"q": "b@example.com"}
    )

    assert [s.email_hash for s in response.context["cl"].result_list] == [
        email_hash("b@example.com")
    ]


def test_a_suppression_cannot_be_deleted(admin_client):
    admin_client.post(reverse("admin:campaigns_suppression_add"),
                      {"email": "a@example.com", "reason": "manual"})
    row = Suppression.objects.get()

    response = admin_client.post(
        reverse("admin:campaigns_suppression_delete", args=[row.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Suppression.objects.exists()
