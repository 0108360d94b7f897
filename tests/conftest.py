"""Shared fixtures: time control and a default frequency policy."""
import datetime as dt

import pytest

from campaigns import clock


class Clock:
    """Moves the one clock (`campaigns.clock.now`) in a test."""

    def __init__(self, start: dt.datetime):
        self.now = start
        clock.set_virtual(start)

    def set(self, moment: dt.datetime) -> dt.datetime:
        self.now = moment
        clock.set_virtual(moment)
        return moment

    def advance(self, **delta) -> dt.datetime:
        return self.set(self.now + dt.timedelta(**delta))


@pytest.fixture
def frozen_clock():
    """The clock stopped at 2026-03-02 09:00 UTC; `.advance(hours=1)` moves it."""
    c = Clock(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc))
    yield c
    clock.set_virtual(None)
