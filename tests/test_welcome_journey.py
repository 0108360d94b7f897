"""The welcome journey end to end on a moving clock, and under concurrent ticks."""
import datetime as dt
import threading
from collections import Counter

import pytest
from django.core import mail
from django.db import connections

from campaigns.models import Message
from campaigns.services.consent import consent_record
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from campaigns.tasks import tick
from tests.factories import CustomerFactory, EventFactory

UTC = dt.timezone.utc
ZONES = ["Europe/Stockholm", "Europe/Oslo", "Europe/Helsinki", "America/New_York",
         "Asia/Tokyo", ""]


@pytest.mark.django_db
def test_customers_signing_up_around_the_clock_each_get_one_welcome_within_24_hours(
    frozen_clock, welcome, policy
):
    start = dt.datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    signups = {}
    for hour in range(0, 24, 1):
        for zone in ZONES:
            customer = CustomerFactory(time_zone=zone, locale=["sv", "nb", "en", "fi"][hour % 4])
            consent_record(customer=customer, granted=True, source="api")
            at = start + dt.timedelta(hours=hour, minutes=7 * len(zone) % 60)
            EventFactory(customer=customer, type="signup", occurred_at=at)
            signups[customer.email] = at

    # Beat's tick every 15 minutes over three days, through the real task entry point.
    frozen_clock.set(start)
    while frozen_clock.now < start + dt.timedelta(days=3):
        tick()
        frozen_clock.advance(minutes=15)

    received = Counter(email.to[0] for email in mail.outbox)
    assert set(received) == set(signups)
    assert set(received.values()) == {1}
    for message in Message.objects.select_related("customer"):
        signed_up = signups[message.customer.email]
        assert message.state == "sent"
        assert signed_up <= message.sent_at <= signed_up + dt.timedelta(hours=24)
    # Nobody was mailed in their local quiet hours (21:00-08:00).
    from campaigns.services.scheduling import customer_zone
    for message in Message.objects.select_related("customer"):
        local = message.sent_at.astimezone(customer_zone(message.customer.time_zone)).time()
        assert dt.time(8) <= local < dt.time(21), (message.customer.time_zone, local)


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_never_enrol_or_send_twice(welcome, policy):
    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    customers = []
    for _ in range(40):
        customer = CustomerFactory(time_zone="Europe/Stockholm")
        consent_record(customer=customer, granted=True, source="api")
        EventFactory(customer=customer, type="signup", occurred_at=now - dt.timedelta(minutes=5))
        customers.append(customer)
    barrier = threading.Barrier(2)
    errors = []

    def run_tick():
        try:
            barrier.wait()
            for _ in range(3):
                scheduler_tick(now=now)
                messages_send_due(now=now, limit=15, group_size=5)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run_tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Message.objects.count() == len(customers)
    assert Counter(email.to[0] for email in mail.outbox) == Counter(c.email for c in customers)
