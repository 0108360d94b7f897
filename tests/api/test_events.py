"""POST /api/v1/events: storing events, their customers and orders, once."""

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import ConsentEvent, Customer, Event, Order, Subscription, Topic
from tests.api.conftest import PURCHASE, SIGNUP, payload
from tests.factories import CustomerFactory, EventFactory

pytestmark = pytest.mark.django_db

UTC = dt.timezone.utc


def test_a_signup_creates_the_customer_and_the_event(api):
    response = api.post("events", SIGNUP)

    assert response.status_code == 201
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "results": [{"index": 0, "event_id": "shop-123", "status": "created"}],
    }
    customer = Customer.objects.get(external_id="c-42")
    assert (
        customer.email,
        customer.first_name,
        customer.locale,
        customer.time_zone,
    ) == ("astrid@example.se", "Astrid", "sv", "Europe/Stockholm")
    assert customer.signed_up_at == dt.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    event = Event.objects.get(event_id="shop-123")
    assert (event.customer, event.type, event.occurred_at) == (
        customer,
        "signup",
        dt.datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    )


def test_a_signup_keeps_an_earlier_sign_up_time(api):
    earlier = dt.datetime(2025, 1, 1, tzinfo=UTC)
    CustomerFactory(external_id="c-42", signed_up_at=earlier)

    api.post("events", SIGNUP)

    assert Customer.objects.get(external_id="c-42").signed_up_at == earlier


def test_consent_in_the_payload_is_recorded_with_source_api(api):
    api.post(
        "events",
        payload(
            SIGNUP, customer__wording_version="2026-01", customer__email_verified=True
        ),
    )

    customer = Customer.objects.get(external_id="c-42")
    assert customer.marketing_consent is True
    event = ConsentEvent.objects.get(customer=customer)
    assert (
        event.topic,
        event.granted,
        event.source,
        event.wording_version,
        event.method,
    ) == (Topic.MARKETING, True, "api", "2026-01", "email_verified")


def test_a_late_consent_answer_does_not_undo_a_newer_withdrawal(api):
    api.post("events", SIGNUP)
    customer = Customer.objects.get(external_id="c-42")
    Subscription.objects.filter(customer=customer).update(
        subscribed=False, updated_at=dt.datetime(2026, 3, 2, 9, 40, tzinfo=UTC)
    )
    Customer.objects.filter(pk=customer.pk).update(marketing_consent=False)

    # A webhook from 09:35 arrives after the customer said no at 09:40.
    api.post(
        "events",
        payload(SIGNUP, event_id="shop-late", occurred_at="2026-03-02T09:35:00Z"),
    )

    customer.refresh_from_db()
    assert customer.marketing_consent is False
    assert ConsentEvent.objects.filter(customer=customer).count() == 1


def test_a_purchase_records_the_order_and_updates_the_lifecycle_facts(api):
    api.post("events", SIGNUP)

    response = api.post("events", PURCHASE)

    assert response.status_code == 201
    customer = Customer.objects.get(external_id="c-42")
    order = Order.objects.get(external_id="o-9")
    assert (order.customer, order.amount, order.currency) == (
        customer,
        Decimal("499.00"),
        "SEK",
    )
    assert order.placed_at == dt.datetime(2026, 3, 2, 9, 45, tzinfo=UTC)
    assert Event.objects.get(event_id="shop-124").order == order
    assert (customer.order_count, customer.total_spent) == (1, Decimal("499.00"))
    assert customer.first_order_at == customer.last_order_at == order.placed_at


def test_a_purchase_posted_twice_counts_once(api):
    api.post("events", PURCHASE)

    response = api.post("events", PURCHASE)

    assert response.status_code == 200
    assert response.json()["duplicates"] == 1
    customer = Customer.objects.get(external_id="c-42")
    assert (customer.order_count, customer.total_spent) == (1, Decimal("499.00"))
    assert Event.objects.filter(type="purchase").count() == 1


def test_the_same_order_under_a_new_event_id_is_linked_but_not_counted_again(api):
    api.post("events", PURCHASE)

    response = api.post("events", payload(PURCHASE, event_id="shop-999"))

    assert response.json()["accepted"] == 1
    customer = Customer.objects.get(external_id="c-42")
    assert (customer.order_count, customer.total_spent) == (1, Decimal("499.00"))
    assert Event.objects.get(event_id="shop-999").order.external_id == "o-9"


def test_orders_add_up_and_widen_the_first_and_last_order_times(api):
    api.post("events", PURCHASE)
    api.post(
        "events",
        payload(
            PURCHASE,
            event_id="shop-125",
            occurred_at="2026-02-01T12:00:00+01:00",
            order__external_id="o-10",
            order__amount="100.50",
        ),
    )

    customer = Customer.objects.get(external_id="c-42")
    assert (customer.order_count, customer.total_spent) == (2, Decimal("599.50"))
    assert customer.first_order_at == dt.datetime(2026, 2, 1, 11, tzinfo=UTC)
    assert customer.last_order_at == dt.datetime(2026, 3, 2, 9, 45, tzinfo=UTC)


def test_a_duplicate_event_id_is_a_no_op(api):
    api.post("events", SIGNUP)

    response = api.post(
        "events",
        payload(
            SIGNUP,
            customer__first_name="Changed",
            customer__consent={"marketing": False},
        ),
    )

    assert response.status_code == 200
    assert response.json() == {
        "accepted": 0,
        "duplicates": 1,
        "results": [{"index": 0, "event_id": "shop-123", "status": "duplicate"}],
    }
    customer = Customer.objects.get(external_id="c-42")
    assert (customer.first_name, customer.marketing_consent) == ("Astrid", True)
    assert Event.objects.count() == 1
    assert ConsentEvent.objects.count() == 1


def test_events_without_event_id_are_stored_every_time(api):
    anonymous = payload(SIGNUP, event_id=...)

    api.post("events", anonymous)
    response = api.post("events", anonymous)

    assert response.json()["results"] == [
        {"index": 0, "event_id": None, "status": "created"}
    ]
    assert Event.objects.count() == 2


def test_a_custom_event_type_is_stored_with_its_properties(api):
    api.post("events", SIGNUP)

    api.post(
        "events",
        {
            "event_id": "w-1",
            "type": "wishlist.added",
            "occurred_at": "2026-03-01T08:00:00Z",
            "customer": {"external_id": "c-42"},
            "properties": {"sku": "A-1", "price": 10},
        },
    )

    assert Event.objects.get(event_id="w-1").properties == {"sku": "A-1", "price": 10}


def test_an_event_for_a_known_customer_needs_no_email_and_changes_only_what_is_sent(
    api,
):
    customer = CustomerFactory(
        external_id="c-42", email="old@example.se", first_name="Ann"
    )

    api.post(
        "events", payload(SIGNUP, customer={"external_id": "c-42", "last_name": "Berg"})
    )

    customer.refresh_from_db()
    assert (customer.email, customer.first_name, customer.last_name) == (
        "old@example.se",
        "Ann",
        "Berg",
    )


def test_a_batch_is_stored_with_one_result_per_item(api):
    batch = [
        SIGNUP,
        PURCHASE,
        payload(SIGNUP, event_id="shop-123"),  # repeated within the batch
    ]

    response = api.post("events", batch)

    assert response.status_code == 201
    assert response.json() == {
        "accepted": 2,
        "duplicates": 1,
        "results": [
            {"index": 0, "event_id": "shop-123", "status": "created"},
            {"index": 1, "event_id": "shop-124", "status": "created"},
            {"index": 2, "event_id": "shop-123", "status": "duplicate"},
        ],
    }
    assert Event.objects.count() == 2


def test_a_later_batch_item_may_rely_on_a_customer_created_by_an_earlier_one(api):
    batch = [SIGNUP, payload(PURCHASE, customer={"external_id": "c-42"})]

    response = api.post("events", batch)

    assert response.status_code == 201
    assert Customer.objects.get(external_id="c-42").order_count == 1


def test_an_already_stored_event_in_a_batch_is_reported_as_duplicate(api):
    EventFactory(event_id="shop-123", customer=CustomerFactory(external_id="c-42"))

    response = api.post("events", [SIGNUP, PURCHASE])

    assert [r["status"] for r in response.json()["results"]] == ["duplicate", "created"]


def test_a_batch_of_a_thousand_events_is_accepted(api):
    batch = [payload(SIGNUP, event_id=f"e-{n}") for n in range(1000)]

    response = api.post("events", batch)

    assert response.status_code == 201
    assert response.json()["accepted"] == 1000
    assert Event.objects.count() == 1000


def test_nothing_personal_is_logged(api, caplog):
    caplog.set_level("DEBUG")

    api.post("events", [SIGNUP, PURCHASE])
    api.post("events", payload(SIGNUP, event_id="e-bad", customer__email="astrid@"))

    assert caplog.records
    for secret in ("astrid", "Astrid", "c-42", "o-9", "499"):
        assert secret not in caplog.text
