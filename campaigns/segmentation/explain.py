"""Pure: a condition and a customer's actual value, in words for the "why (not) in this segment" page."""
import datetime as dt
import json
from decimal import Decimal

from .catalogue import NPS_GROUP_RANGES, OPERATORS
from .products import product_actual_words, product_condition_words
from .validation import Condition


def gettext_noop(text: str) -> str:
    """Marks a fixed phrase for the translation catalogs (makemessages looks for this name)
    without importing Django: the explanation page translates it where it shows it."""
    return text


def _value_words(cond: Condition) -> str:
    value = cond.value
    labels = dict(cond.field.choices)

    def one(v):
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, Decimal):
            return f"{v:f}"
        return labels.get(v, str(v)) if cond.field.key not in ("country", "locale") else str(v)

    if value is None:
        return ""
    if cond.op in ("in_last_days", "more_than_days_ago"):
        return ""
    if isinstance(value, tuple):
        joiner = " and " if cond.op == "between" else ", "
        return joiner.join(one(v) for v in value)
    return one(value)


def condition_words(cond: Condition) -> str:
    """e.g. "number of orders in the last 90 days ≥ 2", "signed up in the last 30 days"."""
    if cond.field.product:
        return product_condition_words(cond)
    subject = cond.field.label
    if cond.field.key.startswith("attribute:"):
        subject = f"custom attribute '{subject}'"
    if cond.field.key == "event":
        subject = f"event '{cond.event_type}'"
        if cond.op in ("did", "did_not"):
            verb = "did" if cond.op == "did" else "did not do"
            return f"{verb} {subject}" + (f" {cond.window.words()}" if cond.window else "")
    if cond.window:
        subject += f" {cond.window.words()}"
    op = OPERATORS[cond.op][0]
    if cond.op in ("in_last_days", "more_than_days_ago"):
        op = op.replace("…", str(cond.value))
    elif cond.field.key == "event":
        op = f"happened {op}"
    value = _value_words(cond)
    if cond.field.key == "event" and value:
        value += " times"
    return " ".join(part for part in (subject, op, value) if part)


def _fmt(value) -> str:
    if value is None:
        return gettext_noop("none")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC") if value.utcoffset() == dt.timedelta(0) else value.isoformat()
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if value == "":
        return gettext_noop("empty")
    return str(value)


def actual_words(cond: Condition, values: dict) -> str:
    """The customer's actual value for `cond`, from the selected `values` (condition_values)."""
    key = cond.field.key
    if cond.field.product:
        return product_actual_words(cond, values)
    if key.startswith("attribute:"):
        attributes = values.get("attributes") or {}
        name = key.split(":", 1)[1]
        if name not in attributes:
            return gettext_noop("not set")
        return json.dumps(attributes[name], ensure_ascii=False)
    value = values.get("value")
    if key == "event":
        times = value or 0
        return f"{times} time{'s' if times != 1 else ''}"
    if key == "nps_group":
        if value is None:
            return gettext_noop("never answered")
        group = next(g for g, (low, high) in NPS_GROUP_RANGES.items() if low <= value <= high)
        return f"{group} (score {value})"
    if key == "nps_score" and value is None:
        return gettext_noop("never answered")
    if key == "consent":
        words = "marketing consent " + ("yes" if value else "no")
        if cond.value != "marketing":
            topic = values.get("topic")
            state = "never asked" if topic is None else ("subscribed" if topic else "unsubscribed")
            words += f"; {cond.value}: {state}"
        return words
    if key in ("first_order_at", "last_order_at") and value is None:
        return gettext_noop("no order yet")
    if key == "signed_up_at" and value is None:
        return gettext_noop("no sign-up recorded")
    if key in ("order_count", "total_spent") and value is None:
        return "0"
    if key == "avg_order_value" and value is None:
        return gettext_noop("no orders")
    return _fmt(value)
