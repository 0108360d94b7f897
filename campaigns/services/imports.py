"""Bulk CSV import of customers, orders, their lines and products: streamed, in chunks, set-based, idempotent.

The file is read once, incrementally; every `CHUNK_ROWS` good rows are written in their own
transaction with a handful of statements (one SELECT of the rows already stored, one
INSERT of the new ones, one UPDATE of the changed ones), so memory stays flat and a file
of a million rows costs a few hundred statements. On PostgreSQL a chunk is written on a
second thread while the next one is checked (`_ChunkWriter`). Bad rows go to a rejects
file with their line number and the reason; they never stop the others. Importing the same file
again finds nothing to change. Imported orders create no events, so no journey starts
for old purchases (see docs/architecture.md, "Bulk import").
"""
import contextlib
import contextvars
import csv
import dataclasses
import gc
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO, Callable

from django.db import connection, transaction

from campaigns import clock
from campaigns.exceptions import CampaignsError
from campaigns.importing import (
    CUSTOMER_PROFILE_COLUMNS, CsvRecords, CustomerRowReader, ImportRefused, LineRowReader,
    OrderRowReader, ProductRowReader, Record, RejectsWriter, header_read,
)
from campaigns.models import (
    AttributeDefinition, ConsentSource, Customer, Order, OrderLine, Product,
)
from campaigns.services.bulk import filter_in, model_defaults, rows_insert, rows_update
from campaigns.services.consent import (
    ConsentAnswer, consents_record_bulk, customers_create_with_consent,
)
from campaigns.services.customers import customers_order_facts_refresh, orders_create_counted
from campaigns.services.products import CREATED, UPDATED, products_upsert
from campaigns.services.referral_attribution import referrals_attribute
from campaigns.storable import text_problem

CHUNK_ROWS = 5000
STRAY_QUOTE = "stray quote: a quoted field is not closed on this line"
CUSTOMERS = "customers"
ORDERS = "orders"
PRODUCTS = "products"
ORDER_LINES = "order_lines"

__all__ = ["CHUNK_ROWS", "ImportRefused", "ImportReport", "ImportStopped", "RejectsWriter",
           "import_run"]


@dataclasses.dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do). `rows` counts data records."""

    kind: str
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    consent_events: int = 0
    referrals_counted: int = 0
    referrals_ignored: int = 0
    aggregates_refreshed: int = 0
    new_attributes: list[str] = dataclasses.field(default_factory=list)
    bytes_done: int = 0
    bytes_total: int = 0

    def summary(self) -> str:
        lines = [f"{self.rows} rows: {self.created} created, {self.updated} updated, "
                 f"{self.unchanged} unchanged, {self.rejected} rejected"]
        if self.kind == CUSTOMERS:
            lines.append(f"consent events recorded (source import): {self.consent_events}")
            if self.referrals_counted or self.referrals_ignored:
                lines.append(f"referral codes of new customers: {self.referrals_counted} "
                             f"counted, {self.referrals_ignored} ignored (see Referrals)")
            if self.new_attributes:
                lines.append("new attribute keys (stored as text): "
                             + ", ".join(self.new_attributes))
        elif self.kind == ORDERS:
            lines.append(f"customers whose order facts were refreshed: "
                         f"{self.aggregates_refreshed}")
        if self.dry_run:
            lines.append("dry run: nothing was written")
        return "\n".join(lines)


class ImportStopped(CampaignsError):
    """An unexpected error stopped the import; the chunks before it were committed."""

    def __init__(self, message: str, *, report: ImportReport):
        super().__init__(message)
        self.report = report


class _SeenKeys:
    """The external ids met earlier in the file, in a temporary table, so that finding a
    duplicate costs no memory per row. Private to this connection; dropped at the end."""

    def __enter__(self):
        self.table = f"import_seen_{uuid.uuid4().hex[:16]}"
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {self.table} "
                           "(key varchar(100) PRIMARY KEY, line integer NOT NULL)")
        return self

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")

    def earlier(self, keys: dict[str, int]) -> dict[str, int]:
        """Record `keys` (key -> line); return those already met, with their first line."""
        if not keys:
            return {}
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"INSERT INTO {self.table} SELECT * FROM unnest(%s::varchar(100)[], "
                    "%s::integer[]) ON CONFLICT DO NOTHING RETURNING key",
                    [list(keys), list(keys.values())])
                new = {key for key, in cursor.fetchall()}
                if len(new) == len(keys):
                    return {}
                cursor.execute(f"SELECT key, line FROM {self.table} WHERE key = ANY(%s)",
                               [[key for key in keys if key not in new]])
                return dict(cursor.fetchall())
            cursor.execute(f"SELECT key, line FROM {self.table} WHERE key IN "
                           f"({', '.join(['%s'] * len(keys))})", list(keys))
            seen = dict(cursor.fetchall())
            cursor.executemany(f"INSERT INTO {self.table} VALUES (%s, %s)",
                               [(key, line) for key, line in keys.items() if key not in seen])
        return seen


class _ChunkWriter:
    """Writes each chunk in its own transaction; on PostgreSQL on a second thread with its
    own connection, so that the database writes chunk N while this process reads and
    checks chunk N+1 (psycopg lets other threads run while it waits for the server). One
    chunk at a time: `submit` first waits for the chunk before, so chunks are committed in
    file order and an error stops the import one chunk later at the latest.

    Inside a caller's transaction (the tests' per-test transaction, say) or on SQLite the
    chunks are written on this thread, in that transaction: a second connection would not
    see its rows.
    """

    def __init__(self, write: Callable[[list, dict], None]):
        self.write = write
        self.pending: Future | None = None
        self.pending_line = 0
        threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        self.pool = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
                     if threaded else None)

    def _write_committed(self, rows: list, stored: dict) -> None:
        with transaction.atomic():
            self.write(rows, stored)

    def submit(self, rows: list, stored: dict, *, first_line: int) -> None:
        self.wait()
        if self.pool is None:
            try:
                self._write_committed(rows, stored)
            except Exception as exc:
                raise _ChunkFailed(first_line, exc) from exc
            return
        # The caller's context goes along: the clock (clock.frozen_at) lives in it.
        self.pending = self.pool.submit(contextvars.copy_context().run,
                                        self._write_committed, rows, stored)
        self.pending_line = first_line

    def wait(self) -> None:
        """Until the chunk being written is committed; its error, if it failed."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            try:
                pending.result()
            except Exception as exc:
                raise _ChunkFailed(self.pending_line, exc) from exc

    def close(self) -> None:
        """Wait for the last chunk (its outcome is `wait`'s to report) and stop the thread."""
        if self.pool is not None:
            if self.pending is not None:
                self.pending.exception()
            # `connection` is per thread: this closes the writer thread's own.
            self.pool.submit(lambda: connection.close()).result()
            self.pool.shutdown()


class _ChunkFailed(Exception):
    """Writing the chunk that starts at `line` failed with `error`."""

    def __init__(self, line: int, error: Exception):
        super().__init__(line, error)
        self.line, self.error = line, error


class _Importer:
    """Shared by both kinds: first occurrences only, rejects, counts."""

    def __init__(self, report: ImportReport, rejects: RejectsWriter, seen: _SeenKeys):
        self.report = report
        self.rejects = rejects
        self.seen = seen
        self.writer = _ChunkWriter(self.write)
        # The writer thread rejects rows too (unknown customer, erased, …).
        self._rejects_lock = threading.Lock()

    def reject(self, record: Record, reason: str, fields: list[str] | None = None) -> None:
        with self._rejects_lock:
            self.rejects.add(record, reason, fields=fields)
            self.report.rejected += 1

    def first_occurrences(self, rows: list) -> list:
        """Rows whose external id the file has not had before; the others are rejected."""
        first_line: dict[str, int] = {}
        kept = []
        for record, row in rows:
            if row.external_id in first_line:
                self.reject(record, f"external_id: duplicate in the file (first on line "
                                    f"{first_line[row.external_id]}); only the first is imported")
                continue
            first_line[row.external_id] = record.line
            kept.append((record, row))
        earlier = self.seen.earlier(first_line)
        result = []
        for record, row in kept:
            if row.external_id in earlier:
                self.reject(record, f"external_id: duplicate in the file (first on line "
                                    f"{earlier[row.external_id]}); only the first is imported")
            else:
                result.append((record, row))
        return result

    def process(self, chunk: list[tuple[Record, dict]]) -> None:
        """Check the chunk's rows and hand the good ones to the writer.

        What is read here may be one chunk behind the database (the writer may still be
        writing the chunk before): harmless, since a file's rows with the same external id
        are rejected as duplicates, and updates are merged again under lock when written.
        """
        stored = self.stored_rows([values for _, values in chunk])
        rows = []
        for record, values in chunk:
            result = self.reader.read(record.line, values, **self.read_hints(values, stored))
            if isinstance(result, list):
                self.reject(record, "; ".join(result))
            else:
                rows.append((record, result))
        self.writer.submit(self.first_occurrences(rows), stored, first_line=chunk[0][0].line)

    def read_hints(self, values: dict, stored: dict) -> dict:
        return {}


class _CustomersImporter(_Importer):
    STORED = ("id", "external_id", "erased_at", "attributes",
              *(c for c in CUSTOMER_PROFILE_COLUMNS if c != "external_id"))

    def __init__(self, columns: list[str], **kwargs):
        super().__init__(**kwargs)
        self.attribute_types = dict(AttributeDefinition.objects.values_list("key", "type"))
        self.reader = CustomerRowReader(columns, self.attribute_types)
        self.update_fields = [c for c in CUSTOMER_PROFILE_COLUMNS
                              if c in columns and c != "external_id"]
        if self.reader.attribute_columns:
            self.update_fields.append("attributes")
        self.new_keys: set[str] = set()

    def stored_rows(self, chunk: list[dict]) -> dict:
        """The stored customers of the chunk's rows, by external id."""
        return {c["external_id"]: c for c in filter_in(
            Customer.objects, "external_id", {v["external_id"].strip() for v in chunk}
        ).values(*self.STORED)}

    def read_hints(self, values: dict, stored: dict) -> dict:
        current = stored.get(values["external_id"].strip())
        return {"stored_email": current["email"]} if current else {}

    def write(self, rows: list, stored: dict) -> None:
        report, now = self.report, clock.now()
        creates, updates, answers, new_answers, referred = [], [], [], [], []
        defaults = model_defaults(Customer)
        for record, row in rows:
            current = stored.get(row.external_id)
            if current is None:
                if "email" not in row.profile:
                    self.reject(record, "email: Required: no customer has this external_id yet.")
                    continue
                creates.append({**defaults, "created_at": now, "updated_at": now,
                                "external_id": row.external_id, **row.profile,
                                "attributes": row.attributes})
                if row.referral_code:
                    referred.append(row)
            elif current["erased_at"] is not None:
                self.reject(record, "external_id: this customer was erased; their data is "
                                    "not imported again")
                continue
            elif self.changes(current, row) is not None:
                updates.append(row)
            else:
                report.unchanged += 1
            self.new_keys.update(k for k in row.attributes if k not in self.attribute_types)
            if row.consent is not None:
                answer = (row.external_id, row.consent, min(row.consent_at or now, now),
                          row.wording_version, "email_verified" if row.email_verified else "")
                (answers if current is not None else new_answers).append(answer)
        if self.report.dry_run:
            report.consent_events += len(new_answers) + consents_record_bulk(
                answers=[ConsentAnswer(stored[a[0]]["id"], *a[1:]) for a in answers],
                source=ConsentSource.IMPORT, dry_run=True)
            report.created += len(creates)
            report.updated += len(updates)
            return
        # New customers get their consent state in their own INSERT (one write per row).
        ids, created_events = customers_create_with_consent(
            rows=creates, answers={a[0]: ConsentAnswer(0, *a[1:]) for a in new_answers},
            source=ConsentSource.IMPORT)
        # Codes count only for the customers the file creates; for stored ones the
        # column changes nothing.
        attributed = referrals_attribute(new_customers=[
            (ids[row.external_id], row.profile["email"], row.referral_code) for row in referred
        ], source=ConsentSource.IMPORT, now=now)
        updates = self.locked_changes(updates, stored, now)
        rows_update(Customer, updates, fields=[*self.update_fields, "updated_at"])
        report.consent_events += created_events + consents_record_bulk(
            answers=[ConsentAnswer(stored[a[0]]["id"], *a[1:]) for a in answers],
            source=ConsentSource.IMPORT)
        fresh_keys = self.new_keys - set(self.attribute_types)
        if fresh_keys:
            AttributeDefinition.objects.bulk_create(
                [AttributeDefinition(key=key, type=AttributeDefinition.Type.TEXT)
                 for key in sorted(fresh_keys)], ignore_conflicts=True)
            self.attribute_types.update(dict.fromkeys(fresh_keys, "text"))
        report.created += len(creates)
        report.updated += len(updates)
        report.referrals_counted += attributed.counted
        report.referrals_ignored += attributed.ignored

    def changes(self, current: dict, row) -> dict | None:
        """The stored row with the file's values, or None if that changes nothing."""
        merged = {**current, **row.profile,
                  "attributes": {**current["attributes"], **row.attributes}}
        return merged if any(merged[f] != current[f] for f in self.update_fields) else None

    def locked_changes(self, rows: list, stored: dict, now) -> list[dict]:
        """Lock the customers to update (in id order) and merge onto their current values,
        so that a field the API changed since the chunk was read is not written back."""
        if not rows:
            return []
        current = {c["external_id"]: c for c in filter_in(
            Customer.objects.select_for_update(), "id",
            [stored[row.external_id]["id"] for row in rows]
        ).order_by("id").values(*self.STORED)}
        updates = []
        for row in rows:
            merged = self.changes(current[row.external_id], row)
            if merged is None:
                self.report.unchanged += 1
            else:
                updates.append({**merged, "updated_at": now})
        return updates

    def finish(self) -> None:
        self.report.new_attributes = sorted(self.new_keys)


class _OrdersImporter(_Importer):
    STORED = ("id", "external_id", "customer_id", "amount", "currency", "placed_at", "status")

    def __init__(self, columns: list[str], **kwargs):
        super().__init__(**kwargs)
        self.reader = OrderRowReader(columns)
        self.update_fields = ["amount", "currency", "placed_at"]
        if "status" in columns:
            self.update_fields.append("status")

    def stored_rows(self, chunk: list[dict]) -> dict:
        return {}

    def write(self, rows: list, stored: dict) -> None:
        report, now = self.report, clock.now()
        customers = {ext: (pk, erased) for pk, ext, erased in filter_in(
            Customer.objects, "external_id", {row.customer_external_id for _, row in rows}
        ).values_list("id", "external_id", "erased_at")}
        stored = {o["external_id"]: o for o in filter_in(
            Order.objects, "external_id", [row.external_id for _, row in rows]
        ).values(*self.STORED)}
        creates, updates, changed = [], [], set()
        defaults = model_defaults(Order)
        for record, row in rows:
            customer = customers.get(row.customer_external_id)
            if customer is None:
                self.reject(record, "customer_external_id: unknown customer; import the "
                                    "customers first")
                continue
            if customer[1] is not None:
                self.reject(record, "customer_external_id: this customer was erased")
                continue
            values = {"customer_id": customer[0], "external_id": row.external_id,
                      "amount": row.amount, "currency": row.currency,
                      "placed_at": row.placed_at}
            if row.status is not None:
                values["status"] = row.status
            current = stored.get(row.external_id)
            if current is None:
                creates.append({**defaults, "created_at": now, "updated_at": now, **values})
            elif current["customer_id"] != customer[0]:
                self.reject(record, "external_id: This order is recorded for another customer.")
                continue
            elif any((merged := {**current, **values})[f] != current[f]
                     for f in self.update_fields):
                updates.append({**merged, "updated_at": now})
                changed.add(customer[0])
            else:
                report.unchanged += 1
        if not report.dry_run:
            if changed:
                # Every customer this chunk writes, locked in id order before any write.
                list(filter_in(Customer.objects.select_for_update(), "id",
                               {row["customer_id"] for row in creates} | changed)
                     .order_by("pk").values_list("pk", flat=True))
            # New orders are added to their customers' facts; a changed order (amount,
            # time, status) has them recomputed from all the customer's orders.
            orders_create_counted(rows=creates)
            rows_update(Order, updates, fields=[*self.update_fields, "updated_at"])
            customers_order_facts_refresh(customer_ids=list(changed))
        report.created += len(creates)
        report.updated += len(updates)
        report.aggregates_refreshed += len({row["customer_id"] for row in creates} | changed)

    def finish(self) -> None:
        pass


class _ProductsImporter(_Importer):
    """Products by SKU, through the API's own upsert (which also links waiting lines)."""

    def __init__(self, columns: list[str], **kwargs):
        super().__init__(**kwargs)
        self.reader = ProductRowReader(columns)

    def stored_rows(self, chunk: list[dict]) -> dict:
        return {}

    def write(self, rows: list, stored: dict) -> None:
        results = products_upsert(products=[row.data for _, row in rows],
                                  dry_run=self.report.dry_run)
        for result in results:
            if result.status == CREATED:
                self.report.created += 1
            elif result.status == UPDATED:
                self.report.updated += 1
            else:
                self.report.unchanged += 1

    def finish(self) -> None:
        pass


class _LinesImporter(_Importer):
    """The lines of imported orders (`import_orders --lines`). An order's lines are taken
    from the file only if it had none when the import met it first: importing the file
    again changes nothing, and lines the API stored are kept. An order's rows may lie
    anywhere in the file (the orders met are kept in the temporary table, with whether
    their lines are being filled)."""

    def __init__(self, columns: list[str], **kwargs):
        super().__init__(**kwargs)
        self.reader = LineRowReader(columns)

    def stored_rows(self, chunk: list[dict]) -> dict:
        return {}

    def first_occurrences(self, rows: list) -> list:
        return rows  # Many lines per order.

    def write(self, rows: list, stored: dict) -> None:
        report = self.report
        wanted = sorted({row.external_id for _, row in rows})
        orders = {external_id: (pk, customer_id, placed_at) for pk, external_id, customer_id,
                  placed_at in filter_in(Order.objects, "external_id", wanted).values_list(
                  "pk", "external_id", "customer_id", "placed_at")}
        with_lines = set(OrderLine.objects.filter(
            order_id__in=[pk for pk, _, _ in orders.values()]).values_list(
            "order__external_id", flat=True).distinct()) if orders else set()
        # 1: filled by this import; -1: had lines before, kept as they are.
        flags = {ext: -1 if ext in with_lines else 1 for ext in orders}
        flags.update({ext: flag for ext, flag in self.seen.earlier(flags).items()})
        creates = []
        for record, row in rows:
            order = orders.get(row.external_id)
            if order is None:
                self.reject(record, "order_external_id: unknown order; it is neither in the "
                                    "orders file nor stored")
            elif flags[row.external_id] < 0:
                report.unchanged += 1
            else:
                creates.append({"order_id": order[0], "customer_id": order[1],
                                "sku": row.sku, "product_id": None,
                                "quantity": row.quantity, "price": row.price,
                                "placed_at": order[2], "refunded_quantity": 0})
        if creates:
            products = dict(filter_in(Product.objects, "sku", {r["sku"] for r in creates})
                            .values_list("sku", "pk"))
            for line in creates:
                line["product_id"] = products.get(line["sku"])
        if not report.dry_run:
            rows_insert(OrderLine, creates)
        report.created += len(creates)

    def finish(self) -> None:
        pass


_IMPORTERS = {CUSTOMERS: _CustomersImporter, ORDERS: _OrdersImporter,
              PRODUCTS: _ProductsImporter, ORDER_LINES: _LinesImporter}


def _values(record: Record, columns: list[str], records: CsvRecords,
            importer: _Importer) -> dict | None:
    """The record as {column: value}, or None when it is rejected as unreadable."""
    values = dict(zip(columns, record.fields))
    if len(record.lines) > 1 and (
        record.error or len(record.fields) != len(columns)
        or isinstance(importer.reader.read(record.line, values), list)
    ):
        # A record over several lines that does not make a good row: most likely a quote
        # opened and never closed swallowed the lines after it. Reject the first line
        # alone and read the others again as rows of their own.
        first = record.lines[0][1].decode("utf-8", "surrogateescape")
        records.reread_after_first(record)
        importer.reject(dataclasses.replace(record, lines=record.lines[:1]),
                        STRAY_QUOTE, fields=next(csv.reader([first]), []))
        return None
    if record.error:
        importer.reject(record, record.error)
        return None
    if record.not_utf8:
        importer.reject(record, "not UTF-8: save the file as CSV UTF-8 (the row's bytes are "
                                "kept as they are in this file)")
        return None
    if len(record.fields) != len(columns):
        unclosed = record.lines[0][1].count(b'"') % 2
        importer.reject(record, STRAY_QUOTE if unclosed else
                        f"expected {len(columns)} columns, found {len(record.fields)}")
        return None
    # In UTF-8 (anything else was rejected above) only a NUL byte makes text the database
    # cannot store, so the bytes are searched and the column looked for only then.
    if any(b"\0" in raw for _, raw in record.lines):
        column = next(c for c, value in values.items() if text_problem(value) is not None)
        importer.reject(record, f"{column}: {text_problem(values[column])}")
        return None
    return values


@contextlib.contextmanager
def _collector_relaxed():
    """Fewer garbage-collector passes while the import runs: it makes millions of
    short-lived objects and no reference cycles per row, and with a large heap (Django, the
    worker) each pass scans everything; freezing the objects made before leaves them out."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def import_run(
    *, kind: str, stream: BinaryIO, rejects: RejectsWriter, dry_run: bool = False,
    bytes_total: int = 0, progress: Callable[[ImportReport], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImportReport:
    """Import a customers, orders, order lines or products CSV read from a binary stream;
    return the report.

    Raises ImportRefused, with nothing written, when the header is missing, lacks a
    required column, names a column twice or is not UTF-8. Every other problem rejects
    its row only (written to `rejects` with the line and the reason). Each chunk is
    committed on its own; with `dry_run` nothing is written at all. `progress` is called
    after every chunk.
    """
    with _collector_relaxed():
        return _import_run(kind=kind, stream=stream, rejects=rejects, dry_run=dry_run,
                           bytes_total=bytes_total, progress=progress, chunk_rows=chunk_rows)


def _import_run(*, kind, stream, rejects, dry_run, bytes_total, progress, chunk_rows):
    report = ImportReport(kind=kind, dry_run=dry_run, bytes_total=bytes_total)
    records = CsvRecords(stream)
    iterator = iter(records)
    columns = header_read(iterator, kind=kind)
    rejects.columns = columns
    with _SeenKeys() as seen:
        importer_class = _IMPORTERS[kind]
        importer = importer_class(columns, report=report, rejects=rejects, seen=seen)
        chunk = []
        try:
            for record in iterator:
                report.rows += 1
                values = _values(record, columns, records, importer)
                if values is not None:
                    chunk.append((record, values))
                if len(chunk) >= chunk_rows:
                    importer.process(chunk)
                    chunk = []
                    report.bytes_done = records.bytes_done
                    if progress:
                        progress(report)
            if chunk:
                importer.process(chunk)
            importer.writer.wait()
        except Exception as exc:
            report.bytes_done = records.bytes_done
            line = record.line if report.rows else 1
            if isinstance(exc, _ChunkFailed):
                line, exc = exc.line, exc.error
            raise ImportStopped(
                f"The import stopped near line {line} ({type(exc).__name__}: {exc}). The "
                f"rows counted so far ({report.created} created, {report.updated} updated) "
                "were committed in earlier chunks; the rest was not imported. Importing the "
                "file again after fixing the cause finishes it.", report=report) from exc
        finally:
            try:
                importer.writer.close()
            finally:
                rejects.close()
        importer.finish()
    report.bytes_done = records.bytes_done
    if progress:
        progress(report)
    return report

