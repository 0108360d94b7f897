"""attribute_coerce: reading a custom attribute value as its declared type (pure)."""
import datetime as dt

import pytest

from campaigns.attributes import AttributeValueError, attribute_coerce
from campaigns.templating import template_render


@pytest.mark.parametrize("type_, value, expected", [
    ("text", "Green ", "Green "),
    ("text", 42, "42"),
    ("number", "42", 42),
    ("number", " 38.5 ", 38.5),
    ("number", "38,5", 38.5),
    ("number", 7, 7),
    ("number", 2.0, 2.0),
    ("number", "-3", -3),
    ("boolean", "ja", True),
    ("boolean", "Yes", True),
    ("boolean", "0", False),
    ("boolean", "nei", False),
    ("boolean", True, True),
    ("date", "1984-10-21", "1984-10-21"),
    ("date", "1984-10-21T08:00:00+02:00", "1984-10-21"),
    ("date", dt.date(2000, 2, 29), "2000-02-29"),
    ("date", dt.datetime(2000, 2, 29, 23, 0), "2000-02-29"),
])
def test_a_value_is_stored_as_its_type(type_, value, expected):
    result = attribute_coerce(type_, value)

    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("type_", ["text", "number", "date", "boolean"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_an_empty_value_means_no_value(type_, value):
    assert attribute_coerce(type_, value) is None


@pytest.mark.parametrize("type_, value, message", [
    ("number", "huge", "expected a number, got 'huge'"),
    ("number", True, "expected a number, got true/false"),
    ("number", "NaN", "expected a finite number"),
    ("number", "Infinity", "expected a finite number"),
    ("number", float("inf"), "expected a finite number"),
    ("boolean", "maybe", "expected true or false, got 'maybe'"),
    ("date", "21/10/1984", "expected a date as YYYY-MM-DD, got '21/10/1984'"),
    ("date", "1984-02-30", "expected a date as YYYY-MM-DD"),
    ("date", "1984-10-21x", "expected a date as YYYY-MM-DD, got '1984-10-21x'"),
    ("text", {"a": 1}, "expected text, got a list or object"),
    ("colour", "red", "unknown attribute type 'colour'"),
])
def test_a_value_that_does_not_fit_its_type_is_refused_with_a_reason(type_, value, message):
    with pytest.raises(AttributeValueError, match=message.replace("(", r"\(")):
        attribute_coerce(type_, value)


def test_typed_values_render_sensibly_in_a_template():
    attributes = {"shoe_size": attribute_coerce("number", "42"),
                  "vip": attribute_coerce("boolean", "nej"),
                  "birthday": attribute_coerce("date", "1984-10-21")}

    rendered = template_render(
        cache_key=("attributes-test",), subject="Size {{ customer.attributes.shoe_size }}",
        html_body="{% if customer.attributes.vip %}VIP{% else %}regular{% endif %} "
                  "{{ customer.attributes.birthday[5:] }} "
                  "{{ customer.attributes.colour | default('any colour') }}",
        text_body="", context={"customer": {"attributes": attributes}})

    assert rendered["subject"] == "Size 42"
    assert rendered["html"] == "regular 10-21 any colour"
