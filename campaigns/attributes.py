"""Pure: reading a custom attribute value as its declared type (API, CSV import, admin).

Values are stored in Customer.attributes as JSON: text as a string, number as a JSON
number, boolean as true/false, date as "YYYY-MM-DD" (so that text order is date order).
Undeclared keys are kept as given (text from CSV, scalars from the API).
"""
import datetime as dt
import math
from decimal import Decimal, InvalidOperation

TRUE_WORDS = frozenset({"true", "yes", "1", "y", "ja", "j"})
FALSE_WORDS = frozenset({"false", "no", "0", "n", "nej", "nei"})


class AttributeValueError(ValueError):
    """The value cannot be read as the attribute's type; the message says why, for people."""


def attribute_coerce(type_: str, value):
    """Return `value` as stored for an attribute of `type_`; None stays None (= remove).

    Raises AttributeValueError with a message a marketer or integrator understands.
    """
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if type_ == "text":
        if isinstance(value, (dict, list)):
            raise AttributeValueError("expected text, got a list or object")
        return str(value)
    if type_ == "number":
        if isinstance(value, bool):
            raise AttributeValueError("expected a number, got true/false")
        if isinstance(value, (int, float)):
            number = value
        else:
            try:
                number = Decimal(str(value).strip().replace(",", "."))
            except InvalidOperation:
                raise AttributeValueError(f"expected a number, got {str(value)[:40]!r}") from None
        if isinstance(number, Decimal):
            if not number.is_finite():
                raise AttributeValueError("expected a finite number")
            number = int(number) if number == number.to_integral_value() else float(number)
        elif isinstance(number, float) and not math.isfinite(number):
            raise AttributeValueError("expected a finite number")
        return number
    if type_ == "boolean":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise AttributeValueError(f"expected true or false, got {str(value)[:40]!r}")
    if type_ == "date":
        if isinstance(value, dt.datetime):
            return value.date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        text = str(value).strip()
        try:
            # A date-time counts by its date; anything else after the date is a mistake.
            if len(text) > 10 and text[10] not in "T ":
                raise ValueError(text)
            return dt.date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            raise AttributeValueError(
                f"expected a date as YYYY-MM-DD, got {str(value)[:40]!r}"
            ) from None
    raise AttributeValueError(f"unknown attribute type {type_!r}")
