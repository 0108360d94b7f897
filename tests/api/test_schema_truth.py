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
