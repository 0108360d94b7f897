"""Upserting products is set-based: a batch's statements do not grow with it (habit 16)."""
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import OrderLine, Product
from campaigns.services.products import products_upsert
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def batch(tag: str, size: int, *, price: str = "10.00") -> list[dict]:
    return [{"sku": f"{tag}-{n}", "name": f"Product {n}", "names": {"sv": f"Produkt {n}"},
             "price": Decimal(price), "currency": "SEK", "category": "Kitchen > Knives",
             "attributes": {"n": n}} for n in range(size)]


def statements(products: list[dict]) -> tuple[int, set[str]]:
    with CaptureQueriesContext(connection) as queries:
        results = products_upsert(products=products)
    return len(queries), {r.status for r in results}


def test_creating_100_products_takes_the_statements_of_10(frozen_clock):
    order = OrderFactory()
    OrderLine.objects.bulk_create([
        OrderLine(order=order, customer=order.customer, sku=f"{tag}-{n}", quantity=1,
                  placed_at=order.placed_at) for tag in "ab" for n in range(0, 10, 3)])

    few = statements(batch("a", 10))
    many = statements(batch("b", 100))

    assert few == many == (few[0], {"created"})
    assert Product.objects.count() == 110
    assert not OrderLine.objects.filter(product__isnull=True).exists()


def test_updating_and_repeating_cost_the_same_statements_whatever_the_size(frozen_clock):
    # On SQLite the ORM's bulk_update (rows_update there) splits its UPDATE at 999
    # parameters, about 40 products; PostgreSQL writes any batch in one statement.
    size = 100 if connection.vendor == "postgresql" else 30
    statements(batch("a", 10))
    statements(batch("b", size))

    assert statements(batch("a", 10, price="12.00")) == statements(
        batch("b", size, price="12.00"))
    assert statements(batch("a", 10, price="12.00")) == statements(
        batch("b", size, price="12.00"))
    assert statements(batch("a", 10, price="12.00"))[1] == {"unchanged"}
    assert Product.objects.get(sku=f"b-{size - 1}").price == Decimal("12.00")
