"""The HTTP edges of the API: authentication, body size, CSRF, the OpenAPI document."""

import json
from io import BytesIO

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory

from campaigns.middleware import API_MAX_BODY_BYTES, ApiBodySizeLimitMiddleware
from campaigns.models import ApiKey, Event
from campaigns.services.api_keys import api_keys_revoke
from tests.api.conftest import SIGNUP, ApiClient, payload

pytestmark = pytest.mark.django_db


def assert_unauthorized(response):
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    [error] = response.json()["errors"]
    assert error["field"] == "" and error["message"]
    assert not Event.objects.exists()


@pytest.mark.parametrize("path", ["events", "customers"])
def test_a_request_without_authorization_header_gets_401(frozen_clock, path):
    assert_unauthorized(ApiClient(None).post(path, SIGNUP))


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token lcrm_abc", "lcrm_abc"]
)
def test_a_header_without_a_bearer_key_gets_401(api_key, frozen_clock, header):
    response = Client(HTTP_AUTHORIZATION=header).post(
        "/api/v1/events", SIGNUP, content_type="application/json"
    )

    assert_unauthorized(response)


def test_an_unknown_key_gets_401(api_key, frozen_clock):
    assert_unauthorized(ApiClient(api_key + "x").post("events", SIGNUP))


def test_a_revoked_key_gets_401(api_key, frozen_clock):
    api_keys_revoke(ids=ApiKey.objects.values_list("pk", flat=True))

    response = ApiClient(api_key).post("events", SIGNUP)

    assert_unauthorized(response)
    assert "revoked" in response.json()["errors"][0]["message"]


def test_the_key_is_accepted_whatever_the_scheme_case(api_key, frozen_clock):
    response = Client(HTTP_AUTHORIZATION=f"bearer {api_key}").post(
        "/api/v1/events", SIGNUP, content_type="application/json"
    )

    assert response.status_code == 201


def test_authentication_comes_before_body_validation(frozen_clock):
    assert_unauthorized(ApiClient(None).post("events", "{not json"))


def test_csrf_does_not_apply_to_key_authenticated_posts(api_key, frozen_clock):
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {api_key}")

    response = client.post("/api/v1/events", SIGNUP, content_type="application/json")

    assert response.status_code == 201


def test_a_body_over_1_mb_gets_413(api):
    batch = [
        payload(SIGNUP, event_id=f"e-{n}", properties={"pad": "x" * 2000})
        for n in range(600)
    ]
    body = json.dumps(batch)
    assert len(body) > API_MAX_BODY_BYTES

    response = api.post("events", body)

    assert response.status_code == 413
    [error] = response.json()["errors"]
    assert "1 MB" in error["message"]
    assert not Event.objects.exists()


def test_a_body_over_1_mb_without_content_length_gets_413():
    request = RequestFactory().post(
        "/api/v1/events", b"", content_type="application/json"
    )
    request.META.pop("CONTENT_LENGTH", None)
    request._stream = BytesIO(b"[" + b" " * API_MAX_BODY_BYTES + b"]")
    middleware = ApiBodySizeLimitMiddleware(
        lambda request: HttpResponse("view reached")
    )

    response = middleware(request)

    assert response.status_code == 413


def test_a_small_body_without_content_length_reaches_the_view_intact():
    request = RequestFactory().post(
        "/api/v1/events", b"", content_type="application/json"
    )
    request.META.pop("CONTENT_LENGTH", None)
    request._stream = BytesIO(b'{"ok": true}')
    middleware = ApiBodySizeLimitMiddleware(lambda request: HttpResponse(request.body))

    response = middleware(request)

    assert (response.status_code, response.content) == (200, b'{"ok": true}')


def test_the_openapi_document_describes_both_endpoints_and_the_key():
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "Loyalty CRM API"
    assert {"/api/v1/events", "/api/v1/customers"} <= set(document["paths"])
    events = document["paths"]["/api/v1/events"]["post"]
    assert {"200", "201", "400", "401", "413"} <= set(events["responses"])
    assert "all or nothing" in events["description"].lower()
    assert events["security"] == [{"ApiKeyAuth": []}]
    assert document["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    event_schema = document["components"]["schemas"]["EventIn"]
    assert event_schema["additionalProperties"] is False
    assert {"type", "occurred_at", "customer"} <= set(event_schema["required"])


def test_the_interactive_docs_are_served_without_a_cdn():
    response = Client().get("/api/v1/docs")

    assert response.status_code == 200
    assert b"/static/ninja/" in response.content
    assert b"cdn." not in response.content
