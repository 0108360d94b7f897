"""Attribution of new customers to their referrers (services/referral_attribution.py)."""
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Customer, Event, Referral, ReferralCode
from campaigns.services import bulk
from campaigns.services.customers import customer_upsert
from campaigns.services.events import events_ingest
from campaigns.services.referral_attribution import (
    REFERRAL_JOINED_EVENT, referrals_attribute,
)
from campaigns.services.referrals import REFERRAL_CODE_RE, referral_code_new
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def referrer(db):
    customer = CustomerFactory(external_id="ref-1", email="Astrid.Lindqvist@example.se")
    ReferralCode.objects.create(customer=customer, code="k7qxm2pa9tbc")
    return customer


@pytest.fixture
def pg_statements(monkeypatch) -> list[str]:
    """The statements `bulk` sends past Django's cursor on PostgreSQL (which
    CaptureQueriesContext does not see)."""
    sent, execute = [], bulk.pg_execute

    def counted(sql, params, **kwargs):
        sent.append(sql)
        return execute(sql, params, **kwargs)

    monkeypatch.setattr(bulk, "pg_execute", counted)
    return sent


def signup(external_id: str, code, *, email: str | None = None, event_id=None) -> dict:
    customer = {"external_id": external_id, "email": email or f"{external_id}@example.se"}
    if code is not None:
        customer["referral_code"] = code
    return {"event_id": event_id or f"{external_id}-s", "type": "signup",
            "occurred_at": dt.datetime(2026, 3, 2, 8, tzinfo=dt.timezone.utc),
            "customer": customer}


def test_a_new_customer_with_a_live_code_is_counted_once_and_the_referrer_hears_of_it(
        referrer, frozen_clock):
    # Two events of the same new friend in one batch: one referral.
    events_ingest(events=[signup("f-1", "k7qxm2pa9tbc"),
                          {**signup("f-1", "k7qxm2pa9tbc"), "event_id": "f-1-v",
                           "type": "page.viewed"}])

    friend = Customer.objects.get(external_id="f-1")
    referral = Referral.objects.get()
    assert (referral.referred, referral.referrer, referral.status, referral.reason) == (
        friend, referrer, "counted", "")
    assert (referral.code, referral.source, referral.referred_at, referral.reward) == (
        "k7qxm2pa9tbc", "api", frozen_clock.now, "pending")
    joined = Event.objects.get(type=REFERRAL_JOINED_EVENT)
    assert (joined.customer, joined.properties, joined.occurred_at) == (
        referrer, {"referral_id": referral.pk}, frozen_clock.now)


def test_a_code_posted_for_an_existing_customer_changes_nothing(referrer, frozen_clock):
    CustomerFactory(external_id="f-1")

    events_ingest(events=[signup("f-1", "k7qxm2pa9tbc")])
    customer_upsert(data={"external_id": "f-1", "referral_code": "k7qxm2pa9tbc"}, source="api")

    assert not Referral.objects.exists()
    assert not Event.objects.filter(type=REFERRAL_JOINED_EVENT).exists()


def test_a_code_posted_later_for_a_customer_created_earlier_in_the_batch_changes_nothing(
        referrer, frozen_clock):
    # The customer is new to the batch; the first item's code (none here) is not replaced
    # by a later one: the first code wins, and a blank code is no code.
    events_ingest(events=[signup("f-1", "  "), signup("f-1", "k7qxm2pa9tbc", event_id="x")])

    referral = Referral.objects.get()
    assert referral.status == "counted"


@pytest.mark.parametrize("code, email, reason", [
    ("zz9yx8wv7uab", None, "unknown_code"),
    ("not a code!", None, "malformed_code"),
    ("k7qxm2pa9tbc" * 7, None, "malformed_code"),
    ("k7qxm2pa9tbc", "astrid.lindqvist@EXAMPLE.se", "self_referral"),
    ("k7qxm2pa9tbc", " ASTRID.LINDQVIST@example.se", "self_referral"),
])
def test_a_code_that_cannot_count_is_ignored_with_its_reason_and_the_customer_is_created(
        referrer, frozen_clock, code, email, reason):
    [result] = referrals_attribute_via_ingest(code, email)

    friend = Customer.objects.get(external_id="f-1")
    referral = Referral.objects.get(referred=friend)
    assert (referral.status, referral.reason, referral.referrer) == ("ignored", reason, None)
    assert referral.code == code[:64]
    assert referral.reward == "not_granted"
    assert not Event.objects.filter(type=REFERRAL_JOINED_EVENT).exists()
    assert result.status == "created"


def referrals_attribute_via_ingest(code, email):
    return events_ingest(events=[signup("f-1", code, email=email)])


def test_a_revoked_code_is_ignored(referrer, frozen_clock):
    ReferralCode.objects.filter(code="k7qxm2pa9tbc").update(revoked_at=frozen_clock.now)

    events_ingest(events=[signup("f-1", "k7qxm2pa9tbc")])

    assert Referral.objects.values_list("status", "reason").get() == (
        "ignored", "revoked_code")


def test_the_code_of_an_erased_referrer_is_unknown(referrer, frozen_clock):
    Customer.objects.filter(pk=referrer.pk).update(erased_at=frozen_clock.now)

    events_ingest(events=[signup("f-1", "k7qxm2pa9tbc")])

    assert Referral.objects.values_list("status", "reason").get() == (
        "ignored", "unknown_code")


def test_ones_own_code_is_ignored(referrer, frozen_clock):
    result = referrals_attribute(new_customers=[(referrer.pk, "other@example.se", "k7qxm2pa9tbc")],
                                 source="api", now=frozen_clock.now)

    assert (result.counted, result.ignored) == (0, 1)
    assert Referral.objects.get().reason == "self_referral"


def test_text_the_database_cannot_store_is_kept_as_no_code(referrer, frozen_clock):
    friend = CustomerFactory()

    referrals_attribute(new_customers=[(friend.pk, friend.email, "Ab3\x00dE5fG7h")],
                        source="api", now=frozen_clock.now)

    assert Referral.objects.values_list("code", "reason").get() == ("", "malformed_code")


def test_the_same_friend_attributed_twice_is_counted_once(referrer, frozen_clock):
    # As two concurrent requests would: the unique referred customer decides.
    friend = CustomerFactory()
    given = [(friend.pk, friend.email, "k7qxm2pa9tbc")]

    first = referrals_attribute(new_customers=given, source="api", now=frozen_clock.now)
    second = referrals_attribute(new_customers=given, source="import", now=frozen_clock.now)

    assert (first.counted, second.counted, second.ignored) == (1, 0, 0)
    assert Referral.objects.values_list("source", flat=True).get() == "api"
    assert Event.objects.filter(type=REFERRAL_JOINED_EVENT).count() == 1


def test_customer_upsert_counts_a_code_for_a_customer_it_creates(referrer, frozen_clock):
    customer, created = customer_upsert(
        data={"external_id": "f-1", "email": "f1@example.se", "referral_code": "k7qxm2pa9tbc"},
        source="api")

    assert created
    assert Referral.objects.get().referred == customer
    assert "referral_code" not in customer.attributes


def test_a_batch_without_codes_touches_no_referral_table(
        referrer, frozen_clock, pg_statements):
    with CaptureQueriesContext(connection) as queries:
        events_ingest(events=[signup(f"f-{n}", None) for n in range(5)])
        referrals_attribute(new_customers=[(referrer.pk, referrer.email, "")], source="api",
                            now=frozen_clock.now)

    sent = [q["sql"] for q in queries] + pg_statements
    assert not [sql for sql in sent if "referral" in sql.lower()]
    assert Customer.objects.count() == 6


def test_a_batch_of_friends_costs_three_statements_whatever_its_size(
        referrer, frozen_clock, pg_statements):
    def cost(customers):
        before = len(pg_statements)
        with CaptureQueriesContext(connection) as queries:
            result = referrals_attribute(
                new_customers=[(c.pk, c.email, "k7qxm2pa9tbc") for c in customers],
                source="api", now=frozen_clock.now)
        assert result.counted == len(customers)
        return len(queries) + len(pg_statements) - before

    assert cost(CustomerFactory.create_batch(3)) == cost(CustomerFactory.create_batch(40)) == 3


def test_a_code_posted_in_capitals_or_with_spaces_still_counts(frozen_clock):
    referrer = CustomerFactory(external_id="ref-1", email="eva@example.se")
    ReferralCode.objects.create(customer=referrer, code="k7qxm2pa9tbc")
    friend = CustomerFactory(external_id="f-9", email="f9@example.se")

    result = referrals_attribute(new_customers=[(friend.pk, friend.email, " K7QXM2PA9TBC ")],
                                 source="api", now=frozen_clock.now)

    assert result.counted == 1
    assert Referral.objects.get().referrer == referrer


def test_the_code_format_is_the_one_codes_are_made_in():
    assert REFERRAL_CODE_RE.fullmatch(referral_code_new())
    assert REFERRAL_CODE_RE.fullmatch("k7qxm2pa9tbc")
    for bad in ("abc12", "x" * 25, "abc def", "abc/def", "åäöåäö", "abc%20def",
                "k7qxm2pa9tb0", "K7QXM2PA9TBC"):
        assert not REFERRAL_CODE_RE.fullmatch(bad)
