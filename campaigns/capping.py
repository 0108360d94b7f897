"""Frequency caps, minimum gap and quiet hours, as a pure function of plain values.

The sender gathers the inputs (recent send times, the policy, the customer's zone) under
a per-customer lock and asks `send_window_decide` whether a message may go now, and if
not, the earliest moment it may.
"""
import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

DAY = dt.timedelta(hours=24)
# How far ahead of "now" another worker's send may be stamped and still count: the wait
# for a customer's lock plus clock differences between machines.
CLOCK_SKEW = dt.timedelta(minutes=10)
WEEK = dt.timedelta(days=7)


@dataclasses.dataclass(frozen=True)
class CapPolicy:
    max_per_day: int = 1  # 0 means no cap
    max_per_week: int = 0
    min_gap: dt.timedelta | None = None
    quiet_start: dt.time | None = None
    quiet_end: dt.time | None = None


@dataclasses.dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""  # frequency_cap, min_gap or quiet_hours when not allowed
    not_before: dt.datetime | None = None  # earliest moment every rule allows


def _cap_frees_at(moment, sends, *, window, limit):
    """When the rolling window (moment - window, moment] holds fewer than `limit` sends."""
    if not limit:
        return None
    # Sends stamped a little after `moment` count too: another worker whose clock read
    # later (or runs fast) may have reserved a slot while this one waited for the lock.
    inside = sorted(s for s in sends if moment - window < s <= moment + CLOCK_SKEW)
    if len(inside) < limit:
        return None
    # The oldest sends must leave the window until only limit - 1 remain.
    return inside[len(inside) - limit] + window


def _in_quiet_hours(local: dt.datetime, start: dt.time, end: dt.time) -> bool:
    t = local.time().replace(tzinfo=None)
    if start <= end:
        return start <= t < end
    return t >= start or t < end


def _offset_change(after: dt.datetime, before: dt.datetime, zone: ZoneInfo):
    """The first instant in (after, before] with the UTC offset in `zone` of `before`."""
    offset = before.astimezone(zone).utcoffset()
    while before - after > dt.timedelta(microseconds=1):
        middle = after + (before - after) // 2
        if middle.astimezone(zone).utcoffset() == offset:
            before = middle
        else:
            after = middle
    return before


def _quiet_hours_end(moment, *, zone: ZoneInfo, start: dt.time, end: dt.time):
    """The first moment at or after `moment` outside quiet hours, in UTC.

    Quiet hours are read off the customer's wall clock, so a DST jump can end them early
    (the clock skips `end`, or falls back to before `start`) or bring them back (it
    falls back into them).
    """
    moment = moment.astimezone(dt.timezone.utc)  # so that + timedelta is elapsed time
    local = moment.astimezone(zone)
    if not _in_quiet_hours(local, start, end):
        return None
    while _in_quiet_hours(local, start, end):
        wall = local.replace(tzinfo=None)
        day = wall.date()
        if not (start <= end) and wall.time() >= start:
            day += dt.timedelta(days=1)  # evening part: quiet hours end tomorrow morning
        # When the clock reads `end` if the offset stays; if it changes first, carry
        # on from the change, where the clock jumps.
        wake = moment + (dt.datetime.combine(day, end) - wall)
        if wake.astimezone(zone).utcoffset() == local.utcoffset():
            return wake
        moment = _offset_change(moment, wake, zone)
        local = moment.astimezone(zone)
    return moment


def send_window_decide(
    *, now: dt.datetime, recent_sends: list[dt.datetime], policy: CapPolicy, zone: ZoneInfo
) -> Decision:
    """May a capped message go at `now`? If not, why, and from when may it go.

    `recent_sends` are the send times of the customer's capped messages (at least the
    last 7 days). The earliest allowed moment satisfies every rule at once.
    """
    reason = ""
    moment = now
    for _ in range(20):  # each rule only pushes later; a few rounds reach the fixpoint
        pushes = [
            ("frequency_cap", _cap_frees_at(moment, recent_sends, window=DAY, limit=policy.max_per_day)),
            ("frequency_cap", _cap_frees_at(moment, recent_sends, window=WEEK, limit=policy.max_per_week)),
            ("min_gap", (max(recent_sends) + policy.min_gap)
             if policy.min_gap and recent_sends and max(recent_sends) + policy.min_gap > moment else None),
            ("quiet_hours", _quiet_hours_end(moment, zone=zone, start=policy.quiet_start, end=policy.quiet_end)
             if policy.quiet_start is not None and policy.quiet_end is not None
             and policy.quiet_start != policy.quiet_end else None),
        ]
        blocking = [(name, at) for name, at in pushes if at is not None and at > moment]
        if not blocking:
            break
        if not reason:
            reason = blocking[0][0]
        moment = max(at for _, at in blocking)
    if moment == now:
        return Decision(allowed=True)
    return Decision(allowed=False, reason=reason, not_before=moment)
