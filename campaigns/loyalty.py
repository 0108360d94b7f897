"""Pure loyalty arithmetic: points for an amount, month steps, the "your points" block."""
import calendar
import datetime as dt
from decimal import ROUND_FLOOR, Decimal

# The event the nightly job emits before points expire (a campaign trigger).
EXPIRING_EVENT = "points.expiring"


def points_for_amount(*, amount: Decimal, points_per_unit: Decimal) -> int:
    """floor(amount × points per unit): 499.00 SEK at 0.1 per SEK earns 49 points."""
    if amount <= 0 or points_per_unit <= 0:
        return 0
    return int((Decimal(amount) * Decimal(points_per_unit)).to_integral_value(ROUND_FLOOR))


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same time `months` calendar months earlier, the day clamped to the month's end
    (31 May minus 3 months is 28 or 29 February)."""
    total = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def tier_for(*, tier_points: int, tiers: list[tuple[str, int]]) -> str:
    """The highest tier whose threshold `tier_points` reaches ("" below every tier)."""
    name = ""
    for tier_name, threshold in sorted(tiers, key=lambda t: t[1]):
        if tier_points >= threshold:
            name = tier_name
    return name


def loyalty_block(
    *, balance: int, tier: str, tier_points: int, tiers: list[tuple[str, int]]
) -> dict:
    """What every template sees as `loyalty`.

    `next_tier` is the lowest tier above the points earned in the last 12 months and
    `points_to_next_tier` the points still to earn for it; both None at the top tier.
    """
    above = sorted((t for t in tiers if t[1] > tier_points), key=lambda t: t[1])
    next_tier = above[0] if above else None
    return {
        "balance": balance,
        "points_balance": balance,  # The name templates used before tiers existed.
        "tier": tier,
        "tier_points": tier_points,
        "next_tier": next_tier[0] if next_tier else None,
        "points_to_next_tier": next_tier[1] - tier_points if next_tier else None,
    }
