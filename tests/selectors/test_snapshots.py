"""Nightly metric snapshots: the dashboard's tables read from snapshots (closed days) plus a
live count of the open day equal the tables counted live, on the same data."""
import datetime as dt
import random

import pytest
from django.core.management import call_command
from django.db.models.functions import Coalesce

from campaigns import clock
from campaigns.models import (
    Customer, Enrollment, Message, MessageLog, MetricSnapshot, MetricSnapshotState, StepVariant, SurveyResponse,
)
from campaigns.selectors.dashboard import DASHBOARD_TABLES, dashboard_tables
from campaigns.selectors.dashboard_snapshots import snapshot_reach
from campaigns.services.snapshots import REBUILD_DAYS, metric_snapshots_build
from tests.factories import (
    CampaignFactory, CustomerFactory, EnrollmentFactory, JourneyStepFactory, MessageTemplateFactory,
    OrderFactory, SentMessageFactory,
)

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the frozen clock: today is 2 March


def day(month, d, hour=0, minute=0):
    return dt.datetime(2026, month, d, hour, minute, tzinfo=UTC)


def _moment(rng, start, end):
    return start + dt.timedelta(seconds=rng.randrange(int((end - start).total_seconds())))


@pytest.fixture
def shop(db, frozen_clock):
    """Two months of a small shop up to now (2 March 09:00), today included: 40 customers
    (some without a sign-up date, one erased), 130 orders (some refunded), enrollments in
    two campaigns (20 % holdout; Welcome has two send steps, the first an A/B test), their
    messages sent, skipped or expired with opens, clicks and state-log lines, and NPS,
    CSAT and CES answers. Customer "twice" ordered yesterday and again today; "late"
    ordered yesterday and signed up today."""
    rng = random.Random(6)
    start = dt.datetime(2025, 12, 1, tzinfo=UTC)
    customers = []
    for i in range(40):
        signed_up = _moment(rng, day(1, 1) - dt.timedelta(days=45), NOW) if i % 7 else None
        customers.append(CustomerFactory(signed_up_at=signed_up,
                                         first_order_at=_moment(rng, start, NOW)))
    Customer.objects.filter(pk=customers[5].pk).update(erased_at=day(2, 1))
    for i in range(130):
        OrderFactory(customer=rng.choice(customers), placed_at=_moment(rng, start, NOW),
                     amount=f"{rng.randrange(50, 900)}.{rng.randrange(100):02d}",
                     status="refunded" if i % 11 == 0 else "placed")
    twice = CustomerFactory(external_id="twice", signed_up_at=day(1, 20))
    OrderFactory(customer=twice, placed_at=day(3, 1, 15))
    OrderFactory(customer=twice, placed_at=day(3, 2, 8))
    # Signed up today, after an order yesterday (the shop sent the customer late).
    OrderFactory(customer=CustomerFactory(external_id="late", signed_up_at=day(3, 2, 7)),
                 placed_at=day(3, 1, 12))

    welcome, winback = CampaignFactory(name="Welcome"), CampaignFactory(name="Winback")
    steps = {welcome: [JourneyStepFactory(campaign=welcome, position=p) for p in (0, 1)],
             winback: [JourneyStepFactory(campaign=winback, position=0)]}
    variants = [StepVariant.objects.create(step=steps[welcome][0], name=name,
                                           template=MessageTemplateFactory()) for name in "AB"]
    for i in range(90):
        campaign = welcome if i % 3 else winback
        triggered = _moment(rng, day(1, 1), NOW)
        enrollment = EnrollmentFactory(campaign=campaign, customer=rng.choice(customers),
                                       triggered_at=triggered, is_holdout=i % 5 == 0,
                                       enrolled_at=triggered + dt.timedelta(minutes=5),
                                       entry_key=f"e{i}")
        if enrollment.is_holdout:
            continue
        for step in steps[campaign]:
            due = enrollment.enrolled_at + dt.timedelta(days=2 * step.position, hours=1)
            roll = rng.random()
            state = ("pending" if due >= NOW else "skipped" if roll < 0.1
                     else "expired" if roll < 0.2 else "sent")
            sent = due if state == "sent" else None
            seen = sent and rng.random() < 0.5 and sent + dt.timedelta(hours=2) < NOW
            message = SentMessageFactory(
                enrollment=enrollment, step=step, state=state, first_due_at=due, sent_at=sent,
                variant=rng.choice(variants) if step == steps[welcome][0] else None,
                delivered_at=sent, opened_at=sent + dt.timedelta(hours=2) if seen else None,
                clicked_at=sent + dt.timedelta(hours=2) if seen and rng.random() < 0.4 else None)
            if state in ("skipped", "expired"):
                reason = "no_consent" if state == "skipped" else "frequency_cap"
                if state == "expired" and rng.random() < 0.5:
                    MessageLog.objects.create(message=message, state="deferred", reason=reason)
                    MessageLog.objects.create(message=message, state="deferred", reason=reason)
                MessageLog.objects.create(message=message, state=state, reason=reason)
            if sent and rng.random() < 0.6:
                answered = _moment(rng, sent, min(sent + dt.timedelta(days=3), NOW))
                kind = rng.choice(["nps", "csat", "ces"])
                low, high = SurveyResponse.SCALES[kind]
                SurveyResponse.objects.create(message=message, customer=message.customer,
                                              kind=kind, score=rng.randint(low, high),
                                              answered_at=answered)
    return frozen_clock


PERIODS = [
    (day(1, 1), day(3, 3)),   # up to and including today (the open day)
    (day(1, 15), day(2, 20)),  # ends mid-month, before the snapshots' reach
    (day(2, 1), day(3, 1)),   # one whole month
    (day(1, 10), day(3, 2)),  # ends exactly where the snapshots end
    (day(2, 27), day(3, 3)),  # a few days around the month's turn, today included
]


def both(since, until):
    """The tables from snapshots and counted live, for [since, until)."""
    return (dashboard_tables(since=since, until=until, snapshots=True),
            dashboard_tables(since=since, until=until, snapshots=False))


@pytest.mark.parametrize("since, until", PERIODS)
def test_tables_from_snapshots_equal_the_live_ones(shop, since, until):
    metric_snapshots_build(now=clock.now())

    from_snapshots, live = both(since, until)

    assert snapshot_reach(since, until) is not None
    assert set(from_snapshots) == set(DASHBOARD_TABLES)
    for name in DASHBOARD_TABLES:
        assert from_snapshots[name] == live[name], name


def test_the_shop_fills_every_table(shop):
    """Guards the comparison above: equal empty tables would prove nothing."""
    metric_snapshots_build(now=clock.now())

    tables = dashboard_tables(since=day(1, 1), until=day(3, 3))

    assert all(len(table.rows) >= 2 for table in tables.values()), {
        name: len(table.rows) for name, table in tables.items()}
    assert {kind for kind in MetricSnapshot.objects.values_list("kind", flat=True)} == set(
        MetricSnapshot.Kind.values)


def test_a_customer_who_ordered_before_and_after_the_cutoff_counts_once(shop):
    """"twice" joined on 20 January and ordered on 1 March (in the snapshot) and today
    (counted live): the January cohort's March cell holds each customer once."""
    metric_snapshots_build(now=clock.now())
    since, until = day(1, 20), day(3, 3)

    table, live = both(since, until)

    rows = {(row[0], row[2]): row for row in table["cohort_retention"].rows}
    march_buyers = (Customer.objects.annotate(joined=Coalesce("signed_up_at", "first_order_at"))
                    .filter(joined__gte=since, joined__lt=day(2, 1), erased_at__isnull=True,
                            orders__status="placed", orders__placed_at__gte=day(3, 1))
                    .distinct())
    assert march_buyers.filter(external_id="twice").exists()
    assert rows[(dt.date(2026, 1, 1), 2)][3] == march_buyers.count()
    assert table["cohort_retention"] == live["cohort_retention"]


def test_the_snapshots_are_what_is_read_for_closed_days(shop):
    """A change to a day past the nightly window shows only after that day is snapshotted
    again: proof that closed days come from the snapshots, and how a backfill fixes them."""
    metric_snapshots_build(now=clock.now())
    old_answer = SurveyResponse.objects.filter(kind="nps", answered_at__lt=day(1, 20)).first()
    SurveyResponse.objects.filter(pk=old_answer.pk).update(score=10 if old_answer.score < 9 else 0)
    shop.advance(days=1)
    metric_snapshots_build(now=clock.now())  # the nightly run: last 35 days only

    stale, live = both(day(1, 1), day(3, 4))
    metric_snapshots_build(now=clock.now(), since=day(1, 1).date())
    rebuilt, _ = both(day(1, 1), day(3, 4))

    assert stale["weekly_nps"] != live["weekly_nps"]
    assert rebuilt == live


def test_a_late_change_inside_the_window_is_picked_up_the_next_night(shop):
    """A late open and click on a message sent nine days ago, and a late order that
    converts it, reach the snapshots of that day at the next nightly run."""
    metric_snapshots_build(now=clock.now())
    message = Message.objects.filter(state="sent", opened_at__isnull=True, variant__isnull=False,
                                     sent_at__lt=day(2, 22)).order_by("-sent_at").first()
    Message.objects.filter(pk=message.pk).update(opened_at=NOW, clicked_at=NOW)
    OrderFactory(customer=message.customer, placed_at=message.sent_at + dt.timedelta(days=1))
    before, live = both(day(1, 1), day(3, 3))

    shop.advance(days=1)
    metric_snapshots_build(now=clock.now())
    after, live_after = both(day(1, 1), day(3, 3))

    assert before["campaign_funnel"] != live["campaign_funnel"]  # stale until re-snapshotted
    assert after == live_after


def test_rebuilding_is_idempotent(shop):
    first = metric_snapshots_build(now=clock.now())
    rows = sorted(MetricSnapshot.objects.values_list("kind", "day", "label", "values"), key=str)

    again = metric_snapshots_build(now=clock.now())

    assert first["rows"] == len(rows) and first["days"] > again["days"] == REBUILD_DAYS
    assert sorted(MetricSnapshot.objects.values_list("kind", "day", "label", "values"),
                  key=str) == rows
    state = MetricSnapshotState.objects.get()
    first_trigger = Enrollment.objects.order_by("triggered_at").first().triggered_at
    assert state.built_through == NOW.date() and state.first_day == first_trigger.date()


def test_the_nightly_run_rebuilds_the_trailing_window_and_catches_up(shop):
    metric_snapshots_build(now=clock.now())
    shop.advance(days=3)  # two nights without a build

    summary = metric_snapshots_build(now=clock.now())

    assert summary["through"] == "2026-03-05"
    assert summary["from"] == (dt.date(2026, 3, 5) - dt.timedelta(days=REBUILD_DAYS)).isoformat()


def test_without_snapshots_or_for_part_days_the_tables_are_counted_live(shop):
    assert snapshot_reach(day(1, 1), day(3, 3)) is None
    metric_snapshots_build(now=clock.now())

    assert snapshot_reach(day(1, 1, 12), day(3, 3)) is None
    assert snapshot_reach(day(3, 2), day(3, 3)) is None  # only the open day
    assert snapshot_reach(day(1, 1), day(3, 3)).through == NOW.date()


def test_the_command_builds_on_demand_and_from_a_date(shop, capsys):
    call_command("metric_snapshots")
    call_command("metric_snapshots", "--from", "2026-01-05")

    out = capsys.readouterr().out
    assert "through 2026-03-02" in out
    assert MetricSnapshotState.objects.get().built_through == NOW.date()


def test_the_command_refuses_a_bad_date(shop):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("metric_snapshots", "--from", "5 January")


def test_beat_builds_the_snapshots_every_night():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["metric-snapshots"]
    assert entry["task"] == "campaigns.metric_snapshots"
    assert entry["schedule"].hour == {4} and entry["schedule"].minute == {0}


def test_the_metrics_command_prints_what_the_dashboard_shows_from_snapshots(shop, capsys):
    """The period includes today: lift, A/B variants and NPS answers of `manage.py metrics
    --json` are the numbers of the dashboard's tables served from the snapshots."""
    import json

    metric_snapshots_build(now=clock.now())
    tables = dashboard_tables(since=day(1, 1), until=day(3, 3), snapshots=True)
    call_command("metrics", "--from", "2026-01-01", "--to", "2026-03-03", "--json")
    printed = json.loads(capsys.readouterr().out)

    assert [(row["campaign"], row["treated"]["customers"],
             round(row["treated"]["conversion_rate"] * 100, 2), row["holdout"]["customers"],
             row["lift"]["conversion_rate"]["verdict_words"]) for row in printed["lift"]] == [
        (row[0], row[1], row[2], row[3], row[8]) for row in tables["campaign_lift"].rows]
    assert [(step["campaign"], v["variant"], v["sends"], v["opens"], v["clicks"],
             v["conversions"], round(v["revenue"], 2))
            for step in printed["ab_variants"] for v in step["variants"]] == [
        (row[0], row[2], *row[3:8]) for row in tables["campaign_variants"].rows]
    assert printed["nps_answers"] == sum(row[1] for row in tables["weekly_nps"].rows) > 0
