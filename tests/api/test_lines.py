"""Lines through POST /api/v1/events: an order's, a cart's, a viewed product's, a refund's."""
from decimal import Decimal

import pytest

from campaigns.models import (
    EarningRule, Event, EventLine, Order, OrderLine, PointsEntry, Product,
)
from tests.api.conftest import PURCHASE, payload
from tests.api.test_validation import errors_of

pytestmark = pytest.mark.django_db

LINES = [{"sku": "KN-200", "quantity": 2, "price": "449.50", "total": "899.00"},
         {"sku": "CB-40", "quantity": 1, "price": "99.00", "currency": "SEK"}]


def purchase(**changes):
    return payload(PURCHASE, order__items=LINES, **changes)


def test_a_purchase_stores_its_lines_linked_to_known_products(api):
    knife = Product.objects.create(sku="KN-200", name="Knife")

    response = api.post("events", purchase())

    assert response.status_code == 201, response.content
    order = Order.objects.get()
    assert list(OrderLine.objects.values_list("sku", "product", "quantity", "price",
                                              "customer", "placed_at")) == [
        ("KN-200", knife.pk, 2, Decimal("449.50"), order.customer_id, order.placed_at),
        ("CB-40", None, 1, Decimal("99.00"), order.customer_id, order.placed_at)]


def test_a_repeated_purchase_of_a_stored_order_adds_no_lines(api):
    api.post("events", purchase())

    api.post("events", purchase(event_id="shop-999"))

    assert OrderLine.objects.count() == 2


@pytest.mark.parametrize("line, field", [
    ({"sku": "A", "quantity": 0, "price": "1.00"}, "order.items[1].quantity"),
    ({"sku": "A", "quantity": -3, "price": "1.00"}, "order.items[1].quantity"),
    ({"sku": "A", "quantity": 1.5, "price": "1.00"}, "order.items[1].quantity"),
    ({"sku": "A", "quantity": 2, "price": "1.00", "total": "3.00"}, "order.items[1].total"),
    ({"sku": "A", "quantity": 1, "price": "1.00", "currency": "NOK"},
     "order.items[1].currency"),
    ({"sku": "A", "quantity": 1, "price": "-1.00"}, "order.items[1].price"),
    ({"sku": "A", "quantity": 1}, "order.items[1].price"),
    ({"sku": "", "quantity": 1, "price": "1.00"}, "order.items[1].sku"),
    ({"sku": "A\nB", "quantity": 1, "price": "1.00"}, "order.items[1].sku"),
    ({"sku": "A", "quantity": 1, "price": "1.00", "colour": "red"}, "order.items[1].colour"),
])
def test_a_bad_order_line_is_refused_naming_it(api, line, field):
    response = api.post("events", payload(PURCHASE, order__items=[LINES[0], line]))

    assert [e["field"] for e in errors_of(response)] == [field]
    assert not Order.objects.exists() and not OrderLine.objects.exists()


def test_a_line_total_that_does_not_match_says_so(api):
    response = api.post("events", payload(PURCHASE, order__items=[
        {"sku": "A", "quantity": 2, "price": "1.00", "total": "3.00"}]))

    assert errors_of(response)[0]["message"].startswith("A line total that does not match")


def test_lines_summing_to_another_amount_are_accepted(api):
    response = api.post("events", payload(PURCHASE, order__amount="10.00", order__items=LINES))

    assert response.status_code == 201


def test_a_cart_event_stores_its_lines_and_not_in_properties(api):
    response = api.post("events", payload(PURCHASE, type="checkout.started", order=...,
                                          items=[{"sku": "KN-200", "quantity": 2},
                                                 {"sku": "CB-40", "price": "99.00"}]))

    assert response.status_code == 201, response.content
    event = Event.objects.get()
    assert event.properties == {}
    assert list(EventLine.objects.values_list("event", "sku", "quantity", "price")) == [
        (event.pk, "KN-200", 2, None), (event.pk, "CB-40", 1, Decimal("99.00"))]


def test_a_viewed_product_may_be_given_as_properties_sku(api):
    api.post("events", payload(PURCHASE, type="product.viewed", order=...,
                               properties={"sku": " KN-200 "}))

    line = EventLine.objects.get()
    assert (line.sku, line.quantity) == ("KN-200", 1)


def test_a_viewed_product_sku_that_is_not_text_is_refused(api):
    response = api.post("events", payload(PURCHASE, type="product.viewed", order=...,
                                          properties={"sku": {"a": 1}}))

    assert [e["field"] for e in errors_of(response)] == ["properties.sku"]


def test_a_purchase_with_event_items_is_told_where_lines_go(api):
    response = api.post("events", purchase(items=[{"sku": "A"}]))

    assert [e["field"] for e in errors_of(response)] == ["items"]


@pytest.fixture
def spend_rule(db):
    EarningRule.objects.create(kind="spend", currency="SEK", points_per_unit=Decimal("0.1"))


def refund(event_id, *items, order="o-9"):
    body = payload(PURCHASE, event_id=event_id, type="refund", order=...,
                   properties={"order": order})
    if items:
        body["items"] = [{"sku": sku, "quantity": quantity} for sku, quantity in items]
    return body


def test_a_partial_refund_keeps_the_order_and_its_points(api, spend_rule):
    api.post("events", purchase())

    response = api.post("events", refund("r-1", ("KN-200", 1)))

    assert response.status_code == 201, response.content
    assert Order.objects.get().status == "placed"
    assert sum(PointsEntry.objects.values_list("delta", flat=True)) == 49
    assert dict(OrderLine.objects.values_list("sku", "refunded_quantity")) == {
        "KN-200": 1, "CB-40": 0}


def test_refunding_every_line_refunds_the_whole_order(api, spend_rule):
    api.post("events", purchase())
    api.post("events", refund("r-1", ("KN-200", 1)))

    api.post("events", refund("r-2", ("KN-200", 1), ("CB-40", 1)))

    assert Order.objects.get().status == "refunded"
    assert sum(PointsEntry.objects.values_list("delta", flat=True)) == 0


def test_a_refund_without_items_refunds_the_whole_order_as_before(api, spend_rule):
    api.post("events", purchase())

    api.post("events", refund("r-1"))

    assert Order.objects.get().status == "refunded"


def test_a_purchase_and_its_partial_refund_in_one_batch(api, spend_rule):
    response = api.post("events", [purchase(), refund("r-1", ("CB-40", 1))])

    assert response.status_code == 201, response.content
    assert dict(OrderLine.objects.values_list("sku", "refunded_quantity")) == {
        "KN-200": 0, "CB-40": 1}
    assert Order.objects.get().status == "placed"


@pytest.mark.parametrize("items, field", [
    ([("XX", 1)], "items[0].sku"),
    ([("KN-200", 3)], "items[0].quantity"),
    ([("KN-200", 1), ("KN-200", 2)], "items[1].quantity"),
])
def test_refunding_what_was_not_bought_is_refused(api, items, field):
    api.post("events", purchase())

    response = api.post("events", refund("r-1", *items))

    assert [e["field"] for e in errors_of(response)] == [field]
    assert set(OrderLine.objects.values_list("refunded_quantity", flat=True)) == {0}


def test_a_refund_with_items_of_another_customers_order_is_refused(api):
    api.post("events", purchase())

    response = api.post("events", payload(refund("r-1", ("KN-200", 1)),
                                          customer__external_id="c-other",
                                          customer__email="o@example.se"))

    assert [e["field"] for e in errors_of(response)] == ["items[0].sku"]


def test_a_refund_with_items_needs_its_order(api):
    response = api.post("events", refund("r-1", ("KN-200", 1), order=""))

    assert [e["field"] for e in errors_of(response)] == ["properties.order"]
