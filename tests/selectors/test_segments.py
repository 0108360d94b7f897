"""Segment reads: count and sample, and the "why (not) in the segment" explanation."""
import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import AttributeDefinition, Customer
from campaigns.selectors.segments import (
    segment_count, segment_customers, segment_explain, segment_sample,
)
from tests.factories import CustomerFactory, EventFactory, OrderFactory

RULE = {"all": [
    {"field": "country", "op": "in", "value": ["SE", "NO"]},
    {"any": [{"field": "order_count", "op": ">=", "value": 2, "window": {"last_days": 90}},
             {"attribute": "shoe_size", "op": ">=", "value": 42}]},
    {"not": {"field": "event", "event_type": "complaint", "op": "did"}},
]}


@pytest.fixture
def shoppers(db, frozen_clock):
    AttributeDefinition.objects.create(key="shoe_size", type="number", label="shoe size")
    now = frozen_clock.now
    people = {}
    for name, country, orders, shoe, complained in (
        ("buyer", "SE", 2, None, False), ("bigfoot", "NO", 0, 44, False),
        ("complainer", "SE", 3, None, True), ("dane", "DK", 5, 45, False),
        ("quiet", "SE", 1, 40, False),
    ):
        customer = CustomerFactory(external_id=name, country=country,
                                   attributes={"shoe_size": shoe} if shoe else {})
        for i in range(orders):
            OrderFactory(customer=customer, placed_at=now - dt.timedelta(days=10 + i),
                         amount=Decimal("100"))
        if complained:
            EventFactory(customer=customer, type="complaint")
        people[name] = customer
    return people


def test_count_and_sample(shoppers):
    assert segment_count(RULE) == 2
    sample = segment_sample(RULE, limit=1)
    assert [c.external_id for c in sample] == ["bigfoot"]  # newest first


def test_the_explanation_agrees_with_membership_for_everyone(shoppers):
    members = set(segment_customers(RULE).values_list("pk", flat=True))
    assert {c.external_id for c in Customer.objects.filter(pk__in=members)} == {"buyer", "bigfoot"}
    for customer in Customer.objects.all():
        explanation = segment_explain(RULE, customer)
        assert explanation.member == (customer.pk in members), customer.external_id
        assert explanation.lines[0].passed == explanation.member


def test_the_explanation_shows_each_condition_with_the_customers_value(shoppers):
    explanation = segment_explain(RULE, shoppers["complainer"])

    assert not explanation.member
    text = [str(line) for line in explanation.lines]
    assert text == [
        "✘ Not in the segment.",
        "  ✘ All of these must hold (2 of 3 hold)",
        "    ✔ country is one of SE, NO — this customer: SE",
        "    ✔ At least one of these must hold (1 of 2 hold)",
        "      ✔ number of orders in the last 90 days ≥ 2 — this customer: 3",
        "      ✘ custom attribute 'shoe size' ≥ 42 — this customer: not set",
        "    ✘ NOT the following (it must fail)",
        "      ✔ did event 'complaint' — this customer: 1 time",
    ]


def test_the_explanation_follows_the_clock(shoppers, frozen_clock):
    assert segment_explain(RULE, shoppers["buyer"]).member
    frozen_clock.advance(days=85)  # the two orders are now 95 and 96 days old
    explanation = segment_explain(RULE, shoppers["buyer"])
    assert not explanation.member
    assert "number of orders in the last 90 days ≥ 2 — this customer: 0" in str(explanation)


def test_an_erased_customer_is_explained_as_erased(shoppers, frozen_clock):
    Customer.objects.filter(pk=shoppers["buyer"].pk).update(erased_at=frozen_clock.now)
    explanation = segment_explain(RULE, shoppers["buyer"])
    assert not explanation.member
    assert explanation.lines[0].text == "Not in the segment: the customer's data was erased."


def test_explanation_values_for_consent_nps_and_money(shoppers):
    customer = shoppers["quiet"]
    customer.total_spent, customer.order_count, customer.marketing_consent = Decimal("999"), 2, True
    customer.save()
    rule = {"all": [{"field": "avg_order_value", "op": ">", "value": 400},
                    {"field": "consent", "op": "given", "value": "offers"},
                    {"field": "nps_group", "op": "is", "value": "promoter"},
                    {"field": "total_spent", "op": ">", "value": 0, "window": {"last_days": 30}}]}
    lines = [str(line).strip() for line in segment_explain(rule, customer).lines[2:]]
    assert lines == [
        "✔ average order value > 400 — this customer: 499.50",
        "✔ consent is given for Offers — this customer: marketing consent yes; offers: never asked",
        "✘ latest NPS group is Promoter (9–10) — this customer: never answered",
        "✔ total spent in the last 30 days > 0 — this customer: 100.00",
    ]
