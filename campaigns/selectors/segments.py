"""Reads for segments: who is in a rule (one SQL query), a count, a sample, and why (not)."""
import datetime as dt
import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils.timesince import timesince
from django.utils.translation import gettext

from campaigns import clock
from campaigns.models import AttributeDefinition, Customer, Product, Segment
from campaigns.segmentation import (
    Group, Not, ProductFacts, actual_words, catalogue_data, condition_q, condition_values,
    condition_words, rule_errors, rule_parse, rule_warnings, tree_conditions, tree_q,
)
from campaigns.segmentation.catalogue import category_path


def _mentions_attribute(rule) -> bool:
    if isinstance(rule, dict):
        return "attribute" in rule or any(_mentions_attribute(v) for v in rule.values())
    if isinstance(rule, list):
        return any(_mentions_attribute(v) for v in rule)
    return False


def attribute_types(rule=None) -> dict[str, tuple[str, str]]:
    """Custom attributes as key -> (type, label); no query when `rule` names none."""
    if rule is not None and not _mentions_attribute(rule):
        return {}
    return {key: (type_, label) for key, type_, label in
            AttributeDefinition.objects.values_list("key", "type", "label")}


def site_zone() -> ZoneInfo:
    """Where "this month", "on 2026-03-01" and "in the last 30 days" (for dates) are reckoned."""
    return ZoneInfo(settings.TIME_ZONE)


def segment_catalogue() -> dict:
    """The rule builder's field catalogue, custom attributes included."""
    return catalogue_data(attribute_types())


def _named_products(rule, found: dict[str, set]) -> dict[str, set]:
    """The SKUs, categories and brands a raw rule names (whatever else is wrong with it)."""
    if isinstance(rule, dict):
        for kind, names in found.items():
            if isinstance(rule.get(kind), str):
                names.add(rule[kind].strip())
        for value in rule.values():
            _named_products(value, found)
    elif isinstance(rule, list):
        for value in rule:
            _named_products(value, found)
    return found


def _with_ancestors(paths) -> set[str]:
    out = set()
    for path in paths:
        parts = path.split(" > ")
        out.update(" > ".join(parts[:i]) for i in range(1, len(parts) + 1))
    return out


def product_facts(rule) -> ProductFacts | None:
    """What the catalogue holds of what `rule` names; no query when it names no product.

    All category paths and brands are read (a shop has hundreds, not millions) so an
    unknown one can be answered with the closest known one; SKUs only those named."""
    if isinstance(rule, str):
        try:
            rule = json.loads(rule)
        except ValueError:
            return None
    named = _named_products(rule, {"sku": set(), "category": set(), "brand": set()})
    if not any(named.values()):
        return None
    products = Product.objects.order_by()
    categories = brands = skus = set()
    if named["category"]:
        categories = _with_ancestors(
            category_path(c) for c in products.exclude(category="")
            .values_list("category", flat=True).distinct())
    if named["brand"]:
        brands = set(products.exclude(brand="").values_list("brand", flat=True).distinct())
    if named["sku"]:
        skus = set(products.filter(sku__in=named["sku"]).values_list("sku", flat=True))
    return ProductFacts(frozenset(categories), frozenset(brands), frozenset(skus))


def segment_rule_check(rule) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a rule a marketer is writing, in words: errors stop it, warnings
    (a SKU not in the catalogue yet) are worth saying. A fixed number of queries."""
    attributes, products = attribute_types(rule), product_facts(rule)
    errors = rule_errors(rule, attributes=attributes, products=products)
    if errors:
        return errors, []
    return [], rule_warnings(rule, attributes=attributes, products=products)


def segment_rule_errors(rule) -> list[str]:
    """Every problem of a rule, in words; empty when the rule can be used."""
    return segment_rule_check(rule)[0]


def segment_rule_warnings(rule) -> list[str]:
    """What is allowed but worth saying (a SKU not in the catalogue yet)."""
    return segment_rule_check(rule)[1]


def product_suggestions(kind: str, text: str, *, limit: int = 20) -> list[dict]:
    """Up to `limit` catalogue values for the rule builder's product picker, matching `text`
    anywhere (case-insensitive): categories (each level of a path), brands or SKUs."""
    text = text.strip()[:100]
    products = Product.objects.order_by()
    if kind == "sku":
        rows = products.filter(Q(sku__icontains=text) | Q(name__icontains=text)).order_by(
            "sku").values_list("sku", "name")[:limit]
        return [{"value": sku, "label": f"{sku} — {name}"} for sku, name in rows]
    column = "category" if kind == "category" else "brand"
    # A category's ancestors are categories too: "Kitchen" for "Kitchen > Knives".
    found = products.exclude(**{column: ""}).filter(**{f"{column}__icontains": text})
    values = set(found.values_list(column, flat=True).distinct()[:limit * 5])
    if kind == "category":
        values = {v for v in _with_ancestors(values) if text.casefold() in v.casefold()}
    return [{"value": v, "label": v} for v in sorted(values)[:limit]]


def _rule(segment_or_rule):
    return segment_or_rule.rule if isinstance(segment_or_rule, Segment) else segment_or_rule


def segment_customers(segment_or_rule, now: dt.datetime | None = None) -> QuerySet:
    """The customers a segment (or a bare rule) matches at `now`, as one lazy query.

    Erased customers are never in a segment. Raises segmentation.RuleError for a bad rule.
    """
    rule = _rule(segment_or_rule)
    q = tree_q(rule_parse(rule, attributes=attribute_types(rule)),
               now=now or clock.now(), zone=site_zone())
    return Customer.objects.filter(erased_at__isnull=True).filter(q)


def segment_count(segment_or_rule, now: dt.datetime | None = None) -> int:
    return segment_customers(segment_or_rule, now).count()


def segment_sample(segment_or_rule, now: dt.datetime | None = None, *, limit: int = 10) -> list[Customer]:
    """The first `limit` matching customers, newest first (only the columns a list needs)."""
    return list(
        segment_customers(segment_or_rule, now)
        .only("pk", "external_id", "email", "first_name", "last_name", "country")
        .order_by("-pk")[:limit]
    )


def segment_count_age_words(segment: Segment, *, now: dt.datetime) -> str:
    """How old the stored count is, in words; stale when the periodic refresh is overdue.

    Stale means older than two refresh periods (SEGMENT_REFRESH_MINUTES): the beat or the
    worker that runs `segments_refresh` is probably down, and the marketer should know.
    """
    if segment.counted_at is None:
        return gettext("being counted now: reload in a moment (segments are counted when "
                       "saved, and every %(minutes)d minutes)") % {
            "minutes": settings.SEGMENT_REFRESH_MINUTES}
    age = now - segment.counted_at
    if age < dt.timedelta(minutes=1):
        words = gettext("counted just now")
    else:
        words = gettext("counted %(ago)s ago") % {"ago": timesince(segment.counted_at, now,
                                                                    depth=1)}
    if age > dt.timedelta(minutes=2 * settings.SEGMENT_REFRESH_MINUTES):
        words = gettext("%(words)s (out of date: the refresh every %(minutes)d minutes has "
                        "not run; open the segment for a live count)") % {
            "words": words, "minutes": settings.SEGMENT_REFRESH_MINUTES}
    return words


@dataclass(frozen=True)
class ExplainLine:
    depth: int
    text: str
    passed: bool
    actual: str = ""

    def __str__(self):
        mark = "✔" if self.passed else "✘"
        actual = f" — this customer: {self.actual}" if self.actual else ""
        return f"{'  ' * self.depth}{mark} {self.text}{actual}"


@dataclass(frozen=True)
class Explanation:
    member: bool
    lines: list[ExplainLine]

    def __str__(self):
        return "\n".join(str(line) for line in self.lines)


def segment_explain(segment_or_rule, customer: Customer, now: dt.datetime | None = None) -> Explanation:
    """Why `customer` is (not) in the segment: each condition, their value, passed or not.

    One query evaluates every condition and the whole rule for this one customer with the
    same SQL the membership uses, so the explanation agrees with segment_customers().
    """
    rule = _rule(segment_or_rule)
    now, zone = now or clock.now(), site_zone()
    tree = rule_parse(rule, attributes=attribute_types(rule))
    conditions = tree_conditions(tree)
    selects = {"member": ExpressionWrapper(tree_q(tree, now=now, zone=zone), BooleanField())}
    for i, cond in enumerate(conditions):
        selects[f"c{i}"] = ExpressionWrapper(condition_q(cond, now=now, zone=zone), BooleanField())
        for name, expr in condition_values(cond, now=now, zone=zone).items():
            selects[f"v{i}_{name}"] = expr
    row = Customer.objects.filter(pk=customer.pk).annotate(**selects).values(
        "erased_at", *selects).get()
    results = {id(c): bool(row[f"c{i}"]) for i, c in enumerate(conditions)}
    lines: list[ExplainLine] = []

    def walk(node, depth: int, negated: bool = False) -> bool:
        if isinstance(node, Not):
            index = len(lines)
            lines.append(None)
            inner = walk(node.item, depth + 1)
            lines[index] = ExplainLine(depth, gettext("NOT the following (it must fail)"), not inner)
            return not inner
        if isinstance(node, Group):
            index = len(lines)
            lines.append(None)
            passed = [walk(item, depth + 1) for item in node.items]
            ok = all(passed) if node.kind == "all" else any(passed)
            words = (gettext("All of these must hold (%(held)d of %(total)d hold)")
                     if node.kind == "all"
                     else gettext("At least one of these must hold (%(held)d of %(total)d hold)"))
            lines[index] = ExplainLine(depth, words % {"held": sum(passed), "total": len(passed)},
                                       ok)
            return ok
        i = conditions.index(node)
        values = {key.split("_", 1)[1]: row[key] for key in row if key.startswith(f"v{i}_")}
        passed = results[id(node)]
        lines.append(ExplainLine(depth, condition_words(node), passed, actual_words(node, values)))
        return passed

    rule_passed = walk(tree, 1)
    member = bool(row["member"]) and row["erased_at"] is None
    if rule_passed != bool(row["member"]):  # pragma: no cover - a compiler bug, made visible
        raise AssertionError("the explanation disagrees with the membership query")
    if row["erased_at"] is not None:
        headline = gettext("Not in the segment: the customer's data was erased.")
    else:
        headline = gettext("In the segment.") if member else gettext("Not in the segment.")
    return Explanation(member, [ExplainLine(0, headline, member), *lines])
