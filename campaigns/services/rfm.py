"""RFM scores and lifecycle stages for every customer, recomputed set-based in SQL.

`customers_score()` runs nightly (Celery beat), on demand (`manage.py score_customers`, the
customer list's button) and is safe to run at any time: a second run at the same moment
changes nothing and emits no events.
"""
import dataclasses
import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField, Case, CharField, Count, ExpressionWrapper, F, IntegerField, Q, Value, When,
    Window,
)
from django.db.models.functions import Rank

from campaigns import clock
from campaigns.models import Customer, Event, LifecycleStage

# The scratch table holding one scoring run's snapshot (a temporary table: private to the
# connection, gone with it).
_SNAPSHOT = "rfm_scoring_snapshot"
# Serialises concurrent runs on PostgreSQL (the beat and a marketer's button at once), so a
# stage change is seen, and emitted as an event, by exactly one of them. SQLite serialises
# writers by itself (IMMEDIATE transactions).
_ADVISORY_LOCK = 0x52464D  # "RFM"
EVENT_PREFIX = "lifecycle."


@dataclasses.dataclass(frozen=True)
class LifecycleThresholds:
    """The stage rules' numbers, all from settings (environment variables LIFECYCLE_*)."""

    new_days: int
    at_risk_days: int
    lapsed_days: int
    won_back_days: int
    loyal_min_orders: int

    @classmethod
    def from_settings(cls) -> "LifecycleThresholds":
        return cls(
            new_days=settings.LIFECYCLE_NEW_DAYS,
            at_risk_days=settings.LIFECYCLE_AT_RISK_DAYS,
            lapsed_days=settings.LIFECYCLE_LAPSED_DAYS,
            won_back_days=settings.LIFECYCLE_WON_BACK_DAYS,
            loyal_min_orders=settings.LIFECYCLE_LOYAL_MIN_ORDERS,
        )

    def __post_init__(self):
        if not 0 < self.at_risk_days < self.lapsed_days:
            raise ValueError(
                "Lifecycle thresholds: LIFECYCLE_AT_RISK_DAYS must be above 0 and below "
                f"LIFECYCLE_LAPSED_DAYS (got {self.at_risk_days} and {self.lapsed_days})."
            )
        for name in ("new_days", "won_back_days", "loyal_min_orders"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"Lifecycle thresholds: LIFECYCLE_{name.upper()} must be at least 1 "
                    f"(got {getattr(self, name)})."
                )


@dataclasses.dataclass
class ScoringReport:
    customers: int = 0  # customers scored (erased ones are left alone)
    with_orders: int = 0  # customers with RFM scores
    updated: int = 0  # customers whose stage or a score changed (the rows written)
    stage_changes: int = 0  # stages that changed, including first-time stages
    events: int = 0  # lifecycle.<stage> events emitted
    by_stage: dict = dataclasses.field(default_factory=dict)


def _quintile(order_by) -> ExpressionWrapper:
    """1-5 by rank among customers with orders: 1 + floor(5 × (rank − 1) / count).

    Identical values share a rank, so identical customers always land in the same quintile
    (the lowest one their group touches), unlike NTILE, which cuts ties arbitrarily. With
    no ties it gives NTILE's quintiles when the count is a multiple of five.
    """
    has_orders = [F("has_orders")]
    rank = Window(Rank(), partition_by=has_orders, order_by=order_by)
    total = Window(Count("pk"), partition_by=has_orders)
    return ExpressionWrapper(
        Value(1) + (Value(5) * (rank - Value(1))) / total, output_field=IntegerField()
    )


def stage_expression(*, now: dt.datetime, thresholds: LifecycleThresholds) -> Case:
    """The lifecycle stage a customer is in at `now`, from their order facts and their
    previous stage (first match wins; README lists the definitions)."""
    days = dt.timedelta(days=1)
    lapsed_before = now - thresholds.lapsed_days * days
    at_risk_before = now - thresholds.at_risk_days * days
    return Case(
        When(Q(order_count=0) | Q(last_order_at__isnull=True), then=Value(LifecycleStage.PROSPECT)),
        When(last_order_at__lte=lapsed_before, then=Value(LifecycleStage.LAPSED)),
        When(last_order_at__lte=at_risk_before, then=Value(LifecycleStage.AT_RISK)),
        # Ordered again after being lapsed; the stage holds for won_back_days.
        When(Q(lifecycle_stage=LifecycleStage.LAPSED) | Q(
            lifecycle_stage=LifecycleStage.WON_BACK,
            lifecycle_stage_since__gt=now - thresholds.won_back_days * days,
        ), then=Value(LifecycleStage.WON_BACK)),
        When(first_order_at__gt=now - thresholds.new_days * days, then=Value(LifecycleStage.NEW)),
        When(order_count__gte=thresholds.loyal_min_orders, then=Value(LifecycleStage.LOYAL)),
        default=Value(LifecycleStage.ACTIVE),
        output_field=CharField(),
    )


def _snapshot_query(*, now: dt.datetime, thresholds: LifecycleThresholds):
    """(sql, params): id, old and new stage, R, F, M of each (not erased) customer whose
    stage or a score would change at `now`."""
    has_orders = ExpressionWrapper(
        Q(order_count__gt=0, last_order_at__isnull=False), output_field=BooleanField()
    )
    scored = (
        Customer.objects.filter(erased_at__isnull=True)
        .annotate(has_orders=has_orders)
        .annotate(
            new_stage=stage_expression(now=now, thresholds=thresholds),
            r=Case(When(has_orders=True, then=_quintile(F("last_order_at").asc())),
                   output_field=IntegerField()),
            f=Case(When(has_orders=True, then=_quintile(F("order_count").asc())),
                   output_field=IntegerField()),
            m=Case(When(has_orders=True, then=_quintile(F("total_spent").asc())),
                   output_field=IntegerField()),
        )
        .order_by()
        .values("id", "lifecycle_stage", "new_stage", "r", "f", "m",
                "rfm_recency", "rfm_frequency", "rfm_monetary")
    )
    sql, params = scored.query.sql_with_params()
    # Only the customers whose stage or a score changes: rewriting a million unchanged rows
    # (every index entry of each, since the row moves) is what would make a night slow.
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    return (
        f"""SELECT id, lifecycle_stage, new_stage, r, f, m FROM ({sql}) scored
            WHERE new_stage <> lifecycle_stage OR r {differs} rfm_recency
                OR f {differs} rfm_frequency OR m {differs} rfm_monetary""",
        params,
    )


def _update_from_supported() -> bool:
    """UPDATE … FROM: PostgreSQL, and SQLite from 3.33 (Django 5.2 accepts 3.31)."""
    return connection.vendor != "sqlite" or connection.Database.sqlite_version_info >= (3, 33)


def _update_statement(customer_table: str, at) -> tuple[str, list]:
    """The UPDATE that writes the snapshot's values onto the customers it names."""
    since = f"""CASE WHEN s.new_stage = s.lifecycle_stage
                    THEN {customer_table}.lifecycle_stage_since ELSE %s END"""
    if _update_from_supported():
        return (f"""UPDATE {customer_table}
                    SET rfm_recency = s.r, rfm_frequency = s.f, rfm_monetary = s.m,
                        lifecycle_stage = s.new_stage, lifecycle_stage_since = {since},
                        scored_at = %s
                    FROM {_SNAPSHOT} s
                    WHERE {customer_table}.id = s.id""", [at, at])
    # Older SQLite: a row-value assignment from a correlated subquery (SQLite >= 3.15).
    return (f"""UPDATE {customer_table}
                SET (rfm_recency, rfm_frequency, rfm_monetary, lifecycle_stage,
                     lifecycle_stage_since, scored_at) = (
                    SELECT s.r, s.f, s.m, s.new_stage, {since}, %s
                    FROM {_SNAPSHOT} s WHERE s.id = {customer_table}.id)
                WHERE id IN (SELECT id FROM {_SNAPSHOT})""", [at, at])


def customers_score(*, now: dt.datetime | None = None) -> ScoringReport:
    """Recompute every customer's RFM quintiles and lifecycle stage, in one transaction.

    R, F and M rank the customers with at least one order by last order time, order count
    and total spent (5 = most recent, most frequent, highest spend); the rest get no scores.
    Every (not erased) customer gets a stage. Only customers whose stage or a score changes
    are written, with `scored_at = now`; `lifecycle_stage_since` moves only when the stage
    changes. A change from a previous stage inserts one `lifecycle.<new stage>` event with
    properties `{"from": <old stage>}`, which event-triggered campaigns pick up; a
    customer's first stage (blank before) emits none, so the first run on an existing base
    does not start journeys for everyone at once.

    One snapshot decides both the events and the new values, so they always agree; a
    purchase that commits mid-run is counted by the next run. Raises ValueError, before
    anything is written, when the LIFECYCLE_* settings contradict each other.
    """
    now = now or clock.now()
    thresholds = LifecycleThresholds.from_settings()
    customer_table = connection.ops.quote_name(Customer._meta.db_table)
    event_table = connection.ops.quote_name(Event._meta.db_table)
    changes_sql, changes_params = _snapshot_query(now=now, thresholds=thresholds)
    at = connection.ops.adapt_datetimefield_value(now)
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        properties = "jsonb_build_object('from', s.lifecycle_stage)"
    else:
        properties = "json_object('from', s.lifecycle_stage)"
    report = ScoringReport()
    with transaction.atomic(), connection.cursor() as cursor:
        if postgresql:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
            # The three rank sorts over every customer fit in memory instead of spilling.
            cursor.execute("SELECT set_config('work_mem', %s, true)", [settings.RFM_WORK_MEM])
        cursor.execute(f"DROP TABLE IF EXISTS {_SNAPSHOT}")
        cursor.execute(f"CREATE TEMPORARY TABLE {_SNAPSHOT} AS {changes_sql}", changes_params)
        if postgresql:
            cursor.execute(f"ANALYZE {_SNAPSHOT}")
        elif not _update_from_supported():
            cursor.execute(f"CREATE UNIQUE INDEX {_SNAPSHOT}_id ON {_SNAPSHOT} (id)")
        cursor.execute(
            f"""INSERT INTO {event_table} (customer_id, type, occurred_at, received_at, properties)
                SELECT s.id, '{EVENT_PREFIX}' || s.new_stage, %s, %s, {properties}
                FROM {_SNAPSHOT} s
                WHERE s.lifecycle_stage <> '' AND s.lifecycle_stage <> s.new_stage""",
            [at, at],
        )
        report.events = cursor.rowcount
        cursor.execute(*_update_statement(customer_table, at))
        report.updated = cursor.rowcount
        cursor.execute(f"SELECT COUNT(*) FROM {_SNAPSHOT} WHERE new_stage <> lifecycle_stage")
        report.stage_changes = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {_SNAPSHOT}")
    for stage, count, with_orders in (
        Customer.objects.filter(erased_at__isnull=True).order_by()
        .values_list("lifecycle_stage").annotate(Count("pk"), Count("rfm_recency"))
    ):
        report.by_stage[stage] = count
        report.customers += count
        report.with_orders += with_orders
    return report


def score_counts_words(report: ScoringReport) -> str:
    """e.g. "1,204 customers scored (980 with orders); 57 changed: 31 stage changes, 12
    lifecycle events"."""
    return (f"{report.customers:,} customers scored ({report.with_orders:,} with orders); "
            f"{report.updated:,} changed: {report.stage_changes:,} stage changes, "
            f"{report.events:,} lifecycle events")
