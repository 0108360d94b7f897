"""Recording survey answers from the one-click links in survey emails."""
from django.db import transaction

from campaigns import clock
from campaigns.exceptions import CampaignsError
from campaigns.models import Message, SurveyResponse


class SurveyAnswerInvalid(CampaignsError):
    """A score outside the question's scale."""


def survey_answer(*, message: Message, kind: str, score: int, comment: str = "") -> SurveyResponse:
    """Record or update the answer to one question of one survey email.

    Idempotent per (message, kind): a second answer replaces the first instead of counting
    twice. The message fixes the customer, so a token cannot answer for anyone else.
    """
    low, high = SurveyResponse.SCALES[kind]
    if not low <= score <= high:
        raise SurveyAnswerInvalid(f"{kind.upper()} scores run from {low} to {high}, not {score}.")
    now = clock.now()
    with transaction.atomic():
        response, created = SurveyResponse.objects.select_for_update().get_or_create(
            message=message, kind=kind,
            defaults={"customer_id": message.customer_id, "score": score,
                      "comment": comment.strip()[:2000], "answered_at": now, "updated_at": now},
        )
        if not created:
            response.score, response.updated_at = score, now
            if comment.strip():
                response.comment = comment.strip()[:2000]
            response.save(update_fields=["score", "comment", "updated_at"])
    return response
