"""The campaign page: trigger settings, exits, durations and steps as plain fields."""
import datetime as dt

import pytest
from django.urls import reverse

from campaigns.models import Campaign, JourneyStep, StepVariant
from tests.factories import (
    CampaignFactory, JourneyStepFactory, MessageTemplateFactory, SentMessageFactory,
)

pytestmark = pytest.mark.django_db


def change_url(campaign):
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk])


def page_data(campaign, steps=(), **fields) -> dict:
    """What the page posts: the campaign's fields, then one block per step."""
    data = {
        "name": campaign.name, "slug": campaign.slug, "trigger": "event",
        "trigger_event_type": "signup", "entry_key": "customer", "priority": "50",
        "deadline_0": "1", "deadline_1": "", "reentry_cooldown_0": "", "reentry_cooldown_1": "",
        "holdout_percent": "0", "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(sum(1 for s in steps if s.get("id"))),
        "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "1000",
    }
    for index, step in enumerate(steps):
        for key, value in step.items():
            data[f"steps-{index}-{key}"] = "" if value is None else str(value)
        data[f"steps-{index}-campaign"] = str(campaign.pk)
    data.update({k: v for k, v in fields.items()})
    return data


def save(client, campaign, steps=(), **fields):
    response = client.post(change_url(campaign), page_data(campaign, steps, **fields))
    campaign.refresh_from_db()
    return response


def errors(response) -> dict:
    form = response.context["adminform"].form
    found = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
    for formset in response.context["inline_admin_formsets"]:
        found["steps"] = [formset.formset.errors, formset.formset.non_form_errors()]
    return found


def send_step(step, position, **more):
    return {"id": step.pk if step else "", "position": position, "kind": "send",
            "template": step.template_id if step else more.pop("template"),
            "on_blocked": "wait", "wait_duration_0": "", "wait_duration_1": "", **more}


# -- the trigger's settings round-trip to the planner's trigger_config ------------------


@pytest.mark.parametrize(("fields", "stored"), [
    ({"trigger": "inactivity", "inactivity_days": "120"}, {"days": 120}),
    ({"trigger": "event", "trigger_event_type": "purchase", "nth_order": "3"}, {"nth_order": 3}),
    ({"trigger": "event", "trigger_event_type": "purchase", "nth_order": ""}, {}),
    ({"trigger": "date_attribute", "date_attribute": "birthday"}, {"attribute": "birthday"}),
])
def test_each_triggers_fields_are_stored_as_the_planner_reads_them(admin_client, fields, stored):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT, trigger_config={"days": 5})

    response = save(admin_client, campaign, **fields)

    assert response.status_code == 302, errors(response)
    assert campaign.trigger_config == stored
    assert campaign.trigger == fields["trigger"]
    if fields["trigger"] != "event":
        assert campaign.trigger_event_type == ""


def test_a_segment_trigger_stores_the_chosen_segment_and_shows_it_again(admin_client):
    from campaigns.models import Segment

    segment = Segment.objects.create(name="Loyal customers", rule={})
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)

    response = save(admin_client, campaign, trigger="segment_entry", trigger_segment=segment.pk)

    assert response.status_code == 302, errors(response)
    assert campaign.trigger_config == {"segment": segment.pk}
    assert campaign.trigger_segment_id() == segment.pk
    form = admin_client.get(change_url(campaign)).context["adminform"].form
    assert form.initial["trigger_segment"] == segment.pk


def test_a_schedule_is_stored_with_its_zone_and_comes_back_in_the_same_fields(admin_client, settings):
    from campaigns.models import Segment

    settings.TIME_ZONE = "Europe/Stockholm"
    segment = Segment.objects.create(name="Promoters", rule={})
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)

    response = save(admin_client, campaign, trigger="schedule", first_run="2026-04-01T09:00",
                    every_days="91", trigger_segment=segment.pk, share="10")

    assert response.status_code == 302, errors(response)
    assert campaign.trigger_config == {"first_run": "2026-04-01T09:00:00+02:00", "every_days": 91,
                                       "segment": segment.pk, "share": 10}
    html = admin_client.get(change_url(campaign)).content.decode()
    assert 'value="2026-04-01T09:00"' in html
    assert 'name="every_days" value="91"' in html


def test_exit_events_are_chosen_from_the_list_or_typed_and_stored_as_a_list(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)

    response = save(admin_client, campaign, exit_events=["purchase", "refund"],
                    exit_events_other="newsletter.unsubscribed, refund")

    assert response.status_code == 302, errors(response)
    assert campaign.exit_event_types == ["purchase", "refund", "newsletter.unsubscribed"]
    form = admin_client.get(change_url(campaign)).context["adminform"].form
    assert form.initial["exit_events"] == ["purchase", "refund"]
    assert form.initial["exit_events_other"] == "newsletter.unsubscribed"


def test_durations_are_typed_in_days_and_hours(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)

    response = save(admin_client, campaign, deadline_0="2", deadline_1="3",
                    reentry_cooldown_0="", reentry_cooldown_1="12")

    assert response.status_code == 302, errors(response)
    assert campaign.deadline == dt.timedelta(days=2, hours=3)
    assert campaign.reentry_cooldown == dt.timedelta(hours=12)


def test_the_page_and_the_list_say_durations_and_triggers_in_words(admin_client):
    campaign = CampaignFactory(name="Win-back", trigger=Campaign.Trigger.INACTIVITY,
                               trigger_event_type="", trigger_config={"days": 90},
                               deadline=dt.timedelta(days=2, hours=3), holdout_percent=10)
    CampaignFactory(name="Bonus", trigger_event_type="purchase",
                    trigger_config={"nth_order": 3}, deadline=dt.timedelta(days=5))
    JourneyStepFactory(campaign=campaign, kind=JourneyStep.Kind.WAIT, template=None,
                       wait_duration=dt.timedelta(days=14), position=0)

    listing = admin_client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    page = admin_client.get(change_url(campaign)).content.decode()

    assert "No order for 90 days" in listing
    assert "Event: purchase (the customer&#x27;s order number 3 only)" in listing
    assert "2 days 3 hours" in listing and "5 days" in listing
    assert "14 days" in page  # the wait step in the picture
    assert "10 % of those who enter get nothing" in page and "10 %" in listing
    assert "{&quot;days&quot;" not in page and "trigger_config" not in page


# -- refused input: the words on the right field, nothing written ------------------------


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"trigger": "inactivity", "inactivity_days": "0"}, "inactivity_days", "greater than or equal to 1"),
    ({"trigger": "inactivity", "inactivity_days": "lots"}, "inactivity_days", "whole number"),
    ({"trigger": "inactivity", "inactivity_days": ""}, "inactivity_days", "This trigger needs it."),
    ({"trigger": "segment_entry", "trigger_segment": "999999"}, "trigger_segment", "valid choice"),
    ({"trigger": "segment_entry", "trigger_segment": ""}, "trigger_segment", "This trigger needs it."),
    ({"trigger": "schedule", "first_run": "soon", "every_days": "7"}, "first_run", "valid date/time"),
    ({"trigger": "schedule", "first_run": "2026-04-01T09:00", "every_days": "0"}, "every_days",
     "greater than or equal to 1"),
    ({"trigger": "event", "trigger_event_type": ""}, "trigger_event_type", "This trigger needs it."),
    ({"trigger": "event", "trigger_event_type": "buy <script>"}, "trigger_event_type", "is not an event type"),
    ({"exit_events_other": "ok, not ok"}, "exit_events_other", "is not an event type"),
    ({"exit_events": ["nonsense"]}, "exit_events", "valid choice"),
    ({"deadline_0": "0", "deadline_1": "0"}, "deadline", "at least one hour"),
    ({"deadline_0": "-1"}, "deadline", "greater than or equal to 0"),
    ({"deadline_1": "24"}, "deadline", "less than or equal to 23"),
    ({"holdout_percent": "101"}, "holdout_percent", "between 0 and 100"),
    ({"trigger": "nonsense"}, "trigger", "valid choice"),
    ({"name": "x\x00y"}, "name", "Null characters"),
])
def test_bad_input_is_refused_on_its_field_and_nothing_is_saved(admin_client, fields, field, words):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT, trigger_config={},
                               name="Untouched")

    response = save(admin_client, campaign, **fields)

    assert response.status_code == 200
    found = errors(response)
    assert any(words in message for message in found.get(field, [])), found
    assert campaign.name == "Untouched" and campaign.trigger_config == {}


def test_a_send_step_without_a_template_is_refused_on_the_template_field(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)

    response = save(admin_client, campaign, steps=[
        {"position": 0, "kind": "send", "template": "", "on_blocked": "wait"},
        {"position": 1, "kind": "wait", "wait_duration_0": "", "wait_duration_1": ""},
        {"position": 2, "kind": "reward", "reward_points": ""},
    ])

    assert response.status_code == 200
    inline = response.context["inline_admin_formsets"][0].formset
    assert "A send step needs a template." in inline.forms[0].errors["template"]
    assert "A wait step needs a time to wait" in inline.forms[1].errors["wait_duration"][0]
    assert inline.forms[1].non_field_errors() == []  # said once, on its field
    assert "Give the number of points" in inline.forms[2].errors["reward_points"][0]
    assert not campaign.steps.exists()


# -- steps: order, kinds and variants -----------------------------------------------------


def test_steps_are_reordered_by_their_page_order_without_breaking_unique_positions(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    first = JourneyStepFactory(campaign=campaign, position=0)
    wait = JourneyStepFactory(campaign=campaign, position=1, kind=JourneyStep.Kind.WAIT,
                              template=None, wait_duration=dt.timedelta(days=14))
    last = JourneyStepFactory(campaign=campaign, position=2)

    # The page moved the last step to the top (positions as the page numbered them).
    response = save(admin_client, campaign, steps=[
        send_step(first, 1),
        {"id": wait.pk, "position": 2, "kind": "wait", "wait_duration_0": "14",
         "wait_duration_1": "0"},
        send_step(last, 0),
    ])

    assert response.status_code == 302, response.context and errors(response)
    assert list(campaign.steps.order_by("position").values_list("pk", "position")) == [
        (last.pk, 0), (first.pk, 1), (wait.pk, 2)]


def test_a_removed_step_leaves_no_gap_and_a_new_one_goes_where_the_page_put_it(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    first = JourneyStepFactory(campaign=campaign, position=0)
    second = JourneyStepFactory(campaign=campaign, position=1)
    template = MessageTemplateFactory()

    response = save(admin_client, campaign, steps=[
        {**send_step(first, 0), "DELETE": "on"},
        send_step(second, 2),
        {"position": 1, "kind": "wait", "wait_duration_0": "", "wait_duration_1": "5",
         "template": template.pk},
    ])

    assert response.status_code == 302, errors(response)
    steps = list(campaign.steps.order_by("position"))
    assert [(s.kind, s.position) for s in steps] == [("wait", 0), ("send", 1)]
    # The wait step keeps only a wait's fields, whatever else the page sent.
    assert (steps[0].wait_duration, steps[0].template_id) == (dt.timedelta(hours=5), None)


def test_a_step_with_sent_messages_cannot_be_removed(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    step = JourneyStepFactory(campaign=campaign, position=0)
    SentMessageFactory(step=step, enrollment__campaign=campaign)

    response = save(admin_client, campaign, steps=[{**send_step(step, 0), "DELETE": "on"}])

    assert response.status_code == 200
    # The admin's own protection of sent history: refused on the step, never a 500.
    assert "protected related objects: message" in str(errors(response)), errors(response)
    assert campaign.steps.count() == 1


def test_ab_variants_are_edited_on_the_steps_own_block(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    step = JourneyStepFactory(campaign=campaign, position=0)
    short, long_ = MessageTemplateFactory(), MessageTemplateFactory()

    response = save(admin_client, campaign, steps=[send_step(
        step, 0, variant_1_name="A", variant_1_template=short.pk, variant_1_weight="3",
        variant_2_name="B", variant_2_template=long_.pk, variant_2_weight="")])

    assert response.status_code == 302, errors(response)
    assert list(StepVariant.objects.filter(step=step).values_list("name", "template", "weight")
                ) == [("A", short.pk, 3), ("B", long_.pk, 1)]

    response = save(admin_client, campaign, steps=[send_step(
        step, 0, variant_1_name="A", variant_1_template=short.pk, variant_1_weight="1",
        variant_2_name="", variant_2_template="")])

    assert response.status_code == 302, errors(response)
    assert list(StepVariant.objects.filter(step=step).values_list("name", "weight")) == [("A", 1)]


def test_a_variant_needs_a_template_and_a_unique_name(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    step = JourneyStepFactory(campaign=campaign, position=0)
    template = MessageTemplateFactory()

    response = save(admin_client, campaign, steps=[send_step(
        step, 0, variant_1_name="A", variant_1_template="",
        variant_2_name="B", variant_2_template=template.pk,
        variant_3_name="B", variant_3_template=template.pk)])

    assert response.status_code == 200
    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert form.errors["variant_1_template"] == ["Choose the variant's template."]
    assert form.errors["variant_3_name"] == ["Two variants have this name."]
    assert not StepVariant.objects.exists()


@pytest.mark.parametrize(("step", "field"), [
    ({"position": "abc", "kind": "wait", "wait_duration_0": "1"}, "position"),
    ({"position": 0, "kind": "nuke"}, "kind"),
    ({"position": 0, "kind": "reward", "reward_points": "-5"}, "reward_points"),
    ({"position": 0, "kind": "coupon", "coupon_valid_days": "0"}, "coupon_valid_days"),
    ({"position": 0, "kind": "wait", "wait_duration_0": "99999"}, "wait_duration"),
    ({"position": 0, "kind": "wait", "wait_until_local_time": "25:99"}, "wait_until_local_time"),
])
def test_a_bad_step_is_refused_on_its_field(admin_client, step, field):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)

    response = save(admin_client, campaign, steps=[step])

    assert response.status_code == 200
    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert field in form.errors, form.errors
    assert not campaign.steps.exists()


def test_a_bad_variant_weight_and_too_many_steps_are_refused(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    step = JourneyStepFactory(campaign=campaign, position=0)

    response = save(admin_client, campaign, steps=[send_step(
        step, 0, variant_1_name="A", variant_1_template=step.template_id, variant_1_weight="0")])
    flood = admin_client.post(change_url(campaign), {
        **page_data(campaign), "steps-TOTAL_FORMS": "100000"})

    assert response.status_code == 200
    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert "variant_1_weight" in form.errors
    assert flood.status_code == 200
    assert "at most 50" in str(flood.context["inline_admin_formsets"][0].formset.non_form_errors())


def test_a_variant_with_sent_messages_cannot_be_removed(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    step = JourneyStepFactory(campaign=campaign, position=0)
    variant = StepVariant.objects.create(step=step, name="B", template=step.template)
    SentMessageFactory(enrollment__campaign=campaign, variant=variant)

    response = save(admin_client, campaign, steps=[send_step(step, 0)])

    assert response.status_code == 200
    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert "Variant B has sent messages and cannot be removed" in str(form.non_field_errors())
    assert StepVariant.objects.filter(pk=variant.pk).exists()


def test_the_add_page_shows_the_fields_and_a_note_instead_of_the_picture(admin_client):
    page = admin_client.get(reverse("admin:campaigns_campaign_add")).content.decode()

    assert "Save the campaign to see its journey." in page
    assert 'name="inactivity_days"' in page and 'name="deadline_0"' in page


def _data_of(form) -> dict:
    """What a browser posts for an unchanged form."""
    from django import forms

    data = {}
    for bound in form:
        field, value = bound.field, bound.value()
        if isinstance(field, forms.MultiValueField):
            parts = field.widget.decompress(value)
            data.update({f"{bound.html_name}_{i}": "" if p is None else p
                         for i, p in enumerate(parts)})
        elif isinstance(field, forms.MultipleChoiceField):
            data[bound.html_name] = list(value or [])
        elif isinstance(field, forms.BooleanField):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(field, forms.DateTimeField) and value:
            data[bound.html_name] = value.strftime("%Y-%m-%dT%H:%M")
        else:
            data[bound.html_name] = "" if value is None else value
    return data


def test_every_demo_campaign_saves_unchanged_to_the_same_planner_settings(frozen_clock):
    from campaigns.admin.campaign_forms import CampaignForm
    from campaigns.services.demo import demo_load

    demo_load(customers=0)
    campaigns = list(Campaign.objects.all())
    assert len(campaigns) >= 6

    for campaign in campaigns:
        before = (dict(campaign.trigger_config), list(campaign.exit_event_types),
                  campaign.trigger_segment_id(), campaign.deadline, campaign.reentry_cooldown)
        form = CampaignForm(data=_data_of(CampaignForm(instance=campaign)), instance=campaign)
        assert form.is_valid(), (campaign.name, form.errors)
        saved = form.save()

        config = dict(saved.trigger_config)
        if "segment" in before[0]:  # kept as the segment's id: a rename cannot break it
            assert config.pop("segment") == before[2]
            before[0].pop("segment")
        if "first_run" in before[0]:  # the same moment, written in the site's zone
            assert (dt.datetime.fromisoformat(config.pop("first_run"))
                    == dt.datetime.fromisoformat(before[0].pop("first_run")))
        assert (config, saved.exit_event_types, saved.deadline, saved.reentry_cooldown) == (
            before[0], before[1], before[3], before[4]), campaign.name


def test_a_campaign_with_malformed_stored_settings_still_opens_and_can_be_fixed(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT, trigger=Campaign.Trigger.INACTIVITY,
                               trigger_event_type="", trigger_config=["days", 90],
                               exit_event_types={"purchase": True})

    page = admin_client.get(change_url(campaign))
    listing = admin_client.get(reverse("admin:campaigns_campaign_changelist"))
    response = save(admin_client, campaign, trigger="inactivity", inactivity_days="30")

    assert page.status_code == listing.status_code == 200
    assert response.status_code == 302, errors(response)
    assert (campaign.trigger_config, campaign.exit_event_types) == ({"days": 30}, [])
