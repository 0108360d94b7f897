"""Build the email handed to django-anymail from rendered content; nothing domain-specific."""
import datetime as dt
from email.utils import format_datetime, parseaddr

from anymail.message import AnymailMessage
from django.conf import settings


def email_build(
    *,
    rendered: dict,
    to: str,
    from_email: str,
    sent_at: dt.datetime,
    message_uuid: str,
    domain: str,
    unsubscribe_url: str | None,
    tags: list[str],
) -> AnymailMessage:
    headers = {
        # The (possibly virtual) moment of sending, so a simulated month reads true.
        "Date": format_datetime(sent_at.astimezone(dt.timezone.utc), usegmt=True),
        "Message-ID": f"<{message_uuid}@{domain}>",
    }
    if unsubscribe_url:
        # RFC 8058 one-click unsubscribe; marketing messages only.
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = AnymailMessage(
        subject=rendered["subject"],
        body=rendered["text"],
        from_email=from_email,
        to=[to],
        headers=headers,
        tags=tags,
        metadata={"message_uuid": message_uuid},
        # Always explicit, so the provider's account default cannot switch tracking on.
        track_opens=settings.TRACK_OPENS,
        track_clicks=settings.TRACK_CLICKS,
    )
    email.attach_alternative(rendered["html"], "text/html")
    return email


def sending_domain(from_email: str) -> str:
    """The domain of a From address ("Shop <hello@Mail.example.com>" -> "mail.example.com")."""
    address = parseaddr(from_email)[1]
    return address.rpartition("@")[2].lower()[:253] if "@" in address else ""
