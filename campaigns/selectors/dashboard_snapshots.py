"""The dashboard's tables from the nightly snapshots: stored days plus the open day(s) live.

For a period [since, until) of whole UTC days, every day before the snapshots' reach comes
from `MetricSnapshot` rows and the rest is counted live by the same `daily_*` functions
(`selectors/snapshots.py`); the rows are then added up and shaped exactly as the live
tables in `selectors/dashboard.py` are (the tests compare both on the same data).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from campaigns.models import MetricSnapshot
from campaigns.selectors import metrics
from campaigns.selectors import snapshots as daily
from campaigns.selectors.dashboard import (
    Table, campaign_names, cohort_table, lift_table, variants_table,
)

Kind = MetricSnapshot.Kind


@dataclass
class Reach:
    """`through`: days before it (and from `since`) come from the snapshots, the rest live;
    `cutoff`: the moment the stored cohort cells count orders up to. `rows` keeps each kind's
    day rows for the tables of one page that share them (sends, survey answers)."""

    since: dt.date
    until: dt.date
    through: dt.date
    cutoff: dt.date
    rows: dict = field(default_factory=dict, compare=False, repr=False)


def _is_midnight(moment: dt.datetime) -> bool:
    utc = moment.astimezone(daily.UTC)
    return utc.time() == dt.time()


def snapshot_reach(since: dt.datetime, until: dt.datetime) -> Reach | None:
    """How far the snapshots serve [since, until); None when they do not help (none built
    yet, the period starts on or after the first day not snapshotted, or a period that is not
    whole UTC days)."""
    if not (_is_midnight(since) and _is_midnight(until)):
        return None
    state = daily.snapshot_state()
    start, end = since.astimezone(daily.UTC).date(), until.astimezone(daily.UTC).date()
    if state is None or state.built_through <= start:
        return None
    return Reach(start, end, min(state.built_through, end), state.built_through)


def _days(kind: str, reach: Reach) -> list[MetricSnapshot]:
    if kind not in reach.rows:
        rows = daily.stored(kind, reach.since, reach.through)
        if reach.through < reach.until:
            rows += daily.DAILY[kind](daily.midnight(reach.through), daily.midnight(reach.until))
        reach.rows[kind] = rows
    return reach.rows[kind]


def _week(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _nps(promoters: int, detractors: int, answers: int) -> float:
    return round(100.0 * (promoters - detractors) / answers, 1)


def weekly_sends(reach: Reach) -> Table:
    weeks: dict = defaultdict(int)
    for row in _days(Kind.SENDS, reach):
        weeks[_week(row.day)] += row.values["sent"]
    return Table("weekly_sends", ("week", "sent"),
                 [(week, n) for week, n in sorted(weeks.items()) if n])


def weekly_nps(reach: Reach) -> Table:
    weeks: dict = defaultdict(lambda: [0, 0, 0])
    for row in _days(Kind.SURVEY, reach):
        if row.label == "nps":
            week = weeks[_week(row.day)]
            for i, name in enumerate(("answers", "promoters", "detractors")):
                week[i] += row.values[name]
    return Table("weekly_nps", ("week", "answers", "promoters", "detractors", "nps"), [
        (week, n, p, d, _nps(p, d, n)) for week, (n, p, d) in sorted(weeks.items()) if n])


def monthly_trends(reach: Reach) -> Table:
    sent: dict = defaultdict(int)
    for row in _days(Kind.SENDS, reach):
        sent[_month(row.day)] += row.values["sent"]
    scores: dict = defaultdict(lambda: defaultdict(lambda: [0, 0, 0, 0]))
    for row in _days(Kind.SURVEY, reach):
        cell = scores[_month(row.day)][row.label]
        for i, name in enumerate(("answers", "score_sum", "promoters", "detractors")):
            cell[i] += row.values[name]
    rows = []
    for month in sorted({m for m, n in sent.items() if n} | set(scores)):
        by_kind = scores.get(month, {})
        nps, csat, ces = by_kind.get("nps"), by_kind.get("csat"), by_kind.get("ces")
        rows.append((
            month, sent.get(month, 0), nps[0] if nps else 0,
            _nps(nps[2], nps[3], nps[0]) if nps else None,
            round(csat[1] / csat[0], 2) if csat else None,
            round(ces[1] / ces[0], 2) if ces else None,
        ))
    return Table("monthly_trends", ("month", "sent", "nps_answers", "nps", "csat", "ces"), rows)


def cohort_retention(reach: Reach) -> Table:
    """Cohort sizes: stored joining days, the rest live. Cells (distinct customers, which add
    up over joining days but not over order days): see the two cases below."""
    sizes: dict = defaultdict(int)
    for row in daily.stored(Kind.COHORT, reach.since, reach.through, month__isnull=True):
        sizes[_month(row.day)] += row.values["size"]
    if reach.through < reach.until:
        for row in daily.cohort_sizes(daily.midnight(reach.through), daily.midnight(reach.until)):
            sizes[_month(row.day)] += row.values["size"]
    cells: dict = defaultdict(int)

    def add(rows):
        for cohort, month, n in rows:
            cells[(daily.as_date(cohort), daily.as_date(month))] += n

    since, until = daily.midnight(reach.since), daily.midnight(reach.until)
    if reach.until >= reach.cutoff:
        # Stored: customers who joined before the cut-off, their orders before it. Live: their
        # orders since, if they had none earlier that month; and every order this month of
        # those who joined since the cut-off (their cohort month is this one or later).
        cutoff = daily.midnight(reach.cutoff)
        for row in daily.stored(Kind.COHORT, reach.since, reach.through, month__isnull=False):
            cells[(_month(row.day), row.month)] += row.values["customers"]
        if reach.cutoff < reach.until:
            add(daily.cohort_cells_live(joined_from=since, joined_until=cutoff,
                                        placed_from=cutoff, placed_until=until,
                                        stored_until=cutoff))
            add(daily.cohort_cells_live(joined_from=max(since, cutoff), joined_until=until,
                                        placed_from=daily.midnight(_month(reach.cutoff)),
                                        placed_until=until))
    else:
        # The period ends before the cut-off: stored cells for its whole months, its last
        # (partial) month counted live.
        last_month = _month(reach.until - dt.timedelta(days=1))
        for row in daily.stored(Kind.COHORT, reach.since, reach.through, month__lt=last_month):
            cells[(_month(row.day), row.month)] += row.values["customers"]
        add(daily.cohort_cells_live(joined_from=since, joined_until=until,
                                    placed_from=daily.midnight(last_month), placed_until=until))
    return cohort_table(dict(sizes), [(c, m, n) for (c, m), n in cells.items()])


FUNNEL = ("enrolled", "holdout", "sent", "delivered", "opened", "clicked", "converted")


def campaign_funnel(reach: Reach) -> Table:
    totals: dict = defaultdict(lambda: [0] * len(FUNNEL))
    for row in _days(Kind.FUNNEL, reach):
        numbers = totals[row.campaign_id]
        for i, name in enumerate(FUNNEL):
            numbers[i] += row.values[name]
    names = campaign_names(set(totals))
    rows = [(names[pk], *totals[pk]) for pk in sorted(names, key=lambda pk: names[pk])]
    return Table("campaign_funnel", ("campaign", *FUNNEL), rows)


def campaign_held_back(reach: Reach) -> Table:
    totals: dict = defaultdict(int)
    for row in _days(Kind.HELD_BACK, reach):
        state, reason = row.label.split(":", 1)
        totals[(row.campaign_id, state, reason)] += row.values["messages"]
    names = campaign_names({key[0] for key in totals})
    rows = sorted((names[c], s, r, n) for (c, s, r), n in totals.items() if c in names and n)
    return Table("campaign_held_back", ("campaign", "outcome", "reason", "messages"),
                 [(c, s, r or "(none)", n) for c, s, r, n in rows])


def _add_sums(into: list, values: dict) -> None:
    into[0] += values["n"]
    into[1] += values["conversions"]
    into[2] += Decimal(values["revenue"])
    into[3] += values["revenue_sq"]


def campaign_lift(reach: Reach) -> Table:
    arms: dict = defaultdict(lambda: [0, 0, Decimal(0), 0.0])
    for row in _days(Kind.LIFT, reach):
        _add_sums(arms[(row.campaign_id, row.label == "holdout")], row.values)
    return lift_table(metrics.lift_from_sums(
        [(campaign_id, holdout, *sums) for (campaign_id, holdout), sums in arms.items()]))


def campaign_variants(reach: Reach) -> Table:
    variants: dict = defaultdict(lambda: [0, 0, Decimal(0), 0.0, 0, 0])
    for row in _days(Kind.VARIANT, reach):
        sums = variants[(row.campaign_id, row.step_id, row.variant_id)]
        _add_sums(sums, row.values)
        sums[4] += row.values["opens"]
        sums[5] += row.values["clicks"]
    return variants_table(metrics.variants_from_sums([
        (*key, n, opens, clicks, conversions, revenue, revenue_sq)
        for key, (n, conversions, revenue, revenue_sq, opens, clicks) in variants.items()]))


SNAPSHOT_TABLES = {f.__name__: f for f in (
    weekly_sends, weekly_nps, monthly_trends, cohort_retention, campaign_funnel, campaign_held_back,
    campaign_lift, campaign_variants)}
