"""What a template's `recommendations(n, strategy)` shows, composed per send batch.

The lists come from the nightly job (services/recommendations.py); here they are read for
a whole batch in a fixed number of queries (the customers' recent lines, their carts, the
pairs of what they bought or left in the cart, the top sellers overall and in their
favourite categories, then those products) and picked per customer in Python:

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
import json
from collections import defaultdict

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q, TextField
from django.db.models.functions import Cast
from django.utils import translation
from django.utils.translation import gettext

from campaigns import clock, templating
from campaigns.models import EventLine, Order, OrderLine, Product, ProductPair, TopSeller

STRATEGIES = ("bought_together", "category", "top")
MAX_ITEMS = 12
# How many of a customer's products (cart first, then the latest bought) suggest pairs,
# and how many of each one's pairs are read: enough for 12 items after exclusions, and a
# bounded read per batch (at most 2,000 · 4 · 10 rows).
SOURCES_PER_CUSTOMER = 4
PAIRS_PER_SOURCE = 10
FAVOURITES_PER_CUSTOMER = 2
_PRODUCT_FIELDS = ("id", "sku", "name", "url", "image_url", "price", "currency", "category",
                   "brand", "in_stock")


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


def _levels(category: str) -> list[str]:
    """Every level of a category path, deepest first: "A > B" → ["A > B", "A"]."""
    parts = [part.strip() for part in category.split(">") if part.strip()]
    return [" > ".join(parts[:i]) for i in range(len(parts), 0, -1)]


class Recommendations:
    """The batch's lists and products, and each customer's inputs (see the module)."""

    def __init__(self, customers: dict[int, _Customer], pairs: dict, tops: dict,
                 out_of_stock: set):
        self.customers = customers
        self.pairs = pairs
        self.tops = tops
        self.out_of_stock = out_of_stock
        self.products: dict[int, dict] = {}
        self._items: dict[tuple[int, str], dict] = {}
        self._words: dict[str, dict] = {}

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

    def _item(self, product_id: int, language: str) -> dict:
        item = self._items.get((product_id, language))
        if item is None:
            p = self.products[product_id]
            item = self._items[(product_id, language)] = templating.product_item(
                sku=p["sku"], name=p["name"], names=_json(p, "names"), languages=(language,),
                url=p["url"], image_url=p["image_url"], price=p["price"],
                currency=p["currency"], category=p["category"], brand=p["brand"],
                in_stock=p["in_stock"], attributes=_json(p, "attributes"),
                site_url=settings.SITE_URL)
        return item

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
        """The candidates an email may show: not excluded, in stock, each once."""
        for strategy in strategies:
            for product_id, kind, named in self._candidates(who, strategy):
                if product_id in seen or product_id in self.out_of_stock:
                    continue
                seen.add(product_id)
                yield product_id, kind, named

    def needed(self, most: int) -> set[int]:
        """The products (and the products their reasons name) that picks of up to `most`
        items can show, for every customer: `pick` then never looks further. `most` per
        strategy is enough for the blend too: when earlier strategies gave k items, the
        next one needs most - k new ones, and at most k of its first `most` are taken."""
        ids = set()
        for who in self.customers.values():
            for strategy in STRATEGIES:
                for i, (product_id, kind, named) in enumerate(
                        self._eligible(who, (strategy,), set(who.excluded))):
                    if i == most:
                        break
                    ids.add(product_id)
                    if kind in ("bought", "cart"):
                        ids.add(named)
        return ids

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
        words = self._reasons(who.language)
        chosen = []
        for product_id, kind, named in self._eligible(
                who, (strategy,) if strategy else STRATEGIES, set(who.excluded)):
            product = self.products.get(product_id)
            if product is None:
                continue
            if kind in ("bought", "cart"):
                if named not in self.products:
                    continue
                reason = words[kind] % {"name": _name(self.products[named], who.language)}
            elif kind == "category":
                reason = words[kind] % {"category": named.rsplit(">", 1)[-1].strip()}
            else:
                reason = words[kind]
            chosen.append({**self._item(product_id, who.language), "reason": reason})
            if shown is not None and product_id not in shown:
                shown.append(product_id)
            if len(chosen) == n:
                break
        return chosen


def _json(product: dict, field: str) -> dict:
    value = product.get(field)
    if value is None:
        text = product[f"{field}_json"]
        value = product[field] = (json.loads(text) if text else None) or {}
    return value


def _name(product: dict, language: str) -> str:
    return _json(product, "names").get(language) or product["name"] or product["sku"]


def _among(queryset, field: str, ids: list):
    """`field IN ids`; on PostgreSQL `= ANY(%s)` with one array parameter, so a batch's
    thousands of ids are not spelled out (and parsed) one placeholder each."""
    if connection.vendor == "postgresql":
        column = queryset.model._meta.get_field(field.removesuffix("_id")).column
        table = queryset.model._meta.db_table
        return queryset.extra(where=[f'"{table}"."{column}" = ANY(%s)'], params=[ids])
    return queryset.filter(**{f"{field}__in": ids})


def recommendations_load(*, customers: dict[int, str], carts: dict[int, list[int]] | None = None,
                         now: dt.datetime, most: int = MAX_ITEMS) -> Recommendations:
    """The batch's recommendations: `customers` maps customer id → locale, `carts` a customer
    id → the trigger event ids whose lines are their cart; `most` the largest `n` the
    templates ask for. Six queries at most, whatever the number of customers."""
    window = max(settings.RECOMMENDATIONS_WINDOW_DAYS, settings.RECOMMENDATIONS_EXCLUDE_DAYS)
    exclude_since = now - dt.timedelta(days=settings.RECOMMENDATIONS_EXCLUDE_DAYS)
    who = {pk: _Customer(_language(locale)) for pk, locale in customers.items()}
    units = defaultdict(lambda: defaultdict(int))
    bought = defaultdict(dict)  # customer -> products, the latest bought first
    # Newest first, with "within the exclusion window" computed by the database: no
    # timestamps to decode per line.
    for customer_id, product_id, quantity, refunded, category, recent in (
        _among(OrderLine.objects.filter(
            placed_at__gte=now - dt.timedelta(days=window), placed_at__lte=now,
            product_id__isnull=False, order__status=Order.Status.PLACED,
        ), "customer_id", list(who)).annotate(
            recent=ExpressionWrapper(Q(placed_at__gte=exclude_since), BooleanField()))
        .order_by("-placed_at").values_list("customer_id", "product_id", "quantity",
                                            "refunded_quantity", "product__category", "recent")
    ):
        if recent:
            who[customer_id].excluded.add(product_id)
        if refunded >= quantity:
            continue
        if category:
            units[customer_id][category] += quantity - refunded
        bought[customer_id].setdefault(product_id, None)
    event_customer = {event_id: customer_id for customer_id, event_ids in (carts or {}).items()
                      for event_id in event_ids}
    if event_customer:
        for event_id, product_id in (_among(EventLine.objects.filter(
                product_id__isnull=False), "event_id", list(event_customer))
                .order_by("event_id", "id").values_list("event_id", "product_id")):
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
    pairs = defaultdict(list)
    if source_ids:
        for product_id, other_id in (_among(ProductPair.objects.filter(
                rank__lte=PAIRS_PER_SOURCE), "product_id", list(source_ids))
                                     .order_by("product_id", "rank")
                                     .values_list("product_id", "other_id")):
            pairs[product_id].append(other_id)
    tops = defaultdict(list)
    for category, product_id in (TopSeller.objects.filter(category__in=levels)
                                 .order_by("category", "rank")
                                 .values_list("category", "product_id")):
        tops[category].append(product_id)
    candidates = {pk for others in pairs.values() for pk in others} | {
        pk for ids in tops.values() for pk in ids}
    out_of_stock = set(_among(Product.objects.filter(in_stock=False), "id", list(candidates))
                       .values_list("id", flat=True)) if candidates else set()
    recommender = Recommendations(who, pairs, tops, out_of_stock)
    needed = recommender.needed(most)
    # The JSON fields come as text, decoded only for the products an email shows.
    recommender.products = {p["id"]: p for p in _among(Product.objects, "id", list(needed))
                            .annotate(names_json=Cast("names", TextField()),
                                      attributes_json=Cast("attributes", TextField()))
                            .values(*_PRODUCT_FIELDS, "names_json", "attributes_json")
                            } if needed else {}
    return recommender


def _most_asked(template) -> int:
    """The largest `n` its texts' `recommendations(...)` calls ask for (0: none call it)."""
    from campaigns.templating.recommendations import recommendations_most

    return max((recommendations_most(cache_key=(t.pk, t.version), subject=t.subject,
                                     html_body=t.html_body, text_body=t.text_body)
                for t in template.translations.all()), default=0)


def recommendations_attach(messages: list, *, now: dt.datetime) -> None:
    """Load the batch's recommendations once, for the messages whose template reads
    `recommendations` (none: no query at all), and attach them as `message.recommender`."""
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
        most=max(most.values()))
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
