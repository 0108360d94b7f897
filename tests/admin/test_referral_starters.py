"""Word-of-mouth starters (issue 16): promoter → invite a friend, the referral reward for
both sides, the detractor follow-up; and the score range on the campaign page."""
import pytest
from django.conf import settings

from campaigns.admin.campaign_forms import CampaignForm
from campaigns.journey_picture import journey_boxes, trigger_in_words
from campaigns.models import Campaign, Enrollment, JourneyStep, Topic
from campaigns.services.campaign_drafts import campaign_create_from_starter
from campaigns.services.journeys import campaign_activate
from campaigns.services.planning import enrollments_plan
from campaigns.services.surveys import survey_answer
from campaigns.starters import (
    DETRACTOR_FOLLOWUP_PRIORITY, PROMOTER_INVITE_PRIORITY, REFERRAL_REWARD_PRIORITY, STARTERS,
)
from campaigns.templating import SAMPLE_CONTEXT, template_render, template_validate
from tests.admin.test_campaign_page import _data_of
from tests.factories import CustomerFactory, SentMessageFactory

pytestmark = pytest.mark.django_db
KEYS = ["promoter_invite", "referral_reward", "detractor_followup"]


def translations(key):
    campaign = campaign_create_from_starter(key=key)
    step = campaign.steps.get(kind=JourneyStep.Kind.SEND)
    return campaign, step.template, {t.locale: t for t in step.template.translations.all()}


def render(translation, **context):
    return template_render(cache_key=("test", translation.pk, repr(context)),
                           subject=translation.subject, html_body=translation.html_body,
                           text_body=translation.text_body, context={**SAMPLE_CONTEXT, **context})


@pytest.mark.parametrize("key", KEYS)
def test_each_starter_makes_a_draft_in_three_languages_that_validates(key):
    campaign, _template, texts = translations(key)

    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.trigger == Campaign.Trigger.EVENT
    assert set(texts) == {"en", "sv", "nb"}
    for translation in texts.values():
        template_validate(subject=translation.subject, html_body=translation.html_body,
                          text_body=translation.text_body)


def test_the_promoter_invite_follows_promoters_once_in_90_days_under_the_caps():
    campaign, template, texts = translations("promoter_invite")

    assert (campaign.trigger_event_type, campaign.entry_key) == (
        "survey.promoter", Campaign.EntryKey.EVENT)
    assert campaign.reentry_cooldown.days == 90 and not campaign.exempt_from_caps
    assert campaign.priority == PROMOTER_INVITE_PRIORITY == 65
    for translation in texts.values():
        rendered = render(translation)
        assert SAMPLE_CONTEXT["referral"]["url"] in rendered["html"]
        assert SAMPLE_CONTEXT["referral"]["url"] in rendered["text"]
    assert "Share your link" in render(texts["en"])["html"]
    assert "Dela din länk" in render(texts["sv"])["html"]
    assert "Del lenken din" in render(texts["nb"])["html"]


@pytest.mark.parametrize("locale, friend_words, referrer_words", [
    ("en", "A friend recommended us to you", "A friend you recommended us to"),
    ("sv", "En vän tipsade dig om oss", "En vän som du tipsade om oss"),
    ("nb", "En venn anbefalte oss til deg", "En venn du anbefalte oss til"),
])
def test_the_referral_reward_speaks_to_each_role_with_its_points_or_coupon(
        locale, friend_words, referrer_words):
    campaign, template, texts = translations("referral_reward")
    translation = texts[locale]

    def event(**properties):
        return {**SAMPLE_CONTEXT["event"], "type": "referral.rewarded",
                "properties": {"referral_id": 7, **properties}}

    friend = render(translation, event=event(role="friend", points=250, coupon=""))
    referrer = render(translation, event=event(role="referrer", points=500, coupon=""))
    coupon = render(translation, event=event(role="referrer", points=0, coupon="K7QX-M2PA"))

    assert friend_words in friend["text"] and referrer_words not in friend["text"]
    assert referrer_words in referrer["text"] and friend_words not in referrer["text"]
    assert "250" in friend["html"] and "500" in referrer["html"]
    assert "K7QX-M2PA" in coupon["html"] and "K7QX-M2PA" in coupon["text"]
    assert friend["subject"] != referrer["subject"]
    assert (campaign.trigger_event_type, template.topic) == ("referral.rewarded", Topic.LOYALTY)
    assert campaign.priority == REFERRAL_REWARD_PRIORITY


def test_the_detractor_follow_up_offers_the_service_team_and_no_referral_link():
    campaign, template, texts = translations("detractor_followup")

    assert campaign.trigger_event_type == "survey.detractor"
    assert campaign.priority == DETRACTOR_FOLLOWUP_PRIORITY
    assert template.topic == Topic.SURVEYS
    for translation in texts.values():
        sources = translation.subject + translation.html_body + translation.text_body
        assert "referral" not in sources
        assert "{{ company.contact_url }}" in translation.html_body
        assert "{{ company.contact_url }}" in translation.text_body
        assert SAMPLE_CONTEXT["company"]["contact_url"] in render(translation)["html"]


def test_the_contact_link_comes_from_the_settings(frozen_clock):
    from campaigns.services.rendering import message_context

    message = SentMessageFactory()

    company = message_context(message=message, unsubscribe_url="x")["company"]

    assert company["contact_url"] == settings.SERVICE_CONTACT_URL


def test_the_new_campaign_page_offers_the_three_starters(admin_client):
    from django.urls import reverse

    page = admin_client.get(reverse("admin:campaigns_campaign_start")).content.decode()

    for key in KEYS:
        assert f'value="{key}"' in page and str(STARTERS[key]["title"]) in page


def test_a_promoter_answer_starts_the_invite_and_a_second_within_90_days_does_not(
        frozen_clock, policy):
    campaign = campaign_create_from_starter(key="promoter_invite")
    campaign_activate(campaign=campaign)
    customer = CustomerFactory()
    survey_answer(message=SentMessageFactory(enrollment__customer=customer), kind="nps", score=10)
    survey_answer(message=SentMessageFactory(), kind="nps", score=8)

    enrollments_plan(now=frozen_clock.advance(minutes=1))
    frozen_clock.advance(days=30)
    survey_answer(message=SentMessageFactory(enrollment__customer=customer), kind="nps", score=9)
    enrollments_plan(now=frozen_clock.advance(minutes=1))
    enrollments_plan(now=frozen_clock.advance(minutes=1))

    assert list(Enrollment.objects.filter(campaign=campaign).values_list(
        "customer_id", flat=True)) == [customer.pk]


# -- the score range on the campaign page ----------------------------------------------------


def test_the_score_range_round_trips_through_the_campaign_form_and_reads_in_words():
    campaign = campaign_create_from_starter(key="detractor_followup")
    data = _data_of(CampaignForm(instance=campaign))
    data.update(min_score="0", max_score="3")

    form = CampaignForm(data=data, instance=campaign)
    assert form.is_valid(), form.errors
    saved = form.save()

    assert saved.trigger_config == {"min_score": 0, "max_score": 3}
    again = _data_of(CampaignForm(instance=saved))
    assert (again["min_score"], again["max_score"]) == (0, 3)
    assert trigger_in_words(saved) == "Event: survey.detractor (score 0 to 3)"
    assert journey_boxes(saved, [])[0].detail == "Event: survey.detractor (score 0 to 3)"


@pytest.mark.parametrize("config, words", [
    ({"min_score": 9}, "score 9 or more"), ({"max_score": 6}, "score 6 or less"),
    ({"min_score": 10, "max_score": 10}, "score 10 only"), ({"min_score": "x"}, None),
])
def test_the_journey_picture_says_the_score_range(config, words):
    campaign = Campaign(trigger=Campaign.Trigger.EVENT, trigger_event_type="survey.promoter",
                        trigger_config=config)

    expected = (f"Event: survey.promoter ({words})" if words else "Event: survey.promoter")
    assert trigger_in_words(campaign) == expected


def test_a_range_upside_down_is_refused_on_the_highest_score_field():
    campaign = campaign_create_from_starter(key="promoter_invite")
    data = _data_of(CampaignForm(instance=campaign))
    data.update(min_score="10", max_score="9")

    form = CampaignForm(data=data, instance=campaign)

    assert not form.is_valid()
    assert "below the lowest" in str(form.errors["max_score"])
    assert "trigger_event_type" not in form.errors


def test_the_score_fields_are_left_out_for_other_triggers():
    campaign = campaign_create_from_starter(key="winback")
    data = _data_of(CampaignForm(instance=campaign))
    data.update(min_score="9")

    form = CampaignForm(data=data, instance=campaign)
    assert form.is_valid(), form.errors

    assert form.save().trigger_config == {"days": 90}
