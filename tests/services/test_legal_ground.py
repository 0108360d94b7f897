"""The legal ground for marketing at send time (GD-2 … GD-4, GD-9), as a table and end to end."""
import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from campaigns.models import CountryPolicy, Message, MessageTemplate, Topic
from campaigns.services.consent import (
    consent_opt_out_offered, consent_record, country_policies_current, legal_ground,
)
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.factories import CustomerFactory, EventFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def policies(db):
    CountryPolicy.objects.create(country="SE", existing_customer_exception=True)
    CountryPolicy.objects.create(country="DK", existing_customer_exception=False)
    CountryPolicy.objects.create(
        country="NO", existing_customer_exception=True, relationship_days=365,
        relationship_min_orders=2, relationship_min_total=Decimal("2000"), membership_counts=True)
    return country_policies_current()


def buyer(*, country="SE", orders=1, spent="499", last_order_days_ago=30, opt_out_offered=True,
          tier="", consent=None):
    customer = CustomerFactory(
        country=country, order_count=orders, total_spent=Decimal(spent), tier=tier,
        last_order_at=NOW - dt.timedelta(days=last_order_days_ago) if orders else None,
    )
    if opt_out_offered:
        consent_opt_out_offered(customer=customer, at=NOW - dt.timedelta(days=400))
    if consent is not None:
        consent_record(customer=customer, granted=consent, source="api")
    return customer


def ground(customer, policies, *, similar=True, topic=Topic.OFFERS, pending=False, subscriptions=None):
    customer.refresh_from_db()
    if subscriptions is None:
        subscriptions = dict(customer.subscriptions.values_list("topic", "subscribed"))
    return legal_ground(customer=customer, topic=topic, similar_products=similar,
                        subscriptions=subscriptions, policies=policies, pending=pending, now=NOW)


CASES = [
    # (case, customer, similar products, expected ground or refusal reason)
    ("opt-in, no purchase", dict(orders=0, opt_out_offered=False, consent=True), False, "consent"),
    ("opt-in in a country without a policy", dict(country="DE", consent=True), False, "consent"),
    ("no consent, no purchase", dict(orders=0), True, "no_consent"),
    ("SE buyer, opt-out offered, similar products", {}, True, "existing_customer"),
    ("SE buyer, unrelated products", {}, False, "no_consent"),
    ("SE buyer, no opt-out offered at collection", dict(opt_out_offered=False), True, "no_consent"),
    ("SE buyer who withdrew", dict(consent=False), True, "no_consent"),
    ("DK: exception switched off", dict(country="DK"), True, "no_consent"),
    ("DE: no policy row", dict(country="DE"), True, "no_consent"),
    ("NO: one cheap purchase", dict(country="NO"), True, "no_consent"),
    ("NO: one cheap purchase long ago", dict(country="NO", orders=2, last_order_days_ago=500), True, "no_consent"),
    ("NO: repeated purchases", dict(country="NO", orders=2), True, "existing_customer"),
    ("NO: a larger purchase", dict(country="NO", spent="4999"), True, "existing_customer"),
    ("NO: a loyalty membership", dict(country="NO", tier="silver"), True, "existing_customer"),
]


@pytest.mark.parametrize("case,fields,similar,expected", CASES, ids=[c[0] for c in CASES])
def test_the_legal_ground_matrix(policies, case, fields, similar, expected):
    customer = buyer(**fields)

    result = ground(customer, policies, similar=similar)

    assert (result.ground or result.reason) == expected
    assert bool(result) is (expected in ("consent", "existing_customer"))
    assert result.detail  # always says why


def test_switching_the_exception_off_for_a_country_stops_it(policies):
    customer = buyer()
    assert ground(customer, policies).ground == "existing_customer"

    CountryPolicy.objects.filter(country="SE").update(existing_customer_exception=False)

    assert ground(customer, country_policies_current()).reason == "no_consent"


def test_a_pending_double_opt_in_blocks_even_a_consenting_customer(policies):
    customer = buyer(consent=True)

    result = ground(customer, policies, pending=True)

    assert (result.ground, result.reason) == ("", "pending_confirmation")


def test_a_topic_unsubscribe_beats_both_grounds(policies):
    opted_in, buyer_only = buyer(consent=True), buyer()
    for customer in (opted_in, buyer_only):
        consent_record(customer=customer, topic=Topic.OFFERS, granted=False, source="preference_centre")

    assert ground(opted_in, policies).reason == "no_consent"
    assert ground(buyer_only, policies).reason == "no_consent"
    assert ground(opted_in, policies, topic=Topic.SURVEYS).ground == "consent"


def test_a_pause_blocks_until_its_end(policies):
    customer = buyer(consent=True)
    customer.marketing_paused_until = NOW + dt.timedelta(days=3)
    customer.save()

    assert ground(customer, policies).reason == "paused"
    customer.marketing_paused_until = NOW
    customer.save()
    assert ground(customer, policies).ground == "consent"


def test_the_opt_out_offered_moment_is_the_first_one(policies):
    customer = buyer(opt_out_offered=False)
    consent_opt_out_offered(customer=customer, at=NOW - dt.timedelta(days=10))

    later = consent_opt_out_offered(customer=customer, at=NOW)

    customer.refresh_from_db()
    assert later is False and customer.opt_out_offered_at == NOW - dt.timedelta(days=10)


def test_the_sender_uses_the_exception_and_records_it(frozen_clock, welcome, policy, policies):
    template = welcome.steps.get().template
    template.similar_products = True
    template.save()
    sweden = buyer(country="SE")
    norway = buyer(country="NO")
    for customer in (sweden, norway):
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

    scheduler_tick(now=frozen_clock.now)

    messages_send_due(now=frozen_clock.now)

    sent = Message.objects.get(customer=sweden)
    skipped = Message.objects.get(customer=norway)
    assert (sent.state, sent.reason) == ("sent", "existing_customer")
    assert sent.ground_detail == "existing-customer exception (SE)"
    assert (skipped.state, skipped.reason) == ("skipped", "no_consent")
    assert "active customer relationship" in skipped.log.get(state="skipped").detail
    assert [m.to for m in mail.outbox] == [[sweden.email]]


@pytest.mark.parametrize("purpose", ["", "newsletter"])
def test_a_template_cannot_be_stored_unclassified(purpose):
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageTemplate.objects.create(name="Unclassified", purpose=purpose)

