"""Ingestion is set-based: a batch's statements do not grow with the batch (habit 16)."""
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import (
    ConsentEvent, Customer, EarningRule, Event, Order, PointsEntry, Referral, ReferralCode, Tier,
)
from campaigns.services import bulk
from campaigns.services.events import events_ingest

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


@pytest.fixture
def rules(db):
    EarningRule.objects.create(kind="spend", currency="SEK", points_per_unit=Decimal("0.1"))
    EarningRule.objects.create(kind="event", event_type="review.posted", points=30)
    Tier.objects.create(name="Gold", threshold=50)


def batch(tag: str, size: int, at: dt.datetime) -> list[dict]:
    """`size` events in groups of five per customer: a signup with consent, a purchase,
    a bonus event, a refund of the purchase and an event without event_id."""
    events = []
    for n in range(size // 5):
        customer = {"external_id": f"{tag}-{n}", "email": f"c{n}@{tag}.example.se",
                    "first_name": "Astrid", "attributes": {"shoe_size": 38}}
        events += [
            {"event_id": f"{tag}-{n}-s", "type": "signup", "occurred_at": at,
             "customer": {**customer, "consent": {"marketing": True, "offers": True}}},
            {"event_id": f"{tag}-{n}-p", "type": "purchase", "occurred_at": at,
             "customer": customer,
             "order": {"external_id": f"{tag}-{n}-o", "amount": Decimal("499.00"),
                       "currency": "SEK"}},
            {"event_id": f"{tag}-{n}-r", "type": "review.posted", "occurred_at": at,
             "customer": customer},
            {"event_id": f"{tag}-{n}-x", "type": "refund", "occurred_at": at,
             "customer": customer, "properties": {"order": f"{tag}-{n}-o"}},
            {"type": "wishlist.added", "occurred_at": at, "customer": customer},
        ]
    return events


def statements(events: list[dict]) -> int:
    with CaptureQueriesContext(connection) as queries:
        results = events_ingest(events=events)
    assert [r.status for r in results] == ["created"] * len(events)
    return len(queries)


def test_a_batch_of_100_events_takes_the_statements_of_a_batch_of_10(rules, frozen_clock):
    few = statements(batch("a", 10, frozen_clock.now))

    many = statements(batch("b", 100, frozen_clock.now))

    assert many == few
    assert (Event.objects.count(), Order.objects.count()) == (110, 22)
    customer = Customer.objects.get(external_id="b-19")
    # 49 points for the order, taken back by the refund; 30 for the review.
    assert (customer.points_balance, customer.tier_points, customer.tier) == (30, 30, "")
    assert Order.objects.get(external_id="b-19-o").status == "refunded"
    assert (customer.order_count, customer.marketing_consent) == (1, True)
    assert ConsentEvent.objects.filter(customer=customer).count() == 2
    assert PointsEntry.objects.count() == 22 * 3


def test_a_second_batch_for_the_same_customers_also_costs_the_same(rules, frozen_clock):
    statements(batch("a", 10, frozen_clock.now))
    statements(batch("b", 100, frozen_clock.now))
    later = frozen_clock.advance(days=1)
    changed = [{**e, "event_id": f"{e.get('event_id')}-2" if e.get("event_id") else None,
                "customer": {**e["customer"], "first_name": "Åsa"}}
               for e in batch("a", 10, later) if e["type"] in {"signup", "review.posted"}]
    changed_many = [{**e, "event_id": f"{e.get('event_id')}-2" if e.get("event_id") else None,
                     "customer": {**e["customer"], "first_name": "Åsa"}}
                    for e in batch("b", 100, later) if e["type"] in {"signup", "review.posted"}]

    assert statements(changed_many) == statements(changed)
    customer = Customer.objects.get(external_id="b-0")
    assert (customer.first_name, customer.points_balance, customer.tier) == ("Åsa", 60, "Gold")
    assert customer.signed_up_at == frozen_clock.now - dt.timedelta(days=1)


def with_referral_codes(events: list[dict]) -> list[dict]:
    """The events with a referral code on every item of each customer: a live one, an
    unknown one and a malformed one in turn."""
    codes = ["k7qxm2pa9tbc", "zz9yx8wv7uab", "not a code"]
    return [{**e, "customer": {**e["customer"], "referral_code": codes[
        int(e["customer"]["external_id"].rsplit("-", 1)[1]) % 3]}} for e in events]


def test_referral_codes_add_a_fixed_number_of_statements_not_one_per_event(
        rules, frozen_clock, monkeypatch):
    # On PostgreSQL bulk writes go past Django's cursor: count them too.
    sent, execute = [], bulk.pg_execute
    monkeypatch.setattr(bulk, "pg_execute",
                        lambda *args, **kwargs: sent.append(1) or execute(*args, **kwargs))

    def statements_all(events):
        before = len(sent)
        return statements(events) + len(sent) - before

    referrer = Customer.objects.create(external_id="ref", email="ref@example.se")
    ReferralCode.objects.create(customer=referrer, code="k7qxm2pa9tbc")
    plain = statements_all(batch("p", 10, frozen_clock.now))

    few = statements_all(with_referral_codes(batch("a", 10, frozen_clock.now)))
    many = statements_all(with_referral_codes(batch("b", 100, frozen_clock.now)))

    # One SELECT of the codes, one INSERT of the referrals, one of the referrer's events.
    assert many == few == plain + 3
    assert Referral.objects.filter(status="counted").count() == 1 + 7
    assert Referral.objects.filter(reason="unknown_code").count() == 1 + 7
    assert Referral.objects.filter(reason="malformed_code").count() == 6
    assert Event.objects.filter(type="referral.joined", customer=referrer).count() == 8
