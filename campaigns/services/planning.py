"""Planning: new enrollments for every live campaign's trigger (exits: services.exits).

Each trigger is a set-based scan of indexed facts past a per-campaign watermark, inserted
with conflicts ignored: the unique (campaign, customer, entry key) makes a second tick,
a second beat or a rescan a no-op, and the cost follows the new work, not the customers.
"""
import calendar
import datetime as dt
import hashlib

from django.db import connection, transaction
from django.db.models import F, FloatField, Func, Max, Min, OuterRef, Q, Subquery, Value
from django.db.models.functions import Greatest
from django.utils.dateparse import parse_datetime

from campaigns.models import (
    Campaign, Customer, Enrollment, Event, JourneyStep, Order, SegmentMembership,
)
# Exits live in services.exits; imported here for the callers of the planner's names.
from campaigns.services.exits import enrollments_exit  # noqa: F401

PLAN_BATCH = 5000
# The event a time-to-reorder journey starts from (services.reorder emits it).
REORDER_DUE = "product.reorder_due"


def campaign_is_live(campaign: Campaign, *, now: dt.datetime) -> bool:
    if campaign.status != Campaign.Status.ACTIVE:
        return False
    if campaign.active_from and now < campaign.active_from:
        return False
    return not (campaign.active_until and now >= campaign.active_until)


def weighted_draw(*, salt: str, customer_id: int, weights: list[int]) -> int:
    """A stable, random-looking pick: index i with probability weights[i] / sum."""
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(weights)
    for index, weight in enumerate(weights):
        if point < weight:
            return index
        point -= weight
    raise AssertionError("unreachable: point < sum(weights)")


def holdout_draw(*, campaign_id: int, customer_id: int, percent: int) -> bool:
    """Deterministic per (campaign, customer): the same customer is always in or out."""
    if percent <= 0:
        return False
    return weighted_draw(salt=f"holdout:{campaign_id}", customer_id=customer_id,
                         weights=[percent, 100 - percent]) == 0 if percent < 100 else True


def _without_cooldown_repeats(campaign: Campaign, rows: list[dict]) -> list[dict]:
    """Drop entries within the re-entry cooldown of an earlier entry of the customer."""
    cooldown = campaign.reentry_cooldown
    if not cooldown or not rows:
        return rows
    last_entry: dict[int, list[dt.datetime]] = {}
    for customer_id, triggered_at in Enrollment.objects.filter(
        campaign=campaign,
        customer_id__in={r["customer_id"] for r in rows},
        triggered_at__gt=min(r["triggered_at"] for r in rows) - cooldown,
    ).values_list("customer_id", "triggered_at"):
        last_entry.setdefault(customer_id, []).append(triggered_at)
    kept = []
    for row in sorted(rows, key=lambda r: r["triggered_at"]):
        entries = last_entry.setdefault(row["customer_id"], [])
        if any(abs(row["triggered_at"] - at) < cooldown for at in entries):
            continue
        entries.append(row["triggered_at"])
        kept.append(row)
    return kept


def _opening_send(campaign: Campaign) -> JourneyStep | None:
    """The journey's first step when it is a send step (a welcome, an offer)."""
    first = (JourneyStep.objects.filter(campaign=campaign).select_related("template")
             .prefetch_related("variants").order_by("position").first())
    return first if first is not None and first.kind == JourneyStep.Kind.SEND else None


def _enrollments_insert(campaign: Campaign, rows: list[dict], *, now: dt.datetime) -> int:
    """Insert enrollments for rows of customer_id, entry_key, triggered_at, trigger_event_id.

    Returns how many were new; conflicts (another tick's work) are ignored. A journey that
    opens with a send step starts at it: the enrollment is inserted standing there and its
    message is made in the same transaction, so no advance has to move it (one row write
    fewer per email).
    """
    rows = _without_cooldown_repeats(campaign, rows)
    if not rows:
        return 0
    holdout = [holdout_draw(campaign_id=campaign.pk, customer_id=r["customer_id"],
                            percent=campaign.holdout_percent) for r in rows]
    opening = _opening_send(campaign)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            new = _enrollments_insert_postgresql(campaign, rows, holdout, now=now, opening=opening)
        else:
            new = _enrollments_insert_orm(campaign, rows, holdout, now=now, opening=opening)
        if opening is not None and new:
            # Imported here: the scheduling module imports this one.
            from campaigns.services.scheduling import journeys_open

            journeys_open(enrollments=[
                Enrollment(pk=pk, campaign=campaign, customer_id=customer_id,
                           triggered_at=triggered_at, is_holdout=is_holdout,
                           step_position=opening.position)
                for pk, customer_id, triggered_at, is_holdout in new
            ], step=opening, now=now)
    return len(new)


def _enrollments_insert_orm(campaign, rows, holdout, *, now, opening) -> list[tuple]:
    # The backend does not say which rows were new; the embedded SQLite's IMMEDIATE
    # transaction serialises writers, so the rows past the highest id before are ours.
    floor = Enrollment.objects.aggregate(top=Max("id"))["top"] or 0
    Enrollment.objects.bulk_create(
        [
            Enrollment(
                campaign=campaign,
                customer_id=row["customer_id"],
                entry_key=row["entry_key"],
                trigger_event_id=row.get("trigger_event_id"),
                triggered_at=row["triggered_at"],
                enrolled_at=now,
                # The first step is due at the trigger's moment: a late event keeps its clock.
                next_action_at=None if opening else row["triggered_at"],
                step_position=opening.position if opening else 0,
                is_holdout=is_holdout,
            )
            for row, is_holdout in zip(rows, holdout)
        ],
        ignore_conflicts=True,
    )
    return list(Enrollment.objects.filter(campaign=campaign, id__gt=floor).values_list(
        "id", "customer_id", "triggered_at", "is_holdout"))


def _enrollments_insert_postgresql(campaign, rows, holdout, *, now, opening) -> list[tuple]:
    """The same as the ORM path in one INSERT … SELECT FROM unnest(arrays): a fraction of
    the cost per row, and RETURNING counts exactly the new rows."""
    table = Enrollment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (campaign_id, customer_id, entry_key, trigger_event_id,
                    triggered_at, enrolled_at, state, step_position, next_action_at,
                    is_holdout, exit_reason)
                SELECT %s, customer_id, entry_key, trigger_event_id, triggered_at, %s,
                    %s, %s, CASE WHEN %s THEN NULL ELSE triggered_at END, is_holdout, ''
                FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::timestamptz[],
                            %s::boolean[])
                    AS new(customer_id, entry_key, trigger_event_id, triggered_at, is_holdout)
                ON CONFLICT DO NOTHING
                RETURNING id, customer_id, triggered_at, is_holdout""",
            [campaign.pk, now, Enrollment.State.ACTIVE, opening.position if opening else 0,
             opening is not None,
             [r["customer_id"] for r in rows], [r["entry_key"] for r in rows],
             [r.get("trigger_event_id") for r in rows], [r["triggered_at"] for r in rows],
             holdout],
        )
        return cursor.fetchall()


def _event_entry_key(campaign: Campaign, row: dict) -> str:
    if campaign.entry_key == Campaign.EntryKey.EVENT:
        return f"event:{row['id']}"
    if campaign.entry_key == Campaign.EntryKey.ORDER:
        return f"order:{row['order__external_id'] or row['id']}"
    return ""


def _nth_order_entries(rows: list[dict]) -> list[dict]:
    """One entry per customer, for their Nth order, begun by that order's own event."""
    order_events = dict(
        Event.objects.filter(order_id__in={r["nth_order_id"] for r in rows})
        .order_by("-id").values_list("order_id", "id")
    )
    return list({
        r["customer_id"]: {
            "customer_id": r["customer_id"], "entry_key": f"order:{r['nth_order_external_id']}",
            "triggered_at": r["nth_placed_at"], "trigger_event_id": order_events.get(r["nth_order_id"]),
        }
        for r in rows
    }.values())


class EventScore(Func):
    """An event's `properties.score` as a number, NULL when it is missing or not a JSON
    number (a text "10" or a list never passes a score range). Read in the planner's one
    query: SQLite's json_type / json_extract, PostgreSQL's jsonb_typeof / ->>."""

    output_field = FloatField()
    arity = 1

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return (f"(CASE WHEN json_type({column}, '$.score') IN ('integer', 'real') "
                f"THEN json_extract({column}, '$.score') END)", [*params, *params])

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return (f"(CASE WHEN jsonb_typeof({column} -> 'score') = 'number' "
                f"THEN ({column} ->> 'score')::double precision END)", [*params, *params])


def events_in_score_range(events, config: dict):
    """The events whose score lies in the trigger's "min_score" / "max_score" (both
    included); all of them when the trigger sets neither."""
    low, high = config.get("min_score"), config.get("max_score")
    if low is None and high is None:
        return events
    events = events.alias(trigger_score=EventScore("properties"))
    if low is not None:
        events = events.filter(trigger_score__gte=low)
    if high is not None:
        events = events.filter(trigger_score__lte=high)
    return events


def _plan_event_campaign(campaign: Campaign, *, now: dt.datetime) -> int:
    new_events = Event.objects.filter(
        type=campaign.trigger_event_type, id__gt=campaign.event_watermark
    )
    candidates = events_in_score_range(new_events.filter(occurred_at__lte=now),
                                       campaign.trigger_config or {})
    nth_order = campaign.trigger_config.get("nth_order")
    if nth_order:
        # Only the customer's Nth order triggers (e.g. a bonus on the 3rd purchase). Any
        # new event of a customer who has N orders by now points at that Nth order, so a
        # 2nd purchase whose webhook arrives after the 3rd still brings the 3rd's bonus.
        nth = Order.objects.filter(customer_id=OuterRef("customer_id")).order_by(
            "placed_at", "id")[int(nth_order) - 1:int(nth_order)]
        # Only an event whose order is placed at or before the Nth one can complete the
        # count: the Nth order's own event, or an earlier order's late webhook. A 4th or
        # 5th purchase does not bring back the bonus of a 3rd order long ago.
        candidates = candidates.annotate(
            nth_order_id=Subquery(nth.values("id")),
            nth_order_external_id=Subquery(nth.values("external_id")),
            nth_placed_at=Subquery(nth.values("placed_at")),
        ).filter(nth_order_id__isnull=False, order__placed_at__lte=F("nth_placed_at"))
    fields = (["id", "customer_id", "nth_order_id", "nth_order_external_id", "nth_placed_at"]
              if nth_order else ["id", "customer_id", "occurred_at", "order__external_id"])
    # One read says whether anything is new, the highest id (the next ceiling) and the
    # first event not due yet: an idle tick stops here.
    seen = new_events.aggregate(last=Max("id"), future=Min("id", filter=Q(occurred_at__gt=now)))
    created = 0
    last_id = campaign.event_watermark
    while seen["last"] is not None:
        rows = list(candidates.filter(id__gt=last_id).order_by("id").values(*fields)[:PLAN_BATCH])
        if not rows:
            break
        entries = _nth_order_entries(rows) if nth_order else [
            {"customer_id": r["customer_id"], "entry_key": _event_entry_key(campaign, r),
             "triggered_at": r["occurred_at"], "trigger_event_id": r["id"]}
            for r in rows
        ]
        created += _enrollments_insert(campaign, entries, now=now)
        last_id = rows[-1]["id"]
    # Move the watermark only up to what the previous tick had already seen (its
    # ceiling), and never past an event that is not due yet: every event is looked at by
    # two ticks, so one whose transaction committed late, behind a larger id, is not lost.
    future = seen["future"]
    watermark = campaign.event_ceiling
    if future is not None:
        watermark = min(watermark, future - 1)
    ceiling = seen["last"] or campaign.event_watermark
    if ceiling > campaign.event_ceiling:  # an idle tick writes nothing here
        Campaign.objects.filter(pk=campaign.pk).update(
            event_ceiling=Greatest(F("event_ceiling"), Value(ceiling))
        )
    if watermark > campaign.event_watermark:
        Campaign.objects.filter(pk=campaign.pk, event_watermark__lt=watermark).update(
            event_watermark=watermark
        )
    return created


def _plan_inactivity_campaign(campaign: Campaign, *, now: dt.datetime) -> int:
    """Customers whose last order is N days old became lapsed since the last tick.

    The entry key is the last order's time, so a customer enters again only after a new
    purchase and a new lapse. Cost follows the customers who lapsed since the last tick
    (an index on last_order_at), not the customer count.
    """
    lapse = dt.timedelta(days=int(campaign.trigger_config.get("days", 90)))
    since = campaign.planned_through or now
    created = 0
    last_id = 0
    lapsed = Customer.objects.filter(
        last_order_at__gt=since - lapse, last_order_at__lte=now - lapse, erased_at__isnull=True
    )
    while since < now:
        rows = list(lapsed.filter(id__gt=last_id).order_by("id")
                    .values_list("id", "last_order_at")[:PLAN_BATCH])
        if not rows:
            break
        created += _enrollments_insert(campaign, [
            {"customer_id": customer_id, "entry_key": f"lapse:{last_order:%Y%m%dT%H%M%S.%f}",
             "triggered_at": last_order + lapse}
            for customer_id, last_order in rows
        ], now=now)
        last_id = rows[-1][0]
    Campaign.objects.filter(pk=campaign.pk).update(
        planned_through=Greatest(F("planned_through"), Value(now))
        if campaign.planned_through else Value(now)
    )
    return created


def _customers_enroll(campaign: Campaign, customers, *, entry_key: str,
                      triggered_at: dt.datetime, now: dt.datetime, share: int = 100) -> int:
    """Enrol every customer of a queryset (erased ones left out), in batches by id.

    With `share` below 100 only that percentage enters: a draw per customer that is
    random-looking but stable for this campaign and entry key.
    """
    created = last_id = 0
    customers = customers.filter(erased_at__isnull=True).order_by("id")
    while ids := list(customers.filter(id__gt=last_id).values_list("id", flat=True)[:PLAN_BATCH]):
        last_id = ids[-1]
        if share < 100:
            ids = [customer_id for customer_id in ids if weighted_draw(
                salt=f"draw:{campaign.pk}:{entry_key}", customer_id=customer_id,
                weights=[share, 100 - share]) == 0]
        created += _enrollments_insert(campaign, [
            {"customer_id": customer_id, "entry_key": entry_key, "triggered_at": triggered_at}
            for customer_id in ids
        ], now=now)
    return created


def _plan_date_attribute_campaign(campaign: Campaign, *, now: dt.datetime) -> int:
    """Customers whose date attribute (e.g. birthday "1984-10-21") has its anniversary on a
    day that began since the last planning, once per year.

    Runs once per UTC day (the attribute is not indexed, so each day costs one scan of the
    customers who have it); the entry is due at 00:00 UTC that day, and a "wait until a
    local time" step after it picks the hour in the customer's zone.
    """
    attribute = campaign.trigger_config.get("attribute", "birthday")
    last_day = (campaign.planned_through or now).astimezone(dt.timezone.utc).date()
    today = now.astimezone(dt.timezone.utc).date()
    created = 0
    day = last_day + dt.timedelta(days=1)
    while day <= today:
        month_days = [f"-{day:%m-%d}"]
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            month_days.append("-02-29")  # leap-day birthdays are kept on 28 February
        matches = Q()
        for month_day in month_days:
            matches |= Q(**{f"attributes__{attribute}__endswith": month_day})
        start_of_day = dt.datetime.combine(day, dt.time(0), tzinfo=dt.timezone.utc)
        created += _customers_enroll(
            campaign, Customer.objects.filter(matches), entry_key=f"date:{day.year}",
            triggered_at=start_of_day, now=now)
        day += dt.timedelta(days=1)
    if today > last_day or campaign.planned_through is None:
        moment = dt.datetime.combine(today, dt.time(0), tzinfo=dt.timezone.utc)
        Campaign.objects.filter(pk=campaign.pk).update(planned_through=max(
            moment, campaign.planned_through or moment))
    return created


def schedule_occurrences(campaign: Campaign, *, after: dt.datetime, until: dt.datetime):
    """The scheduled runs in (after, until]: first_run + k × every_days."""
    first = parse_datetime(campaign.trigger_config["first_run"])
    every = dt.timedelta(days=int(campaign.trigger_config["every_days"]))
    if first > until:
        return []
    k = max(0, (after - first) // every) if after > first else 0
    runs = []
    moment = first + k * every
    while moment <= until:
        if moment > after:
            runs.append(moment)
        moment += every
    return runs


def _plan_schedule_campaign(campaign: Campaign, *, now: dt.datetime) -> int:
    """On each scheduled run (e.g. a quarterly NPS survey), every customer enters once.

    The audience is every customer, or the members of the segment the settings name;
    with a "share" only that percentage of it, drawn anew on each run (e.g. a surprise
    bonus for 10 % of the loyal customers every month). A broadcast costs one pass over
    the audience per run, never per tick.
    """
    since = campaign.planned_through or now
    created = 0
    audience = Customer.objects.all()
    if "segment" in campaign.trigger_config:
        audience = audience.filter(segment_memberships__segment_id=campaign.trigger_segment_id())
    for run in schedule_occurrences(campaign, after=since, until=now):
        created += _customers_enroll(
            campaign, audience, entry_key=f"run:{run:%Y%m%dT%H%M}", triggered_at=run, now=now,
            share=int(campaign.trigger_config.get("share", 100)))
    Campaign.objects.filter(pk=campaign.pk).update(
        planned_through=Greatest(F("planned_through"), Value(now))
        if campaign.planned_through else Value(now)
    )
    return created


def _plan_segment_entry_campaign(campaign: Campaign, *, now: dt.datetime) -> int:
    """Customers who entered the segment since the last planning.

    Refreshing a segment records each entry as a new membership row, so new entries are
    the rows past the campaign's watermark (the same pattern as events); the entry key
    is that row, so leaving and entering again is a new entry (the re-entry cooldown
    decides whether it starts another journey).
    """
    segment_id = campaign.trigger_segment_id()
    if segment_id is None:
        return 0
    entries = SegmentMembership.objects.filter(
        segment_id=segment_id, id__gt=campaign.event_watermark, entered_at__lte=now,
        customer__erased_at__isnull=True,
    ).order_by("id")
    created, last_id = 0, campaign.event_watermark
    while rows := list(entries.filter(id__gt=last_id).values_list(
            "id", "customer_id", "entered_at")[:PLAN_BATCH]):
        created += _enrollments_insert(campaign, [
            {"customer_id": customer_id, "entry_key": f"segment:{membership_id}",
             "triggered_at": entered_at}
            for membership_id, customer_id, entered_at in rows
        ], now=now)
        last_id = rows[-1][0]
    if last_id > campaign.event_watermark:
        Campaign.objects.filter(pk=campaign.pk, event_watermark__lt=last_id).update(
            event_watermark=last_id)
    return created


_PLANNERS = {
    Campaign.Trigger.SEGMENT_ENTRY: _plan_segment_entry_campaign,
    Campaign.Trigger.EVENT: _plan_event_campaign,
    Campaign.Trigger.INACTIVITY: _plan_inactivity_campaign,
    Campaign.Trigger.DATE_ATTRIBUTE: _plan_date_attribute_campaign,
    Campaign.Trigger.SCHEDULE: _plan_schedule_campaign,
}


def enrollments_plan(*, now: dt.datetime) -> int:
    """Insert the newly eligible enrollments of every live campaign."""
    created = 0
    campaigns = list(Campaign.objects.filter(status=Campaign.Status.ACTIVE))
    if any(c.trigger == Campaign.Trigger.EVENT and c.trigger_event_type == REORDER_DUE
           and campaign_is_live(c, now=now) for c in campaigns):
        # Imported here: the reorder module reads this one's constants.
        from campaigns.services.reorder import reorder_due_emit

        reorder_due_emit(now=now)
    for campaign in campaigns:
        planner = _PLANNERS.get(campaign.trigger)
        if planner is not None and campaign_is_live(campaign, now=now):
            created += planner(campaign, now=now)
    return created
