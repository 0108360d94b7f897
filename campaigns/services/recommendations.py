"""The nightly recommendations job: "bought together" and the top sellers, rewritten in SQL.

Both lists are computed set-based from the order lines (one INSERT … SELECT each, with
window functions: SQLite ≥ 3.25 and PostgreSQL run the same statements) and replace the
old rows in one transaction, so a reader (a send batch) sees either yesterday's lists or
today's, never half of them. Emails only read these tables (selectors/recommendations.py).
"""
import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from campaigns.services.products import lines_link
from campaigns.models import Order, OrderLine, Product, ProductPair, TopSeller

logger = logging.getLogger(__name__)

# Kept per product and per category: an email shows at most 12.
TOP_N = 20
# "Bought together" looks at each customer's most recent distinct products only: a
# reseller with 3,000 products would add 9,000,000 pairs of noise and dominate the cost.
RECENT_PER_CUSTOMER = 50


@dataclass
class RecommendationCounts:
    pairs: int
    top_sellers: int


def _lines_where() -> str:
    """The lines that count: of placed orders, linked to a product, not refunded whole."""
    # "Not of an order that is not placed" rather than a join with every order: the
    # refunded and cancelled orders are few, so the anti-join hashes only them.
    return (f"FROM {OrderLine._meta.db_table} l "
            "WHERE l.placed_at >= %s AND l.product_id IS NOT NULL "
            "AND l.refunded_quantity < l.quantity "
            f"AND NOT EXISTS (SELECT 1 FROM {Order._meta.db_table} o "
            "WHERE o.id = l.order_id AND o.status <> 'placed')")


# The score of "bought together". For a product A and another B, with c(A,B) the
# customers who bought both (within the window) and n(X) the customers who bought X:
#   score = c(A,B)² / (n(A) · n(B))   (the square of the cosine / Ochiai coefficient).
# Raw co-buyer counts rank the overall best sellers first for every product (everyone
# bought them, so everyone bought them "with" A); lift, c·N / (n(A)·n(B)), ranks within A
# by c / n(B) and so favours products bought once by someone who happened to buy A.
# Dividing by √n(B) instead (the cosine; squared here, which ranks the same, so no square
# root is needed in SQLite) sits between the two, and a minimum of
# RECOMMENDATIONS_MIN_SUPPORT co-buyers keeps one-off coincidences out entirely.
# Each unordered pair is counted once (the dearest step: one row per pair of products of
# each customer) and then used in both directions.
_PAIRS_SQL = """
INSERT INTO {pairs} (product_id, other_id, rank, score)
WITH bought AS (
    SELECT customer_id, product_id FROM (
        SELECT l.customer_id AS customer_id, l.product_id AS product_id,
               ROW_NUMBER() OVER (PARTITION BY l.customer_id
                                  ORDER BY MAX(l.placed_at) DESC, l.product_id) AS recency
        {lines}
        GROUP BY l.customer_id, l.product_id
    ) recent WHERE recency <= %s
),
buyers AS (SELECT product_id, COUNT(*) AS n FROM bought GROUP BY product_id),
pairs AS (
    SELECT a.product_id AS product_id, b.product_id AS other_id, COUNT(*) AS n
    FROM bought a JOIN bought b ON b.customer_id = a.customer_id AND b.product_id > a.product_id
    GROUP BY a.product_id, b.product_id
    HAVING COUNT(*) >= %s
),
together AS (
    SELECT product_id, other_id, n FROM pairs
    UNION ALL
    SELECT other_id, product_id, n FROM pairs
),
ranked AS (
    SELECT t.product_id AS product_id, t.other_id AS other_id,
           CAST(t.n AS DOUBLE PRECISION) * t.n / (CAST(pa.n AS DOUBLE PRECISION) * pb.n) AS score,
           ROW_NUMBER() OVER (PARTITION BY t.product_id
                              ORDER BY CAST(t.n AS DOUBLE PRECISION) * t.n / pb.n DESC,
                                       t.n DESC, t.other_id) AS rank
    FROM together t
    JOIN buyers pa ON pa.product_id = t.product_id
    JOIN buyers pb ON pb.product_id = t.other_id
)
SELECT product_id, other_id, rank, score FROM ranked WHERE rank <= %s
"""

# Top sellers: units sold (less refunds) per product, then every level of its category
# path ("Kitchen > Knives" counts for "Kitchen" and "Kitchen > Knives"; "" is overall),
# split by a recursive query and ranked per level. Paths are rebuilt with " > " and the
# parts trimmed, so "Kitchen>Knives" and "Kitchen > Knives" are one category.
_TOP_SQL = """
INSERT INTO {tops} (category, rank, product_id, units)
WITH RECURSIVE sold AS (
    SELECT l.product_id AS product_id, SUM(l.quantity - l.refunded_quantity) AS units
    {lines}
    GROUP BY l.product_id
),
levels (product_id, units, depth, category, rest) AS (
    SELECT s.product_id, s.units, 0, CAST('' AS TEXT), CAST(p.category AS TEXT)
    FROM sold s JOIN {products} p ON p.id = s.product_id
    UNION ALL
    SELECT product_id, units, depth + 1,
           CASE WHEN depth = 0 THEN {head} ELSE category || ' > ' || {head} END,
           CASE WHEN {find}(rest, '>') > 0 THEN SUBSTR(rest, {find}(rest, '>') + 1) ELSE '' END
    FROM levels WHERE TRIM(rest) <> '' AND depth < 20
),
ranked AS (
    SELECT category, product_id, units,
           ROW_NUMBER() OVER (PARTITION BY category ORDER BY units DESC, product_id) AS rank
    FROM levels WHERE units > 0 AND (depth = 0 OR TRIM(category) <> '')
)
SELECT SUBSTR(category, 1, 300), rank, product_id, units FROM ranked WHERE rank <= %s
"""


def _top_sql() -> str:
    # The one difference between the engines: the name of "position of a substring".
    find = "strpos" if connection.vendor == "postgresql" else "instr"
    head = (f"TRIM(CASE WHEN {find}(rest, '>') > 0 THEN SUBSTR(rest, 1, {find}(rest, '>') - 1) "
            "ELSE rest END)")
    return _TOP_SQL.format(lines=_lines_where(), products=Product._meta.db_table,
                           tops=TopSeller._meta.db_table, find=find, head=head)


def recommendations_compute(*, now: dt.datetime) -> RecommendationCounts:
    """Rewrite ProductPair and TopSeller from the order lines, in one transaction.

    Safe to run at any time and twice: each run replaces the lists whole. Readers keep
    seeing the previous lists until the transaction commits.
    """
    # First the lines whose product arrived while they were being stored (a concurrent
    # upsert neither saw): linked, they count.
    lines_link()
    adapt = connection.ops.adapt_datetimefield_value
    since_pairs = adapt(now - dt.timedelta(days=settings.RECOMMENDATIONS_WINDOW_DAYS))
    since_top = adapt(now - dt.timedelta(days=settings.RECOMMENDATIONS_TOP_DAYS))
    pairs_sql = _PAIRS_SQL.format(lines=_lines_where(), pairs=ProductPair._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The pair count is one large hash aggregate (millions of groups for
            # 3,000,000 lines): memory for this transaction only.
            cursor.execute("SET LOCAL work_mem = %s", [settings.RECOMMENDATIONS_WORK_MEM])
        cursor.execute(f"DELETE FROM {ProductPair._meta.db_table}")
        cursor.execute(pairs_sql, [since_pairs, RECENT_PER_CUSTOMER,
                                   settings.RECOMMENDATIONS_MIN_SUPPORT, TOP_N])
        pairs = cursor.rowcount
        cursor.execute(f"DELETE FROM {TopSeller._meta.db_table}")
        cursor.execute(_top_sql(), [since_top, TOP_N])
        tops = cursor.rowcount
    counts = RecommendationCounts(pairs=pairs, top_sellers=tops)
    logger.info("recommendations_compute pairs=%s top_sellers=%s", pairs, tops)
    return counts
