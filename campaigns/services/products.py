"""The product catalogue: upserting products by SKU, set-based, and linking the order and
event lines that waited for them."""
import dataclasses
import logging
from decimal import Decimal

from django.db import OperationalError, transaction
from django.db.models import OuterRef, Subquery

from campaigns import clock
from campaigns.models import EventLine, OrderLine, Product
from campaigns.services.bulk import filter_in, model_defaults, rows_insert, rows_update
from campaigns.services.customers import IngestRejected

logger = logging.getLogger(__name__)

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
ATTEMPTS = 5
# What a product's payload may set, and the value of a field it leaves out on a new one.
FIELDS = {
    "name": "", "names": dict, "url": "", "image_url": "", "price": None, "currency": "",
    "category": "", "brand": "", "in_stock": True, "attributes": dict, "reorder_days": None,
}
# `null` clears these to their empty value (the model's text fields are not nullable).
_EMPTY_TEXT = {"url", "image_url", "currency", "category", "brand"}


@dataclasses.dataclass(frozen=True)
class ProductResult:
    index: int
    sku: str
    status: str  # CREATED, UPDATED or UNCHANGED


class _ConcurrentBatch(Exception):
    """A concurrent request created a product this batch meant to create: start again."""


def products_upsert(*, products: list[dict], dry_run: bool = False) -> list[ProductResult]:
    """Create or update validated products by SKU, all or nothing; one result per item.

    A field an item leaves out keeps its stored value (a new product gets its default);
    `None` clears it. Posting the same products again changes nothing (all `unchanged`).
    The order and event lines waiting for these SKUs (product still empty) are linked in
    the same transaction. A SKU given twice in one batch is refused (IngestRejected).

    With `dry_run` the results say what would happen and nothing is written.

    Set-based: a fixed number of statements whatever the batch's size. Two batches
    creating the same new SKU at once: the second is done again and finds it stored.
    """
    errors = _duplicates(products)
    if errors:
        raise IngestRejected(errors)
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                results = _batch_store(products, dry_run=dry_run)
            break
        except (_ConcurrentBatch, OperationalError) as exc:
            retry = isinstance(exc, _ConcurrentBatch) or getattr(
                exc.__cause__, "sqlstate", None) in {"40P01", "40001"}
            if attempt == ATTEMPTS - 1 or not retry:
                raise
            logger.info("Products batch met a concurrent one; storing it again")
    logger.info("Products upserted: %d created, %d updated, %d unchanged",
                *(sum(r.status == s for r in results) for s in (CREATED, UPDATED, UNCHANGED)))
    return results


def _duplicates(products: list[dict]) -> list[dict]:
    first: dict[str, int] = {}
    errors = []
    for index, data in enumerate(products):
        if data["sku"] in first:
            errors.append({"index": index, "field": "sku", "message":
                           f"This SKU is already given at index {first[data['sku']]} of "
                           "the batch; send each product once."})
        first.setdefault(data["sku"], index)
    return errors


def _values(data: dict, current: dict | None) -> dict:
    """The product's stored values after applying `data` onto `current` (None: new)."""
    values = dict(current) if current is not None else {
        field: default() if callable(default) else default for field, default in FIELDS.items()}
    for field in FIELDS:
        if field not in data:
            continue
        value = data[field]
        if value is None and field in _EMPTY_TEXT:
            value = ""
        elif value is None and field in ("names", "attributes"):
            value = {}
        elif field == "price" and value is not None:
            value = Decimal(str(value)).quantize(Decimal("0.01"))
        values[field] = value
    return values


def _batch_store(products: list[dict], *, dry_run: bool = False) -> list[ProductResult]:
    now = clock.now()
    skus = [data["sku"] for data in products]
    products_read = Product.objects if dry_run else Product.objects.select_for_update()
    stored = {row["sku"]: row for row in filter_in(
        products_read, "sku", skus).order_by("pk").values(
        "id", "sku", *FIELDS)}
    creates, updates, statuses = [], [], []
    defaults = model_defaults(Product)
    for data in products:
        current = stored.get(data["sku"])
        if current is None:
            creates.append({**defaults, **_values(data, None), "sku": data["sku"],
                            "created_at": now, "updated_at": now})
            statuses.append(CREATED)
            continue
        current = {field: current[field] for field in FIELDS}
        values = _values(data, current)
        if values == current:
            statuses.append(UNCHANGED)
        else:
            updates.append({"id": stored[data["sku"]]["id"], **values, "updated_at": now})
            statuses.append(UPDATED)
    if not dry_run:
        created = rows_insert(Product, creates, returning=("id",), skip_conflicts=True)
        if len(created) != len(creates):
            raise _ConcurrentBatch
        rows_update(Product, updates, fields=[*FIELDS, "updated_at"])
        lines_link(skus=skus)
    return [ProductResult(index=index, sku=sku, status=status)
            for index, (sku, status) in enumerate(zip(skus, statuses))]


def lines_link(*, skus: list[str] | None = None) -> int:
    """Link the order and event lines of these SKUs (None: of every SKU in the catalogue)
    that wait for their product: one UPDATE per table, through the partial index on
    unlinked SKUs. Returns the number of lines linked.

    Without SKUs it is the sweep for a line stored while its product was being created
    by a concurrent transaction (neither saw the other's uncommitted row)."""
    if skus is not None and not skus:
        return 0
    product = Product.objects.filter(sku=OuterRef("sku")).values("pk")[:1]
    linked = 0
    for model in (OrderLine, EventLine):
        pending = model.objects.filter(product__isnull=True)
        pending = (filter_in(pending, "sku", skus) if skus is not None
                   else pending.filter(sku__in=Product.objects.values("sku")))
        linked += pending.update(product=Subquery(product))
    return linked
