"""Monitoring sees a stopped scheduler, a backlog and unknown sends (compliance RL-14)."""
import datetime as dt

import pytest

from campaigns.models import Message
from tests.factories import EventFactory
from tests.helpers import consenting_customer, run_tick

pytestmark = pytest.mark.django_db


def test_before_any_tick_the_scheduler_is_late(client, frozen_clock):
    response = client.get("/healthz/scheduler")

    assert response.status_code == 503
    assert response.json()["last_tick"] is None and response.json()["late"] is True


def test_a_tick_makes_it_healthy_and_three_missed_intervals_make_it_late(
        client, frozen_clock, settings):
    run_tick(frozen_clock.now)  # an idle tick counts too

    healthy = client.get("/healthz/scheduler")
    frozen_clock.advance(seconds=3 * settings.TICK_SECONDS + 1)
    late = client.get("/healthz/scheduler")

    assert healthy.status_code == 200
    assert healthy.json() == {"last_tick": "2026-03-02T09:00:00+00:00", "seconds_since_tick": 0,
                              "late": False, "overdue_messages": 0, "unknown_last_24h": 0}
    assert late.status_code == 503 and late.json()["seconds_since_tick"] == 3 * settings.TICK_SECONDS + 1


def test_overdue_and_unknown_messages_are_counted_and_shown_to_staff(
        client, admin_client, frozen_clock, welcome, policy):
    sent, stuck = consenting_customer(), consenting_customer()
    for customer in (sent, stuck):
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    run_tick(frozen_clock.now)
    Message.objects.filter(customer=sent).update(state=Message.State.UNKNOWN)
    # A message that became due 10 minutes ago and was never picked up (no worker).
    Message.objects.filter(customer=stuck).update(
        state=Message.State.PENDING, sent_at=None, due_at=frozen_clock.now - dt.timedelta(minutes=10))

    body = client.get("/healthz/scheduler").json()
    page = " ".join(admin_client.get("/admin/campaigns/deliverability/").content.decode().split())

    assert (body["overdue_messages"], body["unknown_last_24h"]) == (1, 1)
    assert "The scheduler ticked 0 s ago." in page
    assert "1 message due more than 5 minutes ago" in page
    assert "1 send with an unknown outcome" in page
