"""Pure: reading a rule's JSON into a checked tree, with a message per problem a marketer understands."""
import datetime as dt
import difflib
import json
import re
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext

from .catalogue import FIELDS_BY_KEY, OPERATORS, PERIODS, TYPE_WORDS, Field, attribute_field
from .targets import PRODUCT_KEYS, ProductFacts, target_read

MAX_DEPTH = 8
MAX_CONDITIONS = 200
CONDITION_KEYS = {"field", "attribute", "op", "value", "window", "event_type", *PRODUCT_KEYS}
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class RuleProblem:
    path: tuple[int, ...]
    where: str
    message: str
    # A warning does not stop the rule (e.g. a SKU not in the catalogue yet).
    warning: bool = False

    def __str__(self):
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass(frozen=True)
class Window:
    last_days: int | None = None
    period: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    def words(self) -> str:
        if self.last_days:
            return f"in the last {self.last_days} days"
        if self.period:
            return PERIODS[self.period]
        if self.start and self.end:
            return f"from {self.start} to {self.end}"
        return f"from {self.start}" if self.start else f"up to {self.end}"


@dataclass(frozen=True)
class Condition:
    path: tuple[int, ...]
    field: Field
    op: str
    value: object = None
    window: Window | None = None
    event_type: str = ""
    # What a product condition is about: ("sku" | "category" | "brand", value).
    product: tuple[str, str] | None = None


@dataclass(frozen=True)
class Group:
    path: tuple[int, ...]
    kind: str  # all | any
    items: tuple


@dataclass(frozen=True)
class Not:
    path: tuple[int, ...]
    item: object


class RuleError(ValueError):
    """The rule cannot be used; `problems` lists every reason, each pointing at its place."""

    def __init__(self, problems: list[RuleProblem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems

    @property
    def messages(self) -> list[str]:
        return [str(p) for p in self.problems]


def _show(value) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "…"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Reader:
    def __init__(self, attributes: dict[str, tuple[str, str]],
                 products: ProductFacts | None = None):
        self.attributes = attributes
        self.products = products
        self.problems: list[RuleProblem] = []
        self.warnings: list[RuleProblem] = []
        self.conditions = 0

    # Where a node is, in words: "Condition 2 in 'any' group 1".
    @staticmethod
    def where(path: tuple[int, ...], parents: tuple[str, ...], noun: str = "Condition") -> str:
        if not path:
            return "The rule"
        text = f"{noun} {path[-1]}"
        if len(path) > 1:
            text += f" in '{parents[-1]}' group {'.'.join(str(p) for p in path[:-1])}"
        return text

    def problem(self, path, parents, message, noun="Condition"):
        self.problems.append(RuleProblem(path, self.where(path, parents, noun), message))

    def node(self, raw, path: tuple[int, ...], parents: tuple[str, ...], depth: int):
        if depth > MAX_DEPTH:
            self.problem(path, parents, f"the rule is nested more than {MAX_DEPTH} levels deep; "
                                        "simplify it", noun="Group")
            return None
        if not isinstance(raw, dict):
            self.problem(path, parents, f"{_show(raw)} is not a condition or a group (expected an "
                                        "object such as {\"field\": …, \"op\": …, \"value\": …})")
            return None
        kinds = [k for k in ("all", "any", "not") if k in raw]
        if len(kinds) > 1 or (kinds and len(raw) > 1):
            self.problem(path, parents, "a group has exactly one key: 'all', 'any' or 'not' "
                                        f"(found {', '.join(repr(k) for k in raw)})", noun="Group")
            return None
        if kinds == ["not"]:
            inner = self.node(raw["not"], path, parents, depth + 1)
            return Not(path, inner) if inner is not None else None
        if kinds:
            kind = kinds[0]
            items = raw[kind]
            if not isinstance(items, list):
                self.problem(path, parents, f"'{kind}' needs a list of conditions", noun="Group")
                return None
            if not items:
                if path:
                    self.problem(path, parents, f"this '{kind}' group is empty: add a condition "
                                                "or remove the group", noun="Group")
                else:
                    self.problem(path, parents, "is empty: add at least one condition")
                return None
            read = [self.node(item, path + (i,), parents + (kind,), depth + 1)
                    for i, item in enumerate(items, 1)]
            if any(r is None for r in read):
                return None
            return Group(path, kind, tuple(read))
        if not raw:
            self.problem(path, parents, "is empty: add at least one condition")
            return None
        self.conditions += 1
        if self.conditions == MAX_CONDITIONS + 1:
            self.problem((), (), f"has more than {MAX_CONDITIONS} conditions; split it into "
                                 "several segments")
        return self.condition(raw, path, parents)

    def condition(self, raw: dict, path, parents):
        def fail(message):
            self.problem(path, parents, message)
            return None

        unknown = sorted(set(raw) - CONDITION_KEYS)
        if unknown:
            return fail(f"unknown key {', '.join(repr(k) for k in unknown)} (a condition has "
                        "'field' or 'attribute', 'op', 'value', and for orders and events "
                        "'window' and 'event_type', for products 'sku', 'category' or 'brand')")
        if "attribute" in raw:
            if "field" in raw:
                return fail("give either 'field' or 'attribute', not both")
            key = raw["attribute"]
            if not isinstance(key, str) or key not in self.attributes:
                known = ", ".join(sorted(self.attributes)) or "none are defined yet"
                return fail(f"there is no custom attribute {_show(key)} (known: {known})")
            type_, label = self.attributes[key]
            spec = attribute_field(key, type_, label)
        else:
            key = raw.get("field")
            if key is None:
                return fail("choose a field (or a custom attribute)")
            spec = FIELDS_BY_KEY.get(key) if isinstance(key, str) else None
            if spec is None:
                close = difflib.get_close_matches(str(key), list(FIELDS_BY_KEY), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                return fail(f"there is no field {_show(key)}{hint}")
        name = f"'{spec.label}'"
        op = raw.get("op")
        if op is None:
            return fail(f"choose an operator for {name}")
        if op not in spec.operators:
            allowed = ", ".join(OPERATORS[o][0] for o in spec.operators)
            shown = f"'{OPERATORS[op][0]}'" if op in OPERATORS else _show(op)
            return fail(f"{name} is {TYPE_WORDS[spec.type]}; {shown} does not apply to it "
                        f"(use one of: {allowed})")
        event_type = ""
        if spec.type == "event":
            event_type = raw.get("event_type")
            if not isinstance(event_type, str) or not event_type.strip() or len(event_type) > 64:
                return fail("say which event type, e.g. \"event_type\": \"purchase\"")
            event_type = event_type.strip()
        elif "event_type" in raw:
            return fail(f"{name} is not an event; 'event_type' does not apply")
        product = None
        given = [k for k in PRODUCT_KEYS if k in raw]
        if spec.product:
            product = self.product(raw, given, name, fail, path, parents)
            if product is None:
                return None
        elif given:
            return fail(gettext("%(name)s is not about products; '%(key)s' does not apply")
                        % {"name": name, "key": given[0]})
        window = None
        if raw.get("window") is not None:
            if not spec.window:
                return fail(f"{name} cannot take a time window (only order counts, amounts, "
                            "events and products can)")
            window = self.window(raw["window"], name, fail)
            if window is None:
                return None
        value = self.value(spec, op, raw.get("value"), name, fail)
        if value is _BAD:
            return None
        return Condition(path, spec, op, value, window, event_type, product)

    def product(self, raw, given, name, fail, path, parents):
        target, error, warning = target_read(raw, given, name, self.products)
        if error:
            return fail(error)
        if warning:
            self.warnings.append(RuleProblem(path, self.where(path, parents), warning, True))
        return target

    def window(self, raw, name, fail):
        if not isinstance(raw, dict) or not raw:
            return fail(f"the time window of {name} must be like {{\"last_days\": 90}}, "
                        "{\"period\": \"this_quarter\"} or {\"from\": \"2026-01-01\", \"to\": \"2026-03-31\"}")
        keys = set(raw)
        if keys == {"last_days"}:
            days = raw["last_days"]
            if not isinstance(days, int) or isinstance(days, bool) or days < 1:
                return fail(f"the time window of {name}: {_show(days)} is not a whole number of "
                            "days (1 or more)")
            return Window(last_days=days)
        if keys == {"period"}:
            if raw["period"] not in PERIODS:
                return fail(f"the time window of {name}: {_show(raw['period'])} is not a period "
                            f"(use one of: {', '.join(PERIODS)})")
            return Window(period=raw["period"])
        if keys and keys <= {"from", "to"}:
            start, end = (_date(raw.get(k)) for k in ("from", "to"))
            for k, d in (("from", start), ("to", end)):
                if k in raw and d is None:
                    return fail(f"the time window of {name}: {_show(raw[k])} is not a date "
                                "(write it as YYYY-MM-DD)")
            if start and end and start > end:
                return fail(f"the time window of {name} ends ({end}) before it starts ({start})")
            return Window(start=start, end=end)
        return fail(f"the time window of {name} has unknown keys {sorted(keys)}; use "
                    "'last_days', 'period', or 'from'/'to'")

    def value(self, spec: Field, op: str, raw, name, fail):
        kind = OPERATORS[op][1]
        if kind == "none":
            if raw is not None:
                fail(f"'{OPERATORS[op][0]}' takes no value; remove {_show(raw)}")
                return _BAD
            return None
        if raw is None:
            fail(f"{name} '{OPERATORS[op][0]}' needs a value")
            return _BAD
        if kind == "days":
            if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
                fail(f"'{OPERATORS[op][0]}' needs a whole number of days (1 or more); "
                     f"{_show(raw)} is not")
                return _BAD
            return raw
        if kind == "list":
            if not isinstance(raw, list) or not raw:
                fail(f"{name} '{OPERATORS[op][0]}' needs a list of one or more values, e.g. "
                     f"{_show(_example(spec))}")
                return _BAD
            values = [self.one(spec, op, v, name, fail) for v in raw]
            return _BAD if _BAD in values else tuple(values)
        if kind == "pair":
            if not isinstance(raw, list) or len(raw) != 2:
                fail(f"{name} 'between' needs two values [from, to], e.g. "
                     f"{_show([_example(spec), _example(spec)])}")
                return _BAD
            low, high = (self.one(spec, op, v, name, fail) for v in raw)
            if _BAD in (low, high):
                return _BAD
            if low > high:
                fail(f"{name} 'between': {_show(raw[0])} is after {_show(raw[1])}; put the "
                     "smaller first")
                return _BAD
            return (low, high)
        return self.one(spec, op, raw, name, fail)

    def one(self, spec: Field, op: str, raw, name, fail):
        type_ = spec.type
        if type_ in ("number", "event", "count"):
            if not _is_number(raw):
                fail(f"{name} is a number; {_show(raw)} is not a number")
                return _BAD
            whole = spec.integer or type_ in ("event", "count")
            if whole and raw != int(raw):
                fail(f"{name} is a whole number; {_show(raw)} is not")
                return _BAD
            low = 0 if type_ in ("event", "count") else spec.minimum
            if (low is not None and raw < low) or (spec.maximum is not None and raw > spec.maximum):
                span = (f"from {_num(low)} to {_num(spec.maximum)}" if spec.maximum is not None
                        else f"{_num(low)} or more")
                fail(f"{name} goes {span}; {_show(raw)} is outside that")
                return _BAD
            return int(raw) if whole else Decimal(str(raw))
        if type_ == "date":
            day = _date(raw)
            if day is None:
                fail(f"{name} is a date; {_show(raw)} is not a date (write it as YYYY-MM-DD)")
                return _BAD
            return day
        if type_ == "boolean":
            if not isinstance(raw, bool):
                fail(f"{name} is yes or no; {_show(raw)} is neither (use true or false)")
                return _BAD
            return raw
        if not isinstance(raw, str) or not raw.strip():
            fail(f"{name} is {TYPE_WORDS[type_]}; {_show(raw)} is not a text value")
            return _BAD
        text = raw.strip()
        if spec.key == "country":
            text = text.upper()
            if not _COUNTRY.match(text):
                fail(f"{name}: {_show(raw)} is not a two-letter country code such as SE")
                return _BAD
        elif spec.key == "locale":
            if not _LOCALE.match(text):
                fail(f"{name}: {_show(raw)} is not a language code such as sv or en-GB")
                return _BAD
        elif spec.key == "time_zone" and op in ("is", "is_not", "in", "not_in") and text not in _zones():
            # Whole names must exist; 'contains' and 'starts with' take any text ("Europe/").
            fail(f"{name}: {_show(raw)} is not a time zone name such as Europe/Stockholm")
            return _BAD
        elif spec.strict and spec.choices and text not in {c for c, _ in spec.choices}:
            fail(f"{name} has no value {_show(raw)} (choose from: "
                 f"{', '.join(c for c, _ in spec.choices)})")
            return _BAD
        return text


_BAD = object()


def _num(value) -> str:
    return f"{value:g}"


def _example(spec: Field):
    if spec.choices:
        return spec.choices[0][0]
    return {"number": 1, "date": "2026-01-31", "boolean": True, "event": 1}.get(spec.type, "text")


def _date(raw) -> dt.date | None:
    if not isinstance(raw, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
        return None
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        return None


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(zoneinfo.available_timezones())
    return _ZONES


def rule_parse(rule, *, attributes: dict[str, tuple[str, str]] | None = None,
               products: ProductFacts | None = None, warnings: list | None = None):
    """The checked tree of `rule`, or RuleError listing every problem.

    `attributes` maps each custom attribute key to (type, label) (AttributeDefinition).
    With `products`, the categories and brands a rule names must be in the catalogue, and
    SKUs not in it yet are appended to `warnings`; without it (when a stored segment is
    counted) they are not checked: a category emptied since simply matches no one.
    """
    reader = _Reader(attributes or {}, products)
    if isinstance(rule, str):
        try:
            rule = json.loads(rule)
        except ValueError as exc:
            raise RuleError([RuleProblem((), "The rule", f"is not valid JSON ({exc})")]) from None
    if rule is None or rule == {} or rule == []:
        raise RuleError([RuleProblem((), "The rule", "is empty: add at least one condition")])
    tree = reader.node(rule, (), (), 0)
    if reader.problems:
        raise RuleError(reader.problems)
    if warnings is not None:
        warnings.extend(reader.warnings)
    return tree


def rule_problems(rule, *, attributes=None, products=None) -> list[RuleProblem]:
    try:
        rule_parse(rule, attributes=attributes, products=products)
    except RuleError as exc:
        return exc.problems
    return []


def rule_errors(rule, *, attributes=None, products=None) -> list[str]:
    """Every problem of `rule` as a sentence naming its place; empty when it is usable."""
    return [str(p) for p in rule_problems(rule, attributes=attributes, products=products)]


def rule_warnings(rule, *, attributes=None, products=None) -> list[str]:
    """What is allowed but worth knowing (a SKU not in the catalogue yet); empty for a
    rule with errors (those come first)."""
    warnings: list[RuleProblem] = []
    try:
        rule_parse(rule, attributes=attributes, products=products, warnings=warnings)
    except RuleError:
        return []
    return [str(p) for p in warnings]
