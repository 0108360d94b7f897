"""The send pipeline as the benchmarks drive it, in process: one place for the API switch.

Import it after `django.setup()`. `pipeline_drain(now)` plans, advances, claims and sends
whatever is due at `now` until nothing is; it uses `sending.messages_send_due` when the
send path has it (claims and sends up to `limit` due messages per call), else today's API
(`scheduler_tick` claims and returns batches of ids; `messages_send` sends each batch).
`now` may be a datetime (a virtual clock) or a callable such as `campaigns.clock.now`,
read again for every tick and every batch (a real clock).

Shared data setup for the benchmarks lives here too (the scheduler benchmark builds the
same inline in its main and throughput functions): a prepared scratch database and
signups that start the welcome journey.
"""
import dataclasses
import datetime as dt
import inspect
from typing import Callable

from django.core.management import call_command
from django.db import connection

from campaigns import models as m
from campaigns.services import scheduling, sending
from campaigns.services.demo import demo_load

Clock = dt.datetime | Callable[[], dt.datetime]
OUTCOMES = ("sent", "deferred", "skipped", "expired", "failed", "unknown", "released")


@dataclasses.dataclass
class DrainReport:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    skipped: int = 0
    expired: int = 0
    failed: int = 0
    unknown: int = 0
    released: int = 0
    calls: int = 0  # send calls (batches today, messages_send_due calls after the rewrite)

    def add(self, report) -> None:
        for name in OUTCOMES:
            setattr(self, name, getattr(self, name) + getattr(report, name, 0))
        self.calls += 1


def _at(now: Clock) -> dt.datetime:
    return now() if callable(now) else now


def pipeline_has_send_due() -> bool:
    """True once the send path claims by itself (`messages_send_due`, the rewrite)."""
    return hasattr(sending, "messages_send_due")


def pipeline_api() -> str:
    """Which send API the drain uses, for the benchmarks' reports."""
    if pipeline_has_send_due():
        return "rewrite: scheduler_tick + messages_send_due"
    return "today: scheduler_tick claims batches + messages_send"


def pipeline_plan(now: Clock) -> int:
    """Plan and advance what is due at `now` without claiming it; returns messages made."""
    claims = "claim_limit" in inspect.signature(scheduling.scheduler_tick).parameters
    made = 0
    for _ in range(100):
        report = (scheduling.scheduler_tick(now=_at(now), claim_limit=0) if claims
                  else scheduling.scheduler_tick(now=_at(now)))
        made += report.messages_created
        if not report.enrolled and not report.advanced:
            break
    # The rewrite makes a journey's opening message while planning: the tick counts what
    # is due instead.
    return getattr(report, "due", made)


def pipeline_drain(now: Clock, *, limit: int = 1000, on_batch=None) -> DrainReport:
    """Send everything due at `now`; returns the outcomes summed.

    `limit` bounds what one claim takes (per tick today, per `messages_send_due` call
    after the rewrite), so that several processes draining together share the work.
    `on_batch(report)` runs after every send call (e.g. to empty a test outbox).
    """
    drained = DrainReport()
    if pipeline_has_send_due():
        while True:
            tick = scheduling.scheduler_tick(now=_at(now))
            claimed = 0
            while True:
                # With a real clock the send path reads it itself, once per group.
                report = sending.messages_send_due(now=None if callable(now) else now,
                                                   limit=limit)
                if not report.claimed:
                    break
                claimed += report.claimed
                drained.claimed += report.claimed
                drained.add(report)
                if on_batch is not None:
                    on_batch(report)
            if not claimed and not tick.enrolled and not tick.advanced:
                return drained
    while True:
        tick = scheduling.scheduler_tick(now=_at(now), claim_limit=limit)
        for batch in tick.batches:
            report = sending.messages_send(message_ids=batch, now=_at(now))
            drained.claimed += len(batch)
            drained.add(report)
            if on_batch is not None:
                on_batch(report)
        if not tick.batches and not tick.enrolled:
            return drained


def pipeline_pending() -> int:
    """Messages not yet settled: pending (a retry waiting for its time), claimed or sending."""
    return m.Message.objects.filter(state__in=(
        m.Message.State.PENDING, m.Message.State.CLAIMED, m.Message.State.SENDING)).count()


def pipeline_next_due() -> dt.datetime | None:
    """When the earliest pending message falls due (None when nothing is pending)."""
    row = (m.Message.objects.filter(state=m.Message.State.PENDING)
           .order_by("due_at").values_list("due_at", flat=True).first())
    return row


def database_prepare(*, now: dt.datetime) -> None:
    """Migrate and empty the scratch database, load the demo journeys with no customers
    and mark every campaign planned up to `now` (as the scheduler benchmark does)."""
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    demo_load(customers=0)
    m.Campaign.objects.update(planned_through=now)


def bench_customer_count() -> int:
    """How many synthetic customers (`customers_grow`'s "b-<n>") the database has."""
    return m.Customer.objects.filter(external_id__startswith="b-").count()


def welcomes_queue(*, customer_ids: list[int], now: dt.datetime, tag: str = "bench") -> None:
    """A signup event at `now` for each customer: the next tick enrols them in the welcome
    journey (their earlier welcome enrollments are removed so the entry key allows it)."""
    m.Enrollment.objects.filter(customer_id__in=customer_ids).delete()
    m.Event.objects.bulk_create([
        m.Event(customer_id=cid, type="signup", occurred_at=now,
                event_id=f"{tag}-{now:%Y%m%d%H%M%S%f}-{cid}")
        for cid in customer_ids
    ], batch_size=5000)


def database_row_writes() -> int:
    """Rows inserted, updated and deleted so far in this database (PostgreSQL's counters,
    this connection's pending ones flushed first)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
                       "FROM pg_stat_user_tables")
        return int(cursor.fetchone()[0])


def database_analyze() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
