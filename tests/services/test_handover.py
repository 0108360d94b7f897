"""Hand-over: many provider calls in flight, only those marked `sending`, one shared rate
limit, and outcomes that survive a database error."""
import datetime as dt
import threading

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import OperationalError

from campaigns.delivery.ratelimit import DatabaseRateLimiter
from campaigns.models import Message
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due, record
from tests.factories import EventFactory
from tests.helpers import consenting_customer
from tests.services.test_send_failures import provider  # noqa: F401 - a fixture

IN_FLIGHT = 4


class MeetingProvider(BaseEmailBackend):
    """A provider whose first IN_FLIGHT calls answer only once all of them wait on it at the
    same time; it notes what the outbox looked like while each of those was at it."""

    barrier: threading.Barrier
    seen: list

    def send_messages(self, email_messages):
        with MeetingProvider.lock:
            slot = len(MeetingProvider.seen)
            if slot < IN_FLIGHT:
                MeetingProvider.seen.append(None)
        if slot < IN_FLIGHT:
            MeetingProvider.seen[slot] = dict(
                sending=Message.objects.filter(state="sending").count(),
                pending=Message.objects.filter(state="pending").count(),
            )
            MeetingProvider.barrier.wait(timeout=10)
        return len(email_messages)


def signups(clock, count):
    customers = [consenting_customer() for _ in range(count)]
    for customer in customers:
        EventFactory(customer=customer, type="signup", occurred_at=clock.now)
    scheduler_tick(now=clock.now)
    return customers


@pytest.mark.django_db(transaction=True)
def test_calls_run_side_by_side_and_only_the_calls_in_flight_are_marked_sending(
        frozen_clock, welcome, policy):
    signups(frozen_clock, 3 * IN_FLIGHT)
    MeetingProvider.barrier, MeetingProvider.seen = threading.Barrier(IN_FLIGHT), []
    MeetingProvider.lock = threading.Lock()

    report = messages_send_due(now=frozen_clock.now, in_flight=IN_FLIGHT, group_size=IN_FLIGHT,
                               backend="tests.services.test_handover.MeetingProvider")

    # The first four calls met at the provider: they were in flight together (one at a
    # time, the barrier would have broken and they would count as unknown).
    assert report.sent == 3 * IN_FLIGHT and report.unknown == 0
    assert set(Message.objects.values_list("state", flat=True)) == {"sent"}
    # While the first group was at the provider, the others were untouched: a crash then
    # would have left four `unknown`, none that was never handed over.
    assert MeetingProvider.seen == [{"sending": IN_FLIGHT, "pending": 2 * IN_FLIGHT}] * IN_FLIGHT


@pytest.mark.django_db(transaction=True)
def test_an_outcome_that_came_back_survives_a_database_error_while_recording(
        frozen_clock, welcome, policy, monkeypatch):
    signups(frozen_clock, 2)
    real, failures = record._record_once, []

    def flaky(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(record, "_record_once", flaky)
    monkeypatch.setattr(record.time, "sleep", lambda seconds: None)

    report = messages_send_due(now=frozen_clock.now, in_flight=1)

    assert failures and report.sent == 2 and len(mail.outbox) == 2
    assert set(Message.objects.values_list("state", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_a_429_pauses_every_worker_sharing_the_provider_limit(provider, frozen_clock, welcome, policy):  # noqa: F811
    signups(frozen_clock, 3)
    seconds = [1000.0]
    worker_a = DatabaseRateLimiter(provider="postmark", rate=100, burst=100, clock=lambda: seconds[0])
    worker_b = DatabaseRateLimiter(provider="postmark", rate=100, burst=100, clock=lambda: seconds[0])
    provider.script = [(429, {"Retry-After": "30"}, {"ErrorCode": 429, "Message": "Slow down"})]

    report = messages_send_due(now=frozen_clock.now, limiter=worker_a, in_flight=1, group_size=1)

    # The first call met the 429; the sender stopped rather than go on against the limit.
    assert len(provider.received) == 1 and report.deferred == 1
    assert Message.objects.filter(state="pending", reason="").count() == 2
    granted, wait = worker_b.take(1)  # another worker, same provider
    assert granted == 0 and wait >= 29

    seconds[0] += 31
    frozen_clock.advance(seconds=1)
    report = messages_send_due(now=frozen_clock.now, limiter=worker_b, in_flight=1)

    assert report.sent == 2 and len(provider.received) == 3
    retried = Message.objects.get(state="pending")
    assert retried.reason == "provider_rate_limited"
    assert retried.due_at >= frozen_clock.now - dt.timedelta(seconds=1) + dt.timedelta(seconds=30)
