"""POST /api/v1/coupons/redeem: once, by its customer, before it expires; retries safe."""
import datetime as dt
import threading

import pytest
from django.db import connection

from campaigns.models import Coupon
from tests.api.conftest import ApiClient
from tests.factories import CustomerFactory

UTC = dt.timezone.utc


def coupon(code="K7QX-M2PA-9T", days=30, now=None):
    now = now or dt.datetime(2026, 3, 2, 9, tzinfo=UTC)
    return Coupon.objects.create(code=code, customer=CustomerFactory(external_id="c-42"),
                                 expires_at=now + dt.timedelta(days=days), issued_at=now)


def redeem(api, code="K7QX-M2PA-9T", customer="c-42", order="o-1"):
    return api.post("coupons/redeem", {"code": code, "customer_external_id": customer,
                                       "order_id": order})


@pytest.mark.django_db
def test_a_coupon_is_redeemed_once_and_a_retry_for_the_same_order_is_a_no_op(api, frozen_clock):
    coupon()

    first = redeem(api, code="k7qx-m2pa-9t")  # typed in lower case
    frozen_clock.advance(minutes=5)
    retry = redeem(api)

    assert first.status_code == 200
    assert first.json()["status"] == "redeemed"
    assert (retry.status_code, retry.json()["status"]) == (200, "already_redeemed")
    used = Coupon.objects.get()
    assert (used.redeemed_order, used.redeemed_at) == ("o-1", dt.datetime(2026, 3, 2, 9, tzinfo=UTC))


@pytest.mark.django_db
def test_a_used_coupon_on_another_order_is_a_conflict(api):
    coupon()
    redeem(api)

    response = redeem(api, order="o-2")

    assert response.status_code == 409
    assert response.json() == {"errors": [
        {"field": "code", "message": "This coupon was already used on another order."}]}
    assert Coupon.objects.get().redeemed_order == "o-1"


@pytest.mark.django_db
def test_an_expired_coupon_is_a_conflict(api, frozen_clock):
    coupon(days=30)
    frozen_clock.advance(days=30)

    response = redeem(api)

    assert response.status_code == 409
    assert "expired" in response.json()["errors"][0]["message"]
    assert Coupon.objects.get().redeemed_at is None


@pytest.mark.django_db
def test_another_customers_coupon_is_a_conflict_and_an_unknown_code_not_found(api):
    coupon()
    CustomerFactory(external_id="c-43")

    other = redeem(api, customer="c-43")
    unknown = redeem(api, code="NOPE-NOPE-NO")
    invalid = api.post("coupons/redeem", {"code": "X"})

    assert other.status_code == 409
    assert unknown.status_code == 404
    assert invalid.status_code == 400
    assert Coupon.objects.get().redeemed_at is None


@pytest.mark.django_db
def test_redeeming_needs_an_api_key(frozen_clock):
    assert redeem(ApiClient(None)).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_two_redeems_at_once_for_different_orders_one_wins(api_key):
    coupon(days=3650)
    barrier = threading.Barrier(2)
    statuses = []

    def post(order):
        try:
            barrier.wait(timeout=10)
            statuses.append(redeem(ApiClient(api_key), order=order).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(f"o-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200, 409]
    assert Coupon.objects.get().redeemed_order in {"o-0", "o-1"}
