"""CSV import of products (import_products) and of order lines (import_orders --lines)."""
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import ImportJob, Order, OrderLine, Product
from campaigns.services.imports import ImportRefused, RejectsWriter, import_run
from tests.factories import CustomerFactory, OrderFactory
from tests.services.test_importing import counts, rejects_of

pytestmark = pytest.mark.django_db

HEADER = ("sku,name,url,image_url,price,currency,category,brand,in_stock,reorder_days,"
          "name_sv,name_nb,attr_steel\n")
PRODUCTS = HEADER + (
    "KN-200,Chef's knife,https://shop.example/p/kn,,899.00,SEK,Kitchen>Knives,Mora,yes,90,"
    "Kockkniv,Kokkekniv,12C27\n"
    "CB-40,Board,,,,,Kitchen,,false,,,,\n"
)


def run(tmp_path, content, *, kind="products", dry_run=False, chunk_rows=2):
    return import_run(kind=kind, stream=io.BytesIO(content.encode()),
                      rejects=RejectsWriter(tmp_path / "rejects.csv"), dry_run=dry_run,
                      chunk_rows=chunk_rows)


def test_products_are_created_with_the_apis_rules(frozen_clock, tmp_path):
    report = run(tmp_path, PRODUCTS)

    assert counts(report) == (2, 0, 0, 0)
    knife = Product.objects.get(sku="KN-200")
    assert (knife.names, knife.category, knife.price, knife.in_stock, knife.reorder_days,
            knife.attributes) == ({"sv": "Kockkniv", "nb": "Kokkekniv"}, "Kitchen > Knives",
                                  Decimal("899.00"), True, 90, {"steel": "12C27"})
    assert Product.objects.get(sku="CB-40").in_stock is False


def test_importing_the_same_file_again_changes_nothing(frozen_clock, tmp_path):
    run(tmp_path, PRODUCTS)

    assert counts(run(tmp_path, PRODUCTS)) == (0, 0, 2, 0)


def test_a_dry_run_writes_nothing(frozen_clock, tmp_path):
    report = run(tmp_path, PRODUCTS, dry_run=True)

    assert counts(report) == (2, 0, 0, 0)
    assert not Product.objects.exists()


def test_bad_rows_go_to_the_rejects_file_naming_the_field(frozen_clock, tmp_path):
    content = HEADER + (
        "A,Alpha,javascript:alert(1),,,,,,,,,,\n"
        "B,Beta,,,10.00,,,,,,,,\n"
        "C,,,,,,,,,,,,\n"
        "D,Delta,,ftp://x.example/i.png,,,,,maybe,0,,,\n"
        "KN-200,Chef's knife,,,,,,,,,,,\n"
        "KN-200,Again,,,,,,,,,,,\n"
    )

    report = run(tmp_path, content)

    assert counts(report) == (1, 0, 0, 5)
    reasons = [row["reason"] for row in rejects_of(tmp_path)]
    assert reasons[0].startswith("url: Give an absolute http or https URL")
    assert reasons[1] == "currency: Required when a price is given."
    assert reasons[2] == "name: This field is required."
    assert reasons[3].startswith("in_stock:")
    assert "duplicate in the file" in reasons[4]


def test_an_unknown_column_refuses_the_file(tmp_path):
    with pytest.raises(ImportRefused, match="Unknown column"):
        run(tmp_path, "sku,name,colour\nA,Alpha,red\n")


def test_a_chunk_costs_the_same_statements_whatever_its_size(frozen_clock, tmp_path):
    def statements(size, tag):
        content = HEADER + "".join(f"{tag}{n},Name {n},,,1.00,SEK,A>B,,,,,,\n"
                                   for n in range(size))
        with CaptureQueriesContext(connection) as queries:
            run(tmp_path, content, chunk_rows=1000)
        return len(queries)

    assert statements(10, "a") == statements(100, "b")


def test_waiting_lines_are_linked(frozen_clock, tmp_path):
    order = OrderFactory()
    OrderLine.objects.create(order=order, customer=order.customer, sku="KN-200", quantity=1,
                             placed_at=order.placed_at)

    run(tmp_path, PRODUCTS)

    assert OrderLine.objects.get().product.sku == "KN-200"


LINES = ("order_external_id,sku,quantity,price\n"
         "o-1,KN-200,2,449.50\n"
         "o-2,CB-40,1,99\n"
         "o-1,CB-40,1,99.00\n"
         "o-9,CB-40,1,99.00\n"
         "o-2,X,0,1.00\n")


@pytest.fixture
def orders(db):
    customer = CustomerFactory(external_id="c-1")
    Product.objects.create(sku="KN-200", name="Knife")
    return [OrderFactory(customer=customer, external_id=f"o-{n}") for n in (1, 2)]


def test_lines_are_added_to_their_orders_across_chunks(frozen_clock, tmp_path, orders):
    report = run(tmp_path, LINES, kind="order_lines", chunk_rows=2)

    assert counts(report) == (3, 0, 0, 2)
    assert list(OrderLine.objects.filter(order__external_id="o-1").values_list(
        "sku", "quantity", "price", "product__sku")) == [
        ("KN-200", 2, Decimal("449.50"), "KN-200"), ("CB-40", 1, Decimal("99.00"), None)]
    assert [row["reason"] for row in rejects_of(tmp_path)] == [
        "order_external_id: unknown order; it is neither in the orders file nor stored",
        "quantity: Input should be greater than or equal to 1"]


def test_importing_the_lines_again_changes_nothing(frozen_clock, tmp_path, orders):
    run(tmp_path, LINES, kind="order_lines")

    report = run(tmp_path, LINES, kind="order_lines")

    assert counts(report) == (0, 0, 3, 2)
    assert OrderLine.objects.count() == 3


def test_import_orders_takes_a_lines_file(frozen_clock, tmp_path):
    CustomerFactory(external_id="c-1")
    (tmp_path / "orders.csv").write_text(
        "external_id,customer_external_id,amount,currency,placed_at\n"
        "o-1,c-1,998.00,SEK,2025-01-10T10:00:00Z\n")
    (tmp_path / "lines.csv").write_text(LINES)
    out = io.StringIO()

    call_command("import_orders", str(tmp_path / "orders.csv"), "--lines",
                 str(tmp_path / "lines.csv"), "--no-progress", stdout=out)

    assert Order.objects.get().lines.count() == 2
    assert "lines.rejects.csv" in out.getvalue()
    assert (tmp_path / "lines.rejects.csv").exists()


def test_import_products_command(frozen_clock, tmp_path):
    (tmp_path / "products.csv").write_text(PRODUCTS)
    out = io.StringIO()

    call_command("import_products", str(tmp_path / "products.csv"), "--no-progress",
                 stdout=out)

    assert "2 rows: 2 created" in out.getvalue()
    assert Product.objects.count() == 2


def test_the_admin_offers_a_products_import():
    assert "products" in ImportJob.Kind.values
