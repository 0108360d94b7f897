"""The audit trail: who changed what and when, before and after; never on the send path."""
import datetime as dt

import pytest
from django.contrib import admin
from django.urls import reverse

from campaigns.audit import AUDITED
from campaigns.models import Campaign, Customer, Event, Message, TemplateTranslation
from campaigns.services.consent import consent_record
from campaigns.services.journeys import campaign_pause
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.factories import (
    CampaignFactory, CustomerFactory, JourneyStepFactory, TemplateTranslationFactory,
)


def audit_rows() -> int:
    return sum(entry.model.history.count() for entry in AUDITED)


def history_page(client, obj) -> str:
    url = reverse(f"admin:campaigns_{obj._meta.model_name}_history", args=[obj.pk])
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_an_admin_edit_of_a_template_text_is_recorded_with_the_user_and_before_and_after(
    admin_client, admin_user, frozen_clock,
):
    translation = TemplateTranslationFactory(subject="Hello {{ customer.first_name }}")
    frozen_clock.advance(hours=2)
    url = reverse("admin:campaigns_templatetranslation_change", args=[translation.pk])

    response = admin_client.post(url, {
        "template": translation.template_id, "locale": "en",
        "subject": "Welcome back, {{ customer.first_name }}",
        "html_body": translation.html_body, "text_body": translation.text_body,
    })

    assert response.status_code == 302
    latest = translation.history.latest()
    assert latest.history_type == "~"
    assert latest.history_user == admin_user
    assert latest.history_date == frozen_clock.now  # the one clock, not the wall clock
    assert latest.subject == "Welcome back, {{ customer.first_name }}"
    assert latest.version == 2  # the saved value, not the F() expression the form bumps with
    assert latest.prev_record.subject == "Hello {{ customer.first_name }}"
    page = history_page(admin_client, translation.template)
    assert "Hello {{ customer.first_name }}" in page and "Welcome back" in page
    assert admin_user.username in page and "translation “en”" in page


@pytest.mark.django_db
def test_pausing_from_the_admin_is_attributed_to_the_user(admin_client, admin_user):
    translation = TemplateTranslationFactory()
    campaign = CampaignFactory(status=Campaign.Status.ACTIVE)
    JourneyStepFactory(campaign=campaign, template=translation.template)

    admin_client.post(reverse("admin:campaigns_campaign_changelist"),
                      {"action": "pause", "_selected_action": [campaign.pk]})

    latest = campaign.history.latest()
    assert (latest.status, latest.history_user) == (Campaign.Status.PAUSED, admin_user)
    page = history_page(admin_client, campaign)
    assert "Active" in page and "Paused" in page and admin_user.username in page


@pytest.mark.django_db
def test_a_change_outside_a_request_is_said_to_be_the_systems(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.ACTIVE)

    campaign_pause(campaign=campaign)

    assert campaign.history.latest().history_user is None
    assert "the system" in history_page(admin_client, campaign)


@pytest.mark.django_db
def test_the_campaign_history_shows_its_steps_in_words(admin_client, admin_user):
    campaign = CampaignFactory(name="Win-back")
    step = JourneyStepFactory(campaign=campaign, kind="wait", template=None,
                              wait_duration=dt.timedelta(days=3))
    step.wait_duration = dt.timedelta(days=5)
    step.save()

    page = history_page(admin_client, campaign)

    assert "step 0 (Wait)" in page
    assert "3 d" in page and "5 d" in page  # durations in words, not "3 00:00:00"
    assert "3 00:00:00" not in page


@pytest.mark.django_db
def test_nobody_can_edit_the_audit_trail_in_the_admin():
    registered = {model.__name__ for model in admin.site._registry}
    assert not any(name.startswith("Historical") for name in registered)


@pytest.mark.django_db
def test_deleting_a_campaign_keeps_its_history():
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    JourneyStepFactory(campaign=campaign)
    pk = campaign.pk

    campaign.delete()

    history = Campaign.history.filter(id=pk)
    assert [row.history_type for row in history.order_by("history_id")] == ["+", "-"]
    assert JourneyStepFactory._meta.model.history.filter(campaign_id=pk, history_type="-").exists()


@pytest.mark.django_db
def test_sending_writes_no_audit_row(welcome, policy, frozen_clock):
    customers = CustomerFactory.create_batch(6)
    for customer in customers:
        consent_record(customer=customer, granted=True, source="api")
        Event.objects.create(customer=customer, type="signup", event_id=f"s-{customer.pk}",
                             occurred_at=frozen_clock.now)
    before = audit_rows()

    scheduler_tick(now=frozen_clock.now)
    messages_send_due(now=frozen_clock.now)

    assert Message.objects.filter(state=Message.State.SENT).count() == len(customers)
    assert audit_rows() == before
    assert Customer.objects.count() == len(customers)
    assert TemplateTranslation.history.count() == 3


@pytest.mark.django_db
def test_a_deleted_campaigns_history_stays_readable(admin_client, admin_user):
    campaign = CampaignFactory(name="Old spring sale", status=Campaign.Status.DRAFT)
    pk = campaign.pk
    admin_client.post(reverse("admin:campaigns_campaign_delete", args=[pk]), {"post": "yes"})
    assert not Campaign.objects.filter(pk=pk).exists()
    url = reverse("admin:campaigns_campaign_deleted")

    listing = admin_client.get(url).content.decode()
    trail = admin_client.get(url, {"id": pk}).content.decode()
    bad = admin_client.get(url, {"id": "'; drop table"})

    assert "Old spring sale" in listing
    assert f"{admin_user.username}: campaign deleted" in trail
    assert admin_user.username in trail
    assert bad.status_code == 200 and "No deleted campaign has that number" in bad.content.decode()


@pytest.mark.django_db
def test_the_deleted_campaigns_page_needs_the_right_to_see_campaigns(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("intern", password="pw", is_staff=True))

    response = client.get(reverse("admin:campaigns_campaign_deleted"))

    assert response.status_code == 403
