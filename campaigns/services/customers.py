"""Creating and updating customers from the shop's data, consent included."""

import datetime as dt

from django.db import IntegrityError, transaction

from campaigns import clock
from campaigns.exceptions import CampaignsError
from campaigns.models import Customer, Subscription, Topic
from campaigns.services.consent import consent_record

# Profile fields copied as given; None clears them (to "" for text, NULL for times).
PROFILE_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "locale",
    "time_zone",
    "country",
    "signed_up_at",
)
NULLABLE_FIELDS = {"signed_up_at"}


class IngestRejected(CampaignsError):
    """Data the domain refuses; nothing was stored.

    `errors` holds one dict per problem: {"field": dotted path, "message": text} and,
    for an item of a batch, "index".
    """

    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} problem(s) in the data; nothing was stored")
        self.errors = errors


def customer_upsert(
    *, data: dict, source: str, at: dt.datetime | None = None
) -> tuple[Customer, bool]:
    """Create or update the customer `data["external_id"]`; return (customer, created).

    Keys absent from `data` keep their stored value. A new customer needs an email,
    otherwise IngestRejected is raised. Consent answers go through `consent_record`
    with `source`; `at` is when they were given (default now), and an answer older than
    the stored state of its topic is ignored, so a late webhook cannot undo a newer
    withdrawal. The customer row stays locked until the caller's transaction ends.
    """
    with transaction.atomic():
        customer, created = _customer_lock_or_create(data)
        if not created:
            changed = _profile_apply(customer, data)
            if changed:
                customer.save(update_fields=changed)
        if data.get("consent"):
            _consent_apply(
                customer=customer,
                answers=data["consent"],
                source=source,
                at=min(at or clock.now(), clock.now()),
                wording_version=data.get("wording_version") or "",
                method="email_verified" if data.get("email_verified") else "",
            )
    return customer, created


def _customer_lock_or_create(data: dict) -> tuple[Customer, bool]:
    external_id = data["external_id"]
    customer = (
        Customer.objects.select_for_update().filter(external_id=external_id).first()
    )
    if customer is not None:
        return customer, False
    if not data.get("email"):
        raise IngestRejected(
            [
                {
                    "field": "email",
                    "message": "Required: no customer has this external_id yet.",
                }
            ]
        )
    customer = Customer(external_id=external_id)
    _profile_apply(customer, data)
    try:
        # A savepoint, so that losing a race to a concurrent create leaves the outer
        # transaction usable.
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        customer = Customer.objects.select_for_update().get(external_id=external_id)
        changed = _profile_apply(customer, data)
        if changed:
            customer.save(update_fields=changed)
        return customer, False
    return customer, True


def _profile_apply(customer: Customer, data: dict) -> list[str]:
    """Copy the given profile fields and attributes onto `customer`; name changes."""
    changed = []
    for field in PROFILE_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if value is None and field == "email":
            continue  # A customer always keeps an address.
        if value is None and field not in NULLABLE_FIELDS:
            value = ""
        if getattr(customer, field) != value:
            setattr(customer, field, value)
            changed.append(field)
    if data.get("attributes"):
        # Merged key by key; a null value removes the key.
        attributes = {**customer.attributes}
        for key, value in data["attributes"].items():
            if value is None:
                attributes.pop(key, None)
            else:
                attributes[key] = value
        if attributes != customer.attributes:
            customer.attributes = attributes
            changed.append("attributes")
    return changed


def _consent_apply(
    *, customer: Customer, answers: dict, source: str, at: dt.datetime, **proof
) -> None:
    given = {
        topic: granted for topic, granted in answers.items() if granted is not None
    }
    newer = set(
        Subscription.objects.filter(
            customer=customer, topic__in=list(given), updated_at__gt=at
        ).values_list("topic", flat=True)
    )
    # The global switch first: topic answers are read against it.
    for topic in sorted(given, key=lambda t: t != Topic.MARKETING):
        if topic not in newer:
            consent_record(
                customer=customer,
                topic=topic,
                granted=given[topic],
                source=source,
                at=at,
                **proof,
            )
