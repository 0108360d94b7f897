"""The send path is set-based: its statements per group do not grow with the group (habit 16)."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.factories import EventFactory
from tests.helpers import consenting_customer

pytestmark = pytest.mark.django_db


def statements_to_send(clock, count: int) -> int:
    for _ in range(count):
        EventFactory(customer=consenting_customer(), type="signup", occurred_at=clock.now)
    scheduler_tick(now=clock.now)
    with CaptureQueriesContext(connection) as queries:
        report = messages_send_due(now=clock.now, in_flight=1, group_size=100)
    assert report.sent == count
    return len(queries)


def test_sending_a_group_of_40_takes_the_statements_of_a_group_of_4(frozen_clock, welcome, policy):
    few = statements_to_send(frozen_clock, 4)
    frozen_clock.advance(days=2)  # past the daily cap of the first ones

    many = statements_to_send(frozen_clock, 40)

    assert many == few
