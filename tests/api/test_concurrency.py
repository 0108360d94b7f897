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
    # Make the service miss the stored event up front, as a concurrent request would.
    monkeypatch.setattr(events_service, "_fresh_indexes", lambda events: {0})

    [result] = events_ingest(
        events=[_validated(payload(PURCHASE, customer__first_name="Changed"))]
    )

    assert result.status == "duplicate"
    customer = Customer.objects.get(external_id="c-42")
    assert (customer.first_name, customer.order_count) == ("", 1)
    assert Event.objects.count() == 1


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
