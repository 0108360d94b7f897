"""The API's customer object takes the referral code a new customer arrived with."""
import threading

import pytest
from django.db import connection

from campaigns.models import Customer, Event, Referral, ReferralCode
from tests.api.conftest import SIGNUP, ApiClient, payload
from tests.api.test_validation import errors_of
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CODE = "k7qxm2pa9tbc"
FRIEND = {"external_id": "f-1", "email": "friend@example.se", "referral_code": CODE}


@pytest.fixture
def referrer(db):
    customer = CustomerFactory(external_id="ref-1", email="astrid@example.org")
    ReferralCode.objects.create(customer=customer, code=CODE)
    return customer


def test_a_customer_created_with_a_code_is_counted_for_the_referrer(api, referrer):
    response = api.post("customers", FRIEND)

    assert response.status_code == 201
    referral = Referral.objects.get()
    assert (referral.referred.external_id, referral.referrer, referral.status,
            referral.source) == ("f-1", referrer, "counted", "api")


def test_posting_the_same_customer_again_counts_nothing_more(api, referrer):
    api.post("customers", FRIEND)

    response = api.post("customers", {**FRIEND, "first_name": "Sam"})

    assert response.status_code == 200
    assert Referral.objects.count() == 1
    assert Event.objects.filter(type="referral.joined").count() == 1


def test_an_event_for_a_new_customer_carries_the_code(api, referrer):
    response = api.post("events", payload(SIGNUP, customer__referral_code=CODE))

    assert response.status_code == 201
    assert Referral.objects.get().referred == Customer.objects.get(external_id="c-42")


def test_an_unknown_code_is_recorded_as_ignored_and_the_customer_is_created(api, referrer):
    response = api.post("customers", {**FRIEND, "referral_code": "qqqqwwwweeee"})

    assert response.status_code == 201
    assert Referral.objects.values_list("status", "reason").get() == (
        "ignored", "unknown_code")


@pytest.mark.parametrize("path, body, field", [
    ("customers", {**FRIEND, "referral_code": "x" * 65}, "referral_code"),
    ("customers", {**FRIEND, "referral_code": f"Ab3{chr(0)}dE5fG7h"}, "referral_code"),
    ("customers", {**FRIEND, "referral_code": 12345678}, "referral_code"),
    ("events", payload(SIGNUP, customer__referral_code="x" * 65), "customer.referral_code"),
    ("events", payload(SIGNUP, customer__referral_code=f"{chr(0)}"), "customer.referral_code"),
    ("events", payload(SIGNUP, customer__referral_code=["k7qxm2pa9tbc"]),
     "customer.referral_code"),
])
def test_a_code_that_is_not_storable_text_is_a_400_naming_the_field(
        api, referrer, path, body, field):
    response = api.post(path, body)

    assert [error["field"] for error in errors_of(response)] == [field]
    assert not Customer.objects.exclude(pk=referrer.pk).exists()
    assert not Referral.objects.exists()


def test_the_schema_describes_the_field(api):
    schema = api.client.get("/api/v1/openapi.json").json()

    customer = schema["components"]["schemas"]["CustomerIn"]["properties"]
    assert customer["referral_code"]["anyOf"][0]["maxLength"] == 64


@pytest.mark.django_db(transaction=True)
def test_two_posts_of_the_same_new_friend_at_once_count_one_referral(api_key, referrer):
    barrier = threading.Barrier(2)
    statuses = []
    bodies = [payload(SIGNUP, customer__referral_code=CODE),
              payload(SIGNUP, event_id="shop-999", customer__referral_code=CODE)]

    def post(body):
        try:
            barrier.wait(timeout=10)
            statuses.append(ApiClient(api_key).post("events", body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [201, 201]
    assert Customer.objects.filter(external_id="c-42").count() == 1
    assert Referral.objects.filter(status="counted").count() == 1
    assert Event.objects.filter(type="referral.joined", customer=referrer).count() == 1
