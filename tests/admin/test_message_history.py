"""A message's history in plain words: the normal path from its own row, deviations from its log."""
from zoneinfo import ZoneInfo

import pytest

from campaigns.admin.deliveries import history_lines
from campaigns.models import Message
from tests.factories import EventFactory
from tests.helpers import consenting_customer, run_tick

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")


def test_a_sent_welcome_tells_when_it_was_planned_and_on_what_ground_it_went(frozen_clock, welcome, policy):
    customer = consenting_customer()
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

    run_tick(frozen_clock.now)

    lines = history_lines(Message.objects.get(customer=customer), UTC)
    assert lines == [
        "2026-03-02 09:00 UTC — planned, due 2026-03-02 09:00 UTC",
        "2026-03-02 09:00 UTC — sent on recorded opt-in consent",
    ]
