"""The generic journey engine: waits, exits, entry keys, holdout, and blocked steps."""
import datetime as dt

import pytest
from django.core import mail

from campaigns.models import Campaign, Enrollment, JourneyStep, Message
from campaigns.services.consent import consent_record
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.helpers import run_tick
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory, OrderFactory,
    TemplateTranslationFactory,
)

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


def customer_with_consent(**fields):
    customer = CustomerFactory(**fields)
    consent_record(customer=customer, granted=True, source="api")
    return customer


def journey(*steps, **campaign_fields):
    """A campaign on `purchase` with the given steps (dicts of JourneyStep fields)."""
    fields = {"trigger_event_type": "purchase", "deadline": None, **campaign_fields}
    campaign = CampaignFactory(**fields)
    for position, step in enumerate(steps):
        if step.get("kind", "send") == "send" and "template" not in step:
            step = {**step, "template": TemplateTranslationFactory().template}
        JourneyStepFactory(campaign=campaign, position=position, **step)
    return campaign


def purchase(customer, at, order=None):
    order = order or OrderFactory(customer=customer, placed_at=at)
    return EventFactory(customer=customer, type="purchase", occurred_at=at, order=order)


def test_a_wait_step_delays_the_send_by_its_duration_from_the_trigger(frozen_clock):
    campaign = journey({"kind": "wait", "wait_duration": dt.timedelta(days=3)}, {})
    customer = customer_with_consent()
    purchase(customer, frozen_clock.now)

    run_tick(frozen_clock.now)
    run_tick(frozen_clock.advance(days=2, hours=23))
    assert mail.outbox == []

    run_tick(frozen_clock.advance(hours=1))

    message = Message.objects.get(campaign=campaign)
    assert message.first_due_at == dt.datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert (message.state, len(mail.outbox)) == ("sent", 1)


def test_a_wait_until_a_local_time_sends_at_that_time_in_the_customers_zone(frozen_clock):
    journey({"kind": "wait", "wait_until_local_time": dt.time(10, 30)}, {})
    customer = customer_with_consent(time_zone="Europe/Oslo")  # UTC+1 in March
    purchase(customer, frozen_clock.now)  # 10:00 in Oslo

    run_tick(frozen_clock.now)
    run_tick(frozen_clock.set(dt.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)))

    assert Message.objects.get().first_due_at == dt.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert len(mail.outbox) == 1


def test_an_exit_event_ends_the_journey_before_the_send(frozen_clock):
    campaign = journey({"kind": "wait", "wait_duration": dt.timedelta(days=14)}, {},
                       trigger_event_type="lapsed", exit_event_types=["purchase"])
    customer = customer_with_consent()
    EventFactory(customer=customer, type="lapsed", occurred_at=frozen_clock.now)
    run_tick(frozen_clock.now)
    purchase(customer, frozen_clock.advance(days=2))

    run_tick(frozen_clock.now)
    run_tick(frozen_clock.advance(days=20))

    enrollment = Enrollment.objects.get(campaign=campaign)
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "exit_event")
    assert not Message.objects.exists() and mail.outbox == []


def test_one_entry_per_order_lets_each_purchase_start_its_own_journey(frozen_clock):
    campaign = journey({}, entry_key=Campaign.EntryKey.ORDER, exempt_from_caps=True)
    customer = customer_with_consent()
    purchase(customer, frozen_clock.now)
    purchase(customer, frozen_clock.now)

    run_tick(frozen_clock.now)

    assert campaign.enrollments.count() == 2
    assert len(mail.outbox) == 2


def test_once_per_customer_ignores_the_second_trigger(frozen_clock):
    campaign = journey({})
    customer = customer_with_consent()
    purchase(customer, frozen_clock.now)
    purchase(customer, frozen_clock.now)

    run_tick(frozen_clock.now)

    assert campaign.enrollments.count() == 1


def test_the_holdout_group_is_enrolled_and_tracked_but_gets_nothing(frozen_clock):
    campaign = journey({}, holdout_percent=100)
    customer = customer_with_consent()
    purchase(customer, frozen_clock.now)

    run_tick(frozen_clock.now)

    message = Message.objects.get(campaign=campaign)
    assert (message.state, message.reason) == ("skipped", "holdout")
    assert Enrollment.objects.get().is_holdout and mail.outbox == []


def test_a_blocked_step_set_to_skip_moves_on_to_the_next_step(frozen_clock, policy):
    campaign = journey({"on_blocked": JourneyStep.OnBlocked.NEXT},
                       {"kind": "wait", "wait_duration": dt.timedelta(days=2)}, {})
    customer = customer_with_consent(time_zone="Europe/Stockholm")
    other = journey({}, trigger_event_type="newsletter")
    EventFactory(customer=customer, type="newsletter", occurred_at=frozen_clock.now)
    run_tick(frozen_clock.now)  # the newsletter takes today's slot
    purchase(customer, frozen_clock.advance(hours=1))

    run_tick(frozen_clock.now)
    run_tick(frozen_clock.advance(days=2))

    first, last = Message.objects.filter(campaign=campaign).order_by("step__position")
    assert (first.state, first.reason) == ("skipped", "frequency_cap")
    assert last.state == "sent"
    assert Message.objects.get(campaign=other).state == "sent"


def test_a_blocked_step_set_to_drop_ends_the_journey(frozen_clock, policy):
    campaign = journey({"on_blocked": JourneyStep.OnBlocked.DROP}, {})
    customer = customer_with_consent()
    journey({}, trigger_event_type="newsletter")
    EventFactory(customer=customer, type="newsletter", occurred_at=frozen_clock.now)
    run_tick(frozen_clock.now)
    purchase(customer, frozen_clock.advance(hours=1))

    run_tick(frozen_clock.now)
    run_tick(frozen_clock.advance(days=3))

    assert list(Message.objects.filter(campaign=campaign).values_list("state", flat=True)) == ["skipped"]
    assert Enrollment.objects.get(campaign=campaign).state == "exited"


def test_a_higher_priority_message_takes_the_slot_and_the_other_waits(frozen_clock, policy):
    low = journey({}, trigger_event_type="purchase", priority=10)
    high = journey({}, trigger_event_type="purchase", priority=90)
    customer = customer_with_consent(time_zone="Europe/Stockholm")
    purchase(customer, frozen_clock.now)

    run_tick(frozen_clock.now)

    assert Message.objects.get(campaign=high).state == "sent"
    deferred = Message.objects.get(campaign=low)
    assert (deferred.state, deferred.reason) == ("pending", "frequency_cap")


def test_a_lower_priority_message_in_another_batch_steps_back_for_the_higher_one(frozen_clock, policy):
    low = journey({}, trigger_event_type="purchase", priority=10)
    high = journey({}, trigger_event_type="purchase", priority=90)
    customer = customer_with_consent(time_zone="Europe/Stockholm")
    purchase(customer, frozen_clock.now)
    scheduler_tick(now=frozen_clock.now)
    low_id = Message.objects.get(campaign=low).pk

    report = messages_send_due(message_ids=[low_id], now=frozen_clock.now)  # the low one goes first

    assert report.released == 1 and Message.objects.get(pk=low_id).state == "pending"
    messages_send_due(message_ids=[Message.objects.get(campaign=high).pk], now=frozen_clock.now)
    run_tick(frozen_clock.advance(minutes=1))
    assert Message.objects.get(campaign=high).state == "sent"
    deferred = Message.objects.get(campaign=low)
    assert (deferred.state, deferred.reason) == ("pending", "frequency_cap")


def test_a_reward_is_granted_once_and_not_when_the_journey_is_already_too_late(frozen_clock):
    from campaigns.models import PointsEntry

    campaign = journey({"kind": "reward", "reward_points": 100}, {}, deadline=dt.timedelta(days=1))
    on_time, late = customer_with_consent(), customer_with_consent()
    purchase(on_time, frozen_clock.now)
    purchase(late, frozen_clock.now - dt.timedelta(days=2))  # its webhook arrives 2 days late

    run_tick(frozen_clock.now)
    run_tick(frozen_clock.advance(hours=1))

    on_time.refresh_from_db()
    assert list(PointsEntry.objects.values_list("customer", "delta")) == [(on_time.pk, 100)]
    assert on_time.points_balance == 100
    assert Message.objects.get(campaign=campaign, customer=late).reason == "deadline"
