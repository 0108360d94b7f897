"""Campaign admin: status actions go through the services and report counts."""
import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from campaigns.models import Campaign, Message
from campaigns.services.journeys import campaign_activate
from campaigns.services.planning import enrollments_plan
from tests.factories import (
    CampaignFactory, EventFactory, JourneyStepFactory, TemplateTranslationFactory,
)

CHANGELIST = reverse("admin:campaigns_campaign_changelist")


def run_action(client, action: str, *campaigns):
    response = client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [c.pk for c in campaigns]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def ready_campaign(**fields) -> Campaign:
    translation = TemplateTranslationFactory()
    campaign = CampaignFactory(**fields)
    JourneyStepFactory(campaign=campaign, template=translation.template)
    return campaign


@pytest.mark.django_db
def test_pausing_active_campaigns_changes_their_status_and_reports_how_many(admin_client):
    first, second = ready_campaign(), ready_campaign()

    notes = run_action(admin_client, "pause", first, second)

    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, second.status) == (Campaign.Status.PAUSED, Campaign.Status.PAUSED)
    assert "2 campaigns paused." in notes


def test_pausing_leaves_the_campaigns_pending_messages_pending(admin_client, shop):
    welcome = Campaign.objects.get(slug="welcome")
    before = dict(Message.objects.values_list("pk", "state"))

    notes = run_action(admin_client, "pause", welcome)

    assert "1 campaign paused." in notes
    assert dict(Message.objects.values_list("pk", "state")) == before


@pytest.mark.django_db
def test_pausing_a_draft_is_refused_with_the_reason(admin_client):
    draft = ready_campaign(status=Campaign.Status.DRAFT, name="Spring sale")

    notes = run_action(admin_client, "pause", draft)

    draft.refresh_from_db()
    assert draft.status == Campaign.Status.DRAFT
    assert "0 campaigns paused." in notes
    assert any("Spring sale is draft: only an active campaign can be paused" in n for n in notes)


@pytest.mark.django_db
def test_activating_resumes_a_paused_campaign_and_counts_the_already_active(admin_client):
    paused = ready_campaign(status=Campaign.Status.PAUSED)
    active = ready_campaign()

    notes = run_action(admin_client, "activate", paused, active)

    paused.refresh_from_db()
    assert paused.status == Campaign.Status.ACTIVE
    assert "1 campaign activated." in notes
    assert "1 campaign was already active." in notes


@pytest.mark.django_db
def test_a_campaign_without_steps_cannot_be_activated(admin_client):
    empty = CampaignFactory(status=Campaign.Status.DRAFT, name="Empty")

    notes = run_action(admin_client, "activate", empty)

    empty.refresh_from_db()
    assert empty.status == Campaign.Status.DRAFT
    assert any("Empty cannot be activated yet: It has no steps." in n for n in notes)


@pytest.mark.django_db
def test_a_send_step_whose_template_lacks_its_default_language_blocks_activation(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    translation = TemplateTranslationFactory(locale="sv", template__default_locale="en")
    JourneyStepFactory(campaign=campaign, template=translation.template)

    notes = run_action(admin_client, "activate", campaign)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert any("has no translation in its default locale (en)" in n for n in notes)


@pytest.mark.django_db
def test_an_archived_campaign_stays_archived(admin_client):
    archived = ready_campaign(status=Campaign.Status.ARCHIVED, name="Old")

    notes = run_action(admin_client, "activate", archived)

    archived.refresh_from_db()
    assert archived.status == Campaign.Status.ARCHIVED
    assert any("Old is archived: an archived campaign cannot be activated again" in n
               for n in notes)


@pytest.mark.django_db
def test_archiving_reports_the_count(admin_client):
    campaigns = [ready_campaign(), ready_campaign(status=Campaign.Status.PAUSED)]

    notes = run_action(admin_client, "archive", *campaigns)

    assert set(Campaign.objects.values_list("status", flat=True)) == {Campaign.Status.ARCHIVED}
    assert "2 campaigns archived." in notes


def test_the_list_shows_enrollment_and_message_counts(admin_client, shop):
    response = admin_client.get(CHANGELIST)

    welcome = response.context["cl"].result_list[0]
    assert (welcome.n_enrollments, welcome.n_sent, welcome.n_pending) == (6, 5, 0)


@pytest.mark.django_db
def test_the_status_cannot_be_edited_in_the_form(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update({"name": "Renamed", "status": "active", "trigger_config": "{}",
                 "exit_event_types": "[]", "steps-TOTAL_FORMS": 0, "steps-INITIAL_FORMS": 0})

    response = admin_client.post(url, data)

    campaign.refresh_from_db()
    assert response.status_code == 302
    assert (campaign.name, campaign.status) == ("Renamed", Campaign.Status.DRAFT)


@pytest.mark.django_db
def test_only_a_draft_that_never_ran_can_be_deleted(admin_client, admin_user, rf):
    from django.contrib import admin

    draft, active = ready_campaign(status=Campaign.Status.DRAFT), ready_campaign()
    model_admin = admin.site._registry[Campaign]
    request = rf.get("/")
    request.user = admin_user

    assert model_admin.has_delete_permission(request, draft)
    assert not model_admin.has_delete_permission(request, active)
    assert "delete_selected" not in model_admin.get_actions(request)


@pytest.mark.django_db
def test_a_campaign_started_from_draft_answers_only_triggers_that_arrive_after_it(frozen_clock):

    EventFactory(type="signup", occurred_at=frozen_clock.now - dt.timedelta(days=200))
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    JourneyStepFactory(campaign=campaign, template=TemplateTranslationFactory().template)
    campaign_activate(campaign=campaign)
    # A late webhook: it happened two hours ago but reaches us after the start.
    late = EventFactory(type="signup", occurred_at=frozen_clock.now - dt.timedelta(hours=2))

    enrollments_plan(now=frozen_clock.now)

    assert list(campaign.enrollments.values_list("trigger_event", flat=True)) == [late.pk]
