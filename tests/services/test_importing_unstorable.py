"""CSV rows the database cannot store, or that name an address no server delivers to, are
rejected with the column and the reason; the rest of the file is imported.

NUL used to stop a PostgreSQL import (the chunk failed); these tests run there in CI too.
"""
import pytest

from campaigns.api_schemas import EMAIL_LOCAL_NOT_ASCII
from campaigns.models import Customer, Order
from campaigns.storable import NUL_MESSAGE
from tests.factories import CustomerFactory
from tests.services.test_importing import HEADER, counts, rejects_of, run

pytestmark = pytest.mark.django_db


def test_a_nul_in_any_column_rejects_its_row_naming_the_column(frozen_clock, tmp_path):
    content = "external_id,email,first_name,shoe_size\n" + (
        "c-1,astrid@example.se,Astrid,38\n"
        "c-2,ola@example.no,O\x00la,44\n"
        "c-3,kim@example.com,Kim,4\x002\n"
        "c-4,sam@example.com,Sam,40\n"
    )

    report = run(tmp_path, content)

    assert counts(report) == (2, 0, 0, 2)
    assert sorted(Customer.objects.values_list("external_id", flat=True)) == ["c-1", "c-4"]
    rejects = rejects_of(tmp_path)
    assert [(r["line"], r["reason"]) for r in rejects] == [
        ("3", f"first_name: {NUL_MESSAGE}"),
        ("4", f"shoe_size: {NUL_MESSAGE}"),
    ]
    # The row is kept as it was, NUL included, for the person who fixes the file.
    assert rejects[0]["first_name"] == "O\x00la"


def test_a_nul_in_an_orders_file_rejects_its_row(frozen_clock, tmp_path):
    CustomerFactory(external_id="c-1")
    content = "external_id,customer_external_id,amount,currency,placed_at\n" + (
        "o-1,c-1,100.00,SEK,2026-01-01T10:00:00Z\n"
        "o-\x002,c-1,100.00,SEK,2026-01-01T10:00:00Z\n"
    )

    report = run(tmp_path, content, kind="orders")

    assert report.rejected == 1
    assert list(Order.objects.values_list("external_id", flat=True)) == ["o-1"]
    assert rejects_of(tmp_path)[0]["reason"] == f"external_id: {NUL_MESSAGE}"


def test_a_non_ascii_local_part_is_rejected_and_an_idn_domain_is_imported(frozen_clock,
                                                                          tmp_path):
    content = HEADER + (
        "c-1,åsa@example.se,Åsa,,sv,,,\n"
        "c-2,asa@exämple.se,Åsa,,sv,,,\n"
    )

    report = run(tmp_path, content)

    assert counts(report) == (1, 0, 0, 1)
    assert Customer.objects.get().email == "asa@exämple.se"
    [reject] = rejects_of(tmp_path)
    assert (reject["line"], reject["reason"]) == ("2", f"email: {EMAIL_LOCAL_NOT_ASCII}")
