"""Promoters: an NPS answer of 9 or 10 emits one `survey.promoter` event per answer, which
an event-triggered campaign (e.g. the "invite a friend" starter) can follow."""
import pytest

from campaigns.models import Event, SurveyResponse
from campaigns.services.surveys import DETRACTOR_EVENT, PROMOTER_EVENT, survey_answer
from tests.factories import CustomerFactory, SentMessageFactory


@pytest.fixture
def sent(db, frozen_clock):
    return SentMessageFactory(enrollment__customer=CustomerFactory(locale="sv"))


@pytest.mark.parametrize("kind,score,promoter", [
    ("nps", 10, True), ("nps", 9, True), ("nps", 8, False), ("nps", 0, False),
    # CSAT and CES ask about satisfaction and effort, not about recommending: no promoters.
    ("csat", 5, False), ("ces", 7, False),
])
def test_an_nps_answer_of_9_or_10_emits_one_promoter_event(sent, kind, score, promoter):
    answer = survey_answer(message=sent, kind=kind, score=score)

    events = Event.objects.filter(type=PROMOTER_EVENT)
    assert events.count() == (1 if promoter else 0)
    if promoter:
        event = events.get()
        assert event.customer_id == sent.customer_id
        assert event.event_id == f"crm:{PROMOTER_EVENT}:{answer.pk}"
        assert event.properties == {"kind": "nps", "score": score,
                                    "campaign": sent.campaign.slug,
                                    "survey_answer_id": answer.pk}


def test_changing_a_promoter_answer_emits_no_second_event(sent):
    survey_answer(message=sent, kind="nps", score=9)
    survey_answer(message=sent, kind="nps", score=10)
    survey_answer(message=sent, kind="nps", score=9)

    assert Event.objects.filter(type=PROMOTER_EVENT).count() == 1
    assert SurveyResponse.objects.get().score == 9


def test_a_promoter_who_becomes_a_detractor_and_back_is_invited_once(sent):
    survey_answer(message=sent, kind="nps", score=10)
    survey_answer(message=sent, kind="nps", score=2)
    survey_answer(message=sent, kind="nps", score=9)

    assert Event.objects.filter(type=PROMOTER_EVENT).count() == 1
    assert Event.objects.filter(type=DETRACTOR_EVENT).count() == 1


def test_an_answer_raised_from_8_to_9_becomes_a_promoter_then(sent):
    survey_answer(message=sent, kind="nps", score=8)
    assert not Event.objects.filter(type=PROMOTER_EVENT).exists()

    survey_answer(message=sent, kind="nps", score=9)

    assert Event.objects.get(type=PROMOTER_EVENT).properties["score"] == 9


def test_each_survey_email_answered_as_a_promoter_emits_its_own_event(sent):
    survey_answer(message=sent, kind="nps", score=10)
    survey_answer(message=SentMessageFactory(enrollment__customer=sent.customer),
                  kind="nps", score=10)

    assert Event.objects.filter(type=PROMOTER_EVENT).count() == 2
