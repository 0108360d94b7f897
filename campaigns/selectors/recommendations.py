"""What a template's `recommendations(n, strategy)` shows, composed per send batch.

The lists come from the nightly job (services/recommendations.py); here they are read for
a whole batch in a fixed number of queries (the customers' recent lines and their carts;
the pairs of what they bought or left in the cart, the top sellers overall and in their
favourite categories, and those products come from the process's catalogue cache,
selectors/catalogue.py, which reads only what it does not hold) and picked per customer
in Python:

* "bought_together": what goes with the cart's products, then with what they bought
  (newest first), taken in turns so that no single product fills the list;
* "category": the top sellers of their favourite category (most units bought), from its
  deepest level up to its top level ("Kitchen > Knives", then "Kitchen");
* "top": the top sellers overall;
* none: the three blended in that order, without duplicates.

Never a product bought in the last RECOMMENDATIONS_EXCLUDE_DAYS days, one out of stock or
one in the cart. Each item carries a reason in the customer's language.
"""
import datetime as dt
from collections import defaultdict
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext

from campaigns import clock
from campaigns.models import EventLine, Order, OrderLine
from campaigns.selectors.catalogue import CatalogueSnapshot, catalogue_snapshot, ids_where

STRATEGIES = ("bought_together", "category", "top")
MAX_ITEMS = 12
# How many of a customer's products (cart first, then the latest bought) suggest pairs,
# and how many of each one's pairs are read: enough for 12 items after exclusions, and a
# bounded read per batch (at most 2,000 · 4 · 10 rows).
SOURCES_PER_CUSTOMER = 4
PAIRS_PER_SOURCE = 10
FAVOURITES_PER_CUSTOMER = 2


class _Customer:
    """One customer's inputs: what not to show, what suggests pairs, favourite categories."""

    __slots__ = ("excluded", "sources", "favourites", "language")

    def __init__(self, language: str):
        self.excluded: set[int] = set()
        # (product id, "cart" or "bought"), cart first, then the latest bought first.
        self.sources: list[tuple[int, str]] = []
        self.favourites: list[str] = []
        self.language = language


def _language(locale: str) -> str:
    return (locale or settings.DEFAULT_LOCALE or "en").split("-")[0].lower()


@lru_cache(maxsize=8192)
def _levels(category: str) -> tuple[str, ...]:
    """Every level of a category path, deepest first: "A > B" → ("A > B", "A")."""
    parts = [part.strip() for part in category.split(">") if part.strip()]
    return tuple(" > ".join(parts[:i]) for i in range(len(parts), 0, -1))


class Recommendations:
    """The batch's lists and products, and each customer's inputs (see the module)."""

    def __init__(self, customers: dict[int, _Customer], pairs: dict, tops: dict,
                 catalogue: CatalogueSnapshot):
        self.customers = customers
        self.pairs = pairs
        self.tops = tops
        # Every product a pick may show or name was read into it (`record`).
        self._catalogue = catalogue
        self._words: dict[str, dict] = {}
        self._said: dict[tuple, str] = {}

    def _reasons(self, language: str) -> dict:
        words = self._words.get(language)
        if words is None:
            with translation.override(language):
                words = self._words[language] = {
                    "bought": gettext("Because you bought %(name)s"),
                    "cart": gettext("Goes well with %(name)s"),
                    "category": gettext("Popular in %(category)s"),
                    "top": gettext("A best seller"),
                }
        return words

    def _reason(self, kind: str, named, language: str) -> str | None:
        """The reason's words (kept for the batch: many emails name the same product);
        None when the product it names is not in the catalogue."""
        words = self._reasons(language)
        if kind in ("bought", "cart"):
            source = self._catalogue.record(named)
            if source is None:
                return None
            reason = words[kind] % {"name": _name(source, language)}
        elif kind == "category":
            reason = words[kind] % {"category": named.rsplit(">", 1)[-1].strip()}
        else:
            reason = words[kind]
        self._said[(kind, named, language)] = reason
        return reason

    def _candidates(self, who: _Customer, strategy: str):
        """(product id, reason kind, what the reason names) in the strategy's order."""
        if strategy == "bought_together":
            lists = [(self.pairs.get(source, ()), kind, source) for source, kind in who.sources]
            for rank in range(max((len(others) for others, _, _ in lists), default=0)):
                for others, kind, source in lists:
                    if rank < len(others):
                        yield others[rank], kind, source
        elif strategy == "category":
            for favourite in who.favourites:
                for level in _levels(favourite):
                    for product_id in self.tops.get(level, ()):
                        yield product_id, "category", level
        elif strategy == "top":
            for product_id in self.tops.get("", ()):
                yield product_id, "top", None

    def _eligible(self, who: _Customer, strategies, seen: set):
        """The candidates an email may show: not excluded, in the catalogue and in stock,
        each once: (record, reason kind, what the reason names)."""
        record = self._catalogue.record
        for strategy in strategies:
            for product_id, kind, named in self._candidates(who, strategy):
                if product_id in seen:
                    continue
                seen.add(product_id)
                found = record(product_id)
                if found is not None and found.in_stock:
                    yield found, kind, named

    def pick(self, *, customer_id: int, n: int = 4, strategy: str | None = None,
             shown: list | None = None) -> list[dict]:
        """Up to `n` (1..12) ITEMs with a reason for one customer of the batch; the ids
        picked are added to `shown` (once each)."""
        who = self.customers.get(customer_id)
        if who is None:
            return []
        n = max(1, min(MAX_ITEMS, int(n)))
        if strategy is not None and strategy not in STRATEGIES:
            raise ValueError(f"recommendations: strategy must be one of {', '.join(STRATEGIES)}")
        languages = (who.language,)
        catalogue = self._catalogue
        reasons = self._said
        chosen = []
        for found, kind, named in self._eligible(
                who, (strategy,) if strategy else STRATEGIES, set(who.excluded)):
            reason = reasons.get((kind, named, who.language))
            if reason is None:
                reason = self._reason(kind, named, who.language)
                if reason is None:
                    continue
            chosen.append({**catalogue.item(found.id, languages), "reason": reason})
            if shown is not None and found.id not in shown:
                shown.append(found.id)
            if len(chosen) == n:
                break
        return chosen


def _name(record, language: str) -> str:
    return record.names().get(language) or record.name or record.sku


def _bought(customer_ids: list, *, now: dt.datetime, window_start: dt.datetime,
            exclude_since: dt.datetime) -> list[tuple]:
    """(customer, product, quantity, refunded, within the exclusion window) of the
    customers' lines of placed orders in the window, newest first: one raw statement (no
    ORM compile per batch). No join per line: the categories come from the catalogue
    cache, and the few orders that are not placed are found once through their partial
    index (a join with every order made PostgreSQL hash all of them). "Within the window"
    is computed by the database: no timestamps to decode per line."""
    adapt = connection.ops.adapt_datetimefield_value
    params = [adapt(exclude_since)]
    lines_where = ids_where("l.customer_id", customer_ids, params)
    params += [adapt(window_start), adapt(now)]
    orders_where = ids_where("o.customer_id", customer_ids, params)
    params.append(Order.Status.PLACED)
    sql = (f"SELECT l.customer_id, l.product_id, l.quantity, l.refunded_quantity, "
           f"CASE WHEN l.placed_at >= %s THEN 1 ELSE 0 END "
           f"FROM {OrderLine._meta.db_table} l "
           f"WHERE {lines_where} AND l.placed_at >= %s AND l.placed_at <= %s "
           f"AND l.product_id IS NOT NULL AND l.order_id NOT IN ("
           f"SELECT o.id FROM {Order._meta.db_table} o WHERE {orders_where} "
           f"AND o.status <> %s) "
           f"ORDER BY l.placed_at DESC, l.id DESC")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _carts(event_ids: list) -> list[tuple]:
    """(event, product) of these events' linked lines, in their order: one statement."""
    params = []
    where = ids_where("event_id", event_ids, params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT event_id, product_id FROM {EventLine._meta.db_table} "
                       f"WHERE {where} AND product_id IS NOT NULL ORDER BY event_id, id",
                       params)
        return cursor.fetchall()


def recommendations_load(*, customers: dict[int, str], carts: dict[int, list[int]] | None = None,
                         now: dt.datetime, most: int = MAX_ITEMS,
                         catalogue: CatalogueSnapshot | None = None) -> Recommendations:
    """The batch's recommendations: `customers` maps customer id → locale, `carts` a customer
    id → the trigger event ids whose lines are their cart; `most` the largest `n` the
    templates ask for (the lists are read to PAIRS_PER_SOURCE whatever it is, so that
    one cache serves every template). `catalogue`: the batch's view of the catalogue
    (selectors/catalogue.py), new when not given.

    A fixed number of statements, whatever the number of customers: the customers' recent
    lines, their carts and the catalogue's token check (3) when the process's cache holds
    the rest; cold, also the products they bought, the pairs, the top sellers and the
    products those name (7)."""
    catalogue = catalogue if catalogue is not None else catalogue_snapshot()
    window = max(settings.RECOMMENDATIONS_WINDOW_DAYS, settings.RECOMMENDATIONS_EXCLUDE_DAYS)
    who = {pk: _Customer(_language(locale)) for pk, locale in customers.items()}
    lines = _bought(list(who), now=now, window_start=now - dt.timedelta(days=window),
                    exclude_since=now - dt.timedelta(days=settings.RECOMMENDATIONS_EXCLUDE_DAYS))
    event_customer = {event_id: customer_id for customer_id, event_ids in (carts or {}).items()
                      for event_id in event_ids}
    cart_lines = _carts(list(event_customer)) if event_customer else []
    # The categories of what they bought, and the products of their carts.
    catalogue.read({line[1] for line in lines} | {line[1] for line in cart_lines})
    record = catalogue.record
    units = defaultdict(lambda: defaultdict(int))
    bought = defaultdict(dict)  # customer -> products, the latest bought first
    for customer_id, product_id, quantity, refunded, recent in lines:
        if recent:
            who[customer_id].excluded.add(product_id)
        if refunded >= quantity:
            continue
        found = record(product_id)
        if found is not None and found.category:
            units[customer_id][found.category] += quantity - refunded
        bought[customer_id].setdefault(product_id, None)
    for event_id, product_id in cart_lines:
        customer = who[event_customer[event_id]]
        customer.excluded.add(product_id)
        if (product_id, "cart") not in customer.sources:
            customer.sources.append((product_id, "cart"))
    levels = {""}
    for customer_id, customer in who.items():
        customer.sources = (customer.sources + [(pk, "bought") for pk in bought[customer_id]])[
            :SOURCES_PER_CUSTOMER]
        by_units = sorted(units[customer_id].items(), key=lambda item: (-item[1], item[0]))
        customer.favourites = [category for category, _ in by_units[:FAVOURITES_PER_CUSTOMER]]
        for favourite in customer.favourites:
            levels.update(_levels(favourite))
    source_ids = {pk for customer in who.values() for pk, _ in customer.sources}
    pairs = catalogue.pairs(sorted(source_ids), PAIRS_PER_SOURCE) if source_ids else {}
    tops = catalogue.tops(sorted(levels))
    # Every product a pick may show or name (the sources name the reasons).
    wanted = set(source_ids)
    for others in pairs.values():
        wanted.update(others)
    for ids in tops.values():
        wanted.update(ids)
    catalogue.read(wanted)
    return Recommendations(who, pairs, tops, catalogue)


def _most_asked(template) -> int:
    """The largest `n` its texts' `recommendations(...)` calls ask for (0: none call it)."""
    from campaigns.templating.recommendations import recommendations_most

    return max((recommendations_most(cache_key=(t.pk, t.version), subject=t.subject,
                                     html_body=t.html_body, text_body=t.text_body)
                for t in template.translations.all()), default=0)


def recommendations_attach(messages: list, *, now: dt.datetime,
                           catalogue: CatalogueSnapshot | None = None) -> None:
    """Load the batch's recommendations once, for the messages whose template reads
    `recommendations` (none: no query at all), and attach them as `message.recommender`.
    `catalogue`: the batch's view of the catalogue, shared with its cart items."""
    from campaigns.services.rendering import message_template

    most = {}
    wanted = [m for m in messages if most.setdefault(
        message_template(m).pk, _most_asked(message_template(m)))]
    if not wanted:
        return
    carts = defaultdict(list)
    for message in wanted:
        if message.enrollment.trigger_event_id is not None:
            carts[message.customer_id].append(message.enrollment.trigger_event_id)
    loaded = recommendations_load(
        customers={m.customer_id: m.customer.locale for m in wanted}, carts=carts, now=now,
        most=max(most.values()), catalogue=catalogue)
    for message in wanted:
        message.recommender = loaded


def recommendations_for_message(message):
    """The template's `recommendations(n=4, strategy=None)`: reads what the batch attached
    (or, outside a send batch, loads for this one message on the first call) and keeps
    the ids it showed in `message.recommended_shown`, which the send records."""

    picked = {}

    def recommendations(n=4, strategy=None):
        # The HTML and the text part usually ask the same: picked once.
        if (n, strategy) in picked:
            return picked[(n, strategy)]
        recommender = getattr(message, "recommender", None)
        if recommender is None:
            trigger = message.enrollment.trigger_event_id
            recommender = message.recommender = recommendations_load(
                customers={message.customer_id: message.customer.locale},
                carts={message.customer_id: [trigger]} if trigger else None, now=clock.now())
        items = picked[(n, strategy)] = recommender.pick(
            customer_id=message.customer_id, n=n, strategy=strategy,
            shown=message.__dict__.setdefault("recommended_shown", []))
        return items

    return recommendations


def recommendations_for_customer(*, customer_id: int, locale: str):
    """`recommendations(n=4, strategy=None)` for a preview with a real customer: loaded on
    the first call, nothing recorded."""
    loaded = {}

    def recommendations(n=4, strategy=None):
        if "r" not in loaded:
            loaded["r"] = recommendations_load(customers={customer_id: locale}, now=clock.now())
        return loaded["r"].pick(customer_id=customer_id, n=n, strategy=strategy)

    return recommendations
