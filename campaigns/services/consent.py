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
    ConsentEvent, ConsentSource, CountryPolicy, Customer, ErasureRequest, Subscription,
    SubscriptionRequest, Suppression, Topic,
)
from campaigns.services.bulk import filter_in, rows_insert, rows_update


def email_folded(email: str) -> str:
    """The address as the suppression hash reads it: Unicode NFC, surrounding spaces
    trimmed, lower-cased (see `email_hash`). Two addresses that fold alike are one person's
    for the suppression list and for referrals alike."""
    return unicodedata.normalize("NFC", email).strip().lower()


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
    return hmac.new(key.encode(), email_folded(email).encode(), hashlib.sha256).hexdigest()


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
        _events_append(changes, source=source, topic=topic)
        rows_update(Subscription, [
            {"id": current[a.customer_id][0], "subscribed": a.granted, "updated_at": a.at}
            for a in changes if a.customer_id in current
        ], fields=["subscribed", "updated_at"])
        _subscriptions_insert([a for a in changes if a.customer_id not in current], topic=topic)
        if topic == Topic.MARKETING:
            for granted in (True, False):
                ids = [a.customer_id for a in changes if a.granted is granted]
                if ids:
                    filter_in(Customer.objects, "id", ids).update(marketing_consent=granted)
    return len(changes)


def _events_append(answers: list[ConsentAnswer], *, source: str, topic: str) -> None:
    rows_insert(ConsentEvent, [
        {"customer_id": a.customer_id, "topic": topic, "granted": a.granted,
         "occurred_at": a.at, "source": source, "wording_version": a.wording_version,
         "method": a.method, "ip_address": None, "user_agent": ""}
        for a in answers
    ])


def _subscriptions_insert(answers: list[ConsentAnswer], *, topic: str) -> None:
    rows_insert(Subscription, [
        {"customer_id": a.customer_id, "topic": topic, "subscribed": a.granted,
         "updated_at": a.at}
        for a in answers
    ])


def customers_create_with_consent(
    *, rows: list[dict], answers: dict[str, ConsentAnswer], source: str,
) -> tuple[dict[str, int], int]:
    """Insert new customers with their marketing consent; return ({external_id: id},
    events appended).

    `rows` are full customer rows (as for `rows_insert`) of customers not stored yet;
    `answers` maps some of their external ids to their marketing answer (its
    `customer_id` is ignored: the customer has no id yet). In one transaction the
    customers are inserted with `marketing_consent` already set from their answer (False
    without one, as for any new customer), then the answers are logged and their
    subscriptions created, as `consents_record_bulk` would record them for customers
    without a stored state, but without writing the new rows a second time.
    """
    if not rows:
        return {}, 0
    with transaction.atomic():
        for row in rows:
            answer = answers.get(row["external_id"])
            row["marketing_consent"] = answer.granted if answer is not None else False
        ids = {external_id: pk for pk, external_id in rows_insert(
            Customer, rows, returning=("id", "external_id"))}
        recorded = sorted(
            (ConsentAnswer(ids[external_id], answer.granted, answer.at,
                           answer.wording_version, answer.method)
             for external_id, answer in answers.items() if external_id in ids),
            key=lambda answer: answer.customer_id)
        if recorded:
            _events_append(recorded, source=source, topic=Topic.MARKETING)
            _subscriptions_insert(recorded, topic=Topic.MARKETING)
    return ids, len(recorded)


def consent_withdraw_all(*, customer: Customer, source: str, **proof) -> bool:
    """The global "no": withdraws marketing consent, which every marketing send checks.

    A pending double opt-in of the customer is cancelled too: the later "no" wins.
    """
    with transaction.atomic():
        SubscriptionRequest.objects.filter(
            customer=customer, confirmed_at__isnull=True, cancelled_at__isnull=True
        ).update(cancelled_at=clock.now())
        return consent_record(
            customer=customer, topic=Topic.MARKETING, granted=False, source=source, **proof
        )


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


def consent_opt_out_offered(*, customer: Customer, at=None) -> bool:
    """Record that the shop collected the address at a sale with a clear opt-out offered.

    The first such moment is kept (it is when the address was collected). It is one of
    the existing-customer exception's conditions, never consent by itself.
    """
    at = min(at or clock.now(), clock.now())
    updated = Customer.objects.filter(pk=customer.pk, opt_out_offered_at__isnull=True).update(
        opt_out_offered_at=at
    )
    if updated:
        customer.opt_out_offered_at = at
    return bool(updated)


def erasure_request_record(*, customer: Customer, ip_address: str | None = None,
                           user_agent: str = "") -> bool:
    """Record a deletion request for the staff (one open request per customer) and stop
    marketing at once: someone asking to be deleted wants no offers meanwhile.

    Returns True when a new request was recorded.
    """
    with transaction.atomic():
        created = not ErasureRequest.objects.filter(customer=customer, handled_at__isnull=True).exists()
        if created:
            ErasureRequest.objects.create(customer=customer, requested_at=clock.now(),
                                          ip_address=ip_address, user_agent=user_agent[:500])
        consent_withdraw_all(customer=customer, source=ConsentSource.PREFERENCE_CENTRE,
                             method="erasure_request", ip_address=ip_address, user_agent=user_agent)
    return created


def marketing_pause(*, customer: Customer, until) -> None:
    """Pause all marketing until `until` (None resumes now). The gate honours it; it ends by itself."""
    Customer.objects.filter(pk=customer.pk).update(marketing_paused_until=until)
    customer.marketing_paused_until = until


@dataclasses.dataclass(frozen=True)
class LegalGround:
    """Why a marketing message may go (`ground`), or why not (`reason`), in words (`detail`)."""

    ground: str = ""
    reason: str = ""
    detail: str = ""

    def __bool__(self) -> bool:
        return bool(self.ground)


CONSENT = "consent"
EXISTING_CUSTOMER = "existing_customer"


def country_policies_current() -> dict[str, CountryPolicy]:
    """Every country's policy, by upper-case country code."""
    return {p.country.upper(): p for p in CountryPolicy.objects.all()}


def _refused(reason: str, detail: str) -> LegalGround:
    return LegalGround(reason=reason, detail=detail)


def legal_ground(
    *,
    customer: Customer,
    topic: str,
    similar_products: bool,
    subscriptions: dict[str, bool],
    policies: dict[str, CountryPolicy],
    pending: bool,
    now: dt.datetime,
) -> LegalGround:
    """The legal ground for one marketing message to one customer now (GD-2 … GD-4).

    Runs no queries: the sender loads the inputs for the whole batch. In order:
    a pause or a pending double opt-in blocks everything; recorded opt-in consent (and
    not unsubscribed from the topic) is a ground; a withdrawn "no" is final; otherwise
    the existing-customer exception, where the customer's country enables it, for a
    message about similar products to a customer who bought, was offered an opt-out when
    the address was collected, and (Norway) still has an active relationship.
    """
    if customer.marketing_paused_until is not None and now < customer.marketing_paused_until:
        return _refused("paused", f"marketing paused until {customer.marketing_paused_until:%Y-%m-%d %H:%M} UTC")
    if pending:
        return _refused("pending_confirmation", "subscription waiting for its double opt-in confirmation")
    topic_ok = topic == Topic.MARKETING or subscriptions.get(topic, True)
    if customer.marketing_consent:
        if not topic_ok:
            return _refused("no_consent", f"unsubscribed from {topic}")
        return LegalGround(ground=CONSENT, detail="recorded opt-in consent")
    if subscriptions.get(Topic.MARKETING) is False:
        return _refused("no_consent", "withdrew consent / objected to marketing")
    if not topic_ok:
        return _refused("no_consent", f"unsubscribed from {topic}")
    country = (customer.country or "").upper()
    policy = policies.get(country)
    if policy is None or not policy.existing_customer_exception:
        return _refused("no_consent", f"no opt-in consent; the existing-customer exception is off for {country or 'no country'}")
    if not similar_products:
        return _refused("no_consent", "no opt-in consent; the message is not about similar products")
    if not customer.order_count or customer.last_order_at is None:
        return _refused("no_consent", "no opt-in consent and no purchase")
    if customer.opt_out_offered_at is None:
        return _refused("no_consent", "no opt-in consent; no opt-out was offered when the address was collected")
    if policy.relationship_days is not None and (
        now - customer.last_order_at > dt.timedelta(days=policy.relationship_days)
    ):
        return _refused("no_consent", f"no opt-in consent; last purchase over {policy.relationship_days} days ago")
    active = (
        customer.order_count >= policy.relationship_min_orders
        or (policy.relationship_min_total > 0 and customer.total_spent >= policy.relationship_min_total)
        or (policy.membership_counts and bool(customer.tier))
    )
    if not active:
        return _refused("no_consent", f"no opt-in consent; no active customer relationship under {country}'s rule")
    return LegalGround(ground=EXISTING_CUSTOMER, detail=f"existing-customer exception ({country})")
