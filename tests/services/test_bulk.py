"""rows_insert: plain-tuple bulk inserts that report exactly the rows they inserted."""
import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import Order, Subscription
from campaigns.services.bulk import instances_insert, rows_insert
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc)


def test_inserted_rows_are_returned_and_read_back_through_the_orm():
    customer = CustomerFactory()
    orders = [Order(customer=customer, external_id=f"o-{n}", amount=Decimal("12.50") * n,
                    currency="SEK", placed_at=AT + dt.timedelta(hours=n)) for n in (1, 2)]
    rows = instances_insert(orders, returning=("id", "external_id"))
    assert sorted(external_id for _, external_id in rows) == ["o-1", "o-2"]
    stored = Order.objects.filter(customer=customer).order_by("external_id")
    assert [(o.external_id, o.amount, o.placed_at, o.status) for o in stored] == [
        ("o-1", Decimal("12.50"), AT + dt.timedelta(hours=1), "placed"),
        ("o-2", Decimal("25.00"), AT + dt.timedelta(hours=2), "placed"),
    ]
    assert {pk for pk, _ in rows} == set(stored.values_list("id", flat=True))


def test_conflicting_rows_are_skipped_and_not_reported():
    first, second = CustomerFactory(), CustomerFactory()
    Subscription.objects.create(customer=first, topic="offers", subscribed=True, updated_at=AT)
    rows = rows_insert(
        Subscription,
        [{"customer_id": first.pk, "topic": "offers", "subscribed": False, "updated_at": AT},
         {"customer_id": second.pk, "topic": "offers", "subscribed": False, "updated_at": AT}],
        returning=("customer",), skip_conflicts=True,
    )
    assert rows == [(second.pk,)]
    # The clashing row was left as it was.
    assert Subscription.objects.get(customer=first, topic="offers").subscribed is True


def test_nothing_to_insert_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rows_insert(Subscription, [], returning=("id",)) == []
