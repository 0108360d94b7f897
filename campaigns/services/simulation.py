"""Run the scheduler on a virtual clock, in-process and synchronously.

`simulation_run` ticks on the current connection: what it does is real (the `simulate`
command on a development database). `simulation_dry_run` ticks the same code inside a
sandbox (`sandbox_run` below): its own thread and connection, every table the replay
writes shadowed by a temporary table, sends handed to a backend that renders and delivers
nothing. What differs between the two is passed down as arguments (the backend, the
campaigns), never swapped in settings: a settings swap is process-wide, and a forecast
once restored the real backend while another thread was still sending through it.

Both treat every trigger alike over any span, past or future: the simulated campaigns'
planning cursors are moved back to the span's start when they stand past it
(`_cursors_rewind`), so a span before the campaign's last real planning replays its
inactivity lapses, birthdays and scheduled runs as it replays its events; afterwards they
go forward again to where the real planning had them (`_cursors_restore`).
"""
import dataclasses
import datetime as dt
import re
import threading
from collections import Counter, defaultdict

from django.core.mail.backends.base import BaseEmailBackend
from django.db.models import Max, Min, OuterRef, Subquery

from campaigns import clock
from campaigns.models import (
    Campaign, Coupon, Customer, Enrollment, Event, EventLine, Heartbeat, Message, MessageLog, Order,
    PointsEntry, Referral, ReferralCode, SegmentMembership,
)
from campaigns.services.planning import campaign_is_live, schedule_occurrences
from campaigns.services.referral_rewards import referral_rewards_next_at
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import CAP_LOOKBACK, messages_send_due

# The backend a dry run hands its emails to: built and rendered, delivered nowhere.
RENDER_ONLY_BACKEND = "campaigns.services.simulation.RenderOnlyBackend"
SAMPLE_SIZE = 20


# Per thread: the list a dry run's emails go to, when its caller wants to see them.
_collector = threading.local()


class RenderOnlyBackend(BaseEmailBackend):
    """Takes every email it is given and sends none: a dry run's hand-over.

    The sandbox thread's collector (if any) keeps them for the `simulate --dry-run`
    listing; it is per thread, so two dry runs at once never see each other's.
    """

    def send_messages(self, email_messages):
        collected = getattr(_collector, "emails", None)
        if collected is not None:
            collected.extend(email_messages)
        return len(email_messages)


@dataclasses.dataclass
class CampaignSummary:
    enrolled: int = 0
    sent: int = 0
    deferred: int = 0
    skipped: Counter = dataclasses.field(default_factory=Counter)
    expired: Counter = dataclasses.field(default_factory=Counter)
    failed: Counter = dataclasses.field(default_factory=Counter)
    # Why sends were held back for a while (quiet hours, caps), by reason.
    deferred_reasons: Counter = dataclasses.field(default_factory=Counter)
    # Messages made in the span and still waiting at its end (held back, or not due yet).
    waiting: int = 0
    # Up to SAMPLE_SIZE customers who entered, by id, in the order they entered.
    sample: list = dataclasses.field(default_factory=list)
    campaign_id: int | None = None


def _summarise(enrollment_floor: int, log_floor: int, sent_ids: list[int]) -> dict[str, CampaignSummary]:
    summary: dict[str, CampaignSummary] = defaultdict(CampaignSummary)
    for name, campaign_id, customer_id in Enrollment.objects.filter(
            id__gt=enrollment_floor).order_by("id").values_list(
            "campaign__name", "campaign_id", "customer_id"):
        entry = summary[name]
        entry.enrolled += 1
        entry.campaign_id = campaign_id
        if len(entry.sample) < SAMPLE_SIZE and customer_id not in entry.sample:
            entry.sample.append(customer_id)
    for name, in Message.objects.filter(
            enrollment_id__gt=enrollment_floor, state=Message.State.PENDING).values_list(
            "campaign__name"):
        summary[name].waiting += 1
    # Sends are not logged (the message row explains them): the sender names them.
    for name, in Message.objects.filter(id__in=sent_ids).values_list("campaign__name"):
        summary[name].sent += 1
    for name, state, reason in MessageLog.objects.filter(id__gt=log_floor).values_list(
        "message__campaign__name", "state", "reason"
    ):
        entry = summary[name]
        if state == "deferred":
            entry.deferred += 1
            entry.deferred_reasons[reason or "-"] += 1
        elif state in ("skipped", "expired", "failed"):
            getattr(entry, state)[reason or "-"] += 1
    return dict(summary)


def _cursors_restore(saved: list[tuple]) -> None:
    """Put the planning cursors forward again to where the real planning had them.

    A replay of the past leaves its campaigns' cursors at the span's end; left there, the
    next real tick would plan the time between it and now, enrolling (and emailing) every
    customer who lapsed since, long after the fact.
    """
    for pk, watermark, ceiling, planned_through in saved:
        Campaign.objects.filter(pk=pk, event_watermark__lt=watermark).update(
            event_watermark=watermark)
        Campaign.objects.filter(pk=pk, event_ceiling__lt=ceiling).update(event_ceiling=ceiling)
        if planned_through is not None:
            Campaign.objects.filter(pk=pk, planned_through__lt=planned_through).update(
                planned_through=planned_through)


def _cursors_rewind(campaigns, *, start: dt.datetime) -> None:
    """Stand each campaign's planning cursors at `start` when they are past it.

    Event triggers look at events past a watermark of ids, the others plan from
    `planned_through`; both are moved back only, never forward (a span in the future
    plans the time between the last real planning and its start, as the real tick will).
    The event watermark goes below the first event at or after `start` (ids are not in
    time order when history was imported: an older event above it is looked at again and,
    already enrolled, changes nothing); a segment's below its entries since `start`.
    """
    first_event = Event.objects.filter(occurred_at__gte=start).aggregate(m=Min("id"))["m"]
    event_floor = (first_event - 1 if first_event is not None
                   else Event.objects.aggregate(m=Max("id"))["m"] or 0)
    for campaign in campaigns:
        changes = {}
        if campaign.trigger == Campaign.Trigger.EVENT:
            floor = event_floor
        elif campaign.trigger == Campaign.Trigger.SEGMENT_ENTRY:
            floor = SegmentMembership.objects.filter(
                segment_id=campaign.trigger_segment_id(), entered_at__lt=start,
            ).aggregate(m=Max("id"))["m"] or 0
        else:
            floor = None
        if floor is not None and campaign.event_watermark > floor:
            changes.update(event_watermark=floor, event_ceiling=floor)
        if campaign.planned_through is None or campaign.planned_through > start:
            changes["planned_through"] = start
        if changes:
            Campaign.objects.filter(pk=campaign.pk).update(**changes)


def _last_orders_as_of(*, after: dt.datetime | None, moment: dt.datetime) -> None:
    """Set the customers' last order to what it was at `moment` (the sandbox's copy).

    The inactivity trigger reads `last_order_at`, which ingest keeps at the latest order:
    replaying the past with today's value, a customer who lapsed in June and came back
    in September would never lapse in June. With `after` None: everyone with an order
    after `moment` goes back to their last order before it; otherwise the customers who
    ordered in (after, moment] move forward to it.
    """
    orders = Order.objects.exclude(status=Order.Status.CANCELLED)
    changed = (orders.filter(placed_at__gt=moment) if after is None
               else orders.filter(placed_at__gt=after, placed_at__lte=moment))
    last = (orders.filter(customer_id=OuterRef("pk"), placed_at__lte=moment).order_by()
            .values("customer_id").annotate(m=Max("placed_at")).values("m"))
    Customer.objects.filter(pk__in=changed.values("customer_id")).update(
        last_order_at=Subquery(last))


def next_moment(*, after: dt.datetime, until: dt.datetime) -> dt.datetime | None:
    """The earliest moment after `after` at which a tick could do anything, or None.

    Everything a tick acts on has a time: a message's due time, an enrollment's next
    action, an event of a type a campaign triggers or exits on, a lapse coming due, a new day (birthdays), a
    scheduled run, a segment entry, a campaign's start or end, a referral reward coming due. A tick at an idle moment
    writes nothing that changes a later tick, so the simulator skips to the first tick on
    its grid at or after the earliest of them: the same result as ticking every step.
    An order needs no tick of its own: the customer's lapse it would cancel is a moment
    already, and the tick then first moves last orders up to it (`_last_orders_as_of`).
    """
    live = [c for c in Campaign.objects.filter(status=Campaign.Status.ACTIVE)]
    candidates = [
        Message.objects.filter(state=Message.State.PENDING, campaign__status=Campaign.Status.ACTIVE)
        .aggregate(m=Min("due_at"))["m"],
        Enrollment.objects.filter(state=Enrollment.State.ACTIVE,
                                  campaign__status=Campaign.Status.ACTIVE)
        .aggregate(m=Min("next_action_at"))["m"],
    ]
    # Only the events a live campaign starts or ends a journey on.
    types = {c.trigger_event_type for c in live if c.trigger == Campaign.Trigger.EVENT}
    # An exit event matters while the campaign has journeys under way.
    types |= {t for c in live if c.exit_event_types and Enrollment.objects.filter(
        campaign=c, state=Enrollment.State.ACTIVE).exists() for t in c.exit_event_types}
    if types:
        candidates.append(Event.objects.filter(occurred_at__gt=after, type__in=types)
                          .aggregate(m=Min("occurred_at"))["m"])
    for campaign in live:
        candidates += [m for m in (campaign.active_from, campaign.active_until) if m and m > after]
        if not campaign_is_live(campaign, now=after) and not (
                campaign.active_from and campaign.active_from > after):
            continue
        if campaign.trigger == Campaign.Trigger.INACTIVITY:
            lapse = dt.timedelta(days=int(campaign.trigger_config.get("days", 90)))
            last = Customer.objects.filter(
                last_order_at__gt=after - lapse, erased_at__isnull=True,
            ).aggregate(m=Min("last_order_at"))["m"]
            candidates.append(last + lapse if last else None)
        elif campaign.trigger == Campaign.Trigger.DATE_ATTRIBUTE:
            day = after.astimezone(dt.timezone.utc).date() + dt.timedelta(days=1)
            candidates.append(dt.datetime.combine(day, dt.time(0), tzinfo=dt.timezone.utc))
        elif campaign.trigger == Campaign.Trigger.SCHEDULE:
            runs = schedule_occurrences(campaign, after=after, until=until)
            candidates.append(runs[0] if runs else None)
        elif campaign.trigger == Campaign.Trigger.SEGMENT_ENTRY:
            candidates.append(SegmentMembership.objects.filter(
                segment_id=campaign.trigger_segment_id(), entered_at__gt=after,
            ).aggregate(m=Min("entered_at"))["m"])
    # Referral rewards: a friend's first order, a refund window passing, a refund.
    candidates.append(referral_rewards_next_at(after=after))
    known = [c for c in candidates if c is not None]
    return min(known) if known else None


def simulation_run(*, start: dt.datetime, end: dt.datetime, step: dt.timedelta,
                   backend: str | None = None, campaign_ids: list[int] | None = None,
                   on_tick=None, skip_idle: bool = True,
                   facts_as_of: bool = False) -> dict[str, CampaignSummary]:
    """Tick from `start` to `end` (exclusive) every `step` on the current connection.

    Sends go through `backend` (None: the configured one), each dated at its virtual
    moment. `campaign_ids` switches those campaigns on for the span and leaves every other
    campaign out (paused); without it the active campaigns run. Either way their planning
    cursors are moved back to `start` when they stand past it. With `skip_idle` the ticks
    at moments where nothing can happen are skipped (`next_moment`).
    With `facts_as_of` (a sandbox only: it rewrites customers) each customer's last
    order is the one they had at the virtual moment. `on_tick(moment, report)` runs after
    each tick.
    """
    if step <= dt.timedelta(0) or end <= start:
        raise ValueError("the span must be positive and the step longer than zero")
    if campaign_ids is not None:
        Campaign.objects.filter(pk__in=campaign_ids).update(status=Campaign.Status.ACTIVE)
        Campaign.objects.exclude(pk__in=campaign_ids).filter(
            status=Campaign.Status.ACTIVE).update(status=Campaign.Status.PAUSED)
    simulated = list(Campaign.objects.filter(status=Campaign.Status.ACTIVE))
    saved = [(c.pk, c.event_watermark, c.event_ceiling, c.planned_through) for c in simulated]
    _cursors_rewind(simulated, start=start)
    enrollment_floor = Enrollment.objects.aggregate(m=Max("id"))["m"] or 0
    log_floor = MessageLog.objects.aggregate(m=Max("id"))["m"] or 0
    sent_ids = []
    moment, previous = start, None
    while moment < end:
        if facts_as_of:
            _last_orders_as_of(after=previous, moment=moment)
        previous = moment
        with clock.frozen_at(moment):
            report = scheduler_tick(now=moment)
            sent_ids += messages_send_due(now=moment, backend=backend, in_flight=1).sent_ids
        if on_tick:
            on_tick(moment, report)
        following = moment + step
        if skip_idle and following < end:
            upcoming = next_moment(after=moment, until=end)
            if upcoming is None:
                following = end
            elif upcoming > following:
                # The first tick on the grid at or after it.
                following = start + -(-(upcoming - start) // step) * step
        moment = following
    _cursors_restore(saved)
    return _summarise(enrollment_floor, log_floor, sent_ids)


def simulation_dry_run(*, start: dt.datetime, end: dt.datetime, step: dt.timedelta,
                       campaign_ids: list[int] | None = None, progress=None,
                       collect: list | None = None,
                       on_tick=None) -> dict[str, CampaignSummary]:
    """`simulation_run` in a sandbox: nothing real is written, locked or sent.

    The sandbox holds the state as of `start` (services/sandbox.py); `progress(percent)`
    is called on the caller's thread while it runs; `collect` receives the emails that
    would have gone out; `on_tick(moment, report)` runs after each tick (on the sandbox's
    thread).
    """
    simulated = campaign_ids
    if simulated is None:
        simulated = list(Campaign.objects.filter(status=Campaign.Status.ACTIVE)
                         .values_list("pk", flat=True))
    span = (end - start).total_seconds()
    outer_on_tick = on_tick

    def replay(state):
        _collector.emails = collect

        def on_tick(moment, report):
            if state.stop:
                raise SimulationStopped("the caller stopped waiting for the replay")
            state.progress = min(99, int(100 * (moment - start).total_seconds() / span))
            if outer_on_tick is not None:
                outer_on_tick(moment, report)
        return simulation_run(start=start, end=end, step=step, backend=RENDER_ONLY_BACKEND,
                              campaign_ids=campaign_ids, on_tick=on_tick, facts_as_of=True)

    return sandbox_run(replay, start=start, campaign_ids=simulated, progress=progress)


# --- The sandbox ------------------------------------------------------------------------
#
# A dry run works on its own connection, in its own thread, where each table the replay
# writes is shadowed by a temporary table of the same name: SQLite and PostgreSQL both
# resolve an unqualified name to the session's temporary schema first, so the unchanged
# ORM and raw SQL of the scheduler read and write the copies. The copies hold what the
# replay needs as of the span's start, and their ids continue above the real tables'
# highest. Nothing real is written or locked (a guard on the connection refuses it, so a
# table someone forgets to shadow is an error, never a real write), no transaction of
# the sandbox takes the embedded SQLite's write lock (temporary tables live in their own
# file), and closing the connection drops it all.


class SandboxViolation(RuntimeError):
    """A dry run tried to write or lock a real table."""


class SimulationStopped(RuntimeError):
    """The caller gave up (a task's time limit): the replay stops at its next tick."""


@dataclasses.dataclass
class _State:
    progress: int = 0
    stop: bool = False


def _shadow_rules(*, start: dt.datetime, campaign_ids: list[int]):
    """(model, WHERE on the real table, params) per shadowed table, in copy order.

    Bounded to what the replay reads: the simulated campaigns' journeys begun before the
    span (so nobody enters twice) and their messages still to settle; every campaign's
    sends that the caps count at the span's start and later; and the events of the span
    (the triggers and exits it replays) with those that began the copied journeys.
    """
    ids = ",".join(str(int(pk)) for pk in campaign_ids) or "NULL"
    settled = ",".join(f"'{state}'" for state in Message.FINAL_STATES)
    look_back = start - CAP_LOOKBACK
    return [
        (Campaign, "1=1", []),
        (Customer, "1=1", []),
        (Enrollment, f"campaign_id IN ({ids}) AND enrolled_at < %s", [start]),
        (Message, f"(campaign_id IN ({ids}) AND created_at < %s AND (state NOT IN ({settled})"
                  f" OR sent_at >= %s)) OR (campaign_id NOT IN ({ids}) AND sent_at >= %s)",
         [start, look_back, look_back]),
        (Event, "occurred_at >= %s OR id IN (SELECT trigger_event_id FROM {temp}"
                f"{Enrollment._meta.db_table})", [start]),
        # The lines of those events (a cart's products); the replay adds those of the
        # events it emits (product.reorder_due).
        (EventLine, f"event_id IN (SELECT id FROM {{temp}}{Event._meta.db_table})", []),
        (MessageLog, "1=0", []),
        (Heartbeat, "1=0", []),
        (PointsEntry, "1=0", []),
        (Coupon, "1=0", []),
        # The referrals the tick may reward or reverse, and those the monthly limit counts.
        (Referral, "reward IN ('pending', 'holding', 'granted') OR rewarded_at >= %s",
         [start - dt.timedelta(days=32)]),
        # A send whose template reads `referral` makes the codes its customers lack; the
        # live ones are reused, as a real send would.
        (ReferralCode, "revoked_at IS NULL", []),
    ]


_LOCKING = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE|KEY\s+SHARE)\b(?:\s+OF\s+(.*?))?"
                      r"(?:\s+(?:NOWAIT|SKIP\s+LOCKED))?\s*$", re.I | re.S)
_WRITES = re.compile(r'(?<!DO )(?<!FOR )\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM'
                     r'|REPLACE\s+INTO)\s+(?:"?(\w+)"?\.)?"?(\w+)"?', re.I)
_TABLES = re.compile(r'\b(?:FROM|JOIN)\s+(?:"?(\w+)"?\.)?"?(\w+)"?', re.I)
_READS = {"SELECT", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT", "SET", "SHOW",
          "PRAGMA", "EXPLAIN"}
_TEMP_SCHEMAS = {"temp", "pg_temp"}


class _Guard:
    """An execute wrapper that lets a statement through only when every table it writes
    or locks is shadowed (and named without a schema, or the temporary one)."""

    def __init__(self, shadowed: set[str]):
        self.shadowed = shadowed

    def _allowed(self, schema: str | None, table: str) -> bool:
        return (schema is None or schema.lower() in _TEMP_SCHEMAS) and table in self.shadowed

    def __call__(self, execute, sql, params, many, context):
        # A compound read starts with its first part in parentheses: "(SELECT …) UNION …".
        text = sql.lstrip().lstrip("(")
        head = text.split(None, 1)[0].upper() if text.strip() else ""
        if head in _READS:
            locking = _LOCKING.search(sql) if head == "SELECT" else None
            if locking:
                named = (re.findall(r'"?(\w+)"?', locking.group(1)) if locking.group(1)
                         else None)
                tables = [(None, t) for t in named] if named else _TABLES.findall(sql)
                self._check(tables, sql)
        elif head in ("INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"):
            writes = _WRITES.findall(sql)
            if not writes and head != "WITH":
                raise SandboxViolation(f"a dry run cannot run: {sql[:120]}")
            self._check(writes, sql)
        else:
            raise SandboxViolation(f"a dry run cannot run: {sql[:120]}")
        return execute(sql, params, many, context)

    def _check(self, tables, sql):
        for schema, table in tables:
            if not self._allowed(schema or None, table):
                raise SandboxViolation(
                    f"a dry run tried to write or lock the real table {table!r}: {sql[:160]}")


def _shadow_sqlite(cursor, connection, table: str, where: str, params) -> None:
    cursor.execute("SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = %s", [table])
    create = re.sub(r'^CREATE TABLE\s+', "CREATE TEMP TABLE ", cursor.fetchone()[0], count=1)
    cursor.execute(create)
    cursor.execute("SELECT sql FROM main.sqlite_master WHERE type = 'index' AND tbl_name = %s"
                   " AND sql IS NOT NULL", [table])
    for sql, in cursor.fetchall():
        cursor.execute(re.sub(r'^CREATE (UNIQUE )?INDEX\s+"?(\w+)"?', r'CREATE \1INDEX temp."\2"',
                              sql, count=1))
    cursor.execute(f'INSERT INTO temp."{table}" SELECT * FROM main."{table}" WHERE '
                   + where.format(temp="temp."), params)
    cursor.execute(f'SELECT MAX(id) FROM main."{table}"')
    top = cursor.fetchone()[0] or 0
    # AUTOINCREMENT: new rows take ids above max(seq, the highest id in the table).
    cursor.execute("DELETE FROM temp.sqlite_sequence WHERE name = %s", [table])
    cursor.execute("INSERT INTO temp.sqlite_sequence (name, seq) VALUES (%s, %s)", [table, top])


def _shadow_postgresql(cursor, connection, table: str, where: str, params, schema: str) -> None:
    real = f'"{schema}"."{table}"'
    cursor.execute(f'CREATE TEMP TABLE "{table}" (LIKE {real} INCLUDING ALL)')
    cursor.execute(f'INSERT INTO pg_temp."{table}" SELECT * FROM {real} WHERE '
                   + where.format(temp="pg_temp."), params)
    cursor.execute(f"SELECT MAX(id) FROM {real}")
    top = cursor.fetchone()[0] or 0
    cursor.execute(f'ALTER TABLE pg_temp."{table}" ALTER COLUMN id RESTART WITH {int(top) + 1}')


def _sandbox_open(connection, *, start, campaign_ids) -> set[str]:
    connection.ensure_connection()
    rules = _shadow_rules(start=start, campaign_ids=campaign_ids)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # The copies' foreign keys would name tables of another schema; and a plain
            # (deferred) transaction takes no lock on the real file for temporary writes.
            cursor.execute("PRAGMA foreign_keys = OFF")
            connection.transaction_mode = None
        else:
            cursor.execute("SELECT current_schema()")
            schema = cursor.fetchone()[0]
        for model, where, params in rules:
            params = [connection.ops.adapt_datetimefield_value(p) if isinstance(p, dt.datetime)
                      else p for p in params]
            if connection.vendor == "sqlite":
                _shadow_sqlite(cursor, connection, model._meta.db_table, where, params)
            elif connection.vendor == "postgresql":
                _shadow_postgresql(cursor, connection, model._meta.db_table, where, params, schema)
            else:
                raise SandboxViolation(f"no sandbox for {connection.vendor}")
    return {model._meta.db_table for model, _, _ in rules}


def sandbox_run(work, *, start: dt.datetime, campaign_ids: list[int], progress=None,
                poll_seconds: float = 0.25):
    """Run `work(state)` in a sandbox thread and return its value (or raise its error).

    The caller's thread waits, calling `progress(percent)` when `state.progress` moves
    (it writes a job row on its own, real connection; the sandbox could not).
    """
    from django.db import DEFAULT_DB_ALIAS, connections

    state, outcome = _State(), {}

    def target():
        connection = connections[DEFAULT_DB_ALIAS]
        try:
            shadowed = _sandbox_open(connection, start=start, campaign_ids=campaign_ids)
            with connection.execute_wrapper(_Guard(shadowed)), clock.frozen_at(start):
                outcome["value"] = work(state)
        except BaseException as error:  # noqa: BLE001 - raised again on the caller's thread
            outcome["error"] = error
        finally:
            # Closing drops every temporary table with the session.
            connection.close()

    thread = threading.Thread(target=target, name="simulation-sandbox", daemon=True)
    thread.start()
    reported = -1
    try:
        while thread.is_alive():
            thread.join(poll_seconds)
            if progress is not None and state.progress != reported:
                reported = state.progress
                progress(reported)
    except BaseException:
        # A time limit or an error here: the sandbox stops too, instead of replaying on
        # for nobody.
        state.stop = True
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
