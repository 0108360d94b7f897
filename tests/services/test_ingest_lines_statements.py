"""Lines cost no statement per line: a batch with order, cart and refund lines takes the
same statements at 10 and 100 events (habit 16)."""
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import EarningRule, EventLine, Order, OrderLine, Product
from campaigns.services.events import events_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(db):
    EarningRule.objects.create(kind="spend", currency="SEK", points_per_unit=Decimal("0.1"))
    Product.objects.bulk_create([Product(sku=f"P-{n}", name=f"P {n}") for n in range(5)])


def batch(tag: str, size: int, at) -> list[dict]:
    """`size` events in groups of five per customer: a purchase of three lines (one SKU
    unknown), a partial refund of one line, a cart, a viewed product and a refund naming
    a line of an order of an earlier batch (`tag`-0-o)."""
    events = []
    for n in range(size // 5):
        customer = {"external_id": f"{tag}-{n}", "email": f"c{n}@{tag}.example.se"}
        lines = [{"sku": "P-1", "quantity": 2, "price": Decimal("10.00")},
                 {"sku": "P-2", "quantity": 1, "price": Decimal("5.00")},
                 {"sku": f"NEW-{n}", "quantity": 1, "price": Decimal("1.00")}]
        events += [
            {"event_id": f"{tag}-{n}-p", "type": "purchase", "occurred_at": at,
             "customer": customer,
             "order": {"external_id": f"{tag}-{n}-o", "amount": Decimal("499.00"),
                       "currency": "SEK", "items": lines}},
            {"event_id": f"{tag}-{n}-r", "type": "refund", "occurred_at": at,
             "customer": customer, "properties": {"order": f"{tag}-{n}-o"},
             "items": [{"sku": "P-1", "quantity": 1}]},
            {"event_id": f"{tag}-{n}-c", "type": "checkout.started", "occurred_at": at,
             "customer": customer, "items": [{"sku": "P-3", "quantity": 2},
                                             {"sku": "P-4"}]},
            {"event_id": f"{tag}-{n}-v", "type": "product.viewed", "occurred_at": at,
             "customer": customer, "properties": {"sku": "P-0"}},
            {"event_id": f"{tag}-{n}-x", "type": "refund", "occurred_at": at,
             "customer": customer, "properties": {"order": f"{tag}-{n}-old"},
             "items": [{"sku": "P-2"}]},
        ]
    return events


def earlier_orders(tag: str, size: int, at) -> list[dict]:
    return [{"event_id": f"{tag}-{n}-old", "type": "purchase", "occurred_at": at,
             "customer": {"external_id": f"{tag}-{n}", "email": f"c{n}@{tag}.example.se"},
             "order": {"external_id": f"{tag}-{n}-old", "amount": Decimal("5.00"),
                       "currency": "SEK",
                       "items": [{"sku": "P-2", "quantity": 3, "price": Decimal("5.00")}]}}
            for n in range(size // 5)]


def statements(events: list[dict]) -> int:
    with CaptureQueriesContext(connection) as queries:
        results = events_ingest(events=events)
    assert [r.status for r in results] == ["created"] * len(events)
    return len(queries)


def test_a_batch_of_100_events_with_lines_takes_the_statements_of_a_batch_of_10(
        catalogue, frozen_clock):
    events_ingest(events=earlier_orders("a", 10, frozen_clock.now)
                  + earlier_orders("b", 100, frozen_clock.now))

    few = statements(batch("a", 10, frozen_clock.now))
    many = statements(batch("b", 100, frozen_clock.now))

    assert many == few
    assert OrderLine.objects.count() == 22 * 3 + 22
    assert EventLine.objects.count() == 22 * (1 + 2 + 1 + 1)
    line = OrderLine.objects.get(order__external_id="b-7-o", sku="P-1")
    assert (line.refunded_quantity, line.product.sku) == (1, "P-1")
    assert OrderLine.objects.get(order__external_id="b-7-old").refunded_quantity == 1
    assert OrderLine.objects.get(sku="NEW-7", order__external_id="b-7-o").product is None
    assert set(Order.objects.values_list("status", flat=True)) == {"placed"}
