"""The OpenAPI document says what the server does: each case is checked against both."""
import re

import pytest
from django.core.mail.message import sanitize_address
from django.test import Client

from campaigns.api_schemas import EMAIL_LOCAL_NOT_ASCII
from campaigns.models import Customer
from tests.api.conftest import SIGNUP, payload
from tests.api.test_validation import errors_of

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def document():
    return Client().get("/api/v1/openapi.json").json()


def schema_of(document, model: str) -> dict:
    return document["components"]["schemas"][model]


def matches(pattern: str, value: str) -> bool:
    # JSON Schema patterns are ECMAScript's, where $ is the end (Python's also allows "\n").
    return re.search(pattern.removesuffix("$") + r"\Z", value) is not None


def without_null(field: dict) -> dict:
    return next((s for s in field.get("anyOf", [field]) if s.get("type") != "null"), {})


@pytest.mark.parametrize("locale, stored", [("sv", "sv"), ("SV", "sv"), ("sv_SE", "sv-SE"),
                                            ("sv-se", "sv-SE"), ("NB_no", "nb-NO")])
def test_locales_the_pattern_allows_are_accepted_and_normalised(api, document, locale, stored):
    pattern = without_null(schema_of(document, "CustomerIn")["properties"]["locale"])["pattern"]

    response = api.post("events", payload(SIGNUP, customer__locale=locale))

    assert matches(pattern, locale)
    assert response.status_code == 201, response.content
    assert Customer.objects.get().locale == stored


@pytest.mark.parametrize("locale", [" sv", "sv ", "swedish", "sv-SE-x", "s", "sv--SE"])
def test_locales_the_pattern_forbids_are_refused(api, document, locale):
    pattern = without_null(schema_of(document, "CustomerIn")["properties"]["locale"])["pattern"]

    response = api.post("events", payload(SIGNUP, customer__locale=locale))

    assert not matches(pattern, locale)
    assert [e["field"] for e in errors_of(response)] == ["customer.locale"]


def test_email_is_not_nullable_in_the_document_and_null_is_refused(api, document):
    email = schema_of(document, "CustomerIn")["properties"]["email"]

    response = api.post("events", payload(SIGNUP, customer__email=None))

    assert email["type"] == "string" and "anyOf" not in email and "default" not in email
    assert [e["field"] for e in errors_of(response)] == ["customer.email"]


def test_the_document_says_order_only_on_purchases(api, document):
    event = schema_of(document, "EventIn")

    refused = api.post("events", payload(SIGNUP, order={"external_id": "o-1", "amount": "1.00",
                                                        "currency": "SEK"}))
    accepted = api.post("events", payload(SIGNUP, order=None))

    assert event["if"] == {"properties": {"type": {"const": "purchase"}}}
    assert event["then"]["required"] == ["order"]
    assert event["else"] == {"properties": {"order": {"type": "null"}}}
    assert [e["field"] for e in errors_of(refused)] == ["order"]
    assert accepted.status_code == 201, accepted.content


@pytest.mark.parametrize("external_id, ok", [("c-42", True), ("c 42", True), (" c-42", False),
                                             ("c-42\n", False), ("\u3000c", False), ("x", True)])
def test_external_ids_with_surrounding_space_are_refused_as_the_pattern_says(
    api, document, external_id, ok
):
    pattern = schema_of(document, "CustomerIn")["properties"]["external_id"]["pattern"]

    response = api.post("events", payload(SIGNUP, customer__external_id=external_id))

    assert matches(pattern, external_id) is ok
    if ok:
        assert response.status_code == 201, response.content
    else:
        [error] = errors_of(response)
        assert error == {"field": "customer.external_id",
                         "message": "Remove the spaces at the start or end of the id."}


def test_time_zones_are_an_enum_of_the_names_the_server_knows(api, document):
    zones = without_null(schema_of(document, "CustomerIn")["properties"]["time_zone"])["enum"]

    response = api.post("events", payload(SIGNUP, customer__time_zone="Europe/Stockholmm"))

    assert "Europe/Stockholm" in zones and "Europe/Stockholmm" not in zones
    assert [e["field"] for e in errors_of(response)] == ["customer.time_zone"]


def test_every_operation_documents_its_error_answers(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"400", "401", "413"} <= statuses, (method, path, statuses)
            for status in statuses - {"200", "201"}:
                body = operation["responses"][status]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorsOut"}


def test_a_non_ascii_local_part_is_refused_with_a_clear_message(api):
    response = api.post("customers", {"external_id": "c-1", "email": "åsa@example.se"})

    assert errors_of(response) == [{"field": "email", "message": EMAIL_LOCAL_NOT_ASCII}]
    assert not Customer.objects.exists()


def test_an_internationalised_domain_is_accepted_and_sent_as_punycode(api):
    response = api.post("customers", {"external_id": "c-1", "email": "asa@exämple.se"})

    assert response.status_code == 201, response.content
    stored = Customer.objects.get().email
    assert stored == "asa@exämple.se"
    assert sanitize_address(stored, "utf-8") == "asa@xn--exmple-cua.se"


def patterns_in(node):
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from patterns_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from patterns_in(item)


def test_every_pattern_in_the_document_is_one_every_tool_can_use(document):
    # jsonschema-rs (Rust's regex, as schemathesis validates with) and Python's re (as
    # hypothesis generates with) must both take it; a pattern either refuses is dropped by
    # schemathesis, which then sends values the server refuses. Surrogates were one.
    import jsonschema_rs

    patterns = set(patterns_in(document))

    assert len(patterns) >= 5
    for pattern in patterns:
        re.compile(pattern)
        jsonschema_rs.validator_for({"pattern": pattern})


@pytest.mark.parametrize("external_id", ["\u00f2\u000b3\u00c9\u0091\u001c", "a\x1c", "\x1fa",
                                          "a\u3000", "\u2028a"])
def test_an_id_with_a_space_or_separator_at_its_edge_is_refused_as_the_pattern_says(
    api, document, external_id
):
    # Found by make fuzz: python's isspace() counts \x1c-\x1f as space; the pattern says so.
    pattern = schema_of(document, "CouponRedeemIn")["properties"]["order_id"]["pattern"]

    response = api.post("coupons/redeem", {"code": "K7QX-M2PA-9T", "customer_external_id": "c-1",
                                           "order_id": external_id})

    assert not matches(pattern, external_id)
    assert [e["field"] for e in errors_of(response)] == ["order_id"]


@pytest.mark.parametrize("email", ["qa@shop.test", "QA+1@Shop.TEST", "anna@example.com",
                                   "anna@mail.example"])
def test_a_shops_test_customers_are_taken(api, document, email):
    # Found by make fuzz: format email allows .test, and email-validator refused it.
    schema = schema_of(document, "CustomerIn")["properties"]["email"]

    response = api.post("customers", {"external_id": "c-1", "email": email})

    assert not re.search(schema["not"]["pattern"], email)
    assert response.status_code == 201, response.content
    assert Customer.objects.get().email == email.rpartition("@")[0] + "@" + email.rpartition(
        "@")[2].lower()


@pytest.mark.parametrize("email", ["a@shop.invalid", "a@printer.local", "a@x.LOCALHOST",
                                   "a@abc.onion"])
def test_addresses_on_names_that_cannot_receive_mail_are_refused_as_the_schema_says(
    api, document, email
):
    schema = schema_of(document, "CustomerIn")["properties"]["email"]

    response = api.post("customers", {"external_id": "c-1", "email": email})

    assert re.search(schema["not"]["pattern"], email)
    [error] = errors_of(response)
    assert error["field"] == "email" and "special-use or reserved name" in error["message"]
    assert not Customer.objects.exists()
