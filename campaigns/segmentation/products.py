"""Product conditions — bought, viewed or spent on a product, a category or a brand — as
set-based subqueries over order and event lines, and in words; nothing is executed.

A category is a path: "Kitchen" means "Kitchen" and everything under it ("Kitchen >
Knives"), never "Kitchenware". Bought counts items (units), not orders, from placed
orders only, net of the refunded items of each line; spent is quantity × the line's
price over the same lines (lines without a price are skipped). Viewed counts the lines
of `product.viewed` events. A SKU is matched on the line's own sku, so the lines bought
before the product reached the catalogue count too.

Each condition compiles like the other aggregates (windows.aggregate_q): `id IN (SELECT
customer_id FROM lines … GROUP BY customer_id HAVING …)`, or EXISTS for "at least once",
with the lines narrowed by product first so PostgreSQL reads them through the
(product, time) indexes.
"""
from decimal import Decimal

from django.db.models import (
    Count, DecimalField, Exists, ExpressionWrapper, F, IntegerField, OuterRef, Q, Subquery, Sum,
    Value,
)
from django.db.models.functions import Coalesce, Left
from django.utils.translation import gettext, ngettext

from campaigns.models import EventLine, Order, OrderLine, Product

from .catalogue import COUNT_OP_LABELS, PERIODS
from .validation import Condition
from .windows import aggregate_q, compare, satisfies, window_range

VIEWED = "product.viewed"
_MONEY = DecimalField(max_digits=14, decimal_places=2)


def products_named(kind: str, value: str):
    """The products of a category (and everything under it) or of a brand."""
    if kind == "brand":
        return Product.objects.filter(brand=value)
    # Compared with = on a prefix rather than LIKE: LIKE ignores case on SQLite, and the
    # product table is small next to the lines.
    prefix = f"{value} > "
    return Product.objects.annotate(head=Left("category", len(prefix))).filter(
        Q(category=value) | Q(head=prefix))


def _lines_about(cond: Condition) -> Q:
    kind, value = cond.product
    if kind == "sku":
        # A linked line has its product's sku; an unlinked one waits for it (partial index).
        product = Subquery(Product.objects.order_by().filter(sku=value).values("pk")[:1])
        return Q(product_id=product) | Q(product__isnull=True, sku=value)
    return Q(product_id__in=products_named(kind, value).values("pk"))


def product_rows(cond: Condition, *, now, zone):
    """The lines a product condition reads, narrowed to its product and window."""
    if cond.field.key == "viewed":
        rows, column = EventLine.objects.filter(event__type=VIEWED), "occurred_at"
    else:
        rows, column = OrderLine.objects.filter(
            order__status=Order.Status.PLACED, refunded_quantity__lt=F("quantity")), "placed_at"
        if cond.field.key == "spent_on":
            rows = rows.filter(price__isnull=False)
    rows = rows.filter(_lines_about(cond))
    if cond.window:
        bounds = window_range(cond.window, now=now, zone=zone)
        rows = rows.filter(**{f"{column}__{k}": v for k, v in bounds.items()})
    return rows


def _aggregate(key: str):
    if key == "viewed":
        return Count("*")
    units = F("quantity") - F("refunded_quantity")
    if key == "bought":
        return Sum(units, output_field=IntegerField())
    return Sum(ExpressionWrapper(units * F("price"), output_field=_MONEY), output_field=_MONEY)


def product_q(cond: Condition, *, now, zone) -> Q:
    """The customers a (positive) product condition matches."""
    rows = product_rows(cond, now=now, zone=zone)
    if cond.op == "did":
        return Q(Exists(rows.filter(customer_id=OuterRef("pk"))))
    zero = Decimal(0) if cond.field.key == "spent_on" else 0
    aggregate = _aggregate(cond.field.key)
    if satisfies(zero, cond.op, cond.value):
        # "At most 2", "fewer than 1": customers without lines match too. Said as the
        # complement of those whose total fails — one hashed NOT IN — rather than
        # IN (…) OR NOT EXISTS (…), which PostgreSQL can only run per customer.
        failing = (rows.order_by().values("customer_id").annotate(v=aggregate)
                   .filter(~compare("v", cond.op, cond.value)).values("customer_id"))
        return ~Q(pk__in=failing)
    return aggregate_q(rows, aggregate, cond.op, cond.value, zero)


def product_values(cond: Condition, *, now, zone) -> dict:
    """The customer's count or amount for `cond` (0 without lines), for the explanation."""
    rows = product_rows(cond, now=now, zone=zone).filter(customer_id=OuterRef("pk"))
    value = rows.order_by().values("customer_id").annotate(v=_aggregate(cond.field.key))
    if cond.field.key == "spent_on":
        return {"value": Coalesce(Subquery(value.values("v")[:1], output_field=_MONEY),
                                  Value(Decimal(0)), output_field=_MONEY)}
    return {"value": Coalesce(Subquery(value.values("v")[:1], output_field=IntegerField()),
                              Value(0))}


# --- words ------------------------------------------------------------------------------------

def _noun(cond: Condition) -> str:
    kind, value = cond.product
    return {"sku": gettext("product %(name)s"), "category": gettext("products in %(name)s"),
            "brand": gettext("products of the brand %(name)s")}[kind] % {"name": value}


def _after_count(cond: Condition) -> str:
    kind, value = cond.product
    return {"sku": gettext("of product %(name)s"), "category": gettext("in %(name)s"),
            "brand": gettext("of the brand %(name)s")}[kind] % {"name": value}


def _window(cond: Condition) -> str:
    window = cond.window
    if window is None:
        return ""
    if window.last_days:
        return " " + ngettext("in the last %(days)d day", "in the last %(days)d days",
                              window.last_days) % {"days": window.last_days}
    if window.period:
        return " " + gettext(PERIODS[window.period])
    if window.start and window.end:
        return " " + gettext("from %(start)s to %(end)s") % {"start": window.start,
                                                              "end": window.end}
    if window.start:
        return " " + gettext("from %(start)s") % {"start": window.start}
    return " " + gettext("up to %(end)s") % {"end": window.end}


def _amount(value) -> str:
    return f"{value:.2f}" if isinstance(value, Decimal) else str(value)


def _op_value(cond: Condition) -> str:
    value = cond.value
    if cond.op == "between":
        return gettext("between %(low)s and %(high)s") % {"low": _amount(value[0]),
                                                          "high": _amount(value[1])}
    return f"{COUNT_OP_LABELS[cond.op]} {_amount(value)}"


def product_condition_words(cond: Condition) -> str:
    """e.g. "bought at least 3 items in Kitchen > Knives in the last 90 days"."""
    key, args = cond.field.key, {"what": _noun(cond), "window": _window(cond),
                                 "after": _after_count(cond)}
    if cond.op in ("did", "did_not"):
        words = {
            ("bought", "did"): gettext("bought %(what)s%(window)s"),
            ("bought", "did_not"): gettext("did not buy %(what)s%(window)s"),
            ("viewed", "did"): gettext("viewed %(what)s%(window)s"),
            ("viewed", "did_not"): gettext("did not view %(what)s%(window)s"),
        }[key, cond.op]
        return words % args
    args["count"] = _op_value(cond)
    return {
        "bought": gettext("bought %(count)s items %(after)s%(window)s"),
        "viewed": gettext("viewed %(what)s %(count)s times%(window)s"),
        "spent_on": gettext("spent %(count)s %(after)s%(window)s"),
    }[key] % args


def product_actual_words(cond: Condition, values: dict) -> str:
    """e.g. "bought 3 items in Kitchen > Knives in the last 90 days"."""
    value = values.get("value") or 0
    args = {"n": value, "what": _noun(cond), "after": _after_count(cond),
            "window": _window(cond)}
    if cond.field.key == "bought":
        if not value:
            return gettext("bought nothing %(after)s%(window)s") % args
        return ngettext("bought %(n)d item %(after)s%(window)s",
                        "bought %(n)d items %(after)s%(window)s", value) % args
    if cond.field.key == "viewed":
        return ngettext("viewed %(what)s %(n)d time%(window)s",
                        "viewed %(what)s %(n)d times%(window)s", value) % args
    args["n"] = _amount(Decimal(value))
    return gettext("spent %(n)s %(after)s%(window)s") % args
