"""Survey answers from the one-click links in survey emails; detractor follow-up and
promoters' invitations start from the events the answers emit."""
from django.db import transaction

from campaigns import clock
from campaigns.exceptions import CampaignsError
from campaigns.models import Event, Message, SurveyResponse

# The event a detractor answer emits: an event-triggered campaign can follow it up.
DETRACTOR_EVENT = "survey.detractor"
# The event a promoter's answer emits (NPS 9-10): a journey can invite them to refer a friend.
PROMOTER_EVENT = "survey.promoter"
COMMENT_MAX = 2000


class SurveyAnswerInvalid(CampaignsError):
    """A score outside the question's scale, an unknown kind, or a comment with no answer."""


def survey_answer(*, message: Message, kind: str, score: int, comment: str = "") -> SurveyResponse:
    """Record or update the answer to one question of one survey email.

    Idempotent per (message, kind): a second answer replaces the first instead of counting
    twice. The message fixes the customer, so a token cannot answer for anyone else.
    An answer that is (or becomes) a detractor's emits one `survey.detractor` event per
    answer and reopens it for the service team if it had been handled; one that is (or
    becomes) a promoter's (NPS 9-10) emits one `survey.promoter` event per answer.
    """
    if kind not in SurveyResponse.SCALES:
        raise SurveyAnswerInvalid(f"There is no survey question of kind {kind!r}.")
    low, high = SurveyResponse.SCALES[kind]
    if not low <= score <= high:
        raise SurveyAnswerInvalid(f"{kind.upper()} scores run from {low} to {high}, not {score}.")
    now = clock.now()
    comment = comment.strip()[:COMMENT_MAX]
    with transaction.atomic():
        response, created = SurveyResponse.objects.select_for_update().get_or_create(
            message=message, kind=kind,
            defaults={"customer_id": message.customer_id, "score": score,
                      "comment": comment, "answered_at": now, "updated_at": now},
        )
        was_detractor = not created and response.is_detractor
        was_promoter = not created and response.is_promoter
        if not created:
            response.score, response.updated_at = score, now
            if comment:
                response.comment = comment
            fields = ["score", "comment", "updated_at"]
            if response.is_detractor and not was_detractor:
                response.handled_at, response.handled_by = None, ""
                fields += ["handled_at", "handled_by"]
            response.save(update_fields=fields)
        if response.is_detractor and not was_detractor:
            _answer_event_emit(DETRACTOR_EVENT, response=response, message=message, now=now)
        if response.is_promoter and not was_promoter:
            _answer_event_emit(PROMOTER_EVENT, response=response, message=message, now=now)
    return response


def _answer_event_emit(event_type: str, *, response: SurveyResponse, message: Message,
                       now) -> None:
    # One event of each type per answer (the event id is unique): flipping 3 -> 9 -> 2
    # does not start a second follow-up, nor 9 -> 5 -> 10 a second invitation. No comment
    # in the properties: it is free text.
    Event.objects.get_or_create(
        event_id=f"crm:{event_type}:{response.pk}",
        defaults={"customer_id": response.customer_id, "type": event_type,
                  "occurred_at": now, "received_at": now,
                  "properties": {"kind": response.kind, "score": response.score,
                                 "campaign": message.campaign.slug,
                                 "survey_answer_id": response.pk}},
    )


def survey_comment_add(*, message: Message, kind: str, comment: str) -> SurveyResponse:
    """Add the optional comment to an answer already given; SurveyAnswerInvalid if none."""
    comment = comment.strip()[:COMMENT_MAX]
    with transaction.atomic():
        response = SurveyResponse.objects.select_for_update().filter(
            message=message, kind=kind).first()
        if response is None:
            raise SurveyAnswerInvalid("Answer the question before adding a comment.")
        if comment:
            response.comment, response.updated_at = comment, clock.now()
            response.save(update_fields=["comment", "updated_at"])
    return response


def detractors_mark_handled(*, response_ids: list[int], actor: str) -> int:
    """Mark detractor answers followed up; returns how many were open. Safe to repeat."""
    return SurveyResponse.objects.filter(pk__in=response_ids, handled_at__isnull=True).update(
        handled_at=clock.now(), handled_by=actor[:150])
