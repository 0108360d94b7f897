"""Triggers beyond events: inactivity, nth order, re-entry cooldown, exits per order."""
import datetime as dt

import pytest

from campaigns.models import Campaign, Enrollment
from campaigns.services.journeys import campaign_activate
from campaigns.services.planning import enrollments_exit, enrollments_plan, weighted_draw
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory, OrderFactory,
    TemplateTranslationFactory,
)

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def started(**fields):
    """A campaign with one send step, started from draft now (as a marketer would)."""
    campaign = CampaignFactory(status=Campaign.Status.DRAFT, deadline=None, **fields)
    JourneyStepFactory(campaign=campaign, template=TemplateTranslationFactory().template)
    campaign_activate(campaign=campaign)
    return campaign


def winback():
    return started(trigger=Campaign.Trigger.INACTIVITY, trigger_event_type="",
                   trigger_config={"days": 90}, exit_event_types=["purchase"])


def test_a_customer_lapses_90_days_after_the_last_order(frozen_clock):
    campaign = winback()
    customer = CustomerFactory(last_order_at=frozen_clock.now - 89 * DAY)

    enrollments_plan(now=frozen_clock.now)
    assert not campaign.enrollments.exists()
    enrollments_plan(now=frozen_clock.advance(days=1, minutes=1))

    enrollment = campaign.enrollments.get()
    assert enrollment.customer == customer
    assert enrollment.triggered_at == customer.last_order_at + 90 * DAY


def test_a_lapsed_customer_enters_again_only_after_a_new_purchase_and_a_new_lapse(frozen_clock):
    campaign = winback()
    customer = CustomerFactory(last_order_at=frozen_clock.now - 90 * DAY + dt.timedelta(minutes=1))
    enrollments_plan(now=frozen_clock.advance(minutes=5))
    enrollments_plan(now=frozen_clock.advance(days=30))
    assert campaign.enrollments.count() == 1

    customer.last_order_at = frozen_clock.now
    customer.save()
    enrollments_plan(now=frozen_clock.advance(days=91))

    assert campaign.enrollments.count() == 2


def test_customers_who_lapsed_before_the_campaign_started_are_left_alone(frozen_clock):
    CustomerFactory(last_order_at=frozen_clock.now - 200 * DAY)
    campaign = winback()

    enrollments_plan(now=frozen_clock.advance(hours=1))

    assert not campaign.enrollments.exists()


def test_the_nth_order_trigger_fires_on_the_third_purchase_only(frozen_clock):
    campaign = started(trigger_event_type="purchase", trigger_config={"nth_order": 3},
                       entry_key=Campaign.EntryKey.ORDER)
    customer = CustomerFactory()
    events = []
    for n in range(4):
        at = frozen_clock.now - dt.timedelta(hours=4 - n)
        order = OrderFactory(customer=customer, placed_at=at)
        events.append(EventFactory(customer=customer, type="purchase", occurred_at=at, order=order))

    enrollments_plan(now=frozen_clock.now)

    assert list(campaign.enrollments.values_list("trigger_event", flat=True)) == [events[2].pk]


@pytest.mark.parametrize("days_apart, entries", [(10, 1), (40, 2)])
def test_the_reentry_cooldown_allows_one_entry_per_window(frozen_clock, days_apart, entries):
    campaign = started(trigger_event_type="purchase", entry_key=Campaign.EntryKey.ORDER,
                       reentry_cooldown=30 * DAY)
    customer = CustomerFactory()
    EventFactory(customer=customer, type="purchase", occurred_at=frozen_clock.now,
                 order=OrderFactory(customer=customer))
    enrollments_plan(now=frozen_clock.now)
    EventFactory(customer=customer, type="purchase", occurred_at=frozen_clock.advance(days=days_apart),
                 order=OrderFactory(customer=customer))

    enrollments_plan(now=frozen_clock.now)

    assert campaign.enrollments.count() == entries


def test_the_cooldown_also_holds_inside_one_batch_of_events(frozen_clock):
    campaign = started(trigger_event_type="purchase", entry_key=Campaign.EntryKey.ORDER,
                       reentry_cooldown=30 * DAY)
    customer = CustomerFactory()
    for _ in range(3):
        EventFactory(customer=customer, type="purchase", occurred_at=frozen_clock.now,
                     order=OrderFactory(customer=customer))

    enrollments_plan(now=frozen_clock.now)

    assert campaign.enrollments.count() == 1


def test_a_refund_ends_the_journey_of_its_own_order_only(frozen_clock):
    campaign = started(trigger_event_type="purchase", entry_key=Campaign.EntryKey.ORDER,
                       exit_event_types=["refund"])
    customer = CustomerFactory()
    first, second = OrderFactory(customer=customer), OrderFactory(customer=customer)
    EventFactory(customer=customer, type="purchase", occurred_at=frozen_clock.now, order=first)
    EventFactory(customer=customer, type="purchase", occurred_at=frozen_clock.now, order=second)
    enrollments_plan(now=frozen_clock.now)

    EventFactory(customer=customer, type="refund", occurred_at=frozen_clock.advance(hours=1), order=second)
    enrollments_exit(now=frozen_clock.now)

    states = dict(campaign.enrollments.values_list("trigger_event__order", "state"))
    assert states == {first.pk: Enrollment.State.ACTIVE, second.pk: Enrollment.State.EXITED}


def test_weighted_draws_are_stable_and_follow_the_weights():
    picks = [weighted_draw(salt="variant:1", customer_id=i, weights=[3, 1]) for i in range(4000)]

    assert picks == [weighted_draw(salt="variant:1", customer_id=i, weights=[3, 1]) for i in range(4000)]
    assert 0.70 < picks.count(0) / len(picks) < 0.80


def test_a_late_second_purchase_still_brings_the_third_orders_bonus(frozen_clock):
    campaign = started(trigger_event_type="purchase", trigger_config={"nth_order": 3},
                       entry_key=Campaign.EntryKey.ORDER)
    customer = CustomerFactory()

    def purchase(hours_ago):
        order = OrderFactory(customer=customer, placed_at=frozen_clock.now - dt.timedelta(hours=hours_ago))
        return EventFactory(customer=customer, type="purchase", occurred_at=order.placed_at, order=order)

    purchase(50)
    third = purchase(30)
    enrollments_plan(now=frozen_clock.now)
    enrollments_plan(now=frozen_clock.advance(minutes=1))  # the watermark passes the 3rd
    assert not campaign.enrollments.exists()  # only two orders are known so far

    purchase(40)  # the 2nd purchase's webhook arrives 30 hours late
    enrollments_plan(now=frozen_clock.advance(minutes=1))

    enrollment = campaign.enrollments.get()
    assert (enrollment.trigger_event, enrollment.triggered_at) == (third, third.occurred_at)


def birthday_journey():
    return started(trigger=Campaign.Trigger.DATE_ATTRIBUTE, trigger_event_type="",
                   trigger_config={"attribute": "birthday"})


def test_a_birthday_enrolls_the_customer_on_the_day_once_a_year(frozen_clock):
    campaign = birthday_journey()  # started 2026-03-02 09:00 UTC
    today = CustomerFactory(attributes={"birthday": "1984-03-02"})
    tomorrow = CustomerFactory(attributes={"birthday": "1990-03-03"})
    CustomerFactory(attributes={})

    enrollments_plan(now=frozen_clock.now)  # today was already under way when it started
    enrollments_plan(now=frozen_clock.set(dt.datetime(2026, 3, 3, 0, 5, tzinfo=dt.timezone.utc)))
    enrollments_plan(now=frozen_clock.advance(hours=5))

    enrollment = campaign.enrollments.get()
    assert enrollment.customer == tomorrow
    assert (enrollment.entry_key, enrollment.triggered_at) == (
        "date:2026", dt.datetime(2026, 3, 3, tzinfo=dt.timezone.utc))
    assert not campaign.enrollments.filter(customer=today).exists()


def test_a_leap_day_birthday_is_kept_on_28_february_in_other_years(frozen_clock):
    frozen_clock.set(dt.datetime(2027, 2, 27, 12, tzinfo=dt.timezone.utc))
    campaign = birthday_journey()
    leapling = CustomerFactory(attributes={"birthday": "2000-02-29"})

    enrollments_plan(now=frozen_clock.set(dt.datetime(2027, 2, 28, 1, tzinfo=dt.timezone.utc)))

    assert list(campaign.enrollments.values_list("customer", flat=True)) == [leapling.pk]


def test_a_schedule_enrolls_every_customer_once_per_run(frozen_clock):
    campaign = started(trigger=Campaign.Trigger.SCHEDULE, trigger_event_type="", trigger_config={
        "first_run": "2026-03-02T10:00:00+00:00", "every_days": 91})
    customers = [CustomerFactory() for _ in range(3)]

    enrollments_plan(now=frozen_clock.now)  # 09:00: before the first run
    assert not campaign.enrollments.exists()
    for _ in range(4):
        enrollments_plan(now=frozen_clock.advance(hours=1))
    assert campaign.enrollments.count() == 3
    enrollments_plan(now=frozen_clock.advance(days=91))

    runs = sorted(set(campaign.enrollments.values_list("entry_key", flat=True)))
    assert runs == ["run:20260302T1000", "run:20260601T1000"]
    assert campaign.enrollments.count() == 2 * len(customers)


@pytest.mark.parametrize("trigger, config, message", [
    (Campaign.Trigger.INACTIVITY, {}, '"days" as a whole number above 0'),
    (Campaign.Trigger.INACTIVITY, {"days": "90"}, '"days" as a whole number above 0'),
    (Campaign.Trigger.SCHEDULE, {"every_days": 91}, '"first_run"'),
    (Campaign.Trigger.SCHEDULE, {"every_days": 91, "first_run": "2026-04-01 09:00"}, "with its zone"),
    (Campaign.Trigger.SCHEDULE, {"every_days": 0, "first_run": "2026-04-01T09:00Z"}, '"every_days"'),
    (Campaign.Trigger.EVENT, {"nth_order": -1}, '"nth_order"'),
    (Campaign.Trigger.EVENT, [], "JSON object"),
])
def test_trigger_settings_with_a_mistake_are_refused_with_a_reason(trigger, config, message):
    from django.core.exceptions import ValidationError

    campaign = CampaignFactory.build(trigger=trigger, trigger_event_type="signup", trigger_config=config)

    with pytest.raises(ValidationError, match=message):
        campaign.clean()


def test_a_later_purchase_does_not_bring_back_the_bonus_of_an_old_third_order(frozen_clock):
    customer = CustomerFactory()
    for days_ago in (300, 200, 100):  # three orders long before the campaign started
        order = OrderFactory(customer=customer, placed_at=frozen_clock.now - days_ago * DAY)
        EventFactory(customer=customer, type="purchase", occurred_at=order.placed_at, order=order)
    campaign = started(trigger_event_type="purchase", trigger_config={"nth_order": 3},
                       entry_key=Campaign.EntryKey.ORDER)
    fourth = OrderFactory(customer=customer, placed_at=frozen_clock.now)
    EventFactory(customer=customer, type="purchase", occurred_at=fourth.placed_at, order=fourth)

    enrollments_plan(now=frozen_clock.advance(minutes=1))

    assert not campaign.enrollments.exists()
