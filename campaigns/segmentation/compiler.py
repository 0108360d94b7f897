"""Pure: a checked rule tree -> one Q over Customer (subqueries included); nothing is executed.

Every condition compiles to a predicate that is TRUE or FALSE for each customer, never
NULL, so 'not' is the exact complement and the explanation of a customer agrees with the
membership query. Negative operators (is not, ≠, is none of, did not, not given) are the
exact complement of their positive twin: a customer whose value is unknown matches them.

Aggregates over orders and events in a time window are grouped subqueries joined with
`id IN (SELECT customer_id … GROUP BY customer_id HAVING …)`, plus, when a customer with
no rows in the window also satisfies the comparison (e.g. "fewer than 2 orders"),
`OR NOT EXISTS (…)`. PostgreSQL turns both into hash (anti) joins instead of a subquery per
customer. Windowed order aggregates count only orders still `placed` (refunded and
cancelled ones are left out); all-time ones read the customer's lifecycle facts
(`order_count`, `total_spent`, `first_order_at`, `last_order_at`), kept on ingest.
"""
import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

from django.db.models import (
    Avg, BooleanField, CharField, Count, DecimalField, Exists, ExpressionWrapper, F, FloatField,
    Func, OuterRef, Q, Subquery, Sum, Value,
)
from django.db.models.functions import Cast, Coalesce, NullIf
from django.db.models.lookups import (
    Exact, GreaterThan, GreaterThanOrEqual, IContains, In, IsNull, IStartsWith, LessThan,
    LessThanOrEqual,
)

from campaigns.models import Event, Order, Subscription, SurveyResponse

from .catalogue import NPS_GROUP_RANGES
from .products import product_q, product_values
from .validation import Condition, Group, Not, Window
from .windows import COMPARE, window_range
from .windows import aggregate_q as _aggregate_q
from .windows import compare as _compare
from .windows import day_start as _day_start
from .windows import q as _q

NEGATIVE = {"is_not": "is", "!=": "=", "not_in": "in", "did_not": "did", "not_given": "given"}
_DATE_RANGE_OPS = ("before", "after", "on", "between", "in_last_days", "more_than_days_ago")
# Customer columns whose "empty" is the empty string rather than NULL.
_BLANK_TEXT = {"locale", "country", "time_zone", "tier", "lifecycle_stage"}
_MONEY = DecimalField(max_digits=14, decimal_places=2)


class AttributeValue(Func):
    """A custom attribute's JSON value as its SQL type, or NULL when missing or of another type.

    Numbers compare as numbers and booleans as booleans on SQLite and PostgreSQL; dates are
    stored as "YYYY-MM-DD" (attributes.attribute_coerce), whose text order is date order,
    and only values of exactly that shape are compared.
    """

    OUTPUT = {"text": CharField(), "number": FloatField(), "date": CharField(),
              "boolean": BooleanField()}

    def __init__(self, key: str, type_: str):
        super().__init__(F("attributes"), output_field=self.OUTPUT[type_])
        self.key, self.type = key, type_

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            get, text = f"({column} -> %s)", f"({column} ->> %s)"
            checks = {
                "text": (f"jsonb_typeof{get} = 'string'", text),
                "number": (f"jsonb_typeof{get} = 'number'", f"{text}::double precision"),
                "boolean": (f"jsonb_typeof{get} = 'boolean'", f"{text}::boolean"),
                "date": (f"jsonb_typeof{get} = 'string' AND {text} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$'",
                         f'{text} COLLATE "C"'),
            }
            key = self.key
        else:
            get = f"json_extract({column}, %s)"
            kind = f"json_type({column}, %s)"
            checks = {
                "text": (f"{kind} = 'text'", get),
                "number": (f"{kind} IN ('integer', 'real')", get),
                "boolean": (f"{kind} IN ('true', 'false')", get),
                "date": (f"{kind} = 'text' AND {get} GLOB "
                         "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'", get),
            }
            key = '$."' + self.key.replace('"', "") + '"'
        condition, value = checks[self.type]
        sql = f"CASE WHEN {condition} THEN {value} END"
        # A plain column compiles without parameters; every placeholder is the key.
        assert not params, params
        return sql, [key] * sql.count("%s")


def _date_q(name: str, op: str, value, now, zone) -> Q:
    day = dt.timedelta(days=1)
    if op == "before":
        return _q(name, "lt", _day_start(value, zone))
    if op == "after":
        return _q(name, "gte", _day_start(value + day, zone))
    if op == "on":
        return _q(name, "gte", _day_start(value, zone)) & _q(name, "lt", _day_start(value + day, zone))
    if op == "between":
        return (_q(name, "gte", _day_start(value[0], zone))
                & _q(name, "lt", _day_start(value[1] + day, zone)))
    if op == "in_last_days":
        return _q(name, "gte", now - dt.timedelta(days=value)) & _q(name, "lte", now)
    return _q(name, "lt", now - dt.timedelta(days=value))  # more_than_days_ago


def _column_q(cond: Condition, now, zone) -> Q:
    name, op, value = cond.field.key, cond.op, cond.value
    type_ = cond.field.type
    if op in ("is_empty", "is_set"):
        empty = Q(**{name: ""}) if name in _BLANK_TEXT else Q(**{f"{name}__isnull": True})
        return empty if op == "is_empty" else ~empty
    if type_ == "date":
        return _date_q(name, op, value, now, zone)
    if op == "is":
        return Q(**{name: value})
    if op == "in":
        return Q(**{f"{name}__in": list(value)})
    if op == "contains":
        return Q(**{f"{name}__icontains": value})
    if op == "starts_with":
        return Q(**{f"{name}__istartswith": value})
    return _compare(name, op, value)


def orders_in(window: Window, *, now, zone):
    bounds = window_range(window, now=now, zone=zone)
    return Order.objects.filter(
        status=Order.Status.PLACED, **{f"placed_at__{k}": v for k, v in bounds.items()}
    )


def events_in(cond: Condition, *, now, zone):
    rows = Event.objects.filter(type=cond.event_type)
    if cond.window:
        bounds = window_range(cond.window, now=now, zone=zone)
        rows = rows.filter(**{f"occurred_at__{k}": v for k, v in bounds.items()})
    return rows


def nps_latest():
    """Each customer's latest NPS answer: no later answer (by time, then id) exists."""
    nps = SurveyResponse.objects.filter(kind=SurveyResponse.Kind.NPS)
    later = nps.filter(customer_id=OuterRef("customer_id")).filter(
        Q(answered_at__gt=OuterRef("answered_at"))
        | Q(answered_at=OuterRef("answered_at"), pk__gt=OuterRef("pk"))
    )
    return nps.filter(~Exists(later))


def _attribute_q(cond: Condition, now, zone) -> Q:
    expr = AttributeValue(cond.field.key.split(":", 1)[1], cond.field.type)
    op, value = cond.op, cond.value
    known = Q(IsNull(expr, False))
    if op == "is_empty":
        return ~known
    if op == "is_set":
        return known
    if cond.field.type == "date":
        today = now.astimezone(zone).date()
        if op == "in_last_days":
            value, op = ((today - dt.timedelta(days=value)).isoformat(), today.isoformat()), "between"
        elif op == "more_than_days_ago":
            value, op = (today - dt.timedelta(days=value)).isoformat(), "<"
        elif op == "between":
            value = (value[0].isoformat(), value[1].isoformat())
        else:
            op = {"before": "<", "after": ">", "on": "="}[op]
            value = value.isoformat()
    elif cond.field.type == "number":
        value = tuple(float(v) for v in value) if isinstance(value, tuple) else float(value)
    lookups = {"=": Exact, "is": Exact, ">": GreaterThan, ">=": GreaterThanOrEqual,
               "<": LessThan, "<=": LessThanOrEqual, "contains": IContains,
               "starts_with": IStartsWith}
    if op == "between":
        test = Q(GreaterThanOrEqual(expr, value[0])) & Q(LessThanOrEqual(expr, value[1]))
    elif op == "in":
        test = Q(In(expr, list(value)))
    else:
        test = Q(lookups[op](expr, value))
    return test & known


def condition_q(cond: Condition, *, now: dt.datetime, zone: ZoneInfo) -> Q:
    """One condition as a Q that is TRUE or FALSE (never NULL) for every customer."""
    if cond.op in NEGATIVE:
        positive = replace(cond, op=NEGATIVE[cond.op])
        return ~condition_q(positive, now=now, zone=zone)
    key, op, value = cond.field.key, cond.op, cond.value
    if cond.field.product:
        return product_q(cond, now=now, zone=zone)
    if key.startswith("attribute:"):
        return _attribute_q(cond, now, zone)
    if key in ("order_count", "total_spent", "avg_order_value") and cond.window:
        # COUNT(*) lets PostgreSQL answer from the covering index alone.
        aggregate, zero = {"order_count": (Count("*"), 0), "total_spent": (Sum("amount"), 0),
                           "avg_order_value": (Avg("amount"), None)}[key]
        return _aggregate_q(orders_in(cond.window, now=now, zone=zone), aggregate, op, value, zero)
    if key == "avg_order_value":
        # total / count compared without division: total op value × count, for count > 0.
        def times(v):
            return ExpressionWrapper(F("order_count") * Value(v), output_field=_MONEY)
        if op == "between":
            test = Q(total_spent__gte=times(value[0])) & Q(total_spent__lte=times(value[1]))
        else:
            test = _q("total_spent", COMPARE[op], times(value))
        return Q(order_count__gt=0) & test
    if key == "event":
        rows = events_in(cond, now=now, zone=zone)
        if op == "did":
            return Q(Exists(rows.filter(customer_id=OuterRef("pk"))))
        return _aggregate_q(rows, Count("*"), op, value, 0)
    if key in ("nps_score", "nps_group"):
        if op in ("is_empty", "is_set"):
            answered = Q(Exists(SurveyResponse.objects.filter(
                kind=SurveyResponse.Kind.NPS, customer_id=OuterRef("pk"))))
            return answered if op == "is_set" else ~answered
        if key == "nps_group":
            groups = [value] if op == "is" else list(value)
            test = Q()
            for group in groups:
                low, high = NPS_GROUP_RANGES[group]
                test |= Q(score__gte=low, score__lte=high)
        else:
            test = _compare("score", op, value)
        return Q(pk__in=nps_latest().filter(test).values("customer_id"))
    if key == "consent":
        given = Q(marketing_consent=True)
        if value != "marketing":
            given &= ~Exists(Subscription.objects.filter(
                customer_id=OuterRef("pk"), topic=value, subscribed=False))
        return given
    return _column_q(cond, now, zone)


def tree_q(node, *, now: dt.datetime, zone: ZoneInfo) -> Q:
    """The whole (checked) rule tree as one Q."""
    if isinstance(node, Not):
        return ~tree_q(node.item, now=now, zone=zone)
    if isinstance(node, Group):
        parts = [tree_q(item, now=now, zone=zone) for item in node.items]
        combined = parts[0]
        for part in parts[1:]:
            combined = (combined & part) if node.kind == "all" else (combined | part)
        return combined
    return condition_q(node, now=now, zone=zone)


def tree_conditions(node) -> list[Condition]:
    """The conditions of a tree, in reading order."""
    if isinstance(node, Not):
        return tree_conditions(node.item)
    if isinstance(node, Group):
        return [c for item in node.items for c in tree_conditions(item)]
    return [node]


def condition_values(cond: Condition, *, now, zone) -> dict:
    """Expressions (name -> expression) giving the customer's actual value for `cond`."""
    key = cond.field.key
    if cond.field.product:
        return product_values(cond, now=now, zone=zone)
    if key.startswith("attribute:"):
        return {"attributes": F("attributes")}
    if key in ("order_count", "total_spent", "avg_order_value") and cond.window:
        aggregate = {"order_count": Count("pk"), "total_spent": Sum("amount"),
                     "avg_order_value": Avg("amount")}[key]
        rows = orders_in(cond.window, now=now, zone=zone).filter(customer_id=OuterRef("pk"))
        value = Subquery(rows.order_by().values("customer_id").annotate(v=aggregate).values("v")[:1])
        return {"value": value}
    if key == "avg_order_value":
        return {"value": Cast("total_spent", FloatField()) / NullIf(F("order_count"), 0)}
    if key == "event":
        rows = events_in(cond, now=now, zone=zone).filter(customer_id=OuterRef("pk"))
        count = rows.order_by().values("customer_id").annotate(v=Count("pk")).values("v")[:1]
        return {"value": Coalesce(Subquery(count), 0)}
    if key in ("nps_score", "nps_group"):
        latest = SurveyResponse.objects.filter(
            kind=SurveyResponse.Kind.NPS, customer_id=OuterRef("pk")
        ).order_by("-answered_at", "-pk").values("score")[:1]
        return {"value": Subquery(latest)}
    if key == "consent":
        topic = Subscription.objects.filter(customer_id=OuterRef("pk"), topic=cond.value)
        return {"value": F("marketing_consent"),
                "topic": Subquery(topic.values("subscribed")[:1])}
    return {"value": F(key)}

