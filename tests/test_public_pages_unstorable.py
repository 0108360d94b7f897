"""Public pages and their forms: NUL in a field or a token is a 4xx (or the neutral page),
never a 500, and stores nothing; an address with a non-ASCII local part is refused.

PostgreSQL is where NUL used to give a 500; these tests run there in CI's second pass.
"""
import pytest
from django.core.cache import cache
from django.test import Client

from campaigns.models import ConsentEvent, SubscriptionRequest, SurveyResponse
from campaigns.tokens import survey_token, unsubscribe_token
from tests.factories import CustomerFactory, SentMessageFactory

pytestmark = pytest.mark.django_db
NUL = "\x00"
SUBSCRIBE = {"email": "new@example.se", "first_name": "Nea", "agree": "1", "locale": "sv"}


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


@pytest.mark.parametrize("field, value", [
    ("email", f"new{NUL}@example.se"), ("first_name", f"N{NUL}ea"), ("locale", f"s{NUL}v"),
    ("email", "åsa@example.se"),
])
def test_the_subscribe_form_refuses_what_cannot_be_stored_or_delivered(client, field, value):
    response = client.post("/subscribe", {**SUBSCRIBE, field: value})

    assert response.status_code == 400
    assert not SubscriptionRequest.objects.exists()


def test_the_subscribe_form_takes_an_internationalised_domain(client, frozen_clock):
    response = client.post("/subscribe", {**SUBSCRIBE, "email": "nea@exämple.se"})

    assert response.status_code == 200
    assert SubscriptionRequest.objects.exists()


def test_a_survey_comment_with_nul_is_refused_and_the_answer_is_kept(client, frozen_clock):
    sent = SentMessageFactory(enrollment__customer=CustomerFactory(locale="sv"))
    link = f"/s/{survey_token(message_id=sent.pk)}/csat"
    client.post(f"{link}/4", {"score": "4"})

    with_score = client.post(f"{link}/5", {"score": "5", "comment": f"Fast{NUL}"})
    comment_only = client.post(link, {"comment": f"Fast{NUL}"})

    assert (with_score.status_code, comment_only.status_code) == (400, 400)
    answer = SurveyResponse.objects.get()
    assert (answer.score, answer.comment) == (4, "")


@pytest.mark.parametrize("path", [
    "/u/{nul}", "/u/{nul}/preferences", "/u/{nul}/pause", "/u/{nul}/erasure",
    "/privacy/{nul}/export", "/subscribe/confirm/{nul}", "/s/{nul}/5", "/s/{nul}/csat",
    "/u/{token}{nul}", "/u/1{nul}:x", "/subscribe?lang={nul}",
])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_nul_in_a_token_or_a_parameter_is_no_server_error(frozen_clock, path, method):
    token = unsubscribe_token(customer_id=CustomerFactory().pk)
    client = Client()

    response = getattr(client, method)(path.format(nul="%00", token=token),
                                       {"until": NUL, "marketing": NUL})

    assert response.status_code < 500
    assert not ConsentEvent.objects.exists()
