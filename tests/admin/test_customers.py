"""Customer admin: the message history in plain words, and consent only through the service."""
import datetime as dt
import html
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from campaigns.models import ConsentEvent, Customer, Message, MessageLog
from campaigns.services.consent import consent_record
from tests.factories import CustomerFactory

CHANGELIST = reverse("admin:campaigns_customer_changelist")


def page_text(response) -> str:
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(text))


def change_url(customer) -> str:
    return reverse("admin:campaigns_customer_change", args=[customer.pk])


def test_the_change_page_tells_when_and_in_which_zone_the_welcome_was_sent(admin_client, shop):
    message = Message.objects.select_related("customer").filter(state="sent").first()
    zone = message.customer.time_zone or "UTC"

    text = page_text(admin_client.get(change_url(message.customer)))

    assert "Why did / didn't this customer get each message?" in text
    assert f"Welcome — step 0: Sent {message.sent_at.astimezone(dt.timezone.utc):%Y-%m-%d}" in text
    assert "— sent" in text and zone in text


def test_the_change_page_explains_an_expired_welcome(admin_client, shop):
    message = Message.objects.filter(state="expired").first()

    text = page_text(admin_client.get(change_url(message.customer)))

    assert "Welcome — step 0: Expired, not sent: its deadline had passed." in text
    assert "trigger handled" in text


def test_a_deferral_reads_as_a_sentence_in_the_customers_time_zone(admin_client, shop):
    message = Message.objects.filter(state="sent").select_related("customer").first()
    message.customer.time_zone = "Europe/Stockholm"
    message.customer.save(update_fields=["time_zone"])
    MessageLog.objects.create(
        message=message, at=shop.now, state="deferred", reason="frequency_cap",
        detail="deferred until 2026-03-03 08:00 UTC",
    )

    text = page_text(admin_client.get(change_url(message.customer)))

    assert "deferred: frequency cap until 2026-03-03 09:00 Europe/Stockholm" in text


@pytest.mark.django_db
def test_a_customer_without_messages_is_told_so(admin_client):
    customer = CustomerFactory()

    text = page_text(admin_client.get(change_url(customer)))

    assert "No messages yet" in text
    assert "no marketing consent, so marketing emails are skipped" in text


@pytest.mark.django_db
def test_withdrawing_consent_records_proof_and_reports_the_counts(admin_client):
    consenting = [CustomerFactory(), CustomerFactory()]
    for customer in consenting:
        consent_record(customer=customer, granted=True, source="api")
    never_agreed = CustomerFactory()

    response = admin_client.post(CHANGELIST, {
        "action": "withdraw_marketing_consent",
        "_selected_action": [c.pk for c in [*consenting, never_agreed]],
    }, follow=True)

    notes = [str(m) for m in get_messages(response.wsgi_request)]
    # The customer who never agreed gets an explicit "no" on record too.
    assert notes == ["Marketing consent withdrawn for 3 customers."]
    assert not Customer.objects.filter(marketing_consent=True).exists()
    proof = ConsentEvent.objects.filter(granted=False)
    assert proof.count() == 3
    assert set(proof.values_list("source", "method")) == {("admin", "admin action by admin")}


@pytest.mark.django_db
def test_withdrawing_twice_records_nothing_the_second_time(admin_client):
    customer = CustomerFactory()
    consent_record(customer=customer, granted=True, source="api")
    action = {"action": "withdraw_marketing_consent", "_selected_action": [customer.pk]}
    admin_client.post(CHANGELIST, action)

    response = admin_client.post(CHANGELIST, action, follow=True)

    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert "1 customer had already withdrawn (nothing recorded)." in notes
    assert ConsentEvent.objects.filter(granted=False).count() == 1


@pytest.mark.django_db
def test_consent_and_lifecycle_facts_cannot_be_edited_in_the_form(admin_client):
    customer = CustomerFactory(first_name="Astrid")
    form = admin_client.get(change_url(customer)).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update({
        "first_name": "Greta", "marketing_consent": "on", "order_count": 99, "attributes": "{}",
        **{f"{inline}-{count}": 0
           for inline in ("orders", "subscriptions", "consent_events", "messages", "points",
                          "survey_responses")
           for count in ("TOTAL_FORMS", "INITIAL_FORMS")},
    })

    response = admin_client.post(change_url(customer), data)

    customer.refresh_from_db()
    assert response.status_code == 302
    assert (customer.first_name, customer.marketing_consent, customer.order_count) == (
        "Greta", False, 0
    )


@pytest.mark.django_db
def test_customers_cannot_be_deleted_from_the_admin(admin_client):
    customer = CustomerFactory()

    response = admin_client.post(
        reverse("admin:campaigns_customer_delete", args=[customer.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_the_list_searches_by_email_and_filters_by_consent(admin_client, shop):
    customer = Customer.objects.filter(marketing_consent=True).first()

    found = admin_client.get(CHANGELIST, {"q": customer.email})
    consenting = admin_client.get(CHANGELIST, {"marketing_consent__exact": "1"})

    assert list(found.context["cl"].result_list) == [customer]
    assert all(c.marketing_consent for c in consenting.context["cl"].result_list)


@pytest.mark.django_db
def test_an_erased_customer_can_be_read_but_not_edited(admin_client):
    customer = CustomerFactory(erased_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))

    read = admin_client.get(change_url(customer))
    edit = admin_client.post(change_url(customer), {"first_name": "Back"})

    customer.refresh_from_db()
    assert (read.status_code, edit.status_code) == (200, 403)
    assert customer.first_name != "Back"
