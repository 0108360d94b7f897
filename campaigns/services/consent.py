"""The only writer of consent: the append-only log and the cached current state, together."""
import dataclasses
import datetime as dt
import hashlib
import hmac
import unicodedata

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from campaigns import clock
from campaigns.models import (
    ConsentEvent, ConsentSource, Customer, Subscription, Suppression, Topic,
)
from campaigns.services.bulk import filter_in, rows_insert, rows_update


def email_hash(email: str) -> str:
    """HMAC-SHA256 of the normalised address under SUPPRESSION_HASH_KEY (hex), as kept in
    the suppression list.

    Normalised: Unicode NFC, surrounding spaces trimmed, lower-cased. Dots and +tags are
    kept: they may reach different people at some providers, and a false match would
    silence someone who never asked. Keyed, so a dictionary of addresses cannot reverse
    the list without the key (GD-12).
    """
    key = settings.SUPPRESSION_HASH_KEY
    if not key:
        raise ImproperlyConfigured("SUPPRESSION_HASH_KEY is not set.")
    normalised = unicodedata.normalize("NFC", email).strip().lower()
    return hmac.new(key.encode(), normalised.encode(), hashlib.sha256).hexdigest()


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


@dataclasses.dataclass(frozen=True)
class ConsentAnswer:
    """One customer's yes or no to a topic, given at `at` (for `consents_record_bulk`)."""

    customer_id: int
    granted: bool
    at: dt.datetime
    wording_version: str = ""
    method: str = ""


def consents_record_bulk(
    *, answers: list[ConsentAnswer], source: str, topic: str = Topic.MARKETING,
    dry_run: bool = False,
) -> int:
    """`consent_record` for many customers at once, set-based; returns the events appended.

    In one transaction: the current state rows are locked, an answer that repeats the
    current state or is older than it is skipped (so importing a file again appends
    nothing, and an old "yes" cannot undo a newer "no"), then the events are appended, the
    current state upserted and, for marketing, `Customer.marketing_consent` updated, all
    with one statement each. Of several answers for one customer, the latest counts.
    With `dry_run` nothing is written: the return value says what would be appended.
    """
    latest: dict[int, ConsentAnswer] = {}
    for answer in answers:
        kept = latest.get(answer.customer_id)
        if kept is None or answer.at >= kept.at:
            latest[answer.customer_id] = answer
    if not latest:
        return 0
    with transaction.atomic():
        current = {
            customer_id: (sub_id, subscribed, updated_at)
            for sub_id, customer_id, subscribed, updated_at
            in filter_in(
                Subscription.objects if dry_run else Subscription.objects.select_for_update(),
                "customer", sorted(latest)).filter(topic=topic).order_by("customer_id")
            .values_list("id", "customer_id", "subscribed", "updated_at")
        }
        changes = [
            answer for customer_id, answer in sorted(latest.items())
            if customer_id not in current
            or (current[customer_id][1] != answer.granted and current[customer_id][2] <= answer.at)
        ]
        if dry_run or not changes:
            return len(changes)
        rows_insert(ConsentEvent, [
            {"customer_id": a.customer_id, "topic": topic, "granted": a.granted,
             "occurred_at": a.at, "source": source, "wording_version": a.wording_version,
             "method": a.method, "ip_address": None, "user_agent": ""}
            for a in changes
        ])
        rows_update(Subscription, [
            {"id": current[a.customer_id][0], "subscribed": a.granted, "updated_at": a.at}
            for a in changes if a.customer_id in current
        ], fields=["subscribed", "updated_at"])
        rows_insert(Subscription, [
            {"customer_id": a.customer_id, "topic": topic, "subscribed": a.granted,
             "updated_at": a.at}
            for a in changes if a.customer_id not in current
        ])
        if topic == Topic.MARKETING:
            for granted in (True, False):
                ids = [a.customer_id for a in changes if a.granted is granted]
                if ids:
                    filter_in(Customer.objects, "id", ids).update(marketing_consent=granted)
    return len(changes)


def consent_withdraw_all(*, customer: Customer, source: str, **proof) -> bool:
    """The global "no": withdraws marketing consent, which every marketing send checks."""
    return consent_record(customer=customer, topic=Topic.MARKETING, granted=False, source=source, **proof)


def suppression_add(*, email: str, reason: str) -> None:
    """Never mail this address again (idempotent)."""
    Suppression.objects.get_or_create(email_hash=email_hash(email), defaults={"reason": reason})


def suppression_lift(*, email: str) -> bool:
    """Remove an `erased` or `manual` suppression of this address (the person opted in
    again themselves and confirmed). Complaints and bounces are never lifted here.

    Returns True when a suppression was removed.
    """
    lifted, _ = Suppression.objects.filter(
        email_hash=email_hash(email),
        reason__in=[Suppression.Reason.ERASED, Suppression.Reason.MANUAL],
    ).delete()
    return bool(lifted)


def consent_anonymise(*, customer: Customer) -> int:
    """For an erasure: withdraw all marketing (logged) and strip the network proof (IP
    address, user agent) from the customer's consent log. Returns the rows stripped.

    The log's rows stay (topic, yes/no, when, source, wording): they prove past sends
    were lawful and identify no one once the customer is anonymised.
    """
    with transaction.atomic():
        consent_record(customer=customer, topic=Topic.MARKETING, granted=False,
                       source=ConsentSource.ADMIN, method="erasure")
        return ConsentEvent.objects.filter(customer=customer).exclude(
            ip_address__isnull=True, user_agent=""
        ).update(ip_address=None, user_agent="")


def topic_allows(*, customer: Customer, topic: str, subscriptions: dict[str, bool]) -> bool:
    """May a marketing message on `topic` go to this customer (global switch and topic)?"""
    if not customer.marketing_consent:
        return False
    if topic == Topic.MARKETING:
        return True
    # A topic the customer never spoke about follows the global switch.
    return subscriptions.get(topic, True)
