"""Storing the shop's events with their customers and orders, idempotently, set-based."""

import dataclasses
import datetime as dt
import logging
from decimal import Decimal

from django.db import OperationalError, transaction

from campaigns import clock
from campaigns.models import ConsentSource, Customer, Event, Order, Topic
from campaigns.services.bulk import filter_in, instances_insert, rows_insert, rows_update
from campaigns.services.consent import ConsentAnswer, consents_record_bulk
from campaigns.services.customers import (
    IngestRejected, _consent_apply, _profile_apply, attribute_types, attributes_typed,
    customers_order_facts_refresh,
)
from campaigns.services.lines import LinesPlan, lines_check, lines_store
from campaigns.services.loyalty import OrderRef, StoredEvent, points_events_apply
from campaigns.services.referral_attribution import referrals_attribute
from campaigns.services.subscriptions import double_opt_in_required

logger = logging.getLogger(__name__)

SIGNUP = "signup"
PURCHASE = "purchase"
CREATED = "created"
DUPLICATE = "duplicate"
# A batch that meets a concurrent one (the same new customer, order or event_id, or a
# deadlock) is rolled back and done again: the second time it sees what the other stored.
ATTEMPTS = 5


@dataclasses.dataclass(frozen=True)
class EventResult:
    index: int
    event_id: str | None
    status: str  # CREATED or DUPLICATE


class _ConcurrentBatch(Exception):
    """A concurrent request stored a row this batch meant to create: start again."""


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

    Set-based: a batch costs a fixed number of statements whatever its size (a "yes"
    that waits for a double opt-in is the exception: one confirmation request each).
    The batch's customers are locked in id order, so concurrent batches cannot deadlock
    on them. Concurrent posts of one `event_id` store it once: the unique constraint
    decides, and the batch that loses is done again from the start, where it finds the
    event stored and reports a duplicate.
    """
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                results = _batch_store(events, source=source)
            break
        except (_ConcurrentBatch, OperationalError) as exc:
            if attempt == ATTEMPTS - 1 or not _retryable(exc):
                raise
            logger.info("Events batch met a concurrent one; storing it again")
    created_count = sum(result.status == CREATED for result in results)
    logger.info(
        "Events ingested: %d created, %d duplicates",
        created_count,
        len(results) - created_count,
    )
    return results


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, _ConcurrentBatch):
        return True
    # PostgreSQL's deadlock_detected and serialization_failure.
    return getattr(exc.__cause__, "sqlstate", None) in {"40P01", "40001"}


def _batch_store(events: list[dict], *, source: str) -> list[EventResult]:
    fresh = _fresh_indexes(events)
    items = [(index, events[index]) for index in sorted(fresh)]
    if items:
        # Everything is read (the customers locked) before anything is written, and the
        # batch is refused with every problem listed or stored whole.
        customers, new = _customers_locked(items)
        orders, owners = _orders_stored(items)
        items, errors = _events_check(items, customers, owners)
        items, line_errors, plan = lines_check(items, set(orders))
        if errors or line_errors:
            raise IngestRejected(sorted(errors + line_errors, key=lambda e: e["index"]))
        _items_store(items, customers, new, orders, plan, source=source)
    return [
        EventResult(index=index, event_id=data.get("event_id"),
                    status=CREATED if index in fresh else DUPLICATE)
        for index, data in enumerate(events)
    ]


def _fresh_indexes(events: list[dict]) -> set[int]:
    """Indexes of the items to store: no event_id, or one not stored nor seen above."""
    event_ids = [data["event_id"] for data in events if data.get("event_id")]
    seen = set()
    if event_ids:
        seen = set(filter_in(Event.objects, "event_id", event_ids)
                   .values_list("event_id", flat=True))
    fresh = set()
    for index, data in enumerate(events):
        event_id = data.get("event_id")
        if event_id and event_id in seen:
            continue
        fresh.add(index)
        if event_id:
            seen.add(event_id)
    return fresh


def _customers_locked(items) -> tuple[dict[str, Customer], set[str]]:
    """Every customer of the batch by external id, the stored ones locked (in id order,
    as every batch locks them, so two batches cannot deadlock on them), the new ones as
    unsaved instances; and the external ids of the new ones."""
    external_ids = sorted({data["customer"]["external_id"] for _, data in items})
    customers = {
        customer.external_id: customer
        for customer in filter_in(Customer.objects.select_for_update(), "external_id",
                                  external_ids).order_by("pk")
    }
    new = set(external_ids) - set(customers)
    for external_id in sorted(new):
        customers[external_id] = Customer(external_id=external_id)
    return customers, new


def _orders_stored(items) -> tuple[dict[str, OrderRef], dict[str, str]]:
    """The stored orders among the batch's purchases, and their customers' external ids,
    by the orders' external ids."""
    wanted = sorted({data["order"]["external_id"] for _, data in items if data.get("order")})
    if not wanted:
        return {}, {}
    orders, owners = {}, {}
    for pk, customer_id, owner, external_id, amount, currency, status in filter_in(
            Order.objects, "external_id", wanted).values_list(
            "pk", "customer_id", "customer__external_id", "external_id", "amount",
            "currency", "status"):
        orders[external_id] = OrderRef(pk, customer_id, external_id, amount, currency, status)
        owners[external_id] = owner
    return orders, owners


def _events_check(items, customers: dict[str, Customer], order_owners: dict[str, str]
                  ) -> tuple[list[tuple[int, dict]], list[dict]]:
    """The items with their attributes read as their type, and every reason to refuse
    them (a new customer without email, an order of another customer), with indexes."""
    keys = {key for _, data in items for key in data["customer"].get("attributes") or {}}
    types = attribute_types(keys=keys) if keys else {}
    known = {external_id for external_id, c in customers.items() if c.pk is not None}
    order_owners = dict(order_owners)
    typed, errors = [], []
    for index, data in items:
        if data["customer"].get("attributes"):
            values, attribute_errors = attributes_typed(
                attributes=data["customer"]["attributes"], types=types)
            errors.extend({"index": index, **e, "field": f"customer.{e['field']}"}
                          for e in attribute_errors)
            data = {**data, "customer": {**data["customer"], "attributes": values}}
        typed.append((index, data))
        external_id = data["customer"]["external_id"]
        if external_id not in known:
            if data["customer"].get("email"):
                known.add(external_id)  # Created by this item, known to later ones.
            else:
                errors.append({"index": index, "field": "customer.email",
                               "message": "Required: no customer has this external_id yet."})
        if data.get("order"):
            # Owners compared by external id: each read sees what was committed when it
            # ran, so a customer read as new may own an order a concurrent request stored
            # just after; inserting that customer then starts the batch again.
            if order_owners.setdefault(data["order"]["external_id"], external_id) != external_id:
                errors.append({"index": index, "field": "order.external_id",
                               "message": "This order is recorded for another customer."})
    return typed, errors


def _items_store(items: list[tuple[int, dict]], customers: dict[str, Customer],
                 new: set[str], stored_orders: dict[str, OrderRef], plan: LinesPlan, *,
                 source: str) -> None:
    """Store the checked items. The caller's transaction makes it all or nothing."""
    now = clock.now()
    # Each stored customer's changed fields, applied item by item as a row would be.
    dirty: dict[str, set[str]] = {external_id: set() for external_id in customers}
    counted = set(stored_orders)
    for _, data in items:
        external_id = data["customer"]["external_id"]
        customer = customers[external_id]
        dirty[external_id].update(_profile_apply(customer, data["customer"]))
        if data["type"] == SIGNUP and customer.signed_up_at is None:
            customer.signed_up_at = data["occurred_at"]
            dirty[external_id].add("signed_up_at")
        if data["customer"].get("opt_out_offered") and customer.opt_out_offered_at is None:
            # The first moment is kept (services.consent.consent_opt_out_offered).
            customer.opt_out_offered_at = min(data["occurred_at"], now)
            dirty[external_id].add("opt_out_offered_at")
        order = data.get("order")
        if order and order["external_id"] not in counted:
            # A new order, counted once (by its first item), before a new customer's row is
            # inserted; if a concurrent request creates it first, the batch starts again.
            counted.add(order["external_id"])
            dirty[external_id].update(_order_count(
                customer, Decimal(str(order["amount"])), data["occurred_at"]))
    _customers_insert([customers[external_id] for external_id in sorted(new)], now=now)
    for external_id in new:
        dirty[external_id] = set()  # Inserted as they are now.
    _referrals_attribute(items, customers, new, source=source, now=now)
    by_id = {customer.pk: customer for customer in customers.values()}
    orders = _orders_record(items, customers, stored_orders, now=now)
    events = _events_insert(items, customers, orders, now=now)
    lines_store(items, customers=customers, orders=orders, events=events, plan=plan, now=now)
    # A refund naming lines refunds the whole order only once every line is refunded.
    events = [dataclasses.replace(event, partial=True) if index in plan.partial else event
              for (index, _), event in zip(items, events)]
    balances = {pk: customer.points_balance for pk, customer in by_id.items()}
    cancelled = points_events_apply(events=events, customers=by_id, now=now)
    for pk, customer in by_id.items():
        if customer.points_balance != balances[pk]:
            dirty[customer.external_id].add("points_balance")
    fields = sorted(set().union(*dirty.values()))
    rows_update(Customer, [
        {"id": customers[external_id].pk, "updated_at": now,
         **{field: getattr(customers[external_id], field) for field in fields}}
        for external_id, changed in sorted(dirty.items()) if changed
    ], fields=[*fields, "updated_at"] if fields else [])
    if cancelled:
        customers_order_facts_refresh(customer_ids=sorted(cancelled))
    _consent_record(items, customers, source=source, now=now)


def _customers_insert(customers: list[Customer], *, now: dt.datetime) -> None:
    """Insert the new customers (in external id order, as every batch does) and set
    their ids; one created meanwhile by a concurrent request starts the batch again."""
    for customer in customers:
        customer.created_at = customer.updated_at = now
    ids = dict(
        (external_id, pk) for pk, external_id in instances_insert(
            customers, returning=("id", "external_id"), skip_conflicts=True)
    )
    if len(ids) != len(customers):
        raise _ConcurrentBatch
    for customer in customers:
        customer.pk = ids[customer.external_id]


def _referrals_attribute(items, customers: dict[str, Customer], new: set[str], *,
                         source: str, now: dt.datetime) -> None:
    """Tie the customers this batch created to their referrers, by the first code posted
    for each (a code posted for a stored customer changes nothing); no statement when no
    new customer came with one."""
    posted: dict[str, str] = {}
    for _, data in items:
        external_id = data["customer"]["external_id"]
        code = data["customer"].get("referral_code")
        if code and code.strip() and external_id in new:
            posted.setdefault(external_id, code)
    if posted:
        referrals_attribute(new_customers=[
            (customers[external_id].pk, customers[external_id].email, code)
            for external_id, code in posted.items()], source=source, now=now)


def _orders_record(items, customers: dict[str, Customer], stored: dict[str, OrderRef], *,
                   now: dt.datetime) -> dict[str, OrderRef]:
    """The batch's orders by external id, stored or created now. The first item naming
    an order creates it; one created meanwhile by a concurrent request starts the batch
    again."""
    wanted: dict[str, dict] = {}
    for _, data in items:
        if data.get("order"):
            wanted.setdefault(data["order"]["external_id"], {
                "customer": customers[data["customer"]["external_id"]],
                "order": data["order"], "placed_at": data["occurred_at"]})
    if any(ref.customer_id != wanted[key]["customer"].pk for key, ref in stored.items()):
        raise _ConcurrentBatch  # Stored for this customer after it was read as new.
    result = dict(stored)
    rows = [
        {"customer_id": w["customer"].pk, "external_id": external_id,
         "amount": w["order"]["amount"], "currency": w["order"]["currency"],
         "placed_at": w["placed_at"], "status": Order.Status.PLACED,
         "created_at": now, "updated_at": now}
        for external_id, w in sorted(wanted.items()) if external_id not in stored
    ]
    created = rows_insert(Order, rows, returning=("id", "external_id"), skip_conflicts=True)
    if len(created) != len(rows):
        raise _ConcurrentBatch
    for pk, external_id in created:
        w = wanted[external_id]
        # Internal callers may give the amount as text; the API gives a Decimal.
        result[external_id] = OrderRef(
            pk, w["customer"].pk, external_id, Decimal(str(w["order"]["amount"])),
            w["order"]["currency"], Order.Status.PLACED, created=True)
    return result


def _order_count(customer: Customer, amount: Decimal, placed_at: dt.datetime) -> set[str]:
    """Add a new order to its customer's lifecycle facts (the row is locked: adding in
    Python is safe); the fields changed."""
    customer.order_count += 1
    customer.total_spent += amount
    customer.first_order_at = min(customer.first_order_at or placed_at, placed_at)
    customer.last_order_at = max(customer.last_order_at or placed_at, placed_at)
    return {"order_count", "total_spent", "first_order_at", "last_order_at"}


def _events_insert(items, customers: dict[str, Customer], orders, *, now: dt.datetime
                   ) -> list[StoredEvent]:
    """Insert the events; an event_id stored meanwhile by a concurrent request starts the
    batch again (where it is found and reported a duplicate)."""
    rows = [
        {"event_id": data.get("event_id") or None,
         "customer_id": customers[data["customer"]["external_id"]].pk,
         "type": data["type"], "occurred_at": data["occurred_at"], "received_at": now,
         "properties": data.get("properties") or {},
         "order_id": orders[data["order"]["external_id"]].pk if data.get("order") else None}
        for _, data in items
    ]
    returned = rows_insert(Event, rows, returning=("id", "event_id"), skip_conflicts=True)
    if len(returned) != len(rows):
        raise _ConcurrentBatch
    by_event_id = {event_id: pk for pk, event_id in returned if event_id is not None}
    # Rows without an event_id cannot conflict: they come back in the order inserted.
    anonymous = iter(pk for pk, event_id in returned if event_id is None)
    return [
        StoredEvent(
            pk=by_event_id[row["event_id"]] if row["event_id"] else next(anonymous),
            customer_id=row["customer_id"], type=row["type"], properties=row["properties"],
            order=orders[data["order"]["external_id"]] if data.get("order") else None,
        )
        for row, (_, data) in zip(rows, items)
    ]


def _consent_record(items, customers: dict[str, Customer], *, source: str,
                    now: dt.datetime) -> None:
    """The consent answers of the items, set-based per topic (the global switch first);
    an answer that needs a double opt-in is asked for one by one."""
    answers: dict[str, list[ConsentAnswer]] = {}
    for _, data in items:
        given = {topic: granted for topic, granted in (data["customer"].get("consent") or {}).items()
                 if granted is not None}
        if not given:
            continue
        customer = customers[data["customer"]["external_id"]]
        at = min(data["occurred_at"], now)
        proof = {"wording_version": data["customer"].get("wording_version") or "",
                 "method": "email_verified" if data["customer"].get("email_verified") else ""}
        if double_opt_in_required(source=source,
                                  email_verified=data["customer"].get("email_verified")):
            _consent_apply(customer=customer, answers=given, source=source, at=at,
                           confirm=True, **proof)
            continue
        for topic, granted in given.items():
            answers.setdefault(topic, []).append(
                ConsentAnswer(customer_id=customer.pk, granted=granted, at=at, **proof))
    for topic in sorted(answers, key=lambda t: t != Topic.MARKETING):
        consents_record_bulk(answers=answers[topic], source=source, topic=topic)
