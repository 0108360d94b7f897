"""The campaign page's starters, status buttons (with the activation confirmation) and
duplicate."""
import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign, Customer, Enrollment, JourneyStep, StepVariant
from campaigns.selectors.campaign_reach import campaign_reach_at_once
from campaigns.services.campaign_drafts import campaign_create_from_starter
from campaigns.services.journeys import campaign_activate, campaign_pause
from campaigns.services.planning import enrollments_plan
from campaigns.services.scheduling import scheduler_tick
from campaigns.starters import STARTERS
from campaigns.templating import template_validate
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory, MessageTemplateFactory,
    OrderFactory, TemplateTranslationFactory,
)

pytestmark = pytest.mark.django_db

START = reverse("admin:campaigns_campaign_start")
CHANGELIST = reverse("admin:campaigns_campaign_changelist")


def status_url(campaign):
    return reverse("admin:campaigns_campaign_status", args=[campaign.pk])


def notes(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# -- starters ------------------------------------------------------------------------------


def test_the_add_button_leads_to_the_starters(admin_client):
    listing = admin_client.get(CHANGELIST).content.decode()
    page = admin_client.get(START).content.decode()

    assert f'href="{START}"' in listing
    for key, starter in STARTERS.items():
        assert f'value="{key}"' in page
        assert str(starter["title"]) in page


def test_choosing_a_starter_makes_a_draft_with_its_steps_and_opens_it(admin_client):
    response = admin_client.post(START, {"starter": "winback"})

    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    assert (campaign.status, campaign.trigger, campaign.trigger_config) == (
        Campaign.Status.DRAFT, Campaign.Trigger.INACTIVITY, {"days": 90})
    assert campaign.exit_event_types == ["purchase"]
    steps = list(campaign.steps.order_by("position").select_related("template"))
    assert [s.kind for s in steps] == ["send", "wait", "send"]
    assert steps[1].wait_duration == dt.timedelta(days=14)
    assert {t.locale for t in steps[0].template.translations.all()} == {"en", "nb", "sv"}
    assert steps[0].template != steps[2].template


def test_a_second_campaign_from_one_starter_gets_its_own_names_and_templates(admin_client):
    first = campaign_create_from_starter(key="welcome")
    second = campaign_create_from_starter(key="welcome")

    assert (first.name, second.name) == ("Welcome", "Welcome 2")
    assert first.slug != second.slug
    first_template = first.steps.get().template
    second_template = second.steps.get().template
    assert first_template.pk != second_template.pk
    assert first_template.name != second_template.name


def test_an_unknown_starter_is_refused_in_words(admin_client):
    response = admin_client.post(START, {"starter": "../../etc"}, follow=True)

    assert "Choose one of the starters." in notes(response)
    assert not Campaign.objects.exists()


def test_the_starters_own_messages_compile_in_every_language():
    for key in ("birthday", "at_risk"):
        campaign = campaign_create_from_starter(key=key)
        step = campaign.steps.get(kind=JourneyStep.Kind.SEND)
        translations = list(step.template.translations.all())
        assert {t.locale for t in translations} == {"en", "sv", "nb"}
        for translation in translations:
            template_validate(subject=translation.subject, html_body=translation.html_body,
                              text_body=translation.text_body)


def _trigger_for(key: str, campaign: Campaign, clock) -> None:
    """Make the customer whose next tick starts the starter's journey."""
    customer = CustomerFactory(attributes={"birthday": "1990-03-03"})
    kinds = {"welcome": "signup", "survey": "purchase", "at_risk": "lifecycle.at_risk",
             "abandoned_cart": "checkout.started", "browse_abandonment": "product.viewed",
             "reorder": "product.reorder_due", "promoter_invite": "survey.promoter",
             "referral_reward": "referral.rewarded", "detractor_followup": "survey.detractor"}
    if key in kinds:
        kind = kinds[key]
        EventFactory(customer=customer, type=kind, occurred_at=clock.now)
    elif key == "bonus":
        for days_ago in (30, 20, 0):
            order = OrderFactory(customer=customer, placed_at=clock.now - dt.timedelta(days=days_ago))
        EventFactory(customer=customer, type="purchase", occurred_at=clock.now, order=order)
    elif key == "winback":
        Customer.objects.filter(pk=customer.pk).update(
            last_order_at=clock.now - dt.timedelta(days=90) + dt.timedelta(hours=1))
        clock.advance(hours=2)
    elif key == "birthday":
        clock.advance(days=1)  # the clock starts on 2 March: the 3rd is tomorrow


@pytest.mark.parametrize("key", [k for k in STARTERS if k != "blank"])
def test_each_starter_activates_and_the_scheduler_runs_its_journey(key, frozen_clock, policy):
    campaign = campaign_create_from_starter(key=key)

    assert campaign_activate(campaign=campaign)
    _trigger_for(key, campaign, frozen_clock)
    scheduler_tick(now=frozen_clock.now)

    assert Enrollment.objects.filter(campaign=campaign).count() == 1
    for _ in range(4):
        frozen_clock.advance(days=5)
        scheduler_tick(now=frozen_clock.now)


def test_the_blank_starter_is_a_draft_without_steps_that_asks_for_its_trigger(admin_client):
    admin_client.post(START, {"starter": "blank"})
    campaign = Campaign.objects.get()

    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    assert campaign.status == Campaign.Status.DRAFT and not campaign.steps.exists()
    assert page.status_code == 200
    assert "Event: not chosen yet" in page.content.decode()


# -- status buttons and the activation confirmation ---------------------------------------


def ready(**fields) -> Campaign:
    campaign = CampaignFactory(**fields)
    JourneyStepFactory(campaign=campaign, template=TemplateTranslationFactory().template)
    return campaign


def test_the_page_offers_the_moves_its_status_allows(admin_client):
    pages = {status: admin_client.get(reverse("admin:campaigns_campaign_change", args=[
        ready(status=status).pk])).content.decode() for status in Campaign.Status.values}

    assert 'value="activate"' in pages["draft"] and ">Activate<" in pages["draft"]
    assert 'value="pause"' in pages["active"] and 'value="activate"' not in pages["active"]
    assert ">Resume<" in pages["paused"]
    assert 'value="archive"' not in pages["archived"]
    assert all(">Duplicate<" in page for page in pages.values())


@pytest.mark.parametrize(("move", "before", "after"), [
    ("activate", Campaign.Status.DRAFT, Campaign.Status.ACTIVE),
    ("pause", Campaign.Status.ACTIVE, Campaign.Status.PAUSED),
    ("activate", Campaign.Status.PAUSED, Campaign.Status.ACTIVE),
    ("archive", Campaign.Status.PAUSED, Campaign.Status.ARCHIVED),
])
def test_the_buttons_move_the_status_through_the_services(admin_client, move, before, after):
    campaign = ready(status=before)

    response = admin_client.post(status_url(campaign), {"to": move}, follow=True)

    campaign.refresh_from_db()
    assert campaign.status == after
    assert response.redirect_chain[-1][0].endswith(f"/{campaign.pk}/change/")


@pytest.mark.parametrize("data", [{"to": "delete"}, {"to": ""}, {}, {"to": "activate\x00"}])
def test_a_bad_move_is_refused_in_words(admin_client, data):
    campaign = ready(status=Campaign.Status.DRAFT)

    response = admin_client.post(status_url(campaign), data, follow=True)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert "Choose activate, pause or archive." in notes(response)


def test_an_incomplete_campaign_is_not_activated_and_says_why(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT, name="Empty")

    response = admin_client.post(status_url(campaign), {"to": "activate"}, follow=True)

    assert any("Empty cannot be activated yet: It has no steps." in n for n in notes(response))


def test_the_status_and_duplicate_urls_refuse_get_and_unknown_campaigns(admin_client):
    campaign = ready()

    assert admin_client.get(status_url(campaign)).status_code == 405
    assert admin_client.post(reverse("admin:campaigns_campaign_status", args=[999999]),
                             {"to": "pause"}).status_code == 404
    assert admin_client.get(reverse("admin:campaigns_campaign_duplicate",
                                    args=[campaign.pk])).status_code == 405


def test_a_viewer_cannot_move_duplicate_or_start_a_campaign():
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    client = Client()
    client.force_login(viewer)
    campaign = ready()

    assert client.post(status_url(campaign), {"to": "pause"}).status_code == 403
    assert client.post(reverse("admin:campaigns_campaign_duplicate",
                               args=[campaign.pk])).status_code == 403
    assert client.post(START, {"starter": "welcome"}).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE and Campaign.objects.count() == 1


def lapsed_during_pause(clock, count: int) -> Campaign:
    """A win-back paused at the start; `count` customers reach 90 days without an order
    ten days later."""
    campaign = campaign_create_from_starter(key="winback")
    campaign_activate(campaign=campaign)
    campaign_pause(campaign=campaign)
    for _ in range(count):
        customer = CustomerFactory()
        Customer.objects.filter(pk=customer.pk).update(
            last_order_at=clock.now - dt.timedelta(days=80))
    return campaign


def test_resuming_asks_first_when_more_customers_than_the_setting_would_enter_at_once(
    admin_client, frozen_clock, settings
):
    settings.CAMPAIGN_CONFIRM_ABOVE = 2
    campaign = lapsed_during_pause(frozen_clock, 3)

    # Nobody has lapsed yet: it would resume without a question.
    campaign.refresh_from_db()
    assert campaign_reach_at_once(campaign=campaign, now=frozen_clock.now).count == 0
    frozen_clock.advance(days=20)

    response = admin_client.post(status_url(campaign), {"to": "activate"})

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    page = response.content.decode()
    assert "3 customers would enter at once." in page
    assert ("3 customers reached 90 days without an order while the campaign was paused "
            "and would enter it now.") in page
    assert "more than 2 customers at once" in page

    response = admin_client.post(status_url(campaign), {"to": "activate", "confirmed": "yes"})

    campaign.refresh_from_db()
    assert response.status_code == 302 and campaign.status == Campaign.Status.ACTIVE
    enrollments_plan(now=frozen_clock.now)
    assert campaign.enrollments.count() == 3


def test_at_or_below_the_setting_it_activates_without_asking(admin_client, frozen_clock, settings):
    settings.CAMPAIGN_CONFIRM_ABOVE = 3
    campaign = lapsed_during_pause(frozen_clock, 3)
    frozen_clock.advance(days=20)

    response = admin_client.post(status_url(campaign), {"to": "activate"})

    campaign.refresh_from_db()
    assert response.status_code == 302 and campaign.status == Campaign.Status.ACTIVE


def test_the_list_action_asks_too_and_keeps_the_selection(admin_client, frozen_clock, settings):
    settings.CAMPAIGN_CONFIRM_ABOVE = 1
    campaign = lapsed_during_pause(frozen_clock, 2)
    other = ready(status=Campaign.Status.DRAFT)
    frozen_clock.advance(days=20)
    selection = {"action": "activate", "_selected_action": [campaign.pk, other.pk]}

    response = admin_client.post(CHANGELIST, selection)

    assert "2 customers would enter at once." in response.content.decode()
    assert set(Campaign.objects.values_list("status", flat=True)) == {"paused", "draft"}

    response = admin_client.post(CHANGELIST, {**selection, "confirmed": "yes"}, follow=True)

    assert "2 campaigns activated." in notes(response)


@pytest.mark.parametrize("trigger", ["inactivity", "segment_entry", "schedule", "date_attribute",
                                     "event"])
def test_the_predicted_first_wave_is_what_the_planner_enrols(trigger, frozen_clock):
    from campaigns.models import Segment, SegmentMembership

    segment = Segment.objects.create(name="Everyone", rule={})
    config = {
        "inactivity": {"days": 30},
        "segment_entry": {"segment": segment.pk},
        "schedule": {"first_run": "2026-03-05T09:00:00+00:00", "every_days": 7,
                     "segment": segment.pk, "share": 100},
        "date_attribute": {"attribute": "birthday"},
        "event": {},
    }[trigger]
    campaign = ready(status=Campaign.Status.DRAFT, trigger=trigger, trigger_config=config,
                     trigger_event_type="purchase" if trigger == "event" else "", deadline=None)
    campaign_activate(campaign=campaign)
    campaign_pause(campaign=campaign)
    for index in range(4):
        customer = CustomerFactory(attributes={"birthday": f"1990-03-0{3 + index % 2}"})
        Customer.objects.filter(pk=customer.pk).update(
            last_order_at=frozen_clock.now - dt.timedelta(days=25 + index))
        SegmentMembership.objects.create(segment=segment, customer=customer,
                                         entered_at=frozen_clock.now)
        EventFactory(customer=customer, type="purchase", occurred_at=frozen_clock.now)
    frozen_clock.advance(days=10)
    campaign.refresh_from_db()

    predicted = campaign_reach_at_once(campaign=campaign, now=frozen_clock.now)
    campaign_activate(campaign=campaign)
    enrollments_plan(now=frozen_clock.now)

    assert predicted.count == campaign.enrollments.count() > 0, predicted.why


# -- duplicate --------------------------------------------------------------------------------


def test_duplicate_makes_a_draft_copy_with_steps_and_variants_sharing_templates(admin_client):
    original = ready(name="Spring sale", status=Campaign.Status.ACTIVE,
                     trigger_config={"nth_order": 2}, exit_event_types=["refund"])
    step = original.steps.get()
    StepVariant.objects.create(step=step, name="B", template=MessageTemplateFactory(), weight=2)
    JourneyStepFactory(campaign=original, position=1, kind=JourneyStep.Kind.WAIT, template=None,
                       wait_duration=dt.timedelta(days=3))

    response = admin_client.post(reverse("admin:campaigns_campaign_duplicate", args=[original.pk]))

    copy = Campaign.objects.get(name="Spring sale (copy)")
    assert response["Location"] == reverse("admin:campaigns_campaign_change", args=[copy.pk])
    assert (copy.status, copy.trigger_config, copy.exit_event_types) == (
        Campaign.Status.DRAFT, {"nth_order": 2}, ["refund"])
    assert (copy.event_watermark, copy.planned_through) == (0, None)
    pairs = list(copy.steps.order_by("position").values_list("kind", "template", "wait_duration"))
    assert pairs == [("send", step.template_id, None), ("wait", None, dt.timedelta(days=3))]
    assert list(StepVariant.objects.filter(step__campaign=copy).values_list("name", "weight")) == [
        ("B", 2)]
    assert original.steps.count() == 2  # the original is untouched

    admin_client.post(CHANGELIST, {"action": "duplicate", "_selected_action": [original.pk]})
    assert Campaign.objects.filter(name="Spring sale (copy) 2").exists()


def test_a_draft_says_who_enters_first_in_words(frozen_clock):
    from campaigns.models import Segment, SegmentMembership

    segment = Segment.objects.create(name="Loyal", rule={})
    for _ in range(4):
        SegmentMembership.objects.create(segment=segment, customer=CustomerFactory())
    schedule = CampaignFactory(status=Campaign.Status.DRAFT, trigger="schedule", trigger_config={
        "first_run": "2026-03-05T09:00:00+00:00", "every_days": 30, "segment": segment.pk,
        "share": 50})
    winback = CampaignFactory(status=Campaign.Status.DRAFT, trigger="inactivity",
                              trigger_config={"days": 90})
    entering = CampaignFactory(status=Campaign.Status.DRAFT, trigger="segment_entry",
                               trigger_config={"segment": segment.pk})

    first_run = campaign_reach_at_once(campaign=schedule, now=frozen_clock.now)
    assert first_run.count == 2
    assert first_run.why.startswith("At its next run, March 5, 2026")
    assert campaign_reach_at_once(campaign=winback, now=frozen_clock.now).why == (
        "Only customers who reach 90 days without an order from now on enter.")
    assert campaign_reach_at_once(campaign=entering, now=frozen_clock.now).count == 0
