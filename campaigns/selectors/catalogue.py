"""The catalogue as the send path reads it, cached per worker process (issue 15).

Cart items (`event.items`, `orders`) and recommendations show products: their names per
language, url, image, price, category, brand, stock and attributes, and recommendations
are drawn from the nightly lists (ProductPair, TopSeller). Both change rarely compared to
how often a worker sends, so a process keeps what it read:

* product records by id, and the ITEMs built from them per language (at most
  CATALOGUE_CACHE_PRODUCTS products, the oldest read dropped first);
* each product's "bought together" list and the top sellers per category level.

A batch validates the cache once, on its first read, with one statement: the tokens of
`DataVersion`. Database triggers (migration 0035) write a new token in the same
transaction as any write to the catalogue or to the lists, however it is made (the API,
an import, the admin, a bulk update, raw SQL), and a token is never given twice. The
tokens are read before the rows, so rows are never older than the token they are kept
under. When a token differs from the one the cache was filled under, that part is
dropped whole; otherwise only what is not cached is read, in one statement per kind for
the whole batch.

`catalogue_snapshot()` costs nothing until something is read: a batch whose templates
show no product makes no statement.
"""
import json
import threading
from itertools import islice
from decimal import Decimal

from django.conf import settings
from django.db import connection

from campaigns import templating
from campaigns.models import DataVersion, Product, ProductPair, TopSeller


def _decimal(value):
    # Raw rows: PostgreSQL gives Decimal, SQLite an int, a float or a text.
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def _json(text) -> dict:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class ProductRecord:
    """One product's columns; the JSON ones are decoded when an ITEM is first built."""

    __slots__ = ("id", "sku", "name", "names_text", "url", "image_url", "price", "currency",
                 "category", "brand", "in_stock", "attributes_text", "_names")

    def __init__(self, row):
        (self.id, self.sku, self.name, self.names_text, self.url, self.image_url, price,
         self.currency, self.category, self.brand, in_stock, self.attributes_text) = row
        self.price = _decimal(price)
        self.in_stock = bool(in_stock)
        self._names = None

    def names(self) -> dict:
        """The names per language (decoded once; do not change the dict)."""
        if self._names is None:
            self._names = _json(self.names_text)
        return self._names


class _Cache:
    """What one process keeps, and the tokens it was read under."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tokens: dict[str, object] = {}
        # Insertion order: the oldest read are dropped first when full.
        self.records: dict[int, ProductRecord] = {}
        self.items: dict[tuple, dict] = {}
        self.pairs: dict[int, tuple[int, ...]] = {}
        self.pairs_depth = 0  # how many of each product's pairs `pairs` holds
        self.tops: dict[str, tuple[int, ...]] = {}

    # New dicts rather than cleared ones: a batch of another thread that holds a record
    # keeps it.
    def drop_catalogue(self):
        self.records = {}
        self.items = {}

    def drop_lists(self):
        self.pairs = {}
        self.tops = {}


_PROCESS = _Cache()


def catalogue_cache_clear() -> None:
    """Forget everything this process cached (tests, and the benchmark's "cold" runs)."""
    with _PROCESS.lock:
        _PROCESS.tokens.clear()
        _PROCESS.drop_catalogue()
        _PROCESS.drop_lists()


def _size() -> int:
    return max(1, settings.CATALOGUE_CACHE_PRODUCTS)


def ids_where(column: str, ids: list, params: list) -> str:
    """`column IN ids` with one parameter whatever the number of ids (an array on
    PostgreSQL, a JSON array on SQLite); appends it to `params`."""
    if connection.vendor == "postgresql":
        if all(type(pk) is int for pk in ids):
            # An array literal: psycopg's list adapter costs a few µs per id.
            params.append("{" + ",".join(map(str, ids)) + "}")
            return f"{column} = ANY(%s::bigint[])"
        params.append(ids)
        return f"{column} = ANY(%s)"
    params.append(json.dumps(ids))
    return f"{column} IN (SELECT value FROM json_each(%s))"


def _fetch(sql_head: str, column: str, ids: list) -> list[tuple]:
    params = []
    where = ids_where(column, ids, params)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql_head} WHERE {where}", params)
        return cursor.fetchall()


class CatalogueSnapshot:
    """What one batch reads of the catalogue and the lists: the process cache, validated
    on the first read (one statement), plus what the batch itself read (kept for the batch
    even if the cache evicts it). `cached=False` reads everything afresh (the benchmark's
    "before")."""

    def __init__(self, *, cached: bool = True):
        self._cache = _PROCESS if cached else _Cache()
        self._checked = False
        self._records: dict[int, ProductRecord] = {}

    def _check(self):
        if self._checked:
            return
        self._checked = True
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT name, token FROM {DataVersion._meta.db_table}")
            tokens = dict(cursor.fetchall())
        cache = self._cache
        with cache.lock:
            for name, drop in ((DataVersion.CATALOGUE, cache.drop_catalogue),
                               (DataVersion.LISTS, cache.drop_lists)):
                # No row (a flushed database): never trust what is kept.
                token = tokens.get(name, object())
                if cache.tokens.get(name) != token:
                    drop()
                    cache.tokens[name] = token

    def read(self, ids) -> None:
        """Make sure these products are at hand (`record`): what is not cached is read
        in one statement. A deleted product stays absent."""
        self._check()
        cache, own = self._cache, self._records
        with cache.lock:
            held = cache.records
            missing = [pk for pk in ids if pk not in held and pk not in own]
        if not missing:
            return
        table = Product._meta.db_table
        rows = _fetch(f"SELECT id, sku, name, CAST(names AS TEXT), url, image_url, price, "
                      f"currency, category, brand, in_stock, CAST(attributes AS TEXT) "
                      f"FROM {table}", "id", sorted(set(missing)))
        size = _size()
        with cache.lock:
            held = cache.records
            for row in rows:
                record = ProductRecord(row)
                own[record.id] = held[record.id] = record
            excess = len(held) - size
            if excess > 0:
                # The oldest read go first; the batch keeps its own (it needs them).
                for pk in ids:
                    record = held.get(pk)
                    if record is not None:
                        own[pk] = record
                for pk in list(islice(held, excess)):
                    del held[pk]
            # ITEMs stay valid under the token; bounded by dropping them all at once.
            if len(cache.items) > 4 * size:
                cache.items.clear()

    def record(self, product_id: int) -> "ProductRecord | None":
        """A product made available by `read` (None: not in the catalogue)."""
        record = self._records.get(product_id)
        return record if record is not None else self._cache.records.get(product_id)

    def records(self, ids) -> dict[int, ProductRecord]:
        """{id: record} of these products (a deleted one is left out), as `read`."""
        self.read(ids)
        found = {}
        for pk in ids:
            record = self.record(pk)
            if record is not None:
                found[pk] = record
        return found

    def item(self, product_id: int, languages: tuple[str, ...]) -> dict:
        """The product's ITEM (templating.product_item) in the first of `languages` it has
        a name in; shared: copy it before changing it. The product must have been read
        by `records` in this batch."""
        key = (product_id, languages)
        item = self._cache.items.get(key)
        if item is None:
            p = self.record(product_id)
            item = self._cache.items[key] = templating.product_item(
                sku=p.sku, name=p.name, names=p.names(), languages=languages, url=p.url,
                image_url=p.image_url, price=p.price, currency=p.currency,
                category=p.category, brand=p.brand, in_stock=p.in_stock,
                attributes=_json(p.attributes_text), site_url=settings.SITE_URL)
        return item

    def pairs(self, ids, depth: int) -> dict[int, tuple[int, ...]]:
        """{product id: the first `depth` others bought with it, best first} (empty for
        a product with none): what is not cached read in one statement."""
        self._check()
        cache = self._cache
        with cache.lock:
            if cache.pairs_depth != depth:
                cache.pairs.clear()
                cache.pairs_depth = depth
            found, missing = {}, []
            for pk in ids:
                others = cache.pairs.get(pk)
                if others is None:
                    missing.append(pk)
                else:
                    found[pk] = others
        if missing:
            read = {pk: [] for pk in missing}
            params = [depth]
            where = ids_where("product_id", sorted(set(missing)), params)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT product_id, other_id FROM {ProductPair._meta.db_table} "
                               f"WHERE rank <= %s AND {where} ORDER BY product_id, rank", params)
                for product_id, other_id in cursor.fetchall():
                    read[product_id].append(other_id)
            size = _size()
            with cache.lock:
                for pk, others in read.items():
                    found[pk] = cache.pairs[pk] = tuple(others)
                excess = len(cache.pairs) - size
                if excess > 0:
                    for pk in list(islice(cache.pairs, excess)):
                        del cache.pairs[pk]
        return found

    def tops(self, levels) -> dict[str, tuple[int, ...]]:
        """{category level: its top sellers, best first} ("" is overall); what is not
        cached read in one statement."""
        self._check()
        cache = self._cache
        with cache.lock:
            missing = [level for level in levels if level not in cache.tops]
        found = {}
        if missing:
            read = {level: [] for level in missing}
            params = []
            where = ids_where("category", sorted(missing), params)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT category, product_id FROM {TopSeller._meta.db_table} "
                               f"WHERE {where} ORDER BY category, rank", params)
                for category, product_id in cursor.fetchall():
                    read[category].append(product_id)
            with cache.lock:
                for level, ids in read.items():
                    found[level] = cache.tops[level] = tuple(ids)
        with cache.lock:
            for level in levels:
                if level not in found:
                    found[level] = cache.tops.get(level, ())
        return found


def catalogue_snapshot(*, cached: bool = True) -> CatalogueSnapshot:
    """A batch's view of the catalogue (see the module); no statement until a read."""
    return CatalogueSnapshot(cached=cached)
