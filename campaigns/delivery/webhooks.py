"""anymail webhook views with replay protection added where the provider signs a timestamp.

anymail checks Mailgun's HMAC over timestamp + token but not the timestamp's age
(compliance.md EM-21). A replay with a token already seen is a duplicate event id and is
stored once anyway; this refuses a signed post older than WEBHOOK_MAX_AGE_SECONDS (or
more than five minutes in the future), so a captured post cannot be replayed after its
event row is gone.
"""
import datetime as dt
import json

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.webhooks.mailgun import MailgunTrackingWebhookView as AnymailMailgunTracking
from django.conf import settings

from campaigns import clock

FUTURE_SKEW = dt.timedelta(minutes=5)


def signed_moment_check(timestamp, *, provider: str) -> None:
    """Raise AnymailWebhookValidationFailure (anymail answers 400) for a stale or future
    signed timestamp, or one that is not a number."""
    try:
        moment = dt.datetime.fromtimestamp(float(timestamp), tz=dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError) as error:
        raise AnymailWebhookValidationFailure(
            f"{provider} webhook signature has no valid timestamp"
        ) from error
    now = clock.now()
    if moment < now - dt.timedelta(seconds=settings.WEBHOOK_MAX_AGE_SECONDS):
        raise AnymailWebhookValidationFailure(
            f"{provider} webhook signed at {moment:%Y-%m-%d %H:%M:%S} UTC is too old (replay?)"
        )
    if moment > now + FUTURE_SKEW:
        raise AnymailWebhookValidationFailure(
            f"{provider} webhook signed at {moment:%Y-%m-%d %H:%M:%S} UTC is in the future"
        )


class MailgunTrackingWebhookView(AnymailMailgunTracking):
    """anymail's Mailgun tracking webhook (basic auth if set, then the signature), plus the
    age of the signed timestamp. anymail runs every validate_request in the class chain."""

    def validate_request(self, request):
        if request.content_type == "application/json":
            try:
                timestamp = json.loads(request.body.decode("utf-8"))["signature"]["timestamp"]
            except (KeyError, TypeError, ValueError, UnicodeDecodeError) as error:
                raise AnymailWebhookValidationFailure(
                    "Mailgun webhook called with invalid payload format"
                ) from error
        else:
            timestamp = request.POST.get("timestamp")
        signed_moment_check(timestamp, provider="Mailgun")
