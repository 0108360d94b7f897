"""The import writes each chunk on a second thread with its own connection (PostgreSQL,
outside a caller's transaction) while it checks the next chunk: the same file must give
the same database and the same rejects as writing on the caller's thread, chunks must be
committed in file order, and an error must stop the import naming the failing chunk.

These tests commit for real (transaction=True): the writer's connection cannot see a
test's uncommitted transaction. On SQLite the writer stays on the caller's thread, and the
same assertions hold.
"""
import csv
import datetime as dt
import io
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from campaigns.models import (
    AttributeDefinition, ConsentEvent, Customer, Order, Subscription,
)
from campaigns.services import imports
from campaigns.services.imports import ImportStopped, RejectsWriter, import_run

pytestmark = pytest.mark.django_db(transaction=True)

UTC = dt.timezone.utc
THREADED = connection.vendor == "postgresql"

CUSTOMERS = (
    "external_id,email,first_name,locale,time_zone,country,signed_up_at,"
    "marketing_consent,marketing_consent_at,shoe_size,favourite\n"
    "c-1,astrid@example.se,Astrid,sv,Europe/Stockholm,SE,2024-01-15T10:00:00+01:00,"
    "true,2024-01-15T10:00:00+01:00,38,red\n"
    "c-2,ola@example.no,Ola,nb,Europe/Oslo,NO,,,,41,\n"
    "c-3,not-an-email,Bad,en,,,,,,,\n"
    "c-1,astrid.again@example.se,Dup,sv,,,,,,,\n"  # a duplicate of a row in an earlier chunk
    "c-4,sam@example.com,Sam,en,Mars/Olympus,,,,,,\n"
    "c-5,kari@example.no,Kari,nb,Europe/Oslo,NO,2025-05-01T08:00:00Z,true,"
    "2025-05-01T08:00:00Z,44,blue\n"
    "c-6,,NoEmail,en,,,,,,,\n"
    "c-7,eva@example.se,Eva,sv,Europe/Stockholm,SE,,false,,39,green\n"
)
ORDERS = (
    "external_id,customer_external_id,amount,currency,placed_at\n"
    "o-1,c-1,100.50,SEK,2025-01-10T10:00:00Z\n"
    "o-2,c-1,200,SEK,2025-02-10T10:00:00Z\n"
    "o-3,c-404,10,SEK,2025-02-10T10:00:00Z\n"  # unknown customer: rejected by the writer
    "o-4,c-2,300,NOK,2024-12-24T18:00:00Z\n"
    "o-2,c-1,999,SEK,2025-02-10T10:00:00Z\n"  # a duplicate of an earlier chunk's order
    "o-5,c-1,50,SEK,2025-03-01T10:00:00Z\n"
    "o-6,c-5,75,NOK,2025-06-01T10:00:00Z\n"
)


def run(tmp_path, content: str, *, kind: str, name: str):
    rejects = RejectsWriter(tmp_path / f"{name}.csv")
    report = import_run(kind=kind, stream=io.BytesIO(content.encode()), rejects=rejects,
                        chunk_rows=2)
    path = tmp_path / f"{name}.csv"
    rows = list(csv.DictReader(open(path, newline=""))) if path.exists() else []
    return report, sorted((r["line"], r["reason"]) for r in rows)


def database_state():
    return (
        list(Customer.objects.order_by("external_id").values_list(
            "external_id", "email", "first_name", "time_zone", "signed_up_at", "attributes",
            "marketing_consent", "order_count", "total_spent", "first_order_at",
            "last_order_at", "created_at")),
        list(ConsentEvent.objects.order_by("customer__external_id", "topic").values_list(
            "customer__external_id", "topic", "granted", "occurred_at", "source")),
        list(Subscription.objects.order_by("customer__external_id", "topic").values_list(
            "customer__external_id", "topic", "subscribed")),
        list(Order.objects.order_by("external_id").values_list(
            "external_id", "customer__external_id", "amount", "currency", "placed_at")),
    )


def both_imports(tmp_path, name: str):
    customers = run(tmp_path, CUSTOMERS, kind="customers", name=f"{name}-customers")
    orders = run(tmp_path, ORDERS, kind="orders", name=f"{name}-orders")
    return customers, orders


def test_writing_on_the_writer_thread_gives_what_writing_in_line_gives(
    frozen_clock, tmp_path, monkeypatch
):
    AttributeDefinition.objects.create(key="shoe_size", type="number")
    threads = []
    for importer in (imports._CustomersImporter, imports._OrdersImporter):
        real_write = importer.write

        def write(self, rows, stored, real_write=real_write):
            threads.append(threading.current_thread().name)
            return real_write(self, rows, stored)

        monkeypatch.setattr(importer, "write", write)

    (customers, customer_rejects), (orders, order_rejects) = both_imports(tmp_path, "writer")
    written = database_state()
    assert all(name.startswith("import-writer") == THREADED for name in threads), threads

    Customer.objects.all().delete()
    threads.clear()
    with transaction.atomic():  # inside a transaction the chunks are written in line
        in_line = both_imports(tmp_path, "in-line")
    assert threads and all(name == "MainThread" for name in threads)

    assert (customers.created, customers.rejected, customers.consent_events) == (4, 4, 3)
    assert (orders.created, orders.rejected, orders.aggregates_refreshed) == (5, 2, 4)
    assert in_line[0][1] == customer_rejects and in_line[1][1] == order_rejects
    assert [line for line, _ in customer_rejects] == ["4", "5", "6", "8"]
    assert [line for line, _ in order_rejects] == ["4", "6"]
    assert "customer_external_id: unknown customer" in order_rejects[0][1]
    assert "duplicate in the file (first on line 3)" in order_rejects[1][1]
    assert database_state() == written
    astrid = written[0][0]
    # The writer thread runs in the caller's context: the test's frozen clock.
    assert astrid[-1] == frozen_clock.now
    assert astrid[7:11] == (3, Decimal("350.50"), dt.datetime(2025, 1, 10, 10, tzinfo=UTC),
                            dt.datetime(2025, 3, 1, 10, tzinfo=UTC))


def test_a_chunk_that_fails_to_write_stops_the_import_at_its_first_line(
    frozen_clock, tmp_path, second_chunk_insert_fails
):
    rows = "".join(f"c-{n},p{n}@example.com\n" for n in range(7))

    with pytest.raises(ImportStopped) as stopped:
        run(tmp_path, "external_id,email\n" + rows, kind="customers", name="failed")

    # Lines 2-3 were the first chunk, 4-5 the one that failed; 6-7 were checked while it
    # was being written and are not written.
    assert "stopped near line 4 (RuntimeError: database went away)" in str(stopped.value)
    assert "(2 created, 0 updated) were committed" in str(stopped.value)
    assert sorted(Customer.objects.values_list("external_id", flat=True)) == ["c-0", "c-1"]
    assert not [t for t in threading.enumerate() if t.name.startswith("import-writer")]

    second_chunk_insert_fails.undo()
    report, _ = run(tmp_path, "external_id,email\n" + rows, kind="customers", name="again")
    assert (report.created, report.unchanged) == (5, 2)
