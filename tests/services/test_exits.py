"""Journey exits re-check only what changed since the last check (services/exits.py)."""
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign, Enrollment, Event, EventLine, Order, OrderLine
from campaigns.services.exits import EXIT_SWEEP_EVERY, enrollments_exit
from campaigns.services.planning import enrollments_plan
from tests.factories import CampaignFactory, CustomerFactory, EventFactory

pytestmark = pytest.mark.django_db
MINUTE = dt.timedelta(minutes=1)


def cart_journey(**fields) -> Campaign:
    return CampaignFactory(trigger_event_type="checkout.started", exit_event_types=["purchase"],
                           trigger_config={"exit_on_purchase_of_items": True}, **fields)


def cart(customer, at, sku="COF-1") -> Event:
    event = EventFactory(customer=customer, type="checkout.started", occurred_at=at)
    EventLine.objects.create(event=event, customer=customer, sku=sku, quantity=1,
                             price=Decimal("99.00"), occurred_at=at)
    return event


def tick(clock, minutes=1) -> int:
    """A minute passes and the tick plans and checks the exits."""
    clock.advance(minutes=minutes)
    enrollments_plan(now=clock.now)
    return enrollments_exit(now=clock.now)


def settled(clock, customers):
    """Carts left for `customers` and a quarter of an hour of ticks since: every check
    from now on has a trailing floor, and the first check's sweep is behind."""
    campaign = cart_journey()
    for customer in customers:
        cart(customer, clock.now - 5 * MINUTE)
    for _ in range(15):
        tick(clock)
    return campaign


def swept_at(campaign) -> str:
    campaign.refresh_from_db()
    return campaign.exit_watermark["swept_at"]


def enrollment_updates(queries) -> list[str]:
    table = Enrollment._meta.db_table
    return [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and table in q["sql"]]


def test_an_exit_event_committed_after_a_larger_id_was_read_still_ends_the_journey(frozen_clock):
    customer = CustomerFactory()
    campaign = settled(frozen_clock, [customer])
    sweep = swept_at(campaign)
    # A transaction takes an id, another commits a larger one, and the tick reads that.
    taken = EventFactory(type="page.viewed", occurred_at=frozen_clock.now)
    EventFactory(type="page.viewed", occurred_at=frozen_clock.now)
    assert tick(frozen_clock) == 0
    taken_id = taken.pk
    taken.delete()

    # Then the first transaction commits: a purchase, behind the id the tick read.
    Event.objects.create(id=taken_id, customer=customer, type="purchase",
                         occurred_at=frozen_clock.now - MINUTE / 2)
    assert tick(frozen_clock) == 1

    assert campaign.enrollments.get().state == Enrollment.State.EXITED
    assert swept_at(campaign) == sweep  # by the watermark, not the hourly sweep


def test_an_idle_check_updates_nothing_and_costs_the_same_for_few_and_many_journeys(frozen_clock):
    campaign = settled(frozen_clock, [CustomerFactory() for _ in range(3)])

    def idle_check():
        frozen_clock.advance(minutes=1)
        with CaptureQueriesContext(connection) as queries:
            assert enrollments_exit(now=frozen_clock.now) == 0
        return queries

    few = idle_check()
    for _ in range(27):
        cart(CustomerFactory(), frozen_clock.now)
    for _ in range(12):
        tick(frozen_clock)
    many = idle_check()

    assert campaign.enrollments.filter(state=Enrollment.State.ACTIVE).count() == 30
    assert enrollment_updates(few) == enrollment_updates(many) == []
    assert len(few) == len(many)


def test_the_hourly_sweep_ends_a_journey_the_watermark_missed(frozen_clock):
    customer = CustomerFactory()
    taken = EventFactory(type="page.viewed", occurred_at=frozen_clock.now)
    campaign = settled(frozen_clock, [customer])
    taken_id = taken.pk
    taken.delete()
    # A transaction far longer than the lag commits a purchase with an id taken before
    # every mark the checks keep.
    Event.objects.create(id=taken_id, customer=customer, type="purchase",
                         occurred_at=frozen_clock.now - MINUTE / 2)

    assert tick(frozen_clock) == 0
    assert campaign.enrollments.get().state == Enrollment.State.ACTIVE

    minutes = int(EXIT_SWEEP_EVERY / MINUTE)
    assert sum(tick(frozen_clock) for _ in range(minutes)) == 1
    assert campaign.enrollments.get().exit_reason == "exit_event"


def test_an_exit_event_dated_ahead_ends_the_journey_when_its_time_comes(frozen_clock):
    customer = CustomerFactory()
    campaign = settled(frozen_clock, [customer])
    sweep = swept_at(campaign)
    at = frozen_clock.now + 20 * MINUTE + MINUTE / 2
    EventFactory(customer=customer, type="purchase", occurred_at=at)

    exits = [tick(frozen_clock) for _ in range(21)]

    assert exits == [0] * 20 + [1]
    assert swept_at(campaign) == sweep


def test_buying_the_cart_s_item_ends_it_at_the_next_check_and_an_order_placed_ahead_on_time(
        frozen_clock):
    now_buyer, later_buyer = CustomerFactory(), CustomerFactory()
    campaign = settled(frozen_clock, [now_buyer, later_buyer])
    for customer, at in ((now_buyer, frozen_clock.now), (later_buyer, frozen_clock.now + 15 * MINUTE)):
        order = Order.objects.create(customer=customer, external_id=f"o-{customer.pk}",
                                     amount=Decimal("99.00"), currency="SEK", placed_at=at)
        OrderLine.objects.create(order=order, customer=customer, sku="COF-1", quantity=1,
                                 placed_at=at)

    exits = [tick(frozen_clock) for _ in range(15)]

    assert exits == [1] + [0] * 13 + [1]
    assert set(campaign.enrollments.values_list("exit_reason", flat=True)) == {"purchase_of_items"}


def test_a_new_exit_rule_saved_on_the_campaign_applies_to_what_happened_before(frozen_clock):
    customer = CustomerFactory()
    campaign = settled(frozen_clock, [customer])
    EventFactory(customer=customer, type="unsubscribed", occurred_at=frozen_clock.now)
    for _ in range(12):
        tick(frozen_clock)

    campaign.refresh_from_db()
    campaign.exit_event_types = ["purchase", "unsubscribed"]
    campaign.save()

    assert tick(frozen_clock) == 1


def test_the_clock_going_back_checks_everything_again(frozen_clock):
    customer = CustomerFactory()
    campaign = settled(frozen_clock, [customer])
    EventFactory(customer=customer, type="purchase", occurred_at=frozen_clock.now - 3 * MINUTE)

    frozen_clock.advance(hours=-1)  # a replay of the past (the simulator)
    enrollments_exit(now=frozen_clock.now)
    frozen_clock.advance(hours=1)

    assert enrollments_exit(now=frozen_clock.now) == 1
    assert campaign.enrollments.get().state == Enrollment.State.EXITED
