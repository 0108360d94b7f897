"""Data-subject rights: the access export (Art. 15 / 20) and erasure (Art. 17).

Erasure anonymises in place: the customer row becomes an anonymous stub that keeps the
aggregate facts (order count and amounts, dates, message states, survey scores, points),
every personal field is blanked, the shop's ids are replaced, and the address survives
only as a keyed hash in the suppression list, so a re-import, a checkout or an API upsert
of the same address is never mailed marketing again until the person opts in themselves.
"""
import dataclasses
import datetime as dt
import json
import logging

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat

from campaigns import clock, privacy
from campaigns.models import (
    Coupon,
    ConsentEvent, Customer, Enrollment, ErasureRequest, Event, EventLine, Message, MessageEvent, MessageLog,
    Order, OrderLine, PointsEntry, PrivacyRequest, SegmentMembership, Subscription, SubscriptionRequest,
    Referral, ReferralClick, ReferralCode, Suppression, SurveyResponse,
)
from campaigns.services.consent import consent_anonymise, email_hash

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "loyaltycrm.customer-export/1"
ERASED_PREFIX = "erased-"


@dataclasses.dataclass(frozen=True)
class Section:
    """One list in the export: a model's rows that belong to the customer."""

    name: str
    model: type[models.Model]
    lookup: str  # the path from the model to the customer
    related: tuple[tuple[str, str], ...] = ()  # (key in the row, dotted path) names added


# Every model that reaches the customer through a foreign key (directly or through a
# message or an enrollment) has a section; tests/services/test_gdpr.py walks the models
# and fails for one that is missing.
EXPORT_SECTIONS = (
    Section("subscriptions", Subscription, "customer"),
    Section("consent_log", ConsentEvent, "customer"),
    Section("orders", Order, "customer"),
    Section("order_lines", OrderLine, "customer", related=(("order", "order.external_id"),)),
    Section("events", Event, "customer"),
    Section("event_lines", EventLine, "customer"),
    Section("segment_memberships", SegmentMembership, "customer",
            related=(("segment", "segment.name"),)),
    Section("enrollments", Enrollment, "customer", related=(("campaign", "campaign.name"),)),
    Section("messages", Message, "customer",
            related=(("campaign", "campaign.name"), ("template", "step.template.name"),
                     ("variant_template", "variant.template.name"))),
    Section("message_log", MessageLog, "message__customer"),
    Section("message_events", MessageEvent, "message__customer"),
    Section("survey_responses", SurveyResponse, "customer"),
    Section("points_ledger", PointsEntry, "customer"),
    Section("coupons", Coupon, "customer", related=(("campaign", "campaign.name"),)),
    Section("subscription_requests", SubscriptionRequest, "customer"),
    Section("erasure_requests", ErasureRequest, "customer"),
    Section("referral_codes", ReferralCode, "customer"),
    Section("referral_clicks", ReferralClick, "code__customer"),
    Section("referred_by", Referral, "referred"),
    Section("referrals_made", Referral, "referrer"),
)
EXPORTED_MODELS = {Customer, *(section.model for section in EXPORT_SECTIONS)}

# Customer fields the profile shows (every field: the export must hide nothing).
_SKIP = {"customer"}


def _row(obj: models.Model, related=()) -> dict:
    row = {}
    for field in obj._meta.concrete_fields:
        if field.name in _SKIP:
            continue
        row[field.attname] = field.value_from_object(obj)
    for key, path in related:
        value = obj
        for part in path.split("."):
            value = getattr(value, part, None) if value is not None else None
        row[key] = value
    return row


def customer_export(*, customer: Customer) -> dict:
    """Everything held about the customer, as one JSON-ready document with the Art. 15
    facts. Reads only; the caller records the request."""
    document = {
        "format": EXPORT_FORMAT,
        "generated_at": clock.now(),
        "controller": privacy.controller(),
        "about_this_export": privacy.article_15_facts(),
        "customer": _row(customer),
        "suppression": _suppression_state(customer),
    }
    for section in EXPORT_SECTIONS:
        related = [path.rsplit(".", 1)[0].replace(".", "__") for _, path in section.related]
        rows = section.model.objects.filter(**{section.lookup: customer}).select_related(
            *related).order_by("pk")
        document[section.name] = [_row(obj, section.related) for obj in rows]
    return document


def export_json(document: dict) -> str:
    return json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)


def _suppression_state(customer: Customer) -> dict:
    if not customer.email:
        return {"suppressed": None, "note": "No address is held, so none can be looked up."}
    row = Suppression.objects.filter(email_hash=email_hash(customer.email)).first()
    if row is None:
        return {"suppressed": False}
    return {"suppressed": True, "reason": row.reason, "since": row.created_at}


def privacy_request_record(*, kind: str, customer_id: int, actor: str,
                           completed: bool = True, counts: dict | None = None) -> PrivacyRequest:
    now = clock.now()
    return PrivacyRequest.objects.create(
        kind=kind, customer_id=customer_id, actor=actor[:200], requested_at=now,
        completed_at=now if completed else None, counts=counts or {},
    )


def customer_erase(*, customer: Customer, actor: str) -> PrivacyRequest | None:
    """Erase one customer (see `customers_erase`); None if it was already erased."""
    records = customers_erase(customer_ids=[customer.pk], actor=actor)
    customer.refresh_from_db()
    return records[0] if records else None


def customers_erase(*, customer_ids: list[int], actor: str,
                    suppress_ids: set[int] | None = None) -> list[PrivacyRequest]:
    """Anonymise these customers in one transaction, set-based; return the audit records.

    Already erased customers are left out, so running it twice changes nothing the second
    time. Each address is added to the suppression list (reason `erased`; an existing
    bounce or complaint keeps its reason); `suppress_ids` limits that to some customers
    (the retention purge suppresses only those who had said no). Messages not yet handed
    to the provider are skipped with reason `erased`, active journeys end.
    """
    now = clock.now()
    with transaction.atomic():
        customers = list(Customer.objects.select_for_update().filter(
            pk__in=customer_ids, erased_at__isnull=True).order_by("pk"))
        if not customers:
            return []
        ids = [c.pk for c in customers]
        Suppression.objects.bulk_create(
            [Suppression(email_hash=email_hash(c.email), reason=Suppression.Reason.ERASED,
                         created_at=now)
             for c in customers if c.email and (suppress_ids is None or c.pk in suppress_ids)],
            ignore_conflicts=True,
        )
        counts = {"messages_cancelled": _messages_cancel(ids, now=now)}
        counts["journeys_ended"] = Enrollment.objects.filter(
            customer_id__in=ids, state=Enrollment.State.ACTIVE
        ).update(state=Enrollment.State.EXITED, exit_reason="erased", finished_at=now,
                 next_action_at=None)
        counts["messages"] = Message.objects.filter(customer_id__in=ids).exclude(
            subject="", provider_message_id="").update(subject="", provider_message_id="")
        counts["message_log"] = MessageLog.objects.filter(
            message__customer_id__in=ids).exclude(detail="").update(detail="")
        counts["message_events"] = MessageEvent.objects.filter(
            message__customer_id__in=ids).exclude(payload={}).update(payload={})
        counts["events"] = Event.objects.filter(customer_id__in=ids).exclude(
            properties={}, event_id__isnull=True).update(properties={}, event_id=None)
        counts["orders"] = Order.objects.filter(customer_id__in=ids).update(
            external_id=_erased_id())
        counts["survey_comments"] = SurveyResponse.objects.filter(
            customer_id__in=ids).exclude(comment="").update(comment="")
        # Unused codes die with the person; the shop's order id of a used one goes.
        Coupon.objects.filter(customer_id__in=ids, expires_at__gt=now).update(expires_at=now)
        counts["coupons"] = Coupon.objects.filter(customer_id__in=ids).exclude(
            redeemed_order="").update(redeemed_order="")
        counts["segment_memberships"], _ = SegmentMembership.objects.filter(
            customer_id__in=ids).delete()
        # Referral codes go with the person (their clicks stay, without the code); a
        # referral either of them was part of stays counted, without the link between them.
        counts["referral_codes"], _ = ReferralCode.objects.filter(customer_id__in=ids).delete()
        counts["referral_links"] = Referral.objects.filter(
            Q(referrer_id__in=ids) | Q(referred_id__in=ids), referrer__isnull=False,
        ).update(referrer=None, code="")
        # Double opt-in requests keep only their keyed hash; the erasure answers any open
        # deletion request from the preference centre.
        counts["subscription_requests"] = SubscriptionRequest.objects.filter(
            customer_id__in=ids).update(email="", first_name="", ip_address=None, user_agent="")
        ErasureRequest.objects.filter(customer_id__in=ids, handled_at__isnull=True).update(
            handled_at=now)
        counts["erasure_requests"] = ErasureRequest.objects.filter(customer_id__in=ids).update(
            ip_address=None, user_agent="")
        counts["consent_proof"] = sum(consent_anonymise(customer=c) for c in customers)
        counts["admin_log"] = LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Customer),
            object_id__in=[str(pk) for pk in ids],
        ).update(object_repr="(erased customer)", change_message="")
        Customer.objects.filter(pk__in=ids).update(
            external_id=_erased_id(), email="", first_name="", last_name="", locale="",
            time_zone="", country="", attributes={}, tier="", rfm_recency=None,
            rfm_frequency=None, rfm_monetary=None, lifecycle_stage="",
            lifecycle_stage_since=None, scored_at=None, best_hour=None,
            erased_at=now, updated_at=now,
        )
        counts = {key: value for key, value in counts.items() if value}
        if len(ids) > 1:
            counts["customers_in_batch"] = len(ids)
        records = PrivacyRequest.objects.bulk_create([
            PrivacyRequest(kind=PrivacyRequest.Kind.ERASURE, customer_id=pk, actor=actor[:200],
                           requested_at=now, completed_at=now, counts=counts)
            for pk in ids
        ])
    logger.info("erased %d customer(s) by %s", len(ids), actor)
    return records


def _erased_id():
    """`erased-<row id>`: frees the shop's id, so its next use is a new customer."""
    return Concat(Value(ERASED_PREFIX), Cast("id", CharField()))


def _messages_cancel(customer_ids: list[int], *, now) -> int:
    pending = list(Message.objects.filter(
        customer_id__in=customer_ids,
        state__in=[Message.State.PENDING, Message.State.CLAIMED],
    ).values_list("id", flat=True))
    if not pending:
        return 0
    Message.objects.filter(id__in=pending).update(
        state=Message.State.SKIPPED, reason="erased", claimed_until=None)
    MessageLog.objects.bulk_create([
        MessageLog(message_id=pk, at=now, state=Message.State.SKIPPED, reason="erased")
        for pk in pending
    ])
    return len(pending)


def customers_matching(*, email: str | None = None, external_id: str | None = None):
    """The customers a request names: by external id, or every row holding the address."""
    if external_id is not None:
        return Customer.objects.filter(external_id=external_id)
    wanted = (email or "").strip()
    if not wanted:
        return Customer.objects.none()
    return Customer.objects.filter(email__iexact=wanted)


def erased_address_suppress(*, email: str) -> bool:
    """An erasure request for an address no customer holds: make sure it is never mailed.

    True if the suppression is new.
    """
    _, created = Suppression.objects.get_or_create(
        email_hash=email_hash(email), defaults={"reason": Suppression.Reason.ERASED})
    return created


# -- The export emailed on request ---------------------------------------------------------

EXPORT_LINK_COOLDOWN_HOURS = 24


def privacy_export_request(*, customer_id: int, actor: str) -> PrivacyRequest | None:
    """Queue the export email for a customer who asked through the email link.

    Nothing happens for an unknown or erased customer, nor within 24 hours of the
    previous request through the link (one email a day, however often it is clicked).
    """
    customer = Customer.objects.filter(pk=customer_id, erased_at__isnull=True).exclude(
        email="").first()
    if customer is None:
        return None
    since = clock.now() - dt.timedelta(hours=EXPORT_LINK_COOLDOWN_HOURS)
    if PrivacyRequest.objects.filter(kind=PrivacyRequest.Kind.EXPORT, customer_id=customer_id,
                                     actor=actor, requested_at__gt=since).exists():
        return None
    from campaigns.tasks import privacy_export_send, queue_on_commit

    record = privacy_request_record(kind=PrivacyRequest.Kind.EXPORT, customer_id=customer_id,
                                    actor=actor, completed=False)
    # The row is the outbox: with the broker down the sweep sends it later.
    queue_on_commit(privacy_export_send, record.pk)
    return record


def privacy_exports_unsent(*, now: dt.datetime, limit: int = 500) -> list[int]:
    """Export requests not emailed a minute after they were made (their task never reached
    the broker, or was lost), oldest first."""
    return list(
        PrivacyRequest.objects.filter(
            kind=PrivacyRequest.Kind.EXPORT, completed_at__isnull=True,
            requested_at__lt=now - dt.timedelta(minutes=1),
        ).order_by("requested_at", "pk").values_list("pk", flat=True)[:limit]
    )


def privacy_export_email(*, request_id: int) -> bool:
    """Email the export of a queued request to the address on file (a transactional email,
    the JSON attached). Idempotent: a completed request sends nothing. True if sent."""
    from anymail.message import AnymailMessage

    record = PrivacyRequest.objects.filter(pk=request_id, kind=PrivacyRequest.Kind.EXPORT).first()
    if record is None or record.completed_at is not None:
        return False
    customer = Customer.objects.filter(pk=record.customer_id, erased_at__isnull=True).exclude(
        email="").first()
    if customer is None:
        PrivacyRequest.objects.filter(pk=record.pk).update(
            completed_at=clock.now(), counts={"sent": 0})
        return False
    body = privacy.export_email_text(customer)
    email = AnymailMessage(
        subject=privacy.export_email_subject(customer), body=body,
        from_email=settings.DEFAULT_FROM_EMAIL, to=[customer.email],
        tags=["privacy-export"], metadata={"privacy_request": str(record.pk)},
    )
    email.attach("customer-data.json", export_json(customer_export(customer=customer)),
                 "application/json")
    # Sent with no transaction open; a crash before the next line means one more email
    # on retry, which is harmless for a copy of one's own data.
    email.send()
    PrivacyRequest.objects.filter(pk=record.pk).update(completed_at=clock.now(),
                                                       counts={"sent": 1})
    return True
