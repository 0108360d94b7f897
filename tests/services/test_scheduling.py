"""The tick: planning is idempotent, late triggers keep their clock, pauses hold."""
import datetime as dt

import pytest
from django.core import mail

from campaigns.models import Campaign, Enrollment, Message
from campaigns.services.planning import enrollments_plan
from campaigns.services.scheduling import messages_recover, scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.helpers import consenting_customer, run_tick
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_a_signup_enrolls_the_customer_once_however_often_the_planner_runs(frozen_clock, welcome):
    customer = consenting_customer()
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

    first = enrollments_plan(now=frozen_clock.now)
    second = enrollments_plan(now=frozen_clock.now)

    assert (first, second) == (1, 0)
    assert Enrollment.objects.filter(campaign=welcome, customer=customer).count() == 1


def test_only_the_trigger_event_type_enrolls(frozen_clock, welcome):
    EventFactory(type="purchase", occurred_at=frozen_clock.now)

    assert enrollments_plan(now=frozen_clock.now) == 0


def test_an_event_dated_in_the_future_waits_until_its_time(frozen_clock, welcome):
    EventFactory(type="signup", occurred_at=frozen_clock.now + dt.timedelta(hours=1))

    assert enrollments_plan(now=frozen_clock.now) == 0
    assert enrollments_plan(now=frozen_clock.advance(hours=2)) == 1


def test_the_watermark_moves_so_old_events_are_not_scanned_again(frozen_clock, welcome):
    event = EventFactory(type="signup", occurred_at=frozen_clock.now)

    enrollments_plan(now=frozen_clock.now)
    enrollments_plan(now=frozen_clock.advance(minutes=1))

    welcome.refresh_from_db()
    assert welcome.event_watermark == event.pk
    EventFactory(type="signup", occurred_at=frozen_clock.now)
    assert enrollments_plan(now=frozen_clock.now) == 1


def test_an_event_committed_late_behind_a_larger_id_is_still_enrolled(frozen_clock, welcome):
    # Two API requests: the one with the larger id commits first and a tick reads it.
    EventFactory(id=1000, type="signup", occurred_at=frozen_clock.now)
    enrollments_plan(now=frozen_clock.now)

    late = EventFactory(id=990, type="signup", occurred_at=frozen_clock.now)
    enrollments_plan(now=frozen_clock.advance(minutes=1))

    assert Enrollment.objects.filter(trigger_event=late).exists()


def test_a_signup_gets_its_welcome_in_the_customers_language(frozen_clock, welcome, policy):
    customer = consenting_customer(first_name="Sigrid", locale="nb", time_zone="Europe/Oslo")
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

    run_tick(frozen_clock.now)
    run_tick(frozen_clock.advance(minutes=1))

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [customer.email]
    assert email.subject == "Velkommen, Sigrid!"
    message = Message.objects.get(customer=customer)
    assert (message.state, message.locale, message.lag_seconds) == ("sent", "nb", 0.0)
    assert Enrollment.objects.get(customer=customer).state == Enrollment.State.COMPLETED


def test_a_signup_two_hours_late_still_gets_its_welcome(frozen_clock, welcome, policy):
    customer = consenting_customer()
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now - dt.timedelta(hours=2))

    run_tick(frozen_clock.now)

    assert Message.objects.get(customer=customer).state == "sent"
    assert len(mail.outbox) == 1


def test_a_signup_thirty_hours_late_is_recorded_as_expired_not_sent(frozen_clock, welcome, policy):
    customer = consenting_customer()
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now - dt.timedelta(hours=30))

    run_tick(frozen_clock.now)

    message = Message.objects.get(customer=customer)
    assert (message.state, message.reason) == ("expired", "deadline")
    assert "30.0 h" in message.log.get().detail
    assert mail.outbox == []


def test_a_paused_campaign_sends_nothing_and_resuming_after_the_deadline_sends_nothing(
    frozen_clock, welcome, policy
):
    customer = consenting_customer()
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    scheduler_tick(now=frozen_clock.now)  # planned, due, not yet sent
    Campaign.objects.filter(pk=welcome.pk).update(status=Campaign.Status.PAUSED)

    due = scheduler_tick(now=frozen_clock.advance(minutes=30)).due
    report = messages_send_due(now=frozen_clock.now, message_ids=[m.pk for m in Message.objects.all()])

    assert due == 0 and report.claimed == 0 and mail.outbox == []
    assert Message.objects.get(customer=customer).state == "pending"  # never marked finished

    Campaign.objects.filter(pk=welcome.pk).update(status=Campaign.Status.ACTIVE)
    run_tick(frozen_clock.advance(hours=30))

    message = Message.objects.get(customer=customer)
    assert (message.state, message.reason) == ("expired", "deadline")
    assert mail.outbox == []


def test_a_message_left_sending_by_a_dead_worker_becomes_unknown_and_is_not_resent(
    frozen_clock, welcome, policy
):
    customer = consenting_customer()
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    scheduler_tick(now=frozen_clock.now)
    Message.objects.update(state="sending", sent_at=frozen_clock.now,
                           claimed_until=frozen_clock.now + dt.timedelta(minutes=10))

    messages_recover(now=frozen_clock.advance(minutes=11))
    run_tick(frozen_clock.advance(minutes=1))

    message = Message.objects.get(customer=customer)
    assert (message.state, message.reason) == ("unknown", "worker_lost")
    assert mail.outbox == []
    assert Enrollment.objects.get(customer=customer).state == Enrollment.State.COMPLETED
