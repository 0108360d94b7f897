"""Survey links: prefetch records nothing, tokens cannot answer for another customer, a second
answer updates the first, CES and localised questions, comments after answering, detractors."""
import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from campaigns.models import DetractorAnswer, Event, SurveyQuestion, SurveyResponse
from campaigns.services.surveys import DETRACTOR_EVENT, survey_answer
from campaigns.tokens import survey_token
from tests.factories import CustomerFactory, SentMessageFactory


@pytest.fixture
def sent(db, frozen_clock):
    return SentMessageFactory(enrollment__customer=CustomerFactory(locale="sv"))


def url(message, kind=None, score=None):
    token = survey_token(message_id=message.pk)
    if kind is None:
        return f"/s/{token}/{score}"
    return f"/s/{token}/{kind}" + (f"/{score}" if score is not None else "")


def test_following_every_link_with_get_records_nothing(client, sent):
    links = [url(sent, score=n) for n in range(11)]
    links += [url(sent, "csat", n) for n in range(1, 6)] + [url(sent, "ces", n) for n in range(1, 8)]

    statuses = {client.get(link).status_code for link in links}
    client.head(url(sent, score=0))

    assert statuses == {200}
    assert not SurveyResponse.objects.exists()
    assert not Event.objects.filter(type=DETRACTOR_EVENT).exists()


def test_get_preselects_the_clicked_score_in_the_customers_language(client, sent):
    page = client.get(url(sent, "ces", 6)).content.decode()

    assert "Hur enkelt var det att göra din beställning?" in page
    assert 'value="6" checked' in page
    assert page.count('type="radio"') == 7


def test_the_admins_wording_replaces_the_built_in_one(client, sent):
    SurveyQuestion.objects.create(kind="csat", locale="sv", question="Hur nöjd är du med leveransen?",
                                  low_label="Inte alls", high_label="Helt")

    page = client.get(url(sent, "csat", 3)).content.decode()

    assert "Hur nöjd är du med leveransen?" in page and "Helt" in page


def test_a_token_for_one_customers_email_answers_only_for_that_customer(client, sent):
    other = SentMessageFactory()

    client.post(url(sent, score=9), {"score": "9", "customer": other.customer_id})

    answer = SurveyResponse.objects.get()
    assert answer.customer_id == sent.customer_id and answer.message_id == sent.pk
    assert not SurveyResponse.objects.filter(customer=other.customer).exists()


def test_a_forged_or_other_purpose_token_is_refused(client, sent):
    from campaigns.tokens import unsubscribe_token

    forged = survey_token(message_id=sent.pk)[:-2] + "xx"
    wrong_salt = unsubscribe_token(customer_id=sent.pk)

    assert client.post(f"/s/{forged}/9", {"score": "9"}).status_code == 404
    assert client.post(f"/s/{wrong_salt}/9", {"score": "9"}).status_code == 404
    assert not SurveyResponse.objects.exists()


def test_a_second_answer_updates_the_first(client, sent):
    client.post(url(sent, "ces", 2), {"score": "2"})
    client.post(url(sent, "ces", 5), {"score": "5"})

    assert list(SurveyResponse.objects.values_list("kind", "score")) == [("ces", 5)]


def test_a_score_off_the_scale_is_refused_with_400(client, sent):
    response = client.post(url(sent, "ces"), {"score": "8"})

    assert response.status_code == 400
    assert not SurveyResponse.objects.exists()


def test_the_comment_can_follow_the_answer(client, sent):
    saved = client.post(url(sent, "csat", 4), {"score": "4"}).content.decode()
    client.post(url(sent, "csat"), {"comment": "  Fast delivery  "})

    assert 'id="survey-comment"' in saved
    assert SurveyResponse.objects.get().comment == "Fast delivery"


def test_a_comment_without_an_answer_is_refused(client, sent):
    response = client.post(url(sent, "csat"), {"comment": "Hello"})

    assert response.status_code == 400
    assert not SurveyResponse.objects.exists()


@pytest.mark.parametrize("kind,score,detractor", [
    ("nps", 6, True), ("nps", 7, False), ("csat", 2, True), ("csat", 3, False), ("ces", 1, False),
])
def test_a_detractor_emits_one_event_and_lands_in_the_service_list(sent, kind, score, detractor):
    answer = survey_answer(message=sent, kind=kind, score=score)

    events = Event.objects.filter(type=DETRACTOR_EVENT)
    assert events.count() == (1 if detractor else 0)
    if detractor:
        event = events.get()
        assert event.customer_id == sent.customer_id
        assert event.properties == {"kind": kind, "score": score, "campaign": sent.campaign.slug,
                                    "survey_answer_id": answer.pk}
    listed = site._registry[DetractorAnswer].get_queryset(None)
    assert list(listed.values_list("pk", flat=True)) == ([answer.pk] if detractor else [])


def test_changing_a_detractor_answer_does_not_emit_a_second_event(sent):
    survey_answer(message=sent, kind="nps", score=3)
    survey_answer(message=sent, kind="nps", score=9)
    survey_answer(message=sent, kind="nps", score=2)

    assert Event.objects.filter(type=DETRACTOR_EVENT).count() == 1


def test_the_service_team_marks_detractors_handled_and_filters_them(admin_client, sent):
    open_answer = survey_answer(message=sent, kind="nps", score=1)
    other = survey_answer(message=SentMessageFactory(), kind="csat", score=2)
    changelist = reverse("admin:campaigns_detractoranswer_changelist")

    response = admin_client.post(changelist, {"action": "mark_handled",
                                              "_selected_action": [other.pk]}, follow=True)
    still_open = admin_client.get(changelist, {"handled": "open"})

    other.refresh_from_db()
    assert "1 answer marked as handled." in response.content.decode()
    assert other.handled_at is not None and other.handled_by == "admin"
    assert list(still_open.context["cl"].result_list) == [open_answer]


def test_the_email_offers_csat_and_ces_links_that_open_their_pages(client, sent, settings):
    from campaigns.services.rendering import message_context

    settings.SITE_URL = "https://shop.example.com"
    links = message_context(message=sent, unsubscribe_url="x")["survey"]

    assert [link["score"] for link in links["csat_links"]] == [1, 2, 3, 4, 5]
    assert [link["score"] for link in links["ces_links"]] == [1, 2, 3, 4, 5, 6, 7]
    page = client.get(links["ces_links"][0]["url"].removeprefix("https://shop.example.com"))
    assert page.status_code == 200 and 'value="1" checked' in page.content.decode()


def test_a_campaign_triggered_by_the_detractor_event_enrolls_the_customer(sent, frozen_clock):
    from campaigns.models import Enrollment
    from campaigns.services.scheduling import scheduler_tick
    from tests.factories import CampaignFactory, JourneyStepFactory

    follow_up = CampaignFactory(name="Personal follow-up", trigger_event_type=DETRACTOR_EVENT)
    JourneyStepFactory(campaign=follow_up)
    survey_answer(message=sent, kind="csat", score=1)
    survey_answer(message=SentMessageFactory(), kind="csat", score=5)

    scheduler_tick(now=frozen_clock.now)

    enrolled = Enrollment.objects.filter(campaign=follow_up)
    assert list(enrolled.values_list("customer_id", flat=True)) == [sent.customer_id]
    assert enrolled.get().trigger_event.type == DETRACTOR_EVENT


@pytest.mark.parametrize("locale, offer", [
    ("en", "Tell us more in one short question"), ("sv", "Berätta mer med en kort fråga"),
    ("nb", "Fortell oss mer i ett kort spørsmål")])
def test_the_shipped_survey_email_has_eleven_nps_links_and_one_to_a_short_csat_question(
        client, db, locale, offer, frozen_clock, settings):
    """Issue 3: the demo post-purchase email asks NPS in one click (0-10) and links to one
    short CSAT question, in the customer's language, in the HTML and the text part."""
    from campaigns.selectors.surveys import survey_question_text
    from campaigns.services.demo import content_read
    from campaigns.services.rendering import message_context
    from campaigns.templating import template_render

    settings.SITE_URL = "https://shop.example.com"
    message = SentMessageFactory(enrollment__customer=CustomerFactory(locale=locale))
    context = {**message_context(message=message, unsubscribe_url="x"),
               "order": {"external_id": "o-1", "amount": "100.00", "currency": "SEK"}}
    rendered = template_render(cache_key=("survey-test", locale), context=context,
                               **content_read(name="survey", locale=locale))
    nps = [link["url"] for link in context["survey"]["nps_links"]]
    more = context["survey"]["followup_url"]

    for part in (rendered["html"], rendered["text"]):
        assert all(link in part for link in nps) and len(nps) == 11
        assert more in part
    assert offer in rendered["text"]
    page = client.get(more.removeprefix("https://shop.example.com")).content.decode()
    assert survey_question_text(kind="csat", locale=locale)["question"] in page
    assert page.count('type="radio"') == 5
