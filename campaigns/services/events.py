"""Storing the shop's events with their customers and orders, idempotently."""

import dataclasses
import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce, Greatest, Least

from campaigns import clock
from campaigns.models import ConsentSource, Customer, Event, Order
from campaigns.services.customers import (
    IngestRejected, attribute_types, attributes_typed, customer_upsert,
)
from campaigns.services.loyalty import points_event_apply

logger = logging.getLogger(__name__)

SIGNUP = "signup"
PURCHASE = "purchase"
CREATED = "created"
DUPLICATE = "duplicate"


@dataclasses.dataclass(frozen=True)
class EventResult:
    index: int
    event_id: str | None
    status: str  # CREATED or DUPLICATE


def events_ingest(
    *, events: list[dict], source: str = ConsentSource.API
) -> list[EventResult]:
    """Store validated events all or nothing; return one result per item, in order.

    An item whose `event_id` is already stored (or appeared earlier in the list) is a
    duplicate and changes nothing. Any other item upserts its customer, is stored, sets
    `signed_up_at` on a signup if it is empty, and on a purchase records the order once
    and counts it once in the customer's lifecycle facts.

    Raises IngestRejected listing every item the data model refuses (a new customer
    without email, an order that belongs to another customer); then nothing is stored.
    Concurrent posts of one `event_id` store it once: the unique constraint decides and
    the loser reports a duplicate.
    """
    with transaction.atomic():
        fresh = _fresh_indexes(events)
        errors = _events_check(events, fresh)
        if errors:
            raise IngestRejected(errors)
        results = []
        for index, data in enumerate(events):
            try:
                created = index in fresh and _event_store(data=data, source=source)
            except IngestRejected as exc:
                # Only reachable through a race the checks above could not see.
                raise IngestRejected(
                    [{"index": index, **e} for e in exc.errors]
                ) from exc
            results.append(
                EventResult(
                    index=index,
                    event_id=data.get("event_id"),
                    status=CREATED if created else DUPLICATE,
                )
            )
    created_count = sum(result.status == CREATED for result in results)
    logger.info(
        "Events ingested: %d created, %d duplicates",
        created_count,
        len(results) - created_count,
    )
    return results


def _fresh_indexes(events: list[dict]) -> set[int]:
    """Indexes of the items to store: no event_id, or one not stored nor seen above."""
    event_ids = [data["event_id"] for data in events if data.get("event_id")]
    seen = set(
        Event.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True)
    )
    fresh = set()
    for index, data in enumerate(events):
        event_id = data.get("event_id")
        if event_id and event_id in seen:
            continue
        fresh.add(index)
        if event_id:
            seen.add(event_id)
    return fresh


def _events_check(events: list[dict], fresh: set[int]) -> list[dict]:
    """Every reason to refuse the items that would be stored, with their indexes."""
    items = [(index, events[index]) for index in sorted(fresh)]
    known_customers = set(
        Customer.objects.filter(
            external_id__in={data["customer"]["external_id"] for _, data in items}
        ).values_list("external_id", flat=True)
    )
    order_owners = dict(
        Order.objects.filter(
            external_id__in={
                data["order"]["external_id"] for _, data in items if data.get("order")
            }
        ).values_list("external_id", "customer__external_id")
    )
    types = attribute_types(keys={
        key for _, data in items for key in data["customer"].get("attributes") or {}})
    errors = []
    for index, data in items:
        _, attribute_errors = attributes_typed(
            attributes=data["customer"].get("attributes") or {}, types=types)
        errors.extend({"index": index, **e, "field": f"customer.{e['field']}"}
                      for e in attribute_errors)
        customer_id = data["customer"]["external_id"]
        if customer_id not in known_customers:
            if data["customer"].get("email"):
                known_customers.add(
                    customer_id
                )  # Created by this item, known to later ones.
            else:
                errors.append(
                    {
                        "index": index,
                        "field": "customer.email",
                        "message": "Required: no customer has this external_id yet.",
                    }
                )
        if data.get("order"):
            owner = order_owners.setdefault(data["order"]["external_id"], customer_id)
            if owner != customer_id:
                errors.append(
                    {
                        "index": index,
                        "field": "order.external_id",
                        "message": "This order is recorded for another customer.",
                    }
                )
    return errors


def _event_store(*, data: dict, source: str) -> bool:
    """Store one item in a savepoint; False if a concurrent request stored it first."""
    event_id = data.get("event_id")
    occurred_at = data["occurred_at"]
    try:
        # If the insert of the event loses a race, the savepoint also undoes the
        # customer and order changes made for it: a duplicate changes nothing.
        with transaction.atomic():
            try:
                customer, _ = customer_upsert(
                    data=data["customer"], source=source, at=occurred_at
                )
            except IngestRejected as exc:
                raise IngestRejected(
                    [{**e, "field": f"customer.{e['field']}"} for e in exc.errors]
                ) from exc
            order = None
            if data["type"] == PURCHASE:
                order = _order_record(
                    customer=customer, data=data["order"], placed_at=occurred_at
                )
            elif data["type"] == SIGNUP:
                Customer.objects.filter(
                    pk=customer.pk, signed_up_at__isnull=True
                ).update(signed_up_at=occurred_at)
            event = Event.objects.create(
                event_id=event_id,
                customer=customer,
                type=data["type"],
                occurred_at=occurred_at,
                properties=data.get("properties") or {},
                order=order,
            )
            # Earning, bonus or reversal: in the same savepoint, so a duplicate event
            # (or a failure) leaves the points untouched too.
            points_event_apply(event=event, now=clock.now())
    except IntegrityError:
        if event_id and Event.objects.filter(event_id=event_id).exists():
            return False
        raise
    return True


def _order_record(*, customer: Customer, data: dict, placed_at: dt.datetime) -> Order:
    """The order with `data["external_id"]`, created and counted once for `customer`.

    An order already recorded is returned unchanged: a purchase posted again under
    another event_id must not count twice.
    """
    order, created = Order.objects.get_or_create(
        external_id=data["external_id"],
        defaults={
            "customer": customer,
            "amount": data["amount"],
            "currency": data["currency"],
            "placed_at": placed_at,
        },
    )
    if not created:
        if order.customer_id != customer.pk:
            raise IngestRejected(
                [
                    {
                        "field": "order.external_id",
                        "message": "This order is recorded for another customer.",
                    }
                ]
            )
        return order
    placed = Value(placed_at, output_field=DateTimeField())
    # Increments in SQL, so concurrent orders of one customer are all counted.
    Customer.objects.filter(pk=customer.pk).update(
        order_count=F("order_count") + 1,
        total_spent=F("total_spent") + order.amount,
        first_order_at=Least(Coalesce(F("first_order_at"), placed), placed),
        last_order_at=Greatest(Coalesce(F("last_order_at"), placed), placed),
    )
    return order
