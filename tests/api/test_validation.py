"""Bad input: 400 naming every problem by field (and index); nothing is stored."""

import pytest

from campaigns.models import Customer, Event, Order
from tests.api.conftest import PURCHASE, SIGNUP, payload
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def errors_of(response) -> list[dict]:
    assert response.status_code == 400, response.content
    return response.json()["errors"]


def fields_of(response) -> list[str]:
    return [error["field"] for error in errors_of(response)]


def assert_nothing_stored():
    assert not Event.objects.exists()
    assert not Customer.objects.exists()
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"type": ...}, "type"),
        ({"occurred_at": ...}, "occurred_at"),
        ({"customer": ...}, "customer"),
        ({"customer__external_id": ...}, "customer.external_id"),
        ({"customer__external_id": ""}, "customer.external_id"),
        ({"customer__external_id": "x" * 101}, "customer.external_id"),
        ({"type": "Sign Up"}, "type"),
        ({"customer__email": "astrid.example.se"}, "customer.email"),
        ({"customer__email": None}, "customer.email"),
        ({"customer__time_zone": "Europe/Stockholmm"}, "customer.time_zone"),
        ({"customer__locale": "swedish"}, "customer.locale"),
        ({"customer__country": "SWE"}, "customer.country"),
        ({"customer__consent": {"marketing": "yes"}}, "customer.consent.marketing"),
        ({"customer__consent": {"newsletter": True}}, "customer.consent.newsletter"),
        ({"customer__attributes": {"tags": ["a", "b"]}}, "customer.attributes"),
        ({"customer__emial": "typo@example.se"}, "customer.emial"),
        ({"occured_at": "2026-03-02T09:30:00Z"}, "occured_at"),
        ({"properties": ["not", "an", "object"]}, "properties"),
        ({"occurred_at": 1772443800}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:01+00:01"}, "occurred_at"),
        (
            {"order": {"external_id": "o-1", "amount": "1.00", "currency": "SEK"}},
            "order",
        ),
    ],
)
def test_a_bad_signup_is_rejected_naming_the_field(api, changes, field):
    response = api.post("events", payload(SIGNUP, **changes))

    assert fields_of(response) == [field]
    assert_nothing_stored()


def test_an_unknown_field_is_called_unknown(api):
    response = api.post("events", payload(SIGNUP, customer__emial="typo@example.se"))

    assert "Unknown field" in errors_of(response)[0]["message"]


def test_a_naive_occurred_at_is_rejected_saying_the_time_zone_is_missing(api):
    response = api.post("events", payload(SIGNUP, occurred_at="2026-03-02T09:30:00"))

    [error] = errors_of(response)
    assert error["field"] == "occurred_at"
    assert "no time zone" in error["message"]


def test_occurred_at_may_lie_in_the_past_but_not_over_a_day_ahead(api, frozen_clock):
    late = api.post("events", payload(SIGNUP, occurred_at="2020-01-01T00:00:00+01:00"))
    ahead = api.post(
        "events", payload(SIGNUP, event_id="e-2", occurred_at="2026-03-03T09:01:00Z")
    )

    assert late.status_code == 201
    assert fields_of(ahead) == ["occurred_at"]
    assert "future" in errors_of(ahead)[0]["message"]


@pytest.mark.parametrize(
    "amount", ["0", "-1.00", "499.999", "abc", "NaN", "12345678901.00", None]
)
def test_a_bad_amount_is_rejected(api, amount):
    response = api.post("events", payload(PURCHASE, order__amount=amount))

    assert fields_of(response) == ["order.amount"]
    assert_nothing_stored()


@pytest.mark.parametrize("currency", ["sek", "SE", "SEKK", "12A"])
def test_a_bad_currency_is_rejected(api, currency):
    response = api.post("events", payload(PURCHASE, order__currency=currency))

    assert fields_of(response) == ["order.currency"]


def test_a_purchase_without_order_is_rejected_naming_order(api):
    response = api.post("events", payload(PURCHASE, order=...))

    [error] = errors_of(response)
    assert error == {"field": "order", "message": "A purchase event needs an order."}
    assert_nothing_stored()


def test_a_new_customer_without_email_is_rejected(api):
    response = api.post("events", payload(SIGNUP, customer__email=...))

    assert errors_of(response) == [
        {
            "field": "customer.email",
            "message": "Required: no customer has this external_id yet.",
        }
    ]
    assert_nothing_stored()


def test_an_order_of_another_customer_is_rejected(api):
    OrderFactory(external_id="o-9", customer=CustomerFactory(external_id="c-1"))

    response = api.post("events", PURCHASE)

    assert fields_of(response) == ["order.external_id"]
    assert not Event.objects.exists()


def test_a_batch_with_one_bad_item_stores_nothing_and_names_index_and_field(api):
    batch = [
        SIGNUP,
        payload(SIGNUP, event_id="e-2", customer__email="not-an-email"),
        PURCHASE,
    ]

    response = api.post("events", batch)

    [error] = errors_of(response)
    assert (error["index"], error["field"]) == (1, "customer.email")
    assert error["message"]
    assert_nothing_stored()


def test_a_batch_lists_every_bad_item(api):
    batch = [
        payload(SIGNUP, customer__time_zone="Nowhere"),
        SIGNUP,
        payload(PURCHASE, order=...),
        payload(SIGNUP, event_id="e-4", customer={"external_id": "c-new"}),
    ]

    response = api.post("events", batch)

    assert [(e["index"], e["field"]) for e in errors_of(response)] == [
        (0, "customer.time_zone"),
        (2, "order"),
    ]
    # The data-model check (new customer without email) runs once the shapes are right.
    response = api.post("events", [SIGNUP, batch[3]])
    assert [(e["index"], e["field"]) for e in errors_of(response)] == [
        (1, "customer.email")
    ]
    assert_nothing_stored()


def test_an_empty_batch_is_rejected(api):
    response = api.post("events", [])

    assert errors_of(response) == [
        {"field": "", "message": "The list is empty; send at least 1 event."}
    ]


def test_a_batch_over_a_thousand_events_is_rejected(api):
    batch = [payload(SIGNUP, event_id=f"e-{n}") for n in range(1001)]

    response = api.post("events", batch)

    [error] = errors_of(response)
    assert error["field"] == ""
    assert "at most 1000" in error["message"]
    assert_nothing_stored()


@pytest.mark.parametrize("body", ["{not json", '{"type": "signup",}', b"\xff\xfe"])
def test_a_body_that_is_not_json_is_rejected(api, body):
    response = api.post("events", body)

    [error] = errors_of(response)
    assert error["field"] == ""
    assert error["message"].startswith("The body is not valid JSON: ")


@pytest.mark.parametrize("body", ['"signup"', "42", "null", "[1]"])
def test_json_that_is_not_an_event_is_rejected(api, body):
    response = api.post("events", body)

    assert errors_of(response)[0]["message"] == "Expected a JSON object here."


def test_an_empty_body_is_rejected(api):
    response = api.post("events", "")

    assert errors_of(response) == [
        {"field": "", "message": "The body is empty; send JSON."}
    ]


def test_validation_errors_do_not_echo_the_input(api):
    response = api.post("events", payload(SIGNUP, customer__email="astrid@@example.se"))

    assert "astrid" not in response.content.decode()
