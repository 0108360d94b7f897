"""Fixtures for the ingestion API: a key, a client that sends it, payload builders."""

import copy

import pytest
from django.test import Client

from campaigns.services.api_keys import api_key_create


@pytest.fixture
def api_key(db):
    """The plaintext of an active key."""
    _, plaintext = api_key_create(name="webshop")
    return plaintext


class ApiClient:
    """Posts JSON to /api/v1/ with the key; returns the response."""

    def __init__(self, key: str | None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
        self.client = Client(**headers)

    def post(self, path: str, body, **extra):
        # The test client encodes dicts and lists as JSON; str and bytes go as they are.
        return self.client.post(
            f"/api/v1/{path}", body, content_type="application/json", **extra
        )


@pytest.fixture
def api(api_key, frozen_clock):
    return ApiClient(api_key)


SIGNUP = {
    "event_id": "shop-123",
    "type": "signup",
    "occurred_at": "2026-03-02T09:30:00Z",
    "customer": {
        "external_id": "c-42",
        "email": "astrid@example.se",
        "first_name": "Astrid",
        "locale": "sv",
        "time_zone": "Europe/Stockholm",
        "consent": {"marketing": True},
    },
}

PURCHASE = {
    "event_id": "shop-124",
    "type": "purchase",
    "occurred_at": "2026-03-02T09:45:00Z",
    "customer": {"external_id": "c-42", "email": "astrid@example.se"},
    "order": {"external_id": "o-9", "amount": "499.00", "currency": "SEK"},
}


def payload(base: dict, **changes) -> dict:
    """A deep copy of `base`; `changes` use "__" for nesting (customer__email="x").

    A value of `...` removes the key.
    """
    result = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = result
        for key in parents:
            target = target.setdefault(key, {})
        if value is ...:
            target.pop(last, None)
        else:
            target[last] = value
    return result
