"""POST /api/v1/products: the catalogue, upserted by SKU, all or nothing."""
from decimal import Decimal

import pytest
from django.test import Client

from campaigns.models import EventLine, OrderLine, Product
from tests.api.test_validation import errors_of
from tests.factories import CustomerFactory, EventFactory, OrderFactory

pytestmark = pytest.mark.django_db

KNIFE = {
    "sku": "KN-200", "name": "Chef's knife", "names": {"sv": "Kockkniv", "NB": "Kokkekniv"},
    "url": "https://shop.example/p/kn-200", "image_url": "http://cdn.example/kn.jpg",
    "price": "899.00", "currency": "SEK", "category": " Kitchen>Knives ",
    "brand": "Mora", "attributes": {"steel": "12C27", "length_cm": 20}, "reorder_days": 90,
}


def test_a_new_product_is_created_with_its_fields_normalised(api):
    response = api.post("products", KNIFE)

    assert response.status_code == 201, response.content
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0,
                               "results": [{"index": 0, "sku": "KN-200", "status": "created"}]}
    product = Product.objects.get()
    assert (product.name, product.names, product.price, product.currency) == (
        "Chef's knife", {"sv": "Kockkniv", "nb": "Kokkekniv"}, Decimal("899.00"), "SEK")
    assert (product.category, product.brand, product.in_stock, product.reorder_days) == (
        "Kitchen > Knives", "Mora", True, 90)
    assert product.attributes == {"steel": "12C27", "length_cm": 20}


def test_posting_the_same_batch_twice_changes_nothing_the_second_time(api):
    batch = [KNIFE, {"sku": "CB-40", "name": "Board"}]
    api.post("products", batch)
    before = list(Product.objects.values().order_by("sku"))

    response = api.post("products", batch)

    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["unchanged", "unchanged"]
    assert list(Product.objects.values().order_by("sku")) == before


def test_a_changed_field_updates_and_fields_left_out_are_kept(api):
    api.post("products", KNIFE)

    response = api.post("products", [{"sku": "KN-200", "name": "Chef's knife",
                                      "in_stock": False, "brand": None},
                                     {"sku": "NEW-1", "name": "New"}])

    assert response.status_code == 201
    assert [r["status"] for r in response.json()["results"]] == ["updated", "created"]
    product = Product.objects.get(sku="KN-200")
    assert (product.in_stock, product.brand, product.price) == (False, "", Decimal("899.00"))


def test_waiting_order_and_event_lines_are_linked_when_the_product_arrives(api):
    customer = CustomerFactory()
    order = OrderFactory(customer=customer)
    event = EventFactory(customer=customer, type="cart.updated")
    OrderLine.objects.create(order=order, customer=customer, sku="KN-200", quantity=1,
                             placed_at=order.placed_at)
    EventLine.objects.create(event=event, customer=customer, sku="KN-200", quantity=1,
                             occurred_at=event.occurred_at)
    OrderLine.objects.create(order=order, customer=customer, sku="OTHER", quantity=1,
                             placed_at=order.placed_at)

    api.post("products", KNIFE)

    product = Product.objects.get()
    assert list(OrderLine.objects.order_by("sku").values_list("sku", "product")) == [
        ("KN-200", product.pk), ("OTHER", None)]
    assert EventLine.objects.get().product == product


@pytest.mark.parametrize("field, value", [
    ("url", "javascript:alert(1)"), ("url", "ftp://shop.example/x"), ("image_url", "/img/x.jpg"),
    ("image_url", "data:image/png;base64,AAAA"), ("url", "https://"),
])
def test_a_url_that_is_not_absolute_http_is_refused_naming_the_field(api, field, value):
    response = api.post("products", {**KNIFE, field: value})

    assert response.status_code == 400
    assert [e["field"] for e in errors_of(response)] == [field]
    assert not Product.objects.exists()


def test_a_bad_batch_lists_every_problem_and_stores_nothing(api):
    response = api.post("products", [
        KNIFE,
        {"sku": "X", "name": "X", "price": "-1", "currency": "SEK"},
        {"sku": "Y", "name": "Y", "price": "10.00"},
        {"sku": "  ", "name": "Z"},
        {"sku": "a\tb", "name": "Z", "reorder_days": 0},
        {"sku": "W", "name": "W", "price": "1.234", "currency": "sek",
         "attributes": {"nested": {"a": 1}}},
    ])

    assert response.status_code == 400
    assert sorted((e["index"], e["field"]) for e in errors_of(response)) == [
        (1, "price"), (2, "currency"), (3, "sku"), (4, "reorder_days"), (4, "sku"),
        (5, "attributes"), (5, "currency"), (5, "price")]
    assert not Product.objects.exists()


def test_a_sku_given_twice_in_a_batch_is_refused(api):
    response = api.post("products", [KNIFE, {**KNIFE, "name": "Other"}])

    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in errors_of(response)] == [(1, "sku")]


def test_a_sku_is_trimmed(api):
    api.post("products", {"sku": "  KN-1 ", "name": " Knife "})

    assert Product.objects.values_list("sku", "name").get() == ("KN-1", "Knife")


@pytest.mark.parametrize("body", [
    '{"sku": "A\\u0000", "name": "x"}', '{"sku": "A", "name": "x", "names": {"sv": "\\ud800"}}',
    '[]', '{"sku": "A", "name": "x", "price": 1e400}', '{"sku": 5, "name": "x"}',
    '{"sku": "A", "name": "x", "in_stock": null}', '"text"',
])
def test_hostile_bodies_get_a_400_never_a_500(api, body):
    response = api.post("products", body)

    assert response.status_code == 400, response.content
    assert not Product.objects.exists()


def test_an_empty_list_and_a_too_long_list_say_products(api):
    empty = api.post("products", [])
    many = api.post("products", [{"sku": f"S{n}", "name": "x"} for n in range(1001)])

    assert errors_of(empty)[0]["message"] == "The list is empty; send at least 1 product."
    assert "at most 1000 products" in errors_of(many)[0]["message"]


def test_the_endpoint_needs_a_key(db):
    assert Client().post("/api/v1/products", KNIFE, content_type="application/json"
                         ).status_code == 401


def test_the_document_describes_the_endpoint(db):
    document = Client().get("/api/v1/openapi.json").json()

    operation = document["paths"]["/api/v1/products"]["post"]
    assert "sku" in operation["description"]
    assert set(operation["requestBody"]["content"]["application/json"]["examples"]) == {
        "one", "batch"}
    assert "ProductIn" in document["components"]["schemas"]


def test_the_sweep_links_every_line_whose_product_exists(db):
    from campaigns.services.products import lines_link

    order = OrderFactory()
    Product.objects.create(sku="KN-200", name="Knife")
    OrderLine.objects.create(order=order, customer=order.customer, sku="KN-200", quantity=1,
                             placed_at=order.placed_at)
    OrderLine.objects.create(order=order, customer=order.customer, sku="NONE", quantity=1,
                             placed_at=order.placed_at)

    assert lines_link() == 1
    assert lines_link() == 0


def test_a_product_created_between_the_read_and_the_insert_is_upserted_again(
        frozen_clock, monkeypatch):
    from campaigns.services import products as products_service

    products_service.products_upsert(products=[{"sku": "KN-200", "name": "Knife"}])
    # Miss the stored product once, as a read before a concurrent request committed would.
    filter_in, calls = products_service.filter_in, []

    def miss_once(queryset, field, values):
        calls.append(field)
        found = filter_in(queryset, field, values)
        return found.none() if len(calls) == 1 else found

    monkeypatch.setattr(products_service, "filter_in", miss_once)

    [result] = products_service.products_upsert(
        products=[{"sku": "KN-200", "name": "Chef's knife"}])

    assert result.status == "updated"
    assert Product.objects.get().name == "Chef's knife"
