"""The customer's best hour: learned from purchases and clicks, and used by send steps."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Customer, JourneyStep, Message, MessageEvent
from campaigns.services.best_hour import _learn_chunked, best_hour_due, best_hours_learn
from campaigns.services.scheduling import scheduler_tick
from tests.factories import (
    CustomerFactory, EventFactory, JourneyStepFactory, OrderFactory, SentMessageFactory,
)
from tests.helpers import consenting_customer, run_tick

UTC = dt.timezone.utc
STOCKHOLM = ZoneInfo("Europe/Stockholm")
TEN = dt.time(10, 0)


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# The due time, on its own.

def test_the_best_hour_is_the_next_such_local_hour_in_winter_and_in_summer():
    winter = best_hour_due(after=at(2026, 1, 15, 9), best_hour=20, fallback=TEN, zone=STOCKHOLM)
    summer = best_hour_due(after=at(2026, 7, 15, 9), best_hour=20, fallback=TEN, zone=STOCKHOLM)

    assert winter == at(2026, 1, 15, 19)  # 20:00 at UTC+1
    assert summer == at(2026, 7, 15, 18)  # 20:00 at UTC+2


def test_the_best_hour_already_passed_today_is_tomorrows_and_the_exact_moment_is_kept():
    assert best_hour_due(after=at(2026, 1, 15, 19, 1), best_hour=20, fallback=TEN,
                         zone=STOCKHOLM) == at(2026, 1, 16, 19)
    assert best_hour_due(after=at(2026, 1, 15, 19), best_hour=20, fallback=TEN,
                         zone=STOCKHOLM) == at(2026, 1, 15, 19)


def test_the_local_hour_holds_across_the_change_to_summer_time():
    # Sunday 29 March 2026 Stockholm moves from UTC+1 to UTC+2 at 01:00 UTC.
    due = best_hour_due(after=at(2026, 3, 28, 20), best_hour=20, fallback=TEN, zone=STOCKHOLM)

    assert due == at(2026, 3, 29, 18)
    assert due.astimezone(STOCKHOLM).hour == 20


def test_without_a_best_hour_the_fallback_time_is_used():
    due = best_hour_due(after=at(2026, 1, 15, 10), best_hour=None, fallback=TEN, zone=STOCKHOLM)

    assert due == at(2026, 1, 16, 9)  # 10:00 local had passed: tomorrow's


def test_a_best_hour_past_the_deadline_keeps_the_earliest_allowed_time():
    due = best_hour_due(after=at(2026, 1, 15, 9), best_hour=20, fallback=TEN, zone=STOCKHOLM,
                        expires_at=at(2026, 1, 15, 11))

    assert due == at(2026, 1, 15, 9)


# Learning.

def _orders(customer, *moments):
    for moment in moments:
        OrderFactory(customer=customer, placed_at=moment)


def _click(customer, moment):
    message = SentMessageFactory(enrollment__customer=customer)
    MessageEvent.objects.create(message=message, provider="test", event_type="clicked",
                                event_id=f"click-{message.pk}", occurred_at=moment)


@pytest.mark.django_db
def test_purchases_at_eight_in_the_evening_stockholm_time_make_20_the_best_hour():
    customer = CustomerFactory(time_zone="Europe/Stockholm")
    # 20:xx local in winter (UTC+1) and in summer (UTC+2); one morning purchase.
    _orders(customer, at(2026, 1, 10, 19, 5), at(2025, 7, 3, 18, 40), at(2026, 2, 1, 19, 55),
            at(2026, 2, 2, 7, 0))

    report = best_hours_learn(now=at(2026, 3, 2, 9))

    customer.refresh_from_db()
    assert customer.best_hour == 20
    assert (report.customers, report.with_hour, report.updated) == (1, 1, 1)


@pytest.mark.django_db
def test_clicks_count_with_purchases_and_fewer_than_three_points_give_no_hour():
    clicked = CustomerFactory(time_zone="America/New_York")
    _orders(clicked, at(2026, 1, 10, 12, 30), at(2026, 1, 11, 12, 10))  # 07:xx local
    _click(clicked, at(2026, 2, 20, 12, 45))
    sparse = CustomerFactory()
    _orders(sparse, at(2026, 1, 10, 19, 5), at(2026, 1, 11, 19, 5))

    best_hours_learn(now=at(2026, 3, 2, 9))

    assert Customer.objects.get(pk=clicked.pk).best_hour == 7
    assert Customer.objects.get(pk=sparse.pk).best_hour is None


@pytest.mark.django_db
def test_only_the_last_year_counts_and_an_hour_without_data_is_forgotten():
    customer = CustomerFactory(best_hour=9)
    _orders(customer, at(2024, 1, 10, 19), at(2024, 1, 11, 19), at(2024, 1, 12, 19))

    report = best_hours_learn(now=at(2026, 3, 2, 9))

    assert Customer.objects.get(pk=customer.pk).best_hour is None
    assert report.updated == 1
    assert best_hours_learn(now=at(2026, 3, 2, 9)).updated == 0


@pytest.mark.django_db
def test_a_tie_goes_to_the_most_recent_habit_and_an_unknown_zone_uses_the_sites():
    customer = CustomerFactory(time_zone="Mars/Olympus")  # the site's zone is UTC in tests
    _orders(customer, at(2025, 10, 1, 8), at(2025, 10, 2, 8), at(2026, 2, 1, 17),
            at(2026, 2, 2, 17))

    best_hours_learn(now=at(2026, 3, 2, 9))

    assert Customer.objects.get(pk=customer.pk).best_hour == 17


@pytest.mark.django_db
def test_the_chunked_pass_and_the_database_default_learn_the_same_hours():
    oslo = CustomerFactory(time_zone="Europe/Oslo")
    _orders(oslo, at(2026, 1, 10, 6), at(2026, 1, 11, 6), at(2025, 7, 1, 5), at(2026, 2, 1, 20))
    york = CustomerFactory(time_zone="America/New_York")
    _orders(york, at(2026, 1, 10, 12), at(2025, 10, 1, 15))
    _click(york, at(2026, 2, 20, 15))
    _click(york, at(2026, 2, 21, 12))
    unknown = CustomerFactory(time_zone="")
    _orders(unknown, at(2026, 1, 10, 23), at(2026, 1, 11, 23), at(2026, 1, 12, 23))
    CustomerFactory()  # no data at all
    now = at(2026, 3, 2, 9)

    best_hours_learn(now=now)
    by_default = dict(Customer.objects.values_list("id", "best_hour"))
    Customer.objects.update(best_hour=None)
    _learn_chunked(now=now, chunk=2)
    chunked = dict(Customer.objects.values_list("id", "best_hour"))

    assert by_default == chunked
    assert (chunked[oslo.pk], chunked[york.pk], chunked[unknown.pk]) == (7, 7, 23)


def _statements_to_learn(count: int) -> int:
    for _ in range(count):
        _orders(CustomerFactory(), at(2026, 1, 10, 19), at(2026, 1, 11, 19),
                at(2026, 1, 12, 19))
    with CaptureQueriesContext(connection) as queries:
        best_hours_learn(now=at(2026, 3, 2, 9), chunk=100)
    return len(queries)


@pytest.mark.django_db
def test_learning_costs_the_same_statements_for_30_customers_as_for_3():
    few = _statements_to_learn(3)
    Customer.objects.all().delete()

    assert _statements_to_learn(30) == few


# Send steps at the best hour, by moving the clock.

@pytest.fixture
def at_best_hour(welcome):
    step = welcome.steps.get()
    step.send_at_best_hour = True
    step.save()
    return welcome


def _signup(customer, moment):
    EventFactory(customer=customer, type="signup", occurred_at=moment)


def test_a_winter_evening_buyer_gets_the_email_at_20_local(frozen_clock, at_best_hour, policy):
    customer = consenting_customer(best_hour=20, time_zone="Europe/Stockholm")
    _signup(customer, frozen_clock.now)  # Monday 2 March 09:00 UTC, 10:00 local

    run_tick(frozen_clock.now)
    run_tick(frozen_clock.set(at(2026, 3, 2, 18, 59)))
    assert mail.outbox == []
    run_tick(frozen_clock.set(at(2026, 3, 2, 19, 0)))  # 20:00 at UTC+1

    message = Message.objects.get(customer=customer)
    assert (message.state, message.first_due_at) == ("sent", at(2026, 3, 2, 19))
    assert len(mail.outbox) == 1


def test_a_summer_evening_buyer_gets_the_email_at_20_local_after_a_wait(
        frozen_clock, at_best_hour, policy):
    at_best_hour.steps.update(position=1)
    JourneyStepFactory(campaign=at_best_hour, position=0, kind=JourneyStep.Kind.WAIT,
                       template=None, wait_duration=dt.timedelta(hours=1))
    customer = consenting_customer(best_hour=20, time_zone="Europe/Stockholm")
    _signup(customer, frozen_clock.set(at(2026, 7, 1, 9)))

    run_tick(frozen_clock.now)
    run_tick(frozen_clock.set(at(2026, 7, 1, 10)))  # the wait is over: the message is made
    assert Message.objects.get(customer=customer).due_at == at(2026, 7, 1, 18)  # UTC+2
    run_tick(frozen_clock.set(at(2026, 7, 1, 18)))

    assert Message.objects.get(customer=customer).state == "sent"
    assert len(mail.outbox) == 1


def test_a_customer_without_data_gets_it_at_the_fallback_time(frozen_clock, at_best_hour, policy):
    customer = consenting_customer(time_zone="Europe/Stockholm")
    _signup(customer, frozen_clock.set(at(2026, 3, 2, 10)))  # 11:00 local: 10:00 has passed

    run_tick(frozen_clock.now)
    assert mail.outbox == []
    run_tick(frozen_clock.set(at(2026, 3, 3, 9)))  # 10:00 local the next morning

    assert Message.objects.get(customer=customer).state == "sent"
    assert len(mail.outbox) == 1


def test_the_deadline_wins_over_the_best_hour(frozen_clock, at_best_hour, policy):
    at_best_hour.deadline = dt.timedelta(hours=2)
    at_best_hour.save()
    customer = consenting_customer(best_hour=20, time_zone="Europe/Stockholm")
    _signup(customer, frozen_clock.now)

    run_tick(frozen_clock.now)

    message = Message.objects.get(customer=customer)
    assert (message.state, message.first_due_at) == ("sent", frozen_clock.now)


def test_a_best_hour_inside_quiet_hours_waits_for_their_end(frozen_clock, at_best_hour, policy):
    customer = consenting_customer(best_hour=23, time_zone="Europe/Stockholm")
    _signup(customer, frozen_clock.now)

    run_tick(frozen_clock.set(at(2026, 3, 2, 22)))  # 23:00 local: quiet hours 21-08

    message = Message.objects.get(customer=customer)
    assert (message.state, message.reason) == ("pending", "quiet_hours")
    assert mail.outbox == []
    run_tick(frozen_clock.set(at(2026, 3, 3, 7)))  # 08:00 local

    assert Message.objects.get(customer=customer).state == "sent"
    assert len(mail.outbox) == 1


def _statements_to_open(clock, count: int) -> int:
    for _ in range(count):
        _signup(consenting_customer(best_hour=20), clock.now)
    with CaptureQueriesContext(connection) as queries:
        scheduler_tick(now=clock.now)
    # Due tonight at 20:00 local, not now.
    assert Message.objects.filter(due_at__gt=clock.now).count() == count
    scheduler_tick(now=clock.now)  # moves the event watermark: the next count starts alike
    return len(queries)


def test_making_40_messages_at_the_best_hour_takes_the_statements_of_4(
        frozen_clock, at_best_hour, policy):
    scheduler_tick(now=frozen_clock.now)  # the first tick's one-off writes (heartbeat)
    few = _statements_to_open(frozen_clock, 4)
    frozen_clock.advance(days=2)

    assert _statements_to_open(frozen_clock, 40) == few


@pytest.mark.django_db
def test_the_nightly_scoring_task_learns_the_best_hours(frozen_clock):
    from campaigns.tasks import score_customers

    customer = CustomerFactory()
    _orders(customer, at(2026, 1, 10, 19), at(2026, 1, 11, 19), at(2026, 1, 12, 19))

    summary = score_customers()

    assert (summary["with_best_hour"], summary["best_hours_changed"]) == (1, 1)
    assert Customer.objects.get(pk=customer.pk).best_hour == 20


def _statements_to_advance(clock, count: int) -> int:
    for _ in range(count):
        _signup(consenting_customer(best_hour=20), clock.now)
    scheduler_tick(now=clock.now)  # enrolled, waiting an hour
    scheduler_tick(now=clock.now)  # the event watermark moves: the next count starts alike
    with CaptureQueriesContext(connection) as queries:
        scheduler_tick(now=clock.advance(hours=1))
    assert Message.objects.filter(due_at__gt=clock.now).count() == count
    return len(queries)


def test_advancing_40_journeys_to_a_best_hour_send_takes_the_statements_of_4(
        frozen_clock, at_best_hour, policy):
    at_best_hour.steps.update(position=1)
    JourneyStepFactory(campaign=at_best_hour, position=0, kind=JourneyStep.Kind.WAIT,
                       template=None, wait_duration=dt.timedelta(hours=1))
    scheduler_tick(now=frozen_clock.now)
    few = _statements_to_advance(frozen_clock, 4)
    frozen_clock.advance(days=2)

    assert _statements_to_advance(frozen_clock, 40) == few
