"""Idempotency under concurrency: the unique event_id decides, the loser is a no-op."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from campaigns.models import Customer, Event, Order
from campaigns.services import events as events_service
from campaigns.services.events import events_ingest
from tests.api.conftest import PURCHASE, ApiClient, payload


@pytest.mark.django_db
def test_an_event_stored_between_the_check_and_the_insert_is_a_duplicate(
    frozen_clock, monkeypatch
):
    events_ingest(events=[_validated(PURCHASE)])
    # Make the service miss the stored event up front once, as a concurrent request
    # committing between the check and the insert would.
    fresh_indexes, calls = events_service._fresh_indexes, []

    def miss_once(events):
        calls.append(events)
        return {0} if len(calls) == 1 else fresh_indexes(events)

    monkeypatch.setattr(events_service, "_fresh_indexes", miss_once)

    [result] = events_ingest(
        events=[_validated(payload(PURCHASE, customer__first_name="Changed"))]
    )

    assert result.status == "duplicate"
    customer = Customer.objects.get(external_id="c-42")
    assert (customer.first_name, customer.order_count) == ("", 1)
    assert Event.objects.count() == 1
    assert len(calls) == 2  # the batch was done again and found the event stored


@pytest.mark.django_db(transaction=True)
def test_two_identical_posts_at_once_store_one_event_and_count_one_order(api_key):
    barrier = threading.Barrier(2)
    statuses = []

    def post():
        try:
            barrier.wait(timeout=10)
            response = ApiClient(api_key).post("events", PURCHASE)
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200, 201]
    assert Event.objects.filter(event_id="shop-124").count() == 1
    assert Order.objects.count() == 1
    customer = Customer.objects.get(external_id="c-42")
    assert (customer.order_count, customer.total_spent) == (1, Decimal("499.00"))


def _validated(data: dict) -> dict:
    """The item as the API hands it to the service (parsed by the request schema)."""
    from campaigns.api_schemas import EventIn

    return EventIn.model_validate(data).model_dump(exclude_unset=True)


def _at_once(api_key, bodies: list) -> list:
    """POST each body from its own thread, released together; the responses."""
    barrier = threading.Barrier(len(bodies))
    responses = [None] * len(bodies)

    def post(i):
        try:
            barrier.wait(timeout=10)
            responses[i] = ApiClient(api_key).post("events", bodies[i])
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return responses


def _purchases(count: int) -> list[dict]:
    return [
        payload(PURCHASE, event_id=f"e-{n}", customer__external_id=f"c-{n % 7}",
                customer__email=f"c{n % 7}@example.se", order__external_id=f"o-{n}")
        for n in range(count)
    ]


@pytest.mark.django_db(transaction=True)
def test_two_identical_batches_at_once_store_each_event_once_and_both_answers_agree(api_key):
    batch = _purchases(60)

    first, second = _at_once(api_key, [batch, batch])

    # One stored the batch, the other found every event stored.
    assert sorted([first.status_code, second.status_code]) == [200, 201]
    bodies = sorted([first.json(), second.json()], key=lambda b: b["accepted"])
    assert (bodies[0]["accepted"], bodies[0]["duplicates"]) == (0, 60)
    assert (bodies[1]["accepted"], bodies[1]["duplicates"]) == (60, 0)
    for body in bodies:
        assert [r["event_id"] for r in body["results"]] == [f"e-{n}" for n in range(60)]
    assert Event.objects.count() == 60
    assert Order.objects.count() == 60
    customer = Customer.objects.get(external_id="c-0")
    assert (customer.order_count, customer.total_spent) == (9, Decimal("499.00") * 9)


@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_in_opposite_orders_are_all_stored(api_key):
    events = _purchases(80)
    # The same customers, new ones among them, in opposite orders, half the events shared.
    forwards, backwards = events[:60], list(reversed(events[20:]))

    responses = _at_once(api_key, [forwards, backwards, forwards[::2]])

    assert all(r.status_code in (200, 201) for r in responses), [
        (r.status_code, r.content[:300]) for r in responses]
    accepted = sum(r.json()["accepted"] for r in responses)
    assert accepted == Event.objects.count() == Order.objects.count() == 80
    counted = sum(Customer.objects.values_list("order_count", flat=True))
    assert counted == 80
