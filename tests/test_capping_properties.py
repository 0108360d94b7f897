"""Properties of the cap and quiet-hours arithmetic, checked by independent rules."""
import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from campaigns.capping import CapPolicy, send_window_decide

pytestmark = pytest.mark.slow
UTC = dt.timezone.utc
DAY = dt.timedelta(hours=24)
WEEK = dt.timedelta(days=7)
MICROSECOND = dt.timedelta(microseconds=1)
YEAR_START = dt.datetime(2026, 1, 1, tzinfo=UTC)
YEAR_END = dt.datetime(2027, 1, 1, tzinfo=UTC)

ZONES = [
    ZoneInfo(name)
    for name in (
        "Europe/Stockholm",
        "Europe/Oslo",
        "Europe/Helsinki",
        "Europe/London",
        "America/New_York",
        "Asia/Tokyo",
        "Australia/Sydney",
        "Pacific/Chatham",
        "America/St_Johns",
    )
]
STOCKHOLM = ZoneInfo("Europe/Stockholm")
NEW_YORK = ZoneInfo("America/New_York")
CHATHAM = ZoneInfo("Pacific/Chatham")

# Fixed, derandomized and without an example database: the same examples on every run.
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True, database=None)


# The rules, stated independently of campaigns.capping ---------------------------


def sends_in_window(sends, *, ending, length):
    """How many sends fall in the rolling window (ending - length, ending]."""
    return sum(1 for sent in sends if ending - length < sent <= ending)


def cap_allows(sends, at, *, length, limit):
    """Whether a send at `at` keeps the window ending at `at` within `limit` (0: none).

    All recorded sends are at or before `at`, so of all windows holding the new send
    the one ending at `at` holds the most.
    """
    return not limit or sends_in_window([*sends, at], ending=at, length=length) <= limit


def gap_allows(sends, at, *, gap):
    return not gap or all(at - sent >= gap for sent in sends if sent <= at)


def local_time_is_quiet(at, *, zone, start, end):
    """Whether the customer's wall clock at `at` reads a time in [start, end).

    Only the wall clock counts: a quiet end the clocks skip in spring is over when they
    jump past it, and a wall time shown twice in autumn is quiet both times.
    """
    if start is None or end is None or start == end:
        return False
    wall = at.astimezone(zone).time()
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end  # the window runs over midnight


def broken_rules(at, *, sends, policy, zone):
    """The rules a capped send at `at` would break; empty when it may go."""
    broken = []
    if not cap_allows(sends, at, length=DAY, limit=policy.max_per_day):
        broken.append("max_per_day")
    if not cap_allows(sends, at, length=WEEK, limit=policy.max_per_week):
        broken.append("max_per_week")
    if not gap_allows(sends, at, gap=policy.min_gap):
        broken.append("min_gap")
    quiet_hours = {"start": policy.quiet_start, "end": policy.quiet_end}
    if local_time_is_quiet(at, zone=zone, **quiet_hours):
        broken.append("quiet_hours")
    return broken


def earliest(decision, now):
    return now if decision.allowed else decision.not_before


def wall_time_exists(day, time, zone):
    """Whether `time` on `day` is shown by the zone's clocks (not skipped by DST)."""
    wall = dt.datetime.combine(day, time)
    shown = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    return shown.replace(tzinfo=None) == wall


def offset_changes_at(moment, zone):
    before = (moment - MICROSECOND).astimezone(zone).utcoffset()
    return before != moment.astimezone(zone).utcoffset()


# Generated scenarios ----------------------------------------------------------------


def _offset_changes_in_2026(zone):
    """The instants of 2026 (UTC, to the minute) when the zone's UTC offset changes."""

    def offset(moment):
        return moment.astimezone(zone).utcoffset()

    changes, hour, minute = [], YEAR_START, dt.timedelta(minutes=1)
    while hour < YEAR_END:
        later = hour + dt.timedelta(hours=1)
        if offset(hour) != offset(later):
            change = later
            while offset(change - minute) == offset(later):
                change -= minute
            changes.append(change)
        hour = later
    return changes


def _wall_times_around(change, zone):
    """Wall times at, between and next to the two sides of a DST jump."""
    before = (change - MICROSECOND).astimezone(zone) + MICROSECOND
    after = change.astimezone(zone)
    low, high = sorted([before.replace(tzinfo=None), after.replace(tzinfo=None)])
    quarter = dt.timedelta(minutes=15)
    middle = low + (high - low) / 2
    walls = [low - quarter, low, middle, high - quarter, high, high + quarter]
    return [wall.time().replace(fold=0) for wall in walls]


DST_CHANGES = {zone: _offset_changes_in_2026(zone) for zone in ZONES}
DST_WALL_TIMES = {
    zone: sorted({t for c in DST_CHANGES[zone] for t in _wall_times_around(c, zone)})
    for zone in ZONES
}
ZONES_WITH_DST = [zone for zone in ZONES if DST_CHANGES[zone]]

# None, overnight, daytime.
COMMON_WINDOWS = [
    None,
    (dt.time(21), dt.time(8)),
    (dt.time(22), dt.time(7, 30)),
    (dt.time(12), dt.time(14)),
]
min_gaps = st.one_of(
    st.none(),
    st.sampled_from([dt.timedelta(minutes=30), dt.timedelta(hours=4), DAY]),
    st.builds(dt.timedelta, minutes=st.integers(1, 3 * 24 * 60)),
)


@st.composite
def policies(draw, zone, quiet_hours=None):
    """Caps, a gap and quiet hours; the quiet hours often start or end by a DST jump."""
    if quiet_hours is None:
        walls = st.builds(dt.time, hour=st.integers(0, 23), minute=st.integers(0, 59))
        if DST_WALL_TIMES[zone]:
            walls = st.one_of(st.sampled_from(DST_WALL_TIMES[zone]), walls)
        quiet_hours = st.sampled_from(COMMON_WINDOWS) | st.tuples(walls, walls)
    quiet = draw(quiet_hours) or (None, None)
    return CapPolicy(
        max_per_day=draw(st.integers(0, 3)),
        max_per_week=draw(st.integers(0, 6)),
        min_gap=draw(min_gaps),
        quiet_start=quiet[0],
        quiet_end=quiet[1],
    )


@st.composite
def moments(draw, zone):
    """An aware UTC moment in 2026, often hours or days from a DST jump in `zone`."""
    if DST_CHANGES[zone] and draw(st.booleans()):
        change = draw(st.sampled_from(DST_CHANGES[zone]))
        reach = draw(st.sampled_from([3 * 3600, 2 * 86400]))
        return change + dt.timedelta(seconds=draw(st.integers(-reach, reach)))
    return YEAR_START + dt.timedelta(seconds=draw(st.integers(0, 365 * 86400 - 1)))


def _at_wall_time(wall, zone, fold):
    return wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)


@st.composite
def night_moments(draw, zone, policy):
    """A moment whose wall-clock time in `zone` lies inside the policy's quiet hours."""
    day = draw(moments(zone)).astimezone(zone).date()
    start = dt.datetime.combine(day, policy.quiet_start)
    length = (dt.datetime.combine(day, policy.quiet_end) - start) % DAY
    seconds = length // dt.timedelta(seconds=1)
    lowest = draw(st.sampled_from([0, max(0, seconds - 3600)]))  # often the last hour
    wall = start + dt.timedelta(seconds=draw(st.integers(lowest, seconds - 1)))
    return _at_wall_time(wall, zone, fold=draw(st.integers(0, 1)))


# Send ages in seconds; the fixed ones sit on and next to the window edges.
send_ages = st.one_of(
    st.integers(0, 8 * 86400),
    st.sampled_from([0, 1, 86399, 86400, 86401, 604799, 604800, 604801]),
)


@st.composite
def scenarios(draw, kinds=("anytime", "at_night", "on_a_dst_night")):
    """(now, recent_sends, policy, zone) with every recorded send at or before now.

    at_night: the policy has quiet hours and `now` reads a time inside them (unless DST
    skips that wall time). on_a_dst_night: the quiet hours end next to a DST jump, and
    `now` reads a time shortly before that end on the night of the jump.
    """
    kind = draw(st.sampled_from(kinds))
    if kind == "on_a_dst_night":
        zone = draw(st.sampled_from(ZONES_WITH_DST))
        change = draw(st.sampled_from(DST_CHANGES[zone]))
        walls = _wall_times_around(change, zone)
        end = draw(st.sampled_from(walls))
        starts = st.sampled_from([*walls, dt.time(21), dt.time(0)])
        start = draw(starts.filter(lambda t: t != end))
        policy = draw(policies(zone, quiet_hours=st.just((start, end))))
        wall = dt.datetime.combine(change.astimezone(zone).date(), end)
        wall -= dt.timedelta(seconds=draw(st.integers(1, 90 * 60)))
        now = _at_wall_time(wall, zone, fold=draw(st.integers(0, 1)))
    else:
        zone = draw(st.sampled_from(ZONES))
        policy = draw(policies(zone))
        if kind == "at_night":
            assume(policy.quiet_start not in (None, policy.quiet_end))
            now = draw(night_moments(zone, policy))
        else:
            now = draw(moments(zone))
    ages = draw(st.lists(send_ages, max_size=8))
    sends = sorted(now - dt.timedelta(seconds=age) for age in ages)
    return now, sends, policy, zone


def decide(now, sends, policy, zone):
    return send_window_decide(now=now, recent_sends=sends, policy=policy, zone=zone)


def quiet(start, end, **caps):
    return CapPolicy(**{"max_per_day": 0, **caps}, quiet_start=start, quiet_end=end)


def utc(month, day, hour, minute=0):
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


# DST nights every run checks on top of the generated ones, with the not_before that
# follows from the rule that only the customer's wall clock counts.
NIGHT_TO_0230 = quiet(dt.time(21), dt.time(2, 30))
DST_NIGHTS = [
    # Stockholm jumps 02:00 CET -> 03:00 CEST on 29 March: an end of 02:30 is skipped.
    (utc(3, 28, 23, 30), [], NIGHT_TO_0230, STOCKHOLM, utc(3, 29, 1)),
    # Stockholm falls back 03:00 CEST -> 02:00 CET on 25 October: 02:10 comes twice
    # and is quiet both times.
    (utc(10, 25, 0, 10), [], NIGHT_TO_0230, STOCKHOLM, utc(10, 25, 0, 30)),
    (utc(10, 25, 1, 10), [], NIGHT_TO_0230, STOCKHOLM, utc(10, 25, 1, 30)),
    # New York jumps 02:00 EST -> 03:00 EDT on 8 March and falls back on 1 November.
    (utc(3, 8, 6, 30), [], quiet(dt.time(1), dt.time(2, 15)), NEW_YORK, utc(3, 8, 7)),
    (utc(11, 1, 6, 5), [], quiet(dt.time(1), dt.time(1, 30)), NEW_YORK,
     utc(11, 1, 6, 30)),
    # 01:50 EDT is quiet; at 06:00 UTC the clock falls back to 01:00 EST, before 01:30.
    (utc(11, 1, 5, 50), [], quiet(dt.time(1, 30), dt.time(8)), NEW_YORK, utc(11, 1, 6)),
    # Chatham jumps 02:45 -> 03:45 on 27 September; the cap frees at 02:15, in quiet
    # hours whose 03:00 end the clocks skip.
    (
        utc(9, 26, 12),
        [utc(9, 25, 13, 30)],
        quiet(dt.time(22), dt.time(3), max_per_day=1),
        CHATHAM,
        utc(9, 26, 14),
    ),
    # The everyday case: 21:00-08:00 on the European switch nights.
    (utc(3, 28, 22), [], quiet(dt.time(21), dt.time(8)), STOCKHOLM, utc(3, 29, 6)),
    (utc(10, 24, 22), [], quiet(dt.time(21), dt.time(8)), STOCKHOLM, utc(10, 25, 7)),
]
DST_EDGE_CASES = [night[:4] for night in DST_NIGHTS]


def with_edge_cases(**other_arguments):
    def decorate(test):
        for case in DST_EDGE_CASES:
            test = example(scenario=case, **other_arguments)(test)
        return test

    return decorate


# Properties -------------------------------------------------------------------------


@PROPERTY
@given(scenario=scenarios())
@with_edge_cases()
def test_a_message_allowed_now_breaks_no_rule_when_sent_now(scenario):
    # given
    now, sends, policy, zone = scenario
    # when
    decision = decide(now, sends, policy, zone)
    # then
    if decision.allowed:
        assert decision.not_before is None
        assert broken_rules(now, sends=sends, policy=policy, zone=zone) == []
    else:
        assert broken_rules(now, sends=sends, policy=policy, zone=zone) != []


@PROPERTY
@given(scenario=scenarios())
@with_edge_cases()
def test_a_deferred_message_breaks_no_rule_at_its_not_before(scenario):
    # given
    now, sends, policy, zone = scenario
    decision = decide(now, sends, policy, zone)
    assume(not decision.allowed)
    # when
    retried = decide(decision.not_before, sends, policy, zone)
    # then
    assert decision.reason in {"frequency_cap", "min_gap", "quiet_hours"}
    assert decision.not_before > now
    assert not broken_rules(decision.not_before, sends=sends, policy=policy, zone=zone)
    assert retried.allowed


UNITS = ("seconds", "minutes", "hours")
fractions_of_the_wait = st.lists(st.floats(0, 1, exclude_max=True), max_size=12)


@PROPERTY
@given(scenario=scenarios(), fractions=fractions_of_the_wait)
@with_edge_cases(fractions=[0.0, 0.5, 0.9, 0.999])
def test_no_moment_before_not_before_keeps_every_rule(scenario, fractions):
    # given
    now, sends, policy, zone = scenario
    decision = decide(now, sends, policy, zone)
    assume(not decision.allowed)
    wait = decision.not_before - now
    steps_back = [MICROSECOND, *(dt.timedelta(**{unit: 1}) for unit in UNITS)]
    # when
    candidates = {now, *(decision.not_before - step for step in steps_back)}
    candidates |= {now + wait * fraction for fraction in fractions}
    earlier = sorted(c for c in candidates if now <= c < decision.not_before)
    # then
    for moment in earlier:
        assert broken_rules(moment, sends=sends, policy=policy, zone=zone), moment


@PROPERTY
@given(scenario=scenarios(), age=send_ages)
@with_edge_cases(age=3600)
def test_one_more_recent_send_never_makes_the_earliest_moment_earlier(scenario, age):
    # given
    now, sends, policy, zone = scenario
    before = earliest(decide(now, sends, policy, zone), now)
    more = sorted([*sends, now - dt.timedelta(seconds=age)])
    # when
    after = earliest(decide(now, more, policy, zone), now)
    # then
    assert after >= before


@PROPERTY
@given(
    scenario=scenarios(),
    raise_day=st.integers(0, 3),
    raise_week=st.integers(0, 3),
    lift=st.sampled_from([None, "max_per_day", "max_per_week"]),
)
@with_edge_cases(raise_day=1, raise_week=1, lift=None)
def test_a_higher_cap_never_makes_the_earliest_moment_later(
    scenario, raise_day, raise_week, lift
):
    # given
    now, sends, policy, zone = scenario
    before = earliest(decide(now, sends, policy, zone), now)
    higher = dataclasses.replace(
        policy,
        max_per_day=policy.max_per_day and policy.max_per_day + raise_day,
        max_per_week=policy.max_per_week and policy.max_per_week + raise_week,
    )
    if lift:  # 0 means no cap, the highest cap there is
        higher = dataclasses.replace(higher, **{lift: 0})
    # when
    after = earliest(decide(now, sends, higher, zone), now)
    # then
    assert after <= before


@PROPERTY
@given(scenario=scenarios(kinds=("at_night", "on_a_dst_night")))
@with_edge_cases()
def test_quiet_hours_end_at_the_quiet_end_on_the_customers_wall_clock(scenario):
    # given
    now, sends, policy, zone = scenario
    # when
    decision = decide(now, sends, policy, zone)
    assume(decision.reason == "quiet_hours")
    # then
    local = decision.not_before.astimezone(zone)
    if local.time() != policy.quiet_end:
        # Only a DST jump ends them elsewhere: the clock skips the quiet end (spring)
        # or falls back to a time before the quiet start (autumn).
        assert offset_changes_at(decision.not_before, zone)
        just_before = decision.not_before - MICROSECOND
        assert broken_rules(just_before, sends=sends, policy=policy, zone=zone) == [
            "quiet_hours"
        ]
        skipped = not wall_time_exists(local.date(), policy.quiet_end, zone)
        fell_back = local.utcoffset() < just_before.astimezone(zone).utcoffset()
        assert skipped or fell_back


@pytest.mark.parametrize("now, sends, policy, zone, expected", DST_NIGHTS)
def test_dst_jumps_end_or_repeat_quiet_hours_as_the_wall_clock_shows(
    now, sends, policy, zone, expected
):
    # given: a night on which the customer's clocks change
    # when
    decision = decide(now, sends, policy, zone)
    # then
    assert decision.not_before == expected


def test_the_generated_moments_cover_both_dst_changes_of_europe_and_the_us():
    # given / when
    zones = (STOCKHOLM, NEW_YORK)
    changes = {zone.key: [c.date() for c in DST_CHANGES[zone]] for zone in zones}
    # then
    assert changes == {
        "Europe/Stockholm": [dt.date(2026, 3, 29), dt.date(2026, 10, 25)],
        "America/New_York": [dt.date(2026, 3, 8), dt.date(2026, 11, 1)],
    }
