"""Points: earning on orders and bonus events, refunds, tiers, FIFO expiry, reminders."""
import datetime as dt
from decimal import Decimal

import pytest

from campaigns.loyalty import months_before, points_for_amount
from campaigns.models import Customer, EarningRule, Event, Order, PointsEntry, Tier
from campaigns.services.events import events_ingest
from campaigns.services.loyalty import (
    loyalty_nightly, points_expire, points_expiring_notify, tiers_refresh,
)

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


@pytest.fixture
def rules(db):
    EarningRule.objects.create(kind="spend", currency="SEK", points_per_unit=Decimal("0.1"))
    EarningRule.objects.create(kind="spend", currency="EUR", points_per_unit=Decimal("1"))
    EarningRule.objects.create(kind="event", event_type="review.posted", points=30)


def ingest(event_id, type_, at, **extra):
    events_ingest(events=[{"event_id": event_id, "type": type_, "occurred_at": at,
                           "customer": {"external_id": "c-1", "email": "c1@example.se"},
                           **extra}])


def buy(order_id, amount, at, currency="SEK"):
    ingest(f"buy-{order_id}", "purchase", at,
           order={"external_id": order_id, "amount": Decimal(amount), "currency": currency})


def astrid():
    return Customer.objects.get(external_id="c-1")


def ledger():
    return list(PointsEntry.objects.order_by("id").values_list("kind", "delta", "balance_after"))


def test_points_for_an_amount_round_down():
    assert points_for_amount(amount=Decimal("499.00"), points_per_unit=Decimal("0.1")) == 49
    assert points_for_amount(amount=Decimal("10.99"), points_per_unit=Decimal("1")) == 10
    assert points_for_amount(amount=Decimal("5"), points_per_unit=Decimal("0")) == 0


def test_month_steps_clamp_to_the_end_of_the_month():
    assert months_before(dt.datetime(2026, 5, 31, 9, tzinfo=UTC), 3) == dt.datetime(
        2026, 2, 28, 9, tzinfo=UTC)
    assert months_before(dt.datetime(2027, 3, 2, tzinfo=UTC), 12) == dt.datetime(
        2026, 3, 2, tzinfo=UTC)


def test_an_order_earns_by_its_currency_rule_and_the_balance_is_cached(rules, frozen_clock):
    buy("o-1", "499.00", frozen_clock.now)
    buy("o-2", "20.50", frozen_clock.now, currency="EUR")
    buy("o-3", "100.00", frozen_clock.now, currency="NOK")  # no rule for NOK: nothing

    assert ledger() == [("order", 49, 49), ("order", 20, 69)]
    assert astrid().points_balance == 69


def test_a_bonus_event_earns_its_rule_and_other_events_nothing(rules, frozen_clock):
    ingest("rev-1", "review.posted", frozen_clock.now)
    ingest("wish-1", "wishlist.added", frozen_clock.now)

    assert ledger() == [("bonus", 30, 30)]
    assert PointsEntry.objects.get().event == Event.objects.get(event_id="rev-1")


def test_a_replayed_order_or_event_earns_once(rules, frozen_clock):
    buy("o-1", "499.00", frozen_clock.now)
    buy("o-1", "499.00", frozen_clock.now)  # same event id: a duplicate
    ingest("other-id", "purchase", frozen_clock.now,  # same order under another event id
           order={"external_id": "o-1", "amount": Decimal("499.00"), "currency": "SEK"})
    ingest("rev-1", "review.posted", frozen_clock.now)
    ingest("rev-1", "review.posted", frozen_clock.now)

    assert ledger() == [("order", 49, 49), ("bonus", 30, 79)]
    assert astrid().points_balance == 79


def test_a_refund_reverses_the_order_once_and_marks_it(rules, frozen_clock):
    buy("o-1", "499.00", frozen_clock.now)
    buy("o-2", "100.00", frozen_clock.now)
    ingest("refund-1", "refund", frozen_clock.advance(days=1), properties={"order": "o-1"})
    ingest("refund-1b", "order_cancelled", frozen_clock.now, properties={"order": "o-1"})
    ingest("refund-x", "refund", frozen_clock.now, properties={"order": "unknown"})

    assert ledger() == [("order", 49, 49), ("order", 10, 59), ("reversal", -49, 10)]
    assert astrid().points_balance == 10
    assert Order.objects.get(external_id="o-1").status == Order.Status.REFUNDED


@pytest.fixture
def tiers(db):
    EarningRule.objects.create(kind="spend", currency="SEK", points_per_unit=Decimal("1"))
    for name, threshold in (("bronze", 0), ("silver", 1000), ("gold", 5000)):
        Tier.objects.create(name=name, threshold=threshold)


def test_tiers_follow_points_earned_in_the_last_twelve_months(tiers, frozen_clock):
    buy("o-1", "999.00", frozen_clock.now)
    assert (astrid().tier, astrid().tier_points) == ("bronze", 999)

    buy("o-2", "1.00", frozen_clock.now)
    assert (astrid().tier, astrid().tier_points) == ("silver", 1000)

    buy("o-3", "4000.00", frozen_clock.advance(days=200))
    assert astrid().tier == "gold"

    ingest("refund-3", "refund", frozen_clock.now, properties={"order": "o-3"})
    assert (astrid().tier, astrid().tier_points) == ("silver", 1000)

    # 366 days after the first two orders they leave the window: the nightly run sees it.
    frozen_clock.set(dt.datetime(2027, 3, 3, 9, tzinfo=UTC))
    assert tiers_refresh(now=frozen_clock.now) == 1
    assert (astrid().tier, astrid().tier_points) == ("bronze", 0)


def test_expiry_takes_the_oldest_points_first_and_is_idempotent(rules, frozen_clock):
    buy("o-a", "1000.00", frozen_clock.now)  # 100 points on 2026-03-02
    buy("o-b", "500.00", frozen_clock.set(dt.datetime(2026, 6, 2, 9, tzinfo=UTC)))  # 50
    ingest("rev-1", "review.posted", frozen_clock.set(dt.datetime(2026, 9, 2, 9, tzinfo=UTC)))

    frozen_clock.set(dt.datetime(2027, 3, 2, 8, 59, tzinfo=UTC))
    assert points_expire(now=frozen_clock.now) == 0  # a minute early
    frozen_clock.set(dt.datetime(2027, 3, 2, 9, tzinfo=UTC))
    assert points_expire(now=frozen_clock.now) == 1
    assert points_expire(now=frozen_clock.now) == 0
    assert astrid().points_balance == 80

    frozen_clock.set(dt.datetime(2027, 6, 3, tzinfo=UTC))
    points_expire(now=frozen_clock.now)

    assert ledger()[-2:] == [("expiry", -100, 80), ("expiry", -50, 30)]
    assert astrid().points_balance == 30


def test_points_of_a_refunded_order_do_not_expire_a_second_time(rules, frozen_clock):
    buy("o-a", "1000.00", frozen_clock.now)  # 100
    ingest("rev-1", "review.posted", frozen_clock.now)  # 30
    ingest("refund-a", "refund", frozen_clock.advance(days=10), properties={"order": "o-a"})

    frozen_clock.set(dt.datetime(2027, 4, 1, tzinfo=UTC))
    loyalty_nightly(now=frozen_clock.now)

    assert ledger()[-1] == ("expiry", -30, 0)
    assert astrid().points_balance == 0


def test_points_expiring_is_emitted_once_the_days_before(rules, frozen_clock, settings):
    settings.POINTS_EXPIRY_REMINDER_DAYS = 30
    buy("o-a", "1000.00", frozen_clock.now)  # 100 points, expire 2027-03-02 09:00

    def notify(moment):
        return points_expiring_notify(now=frozen_clock.set(moment))

    assert notify(dt.datetime(2027, 1, 30, 9, tzinfo=UTC)) == 0  # a day too early
    assert notify(dt.datetime(2027, 1, 31, 9, tzinfo=UTC)) == 1
    assert notify(dt.datetime(2027, 1, 31, 9, tzinfo=UTC)) == 1  # rerun: no new event
    assert notify(dt.datetime(2027, 2, 1, 9, tzinfo=UTC)) == 0  # the next day: done

    event = Event.objects.get(type="points.expiring")
    assert event.customer == astrid()
    assert event.properties == {"points": 100, "expires_on": "2027-03-02"}
    assert event.event_id == f"points.expiring:{astrid().pk}:2027-03-02"


def test_no_expiry_when_it_is_switched_off(rules, frozen_clock, settings):
    settings.POINTS_EXPIRY_MONTHS = 0
    buy("o-a", "1000.00", frozen_clock.now)
    frozen_clock.set(dt.datetime(2030, 1, 1, tzinfo=UTC))

    assert loyalty_nightly(now=frozen_clock.now)["expired"] == 0
    assert astrid().points_balance == 100


def test_the_demo_reminder_campaign_tells_of_the_points_about_to_expire(rules, frozen_clock):
    from django.core import mail

    from campaigns.models import Campaign
    from campaigns.services.demo import demo_load
    from tests.test_lifecycle_journeys import run

    demo_load(customers=0)
    Campaign.objects.filter(slug="points-expiring").update(status=Campaign.Status.ACTIVE)
    Campaign.objects.exclude(slug="points-expiring").update(status=Campaign.Status.PAUSED)
    events_ingest(events=[{
        "event_id": "signup", "type": "signup", "occurred_at": frozen_clock.now,
        "customer": {"external_id": "c-1", "email": "c1@example.se", "first_name": "Astrid",
                     "locale": "en", "consent": {"marketing": True, "loyalty": True}}}])
    buy("o-a", "1000.00", frozen_clock.now)  # 100 points
    ingest("rev-1", "review.posted", frozen_clock.advance(days=200))  # 30 points, later

    frozen_clock.set(dt.datetime(2027, 1, 31, 9, tzinfo=UTC))
    loyalty_nightly(now=frozen_clock.now)
    run(frozen_clock, days=1)

    [email] = mail.outbox
    assert email.subject == "Your 100 points expire on 2027-03-02"
    assert "100 of your 130 points expire on 2027-03-02" in email.body


@pytest.mark.parametrize("fields, field", [
    ({"kind": "spend", "currency": "sek", "points_per_unit": Decimal("1")}, "currency"),
    ({"kind": "spend", "currency": "SEK", "points_per_unit": Decimal("0")}, "points_per_unit"),
    ({"kind": "event", "event_type": "", "points": 10}, "event_type"),
    ({"kind": "event", "event_type": "refund", "points": 10}, "event_type"),
    ({"kind": "event", "event_type": "review.posted", "points": None}, "points"),
])
def test_an_earning_rule_with_bad_settings_is_refused_with_the_field(fields, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        EarningRule(**fields).clean()

    assert field in refused.value.message_dict


def test_a_cancelled_order_leaves_the_customers_order_facts(rules, frozen_clock):
    buy("o-1", "499.00", frozen_clock.now)
    buy("o-2", "100.00", frozen_clock.advance(days=1))
    ingest("cancel-2", "order_cancelled", frozen_clock.advance(hours=1), properties={"order": "o-2"})

    customer = astrid()
    assert (customer.order_count, customer.total_spent) == (1, Decimal("499.00"))
    assert customer.last_order_at == Order.objects.get(external_id="o-1").placed_at


def test_a_refunded_order_still_counts_as_placed_in_the_order_facts(rules, frozen_clock):
    buy("o-1", "499.00", frozen_clock.now)
    ingest("refund-1", "refund", frozen_clock.advance(days=1), properties={"order": "o-1"})

    assert (astrid().order_count, astrid().total_spent) == (1, Decimal("499.00"))
