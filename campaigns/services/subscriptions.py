"""Double opt-in (GD-9): subscription requests, their confirmation email, confirming them.

A request holds the proof of the "yes" until the person confirms it through the signed,
expiring link in a transactional confirmation email; only then does the consent log get
the grant (method `double_opt_in`). A confirmation from the public subscription page also
lifts an `erased` or `manual` suppression of the address (never a bounced or complained one).
"""
import datetime as dt
import logging
import uuid

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.utils.html import escape

from campaigns import clock
from campaigns.delivery.messages import email_build
from campaigns.models import (
    ConsentSource, Customer, SubscriptionRequest, Suppression, Topic,
)
from campaigns.services.consent import consent_record, email_hash, suppression_lift
from campaigns.tokens import subscription_token

logger = logging.getLogger(__name__)

# How long a request's email may wait for its task before the sweep queues it again.
OUTBOX_SWEEP_AFTER = dt.timedelta(minutes=1)
# At most this many requests per address per day: the page cannot be used to mail-bomb.
PER_ADDRESS_PER_DAY = 3
# Addresses that must not even get a confirmation email: the provider refused them or
# the person reported our mail as spam.
_NEVER_CONFIRM = (Suppression.Reason.BOUNCED, Suppression.Reason.COMPLAINED)


def double_opt_in_required(*, source: str, email_verified: bool | None) -> bool:
    """Does a "yes" from this source need confirming by email before it counts?

    The public subscription page always does. Consent the shop collected itself counts as
    given, unless the shop says the address is unverified or the source is listed in
    `DOUBLE_OPT_IN_SOURCES`.
    """
    if source == ConsentSource.SUBSCRIPTION_PAGE or email_verified is False:
        return True
    return source in settings.DOUBLE_OPT_IN_SOURCES


def subscription_pending_customers(*, customer_ids, now: dt.datetime) -> set[int]:
    """Customers among `customer_ids` with a subscription waiting for its confirmation."""
    return set(
        SubscriptionRequest.objects.filter(
            customer_id__in=customer_ids, confirmed_at__isnull=True,
            cancelled_at__isnull=True, expires_at__gt=now,
        ).values_list("customer_id", flat=True)
    )


def subscription_request_create(
    *,
    email: str,
    topics: list[str],
    source: str,
    customer: Customer | None = None,
    first_name: str = "",
    locale: str = "",
    wording_version: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
) -> SubscriptionRequest | None:
    """Record a "yes" waiting for confirmation and queue its confirmation email.

    Returns None, storing nothing, when the address already had PER_ADDRESS_PER_DAY
    requests in the last 24 hours. The caller answers the same either way, so the public
    page never tells whether an address is known.
    """
    topics = [t for t in topics if t in Topic.values] or [Topic.MARKETING]
    now = clock.now()
    digest = email_hash(email)
    with transaction.atomic():
        recent = SubscriptionRequest.objects.filter(
            email_hash=digest, requested_at__gt=now - dt.timedelta(days=1)
        ).count()
        if recent >= PER_ADDRESS_PER_DAY:
            return None
        request = SubscriptionRequest.objects.create(
            email=email.strip(), email_hash=digest, customer=customer, topics=topics,
            first_name=first_name[:100], locale=locale[:16], source=source,
            wording_version=wording_version[:64], ip_address=ip_address,
            user_agent=user_agent[:500], requested_at=now,
            expires_at=now + dt.timedelta(days=settings.DOUBLE_OPT_IN_DAYS),
        )
        from campaigns.tasks import queue_on_commit, subscription_confirmation_send

        # The row is the outbox: with the broker down the sweep sends it later.
        queue_on_commit(subscription_confirmation_send, request.pk)
    return request


def subscription_confirmations_unsent(*, now: dt.datetime, limit: int = 500) -> list[int]:
    """Pending requests whose confirmation email was not sent a minute after the request
    (its task never reached the broker, or was lost), oldest first."""
    return list(
        SubscriptionRequest.objects.filter(
            sent_at__isnull=True, confirmed_at__isnull=True, cancelled_at__isnull=True,
            expires_at__gt=now, requested_at__lt=now - OUTBOX_SWEEP_AFTER,
        ).order_by("requested_at", "pk").values_list("pk", flat=True)[:limit]
    )


_CONFIRMATION = {
    "en": ("Please confirm your subscription",
           "Hello{name},\n\nsomeone, hopefully you, asked to receive marketing emails from "
           "{company} at this address. Please confirm by opening this link and pressing "
           "Confirm:\n\n{url}\n\nThe link is valid for {days} days. If it was not you, "
           "ignore this email: nothing happens and we will not write again.\n\n{company}, {address}\n",
           "Confirm my subscription"),
    "sv": ("Bekräfta din prenumeration",
           "Hej{name},\n\nnågon, förhoppningsvis du, har bett om att få marknadsföring via "
           "e-post från {company} till den här adressen. Bekräfta genom att öppna länken och "
           "trycka på Bekräfta:\n\n{url}\n\nLänken gäller i {days} dagar. Om det inte var du "
           "kan du bortse från det här mejlet: ingenting händer och vi skriver inte igen.\n\n"
           "{company}, {address}\n",
           "Bekräfta min prenumeration"),
    "nb": ("Bekreft abonnementet ditt",
           "Hei{name},\n\nnoen, forhåpentligvis du, har bedt om å få markedsføring på e-post "
           "fra {company} til denne adressen. Bekreft ved å åpne lenken og trykke på "
           "Bekreft:\n\n{url}\n\nLenken gjelder i {days} dager. Hvis det ikke var deg, kan du "
           "se bort fra denne e-posten: ingenting skjer, og vi skriver ikke igjen.\n\n"
           "{company}, {address}\n",
           "Bekreft abonnementet mitt"),
}


def confirmation_render(*, request: SubscriptionRequest) -> dict:
    """The confirmation email: transactional, no promotion, the signed link only."""
    language = (request.locale or settings.DEFAULT_LOCALE).split("-")[0].lower()
    subject, body, button = _CONFIRMATION.get(language, _CONFIRMATION["en"])
    url = f"{settings.SITE_URL}/subscribe/confirm/{subscription_token(request_id=request.pk)}"
    text = body.format(
        name=f" {request.first_name}" if request.first_name else "", company=settings.COMPANY_NAME,
        address=settings.COMPANY_ADDRESS, url=url, days=settings.DOUBLE_OPT_IN_DAYS,
    )
    paragraphs = "".join(
        f"<p>{escape(p)}</p>" if p.strip() != url else
        f'<p><a href="{escape(url)}">{escape(button)}</a></p>'
        for p in text.split("\n\n")
    )
    html = f'<html><body style="font-family:Arial,sans-serif">{paragraphs}</body></html>'
    return {"subject": subject, "text": text, "html": html}


def subscription_confirmation_send(*, request_id: int) -> bool:
    """Send the confirmation email of a pending request once. True when it was sent.

    Not sent for a settled or expired request, twice, to a bounced or complained address,
    or to any suppressed address when the shop (not the person, on the public page) asked
    for it; the request is then cancelled. No List-Unsubscribe: it is transactional.
    """
    now = clock.now()
    with transaction.atomic():
        request = SubscriptionRequest.objects.select_for_update().filter(
            pk=request_id, sent_at__isnull=True, confirmed_at__isnull=True,
            cancelled_at__isnull=True, expires_at__gt=now,
        ).first()
        if request is None:
            return False
        suppressions = Suppression.objects.filter(email_hash=request.email_hash)
        if request.source != ConsentSource.SUBSCRIPTION_PAGE:
            # Only the person may start a re-subscription (GD-8): the shop's data never
            # mails a suppressed address, not even to ask.
            blocked = suppressions.exists()
        else:
            blocked = suppressions.filter(reason__in=_NEVER_CONFIRM).exists()
        if blocked:
            request.cancelled_at = now
            request.save(update_fields=["cancelled_at"])
            return False
        # Marked before the call: a crash after it never mails the person twice.
        request.sent_at = now
        request.save(update_fields=["sent_at"])
    domain = settings.SITE_URL.split("://")[-1].split("/")[0].split(":")[0] or "localhost"
    email = email_build(
        rendered=confirmation_render(request=request), to=request.email,
        from_email=settings.DEFAULT_FROM_EMAIL, sent_at=now,
        message_uuid=str(uuid.uuid4()), domain=domain, unsubscribe_url=None,
        tags=["double-opt-in"],
    )
    with get_connection() as connection:
        email.connection = connection
        email.send()
    logger.info("subscription confirmation sent for request %s", request.pk)
    return True


def subscription_confirm(
    *, request: SubscriptionRequest, ip_address: str | None = None, user_agent: str = ""
) -> bool:
    """Confirm a pending request: grant its topics in the consent log (double opt-in).

    A request from the public page applies to every customer with the address (a new
    one is created for a person who is not a customer yet) and lifts an erased or manual
    suppression. Returns False for a request that is expired, cancelled or already
    confirmed (idempotent: confirming twice changes nothing).
    """
    from campaigns.services.customers import customer_upsert

    now = clock.now()
    with transaction.atomic():
        request = SubscriptionRequest.objects.select_for_update().filter(
            pk=request.pk, confirmed_at__isnull=True, cancelled_at__isnull=True, expires_at__gt=now,
        ).first()
        if request is None:
            return False
        if request.customer_id is not None:
            customers = list(Customer.objects.filter(pk=request.customer_id, erased_at__isnull=True))
        else:
            customers = list(Customer.objects.filter(
                email__iexact=request.email, erased_at__isnull=True).order_by("id"))
            if not customers:
                customer, _ = customer_upsert(data={
                    "external_id": f"subscriber-{uuid.uuid4().hex[:20]}", "email": request.email,
                    "first_name": request.first_name, "locale": request.locale,
                }, source=ConsentSource.SUBSCRIPTION_PAGE)
                customers = [customer]
        for customer in customers:
            for topic in sorted(request.topics, key=lambda t: t != Topic.MARKETING):
                consent_record(
                    customer=customer, topic=topic, granted=True, source=request.source,
                    wording_version=request.wording_version, method="double_opt_in",
                    ip_address=ip_address, user_agent=user_agent, at=now,
                )
        if request.source == ConsentSource.SUBSCRIPTION_PAGE:
            suppression_lift(email=request.email)
        request.confirmed_at = now
        request.save(update_fields=["confirmed_at"])
    return True
