"""The cap and quiet-hours policy, as a table of plain cases."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from campaigns.capping import CapPolicy, send_window_decide

UTC = dt.timezone.utc
STOCKHOLM = ZoneInfo("Europe/Stockholm")
NEW_YORK = ZoneInfo("America/New_York")


def at(day, hour, minute=0):
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_a_first_message_is_allowed_at_once():
    decision = send_window_decide(now=at(2, 12), recent_sends=[], policy=CapPolicy(), zone=STOCKHOLM)
    assert decision.allowed and decision.not_before is None


def test_the_daily_cap_defers_to_exactly_24_hours_after_the_last_send():
    decision = send_window_decide(
        now=at(2, 12), recent_sends=[at(2, 10, 30)], policy=CapPolicy(max_per_day=1), zone=STOCKHOLM
    )
    assert not decision.allowed
    assert decision.reason == "frequency_cap"
    assert decision.not_before == at(3, 10, 30)


def test_a_send_older_than_the_window_does_not_count():
    decision = send_window_decide(
        now=at(3, 10, 31), recent_sends=[at(2, 10, 30)], policy=CapPolicy(max_per_day=1), zone=STOCKHOLM
    )
    assert decision.allowed


def test_the_weekly_cap_frees_when_the_oldest_of_the_week_leaves_the_window():
    sends = [at(1, 9), at(3, 9), at(5, 9)]
    decision = send_window_decide(
        now=at(6, 12), recent_sends=sends, policy=CapPolicy(max_per_day=0, max_per_week=3), zone=STOCKHOLM
    )
    assert decision.not_before == at(8, 9)


def test_a_cap_of_zero_means_no_cap():
    decision = send_window_decide(
        now=at(2, 12), recent_sends=[at(2, 11)] * 5, policy=CapPolicy(max_per_day=0), zone=STOCKHOLM
    )
    assert decision.allowed


def test_the_minimum_gap_defers_to_the_last_send_plus_the_gap():
    decision = send_window_decide(
        now=at(2, 12),
        recent_sends=[at(2, 11)],
        policy=CapPolicy(max_per_day=0, min_gap=dt.timedelta(hours=4)),
        zone=STOCKHOLM,
    )
    assert (decision.reason, decision.not_before) == ("min_gap", at(2, 15))


@pytest.mark.parametrize(
    "now, zone, expected",
    [
        # 21:30 in Stockholm (UTC+1 in March) waits for 08:00 local next morning.
        (at(2, 20, 30), STOCKHOLM, at(3, 7)),
        # 03:00 in Stockholm waits for 08:00 the same morning.
        (at(3, 2), STOCKHOLM, at(3, 7)),
        # 12:00 UTC is 07:00 in New York (UTC-5): quiet until 08:00 local = 13:00 UTC.
        (at(2, 12), NEW_YORK, at(2, 13)),
    ],
)
def test_quiet_hours_wait_for_the_morning_in_the_customers_zone(now, zone, expected):
    policy = CapPolicy(max_per_day=0, quiet_start=dt.time(21), quiet_end=dt.time(8))
    decision = send_window_decide(now=now, recent_sends=[], policy=policy, zone=zone)
    assert (decision.allowed, decision.reason, decision.not_before) == (False, "quiet_hours", expected)


def test_daytime_is_outside_quiet_hours():
    policy = CapPolicy(max_per_day=0, quiet_start=dt.time(21), quiet_end=dt.time(8))
    assert send_window_decide(now=at(2, 11), recent_sends=[], policy=policy, zone=STOCKHOLM).allowed


def test_a_cap_that_frees_inside_quiet_hours_waits_for_the_morning_after():
    # Last send 21:00 UTC-ish evening; the cap frees at 22:00 local, which is quiet.
    policy = CapPolicy(max_per_day=1, quiet_start=dt.time(21), quiet_end=dt.time(8))
    decision = send_window_decide(
        now=at(2, 12), recent_sends=[at(1, 21)], policy=policy, zone=STOCKHOLM
    )
    assert decision.reason == "frequency_cap"
    assert decision.not_before == at(3, 7)


def test_quiet_hours_follow_daylight_saving_time():
    # 29 March 2026: Stockholm moves to UTC+2, so 08:00 local is 06:00 UTC.
    policy = CapPolicy(max_per_day=0, quiet_start=dt.time(21), quiet_end=dt.time(8))
    decision = send_window_decide(
        now=dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), recent_sends=[], policy=policy, zone=STOCKHOLM
    )
    assert decision.not_before == dt.datetime(2026, 3, 29, 6, 0, tzinfo=UTC)


def test_a_send_stamped_just_after_now_by_another_worker_still_takes_the_slot():
    # Worker A read the clock at 12:00:00.000, then waited for the customer's lock while
    # worker B, whose clock read 12:00:00.015, reserved the day's only slot.
    now = at(2, 12)
    decision = send_window_decide(
        now=now, recent_sends=[now + dt.timedelta(milliseconds=15)],
        policy=CapPolicy(max_per_day=1), zone=STOCKHOLM,
    )
    assert (decision.allowed, decision.reason) == (False, "frequency_cap")
    assert decision.not_before == now + dt.timedelta(hours=24, milliseconds=15)
