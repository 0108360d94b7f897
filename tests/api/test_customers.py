"""POST /api/v1/customers: one customer upserted by external_id."""

import datetime as dt

import pytest

from campaigns.models import ConsentEvent, Customer, Subscription, Topic
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ASTRID = {
    "external_id": "c-42",
    "email": "astrid@example.se",
    "first_name": "Astrid",
    "last_name": "Lindqvist",
    "locale": "sv_se",
    "time_zone": "Europe/Stockholm",
    "country": "se",
    "signed_up_at": "2026-01-15T10:00:00+01:00",
    "attributes": {"tier": "gold", "birth_year": 1990},
}


def test_a_new_customer_is_created_with_201(api):
    response = api.post("customers", ASTRID)

    assert response.status_code == 201
    assert response.json() == {"external_id": "c-42", "created": True}
    customer = Customer.objects.get(external_id="c-42")
    assert (customer.email, customer.locale, customer.country) == (
        "astrid@example.se",
        "sv-SE",
        "SE",
    )
    assert customer.signed_up_at == dt.datetime(2026, 1, 15, 9, tzinfo=dt.timezone.utc)
    assert customer.attributes == {"tier": "gold", "birth_year": 1990}


def test_an_existing_customer_is_updated_with_200_and_keeps_what_is_not_sent(api):
    CustomerFactory(
        external_id="c-42",
        email="old@example.se",
        first_name="Ann",
        last_name="Berg",
        attributes={"tier": "silver", "pets": 2},
    )

    response = api.post(
        "customers",
        {
            "external_id": "c-42",
            "first_name": "Astrid",
            "last_name": None,
            "attributes": {"tier": "gold", "pets": None},
        },
    )

    assert response.status_code == 200
    assert response.json() == {"external_id": "c-42", "created": False}
    customer = Customer.objects.get(external_id="c-42")
    assert (customer.email, customer.first_name, customer.last_name) == (
        "old@example.se",
        "Astrid",
        "",
    )
    assert customer.attributes == {"tier": "gold"}


def test_consent_per_topic_is_recorded_with_source_api(api):
    response = api.post(
        "customers", {**ASTRID, "consent": {"marketing": True, "surveys": False}}
    )

    assert response.status_code == 201
    customer = Customer.objects.get(external_id="c-42")
    assert customer.marketing_consent is True
    assert dict(
        Subscription.objects.filter(customer=customer).values_list(
            "topic", "subscribed"
        )
    ) == {
        Topic.MARKETING: True,
        Topic.SURVEYS: False,
    }
    assert set(ConsentEvent.objects.values_list("source", flat=True)) == {"api"}


def test_withdrawing_consent_through_the_api_clears_the_flag(api):
    api.post("customers", {**ASTRID, "consent": {"marketing": True}})

    api.post("customers", {"external_id": "c-42", "consent": {"marketing": False}})

    assert Customer.objects.get(external_id="c-42").marketing_consent is False
    assert list(
        ConsentEvent.objects.order_by("id").values_list("granted", flat=True)
    ) == [True, False]


def test_a_new_customer_needs_an_email(api):
    response = api.post("customers", {"external_id": "c-42", "first_name": "Astrid"})

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "field": "email",
                "message": "Required: no customer has this external_id yet.",
            }
        ]
    }
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"email": "nope"}, "email"),
        ({"time_zone": "CET+1"}, "time_zone"),
        ({"signed_up_at": "2026-01-15T10:00:00"}, "signed_up_at"),
        ({"nickname": "Asse"}, "nickname"),
        ({"consent": {"marketing": 1}}, "consent.marketing"),
        ({"email_verified": "yes"}, "email_verified"),
        ({"external_id": None}, "external_id"),
    ],
)
def test_a_bad_customer_is_rejected_naming_the_field(api, changes, field):
    response = api.post("customers", {**ASTRID, **changes})

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not Customer.objects.exists()
