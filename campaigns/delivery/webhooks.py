"""anymail webhook views with replay protection added where the provider signs a timestamp.

anymail checks Mailgun's HMAC over timestamp + token but not the timestamp's age
(compliance.md EM-21). A replay with a token already seen is a duplicate event id and is
stored once anyway; beyond that, a correctly signed post older than
WEBHOOK_MAX_AGE_SECONDS is logged and ignored with a 200 (EM-21: a 4xx would make the
provider retry it forever), so a captured post cannot be replayed after its event row is
gone. A timestamp that is missing, not a number, or more than five minutes in the future
is refused with a 400.
"""
import datetime as dt
import functools
import json
import logging

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.webhooks.mailgun import MailgunTrackingWebhookView as AnymailMailgunTracking
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import DatabaseError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden

from campaigns import clock

logger = logging.getLogger(__name__)

FUTURE_SKEW = dt.timedelta(minutes=5)


def signed_moment(timestamp, *, provider: str) -> dt.datetime:
    """The signed moment of a webhook post. Raises AnymailWebhookValidationFailure
    (anymail answers 400) for a timestamp that is not a number or lies in the future."""
    try:
        moment = dt.datetime.fromtimestamp(float(timestamp), tz=dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError) as error:
        raise AnymailWebhookValidationFailure(
            f"{provider} webhook signature has no valid timestamp"
        ) from error
    if moment > clock.now() + FUTURE_SKEW:
        raise AnymailWebhookValidationFailure(
            f"{provider} webhook signed at {moment:%Y-%m-%d %H:%M:%S} UTC is in the future"
        )
    return moment


def signed_too_long_ago(moment: dt.datetime) -> bool:
    return moment < clock.now() - dt.timedelta(seconds=settings.WEBHOOK_MAX_AGE_SECONDS)


def _mailgun_timestamp(request):
    if request.content_type == "application/json":
        try:
            return json.loads(request.body.decode("utf-8"))["signature"]["timestamp"]
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as error:
            raise AnymailWebhookValidationFailure(
                "Mailgun webhook called with invalid payload format"
            ) from error
    return request.POST.get("timestamp")


class MailgunTrackingWebhookView(AnymailMailgunTracking):
    """anymail's Mailgun tracking webhook (basic auth if set, then the signature), plus the
    age of the signed timestamp. anymail runs every validate_request in the class chain."""

    def validate_request(self, request):
        signed_moment(_mailgun_timestamp(request), provider="Mailgun")

    def post(self, request, *args, **kwargs):
        # As anymail's post, with one step between checking and applying: a post that is
        # authentic but too old is a replay (or a retry far past any outage) and is dropped.
        self.run_validators(request)
        moment = signed_moment(_mailgun_timestamp(request), provider="Mailgun")
        if signed_too_long_ago(moment):
            logger.warning("ignored a Mailgun webhook signed at %s UTC, older than %s s (replay?)",
                           f"{moment:%Y-%m-%d %H:%M:%S}", settings.WEBHOOK_MAX_AGE_SECONDS)
            return HttpResponse()
        for event in self.parse_events(request):
            self.signal.send(sender=self.__class__, event=event, esp_name=self.esp_name)
        return HttpResponse()


def webhook_guarded(view, *, provider: str):
    """One of anymail's webhook views, open only for the providers this site uses
    (settings.WEBHOOK_PROVIDERS; 404 for the others), and never answering 5xx to what a
    post carries: a provider whose signing key is missing refuses every post (403), and a
    post that cannot be parsed gets a 400. A database error still answers 500, so the
    provider posts the event again later."""

    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        if provider not in settings.WEBHOOK_PROVIDERS:
            raise Http404("no such webhook")
        try:
            return view(request, *args, **kwargs)
        except ImproperlyConfigured as error:
            # E.g. Mailgun without MAILGUN_WEBHOOK_SIGNING_KEY: nothing can be verified.
            logger.error("%s webhook refused: it is not configured (%s)", provider, error)
            return HttpResponseForbidden("webhook not configured")
        except (DatabaseError, SuspiciousOperation, Http404):
            raise
        except Exception as error:  # noqa: BLE001 - anything in a post is a client error
            logger.warning("%s webhook post refused: %s", provider, type(error).__name__)
            return HttpResponseBadRequest("malformed webhook post")

    return guarded
