"""The only writer of consent: the append-only log and the cached current state, together."""
import hashlib

from django.db import transaction

from campaigns import clock
from campaigns.models import ConsentEvent, Customer, Subscription, Suppression, Topic


def email_hash(email: str) -> str:
    """SHA-256 of the normalised address, as kept in the suppression list."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def consent_record(
    *,
    customer: Customer,
    topic: str = Topic.MARKETING,
    granted: bool,
    source: str,
    wording_version: str = "",
    method: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    at=None,
) -> bool:
    """Append a consent event and update the current state in one transaction.

    Returns True when the state changed. Recording the state it already has is a no-op
    (nothing is appended), so retried API posts and double clicks leave one proof each.
    """
    at = at or clock.now()
    with transaction.atomic():
        current = Subscription.objects.select_for_update().filter(
            customer=customer, topic=topic
        ).first()
        if current is not None and current.subscribed == granted:
            return False
        ConsentEvent.objects.create(
            customer=customer,
            topic=topic,
            granted=granted,
            occurred_at=at,
            source=source,
            wording_version=wording_version,
            method=method,
            ip_address=ip_address,
            user_agent=user_agent[:500],
        )
        Subscription.objects.update_or_create(
            customer=customer, topic=topic, defaults={"subscribed": granted, "updated_at": at}
        )
        if topic == Topic.MARKETING:
            Customer.objects.filter(pk=customer.pk).update(marketing_consent=granted)
            customer.marketing_consent = granted
    return True


def consent_withdraw_all(*, customer: Customer, source: str, **proof) -> bool:
    """The global "no": withdraws marketing consent, which every marketing send checks."""
    return consent_record(customer=customer, topic=Topic.MARKETING, granted=False, source=source, **proof)


def suppression_add(*, email: str, reason: str) -> None:
    """Never mail this address again (idempotent)."""
    Suppression.objects.get_or_create(email_hash=email_hash(email), defaults={"reason": reason})


def topic_allows(*, customer: Customer, topic: str, subscriptions: dict[str, bool]) -> bool:
    """May a marketing message on `topic` go to this customer (global switch and topic)?"""
    if not customer.marketing_consent:
        return False
    if topic == Topic.MARKETING:
        return True
    # A topic the customer never spoke about follows the global switch.
    return subscriptions.get(topic, True)
