"""Public pages reached from emails: one-click unsubscribe (RFC 8058) and surveys.

The preference centre and the public subscription page are in views_consent.
"""
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns import clock
from campaigns.exceptions import InvalidTokenError
from campaigns.models import ConsentSource, Customer, Message, SurveyResponse
from campaigns.services.consent import consent_withdraw_all
from campaigns.services.gdpr import privacy_export_request
from campaigns.selectors.health import scheduler_health
from campaigns.selectors.surveys import survey_locale, survey_question_text
from campaigns.services.surveys import SurveyAnswerInvalid, survey_answer, survey_comment_add
from campaigns.storable import text_storable
from campaigns.tokens import survey_token_read, unsubscribe_token_read
from campaigns.views_consent import client_ip, page_render, preferences_page, public_rate_limit


def _customer_for(token: str) -> Customer | None:
    try:
        customer_id = unsubscribe_token_read(token=token)
    except InvalidTokenError:
        return None
    return Customer.objects.filter(pk=customer_id).first()


@csrf_exempt  # Mail providers POST here with no cookie and no CSRF token (RFC 8058).
@require_http_methods(["GET", "POST"])
@public_rate_limit(posts_per_address=False)
def unsubscribe(request, token):
    """GET shows the preference centre and changes nothing (link scanners follow GETs).

    POST (RFC 8058 one-click, or the centre's "unsubscribe from everything") unsubscribes
    at once from all marketing, urlencoded or multipart, needs no cookie, answers 200
    without a redirect, is idempotent, and says the same for an unknown token as for a
    known one.
    """
    if request.method == "GET":
        return preferences_page(request, token)
    customer = _customer_for(token)
    if customer is not None:
        consent_withdraw_all(
            customer=customer,
            source=ConsentSource.UNSUBSCRIBE_LINK,
            method="one-click" if "List-Unsubscribe" in request.POST else "web-form",
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    # The same answer for any token: its language comes from the link (?lang=).
    return page_render(request, "campaigns/unsubscribe_done.html")


@csrf_exempt  # The signed token in the URL is the credential; no session is involved.
@require_http_methods(["GET", "POST"])
@public_rate_limit
def privacy_export(request, token):
    """GET shows a button and changes nothing (mail scanners follow links). POST queues an
    email of the customer's data to the address on file and answers the same neutral
    page whether the token is valid, unknown or already used today."""
    if request.method == "GET":
        return page_render(request, "campaigns/privacy_export_confirm.html", {"token": token})
    try:
        customer_id = unsubscribe_token_read(token=token)
    except InvalidTokenError:
        customer_id = None
    if customer_id is not None:
        privacy_export_request(customer_id=customer_id, actor="customer (email link)")
    return page_render(request, "campaigns/privacy_export_done.html")


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def healthz_scheduler(request):
    """For monitoring: 200 while the scheduler ticks, 503 when no tick finished for three
    intervals (beat or all workers down). The body says how late, how many messages are
    overdue and how many sends had an unknown outcome in the last 24 hours; no personal data."""
    health = scheduler_health(now=clock.now())
    return JsonResponse(health.as_json(), status=503 if health.late else 200)


# Survey pages. A GET never records anything (mail scanners and link prefetchers follow
# links): it shows the question with the clicked score chosen, and the customer confirms.
_SURVEY_TEXT = {
    "en": {"comment": "Anything you would like to add? (optional)", "send": "Send my answer",
           "send_comment": "Send my comment", "thanks": "Thank you! Your answer is saved.",
           "comment_saved": "Thank you for your comment.", "more": "One more short question",
           "invalid": "This survey link is not valid."},
    "sv": {"comment": "Något du vill lägga till? (frivilligt)", "send": "Skicka mitt svar",
           "send_comment": "Skicka min kommentar", "thanks": "Tack! Ditt svar är sparat.",
           "comment_saved": "Tack för din kommentar.", "more": "En kort fråga till",
           "invalid": "Den här enkätlänken är inte giltig."},
    "nb": {"comment": "Noe du vil legge til? (valgfritt)", "send": "Send svaret mitt",
           "send_comment": "Send kommentaren min", "thanks": "Takk! Svaret ditt er lagret.",
           "comment_saved": "Takk for kommentaren din.", "more": "Ett kort spørsmål til",
           "invalid": "Denne lenken til undersøkelsen er ikke gyldig."},
}
# The question each page leads on to: NPS, then CSAT, then CES.
_NEXT_KIND = {"nps": "csat", "csat": "ces"}


def _survey_message(token: str):
    try:
        message_id = survey_token_read(token=token)
    except InvalidTokenError:
        return None
    return Message.objects.select_related("customer", "campaign").filter(pk=message_id).first()


@csrf_exempt  # Reached from an email, with no session: the signed token is the credential.
@require_http_methods(["GET", "POST"])
@public_rate_limit
def survey(request, token, kind="nps", score=None):
    """GET: the question with `score` pre-selected; records nothing. POST with a score:
    records (or updates) the answer, then offers the comment box. POST with only a
    comment: adds it to the answer already given."""
    message = _survey_message(token)
    locale = survey_locale(message.customer.locale if message else "")
    text = _SURVEY_TEXT[locale]
    if message is None or kind not in SurveyResponse.SCALES:
        return page_render(request, "campaigns/survey.html", {"text": text, "invalid": True},
                           status=404, locale=locale)
    low, high = SurveyResponse.SCALES[kind]
    if score is not None and not low <= score <= high:
        score = None
    context = {"text": text, "kind": kind, "scale": range(low, high + 1), "chosen": score,
               "token": token, "next_kind": _NEXT_KIND.get(kind),
               **survey_question_text(kind=kind, locale=locale)}
    if request.method == "POST":
        try:
            if not text_storable(request.POST.get("comment", "")):
                raise SurveyAnswerInvalid("The comment has a character that cannot be stored.")
            if "score" in request.POST:
                response = survey_answer(message=message, kind=kind,
                                         score=int(request.POST["score"]),
                                         comment=request.POST.get("comment", ""))
                context.update(saved=True, chosen=response.score,
                               has_comment=bool(response.comment))
            else:
                survey_comment_add(message=message, kind=kind,
                                   comment=request.POST.get("comment", ""))
                context.update(saved=True, has_comment=True, comment_saved=True)
        except (ValueError, SurveyAnswerInvalid):
            context["error"] = True
            return page_render(request, "campaigns/survey.html", context, status=400, locale=locale)
    return page_render(request, "campaigns/survey.html", context, locale=locale)
