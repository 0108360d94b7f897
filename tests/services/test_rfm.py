"""RFM quintiles and lifecycle stages: exact scores, every stage boundary, events on change."""
import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from campaigns.models import Customer, Enrollment, Event, LifecycleStage
from campaigns.services.planning import enrollments_plan
from campaigns.services.rfm import customers_score
from tests.factories import CampaignFactory, CustomerFactory

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
S = LifecycleStage


def buyer(now, *, last_days_ago, orders=1, spent="100", first_days_ago=None, **fields):
    """A customer whose cached order facts say: `orders` orders, the last one N days ago."""
    first = first_days_ago if first_days_ago is not None else max(last_days_ago, 365)
    return CustomerFactory(
        order_count=orders, total_spent=Decimal(spent),
        last_order_at=now - last_days_ago * DAY, first_order_at=now - first * DAY, **fields,
    )


def scores(customer):
    customer.refresh_from_db()
    return customer.rfm_recency, customer.rfm_frequency, customer.rfm_monetary


def stage(customer):
    customer.refresh_from_db()
    return customer.lifecycle_stage


def lifecycle_events():
    return list(Event.objects.filter(type__startswith="lifecycle.").order_by("id")
                .values_list("customer_id", "type", "properties"))


class TestQuintiles:
    def test_ten_customers_spread_over_the_five_quintiles_two_each(self, frozen_clock):
        # Customer i: last order 10-i days ago, i+1 orders... spend 10*(i+1): all distinct.
        people = [buyer(frozen_clock.now, last_days_ago=10 - i, orders=i + 1, spent=str(10 * (i + 1)))
                  for i in range(10)]

        customers_score()

        assert [scores(c) for c in people] == [
            (1, 1, 1), (1, 1, 1), (2, 2, 2), (2, 2, 2), (3, 3, 3),
            (3, 3, 3), (4, 4, 4), (4, 4, 4), (5, 5, 5), (5, 5, 5),
        ]

    def test_identical_customers_share_a_quintile_the_lowest_their_group_reaches(self, frozen_clock):
        counts = [1, 1, 1, 1, 1, 1, 2, 2, 3, 5]
        people = [buyer(frozen_clock.now, last_days_ago=5, orders=n, spent="50") for n in counts]

        customers_score()

        # 60 % bought once: all six get F=1 (none above rank 1); two orders: 6 of 10 are
        # below → 1 + floor(5 × 6 / 10) = 4; three orders: 8 below → 5; five orders → 5.
        assert [scores(c)[1] for c in people] == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
        # The same last-order time and spend for all: one group, quintile 1.
        assert {scores(c)[0] for c in people} == {1}
        assert {scores(c)[2] for c in people} == {1}

    def test_seven_customers_get_one_plus_floor_of_five_times_the_share_below(self, frozen_clock):
        people = [buyer(frozen_clock.now, last_days_ago=7 - i, spent=str(i + 1)) for i in range(7)]

        customers_score()

        # 1 + floor(5 × below / 7) for below = 0..6
        assert [scores(c)[2] for c in people] == [1, 1, 2, 3, 3, 4, 5]
        assert [scores(c)[0] for c in people] == [1, 1, 2, 3, 3, 4, 5]

    def test_customers_without_orders_get_no_scores_and_do_not_count(self, frozen_clock):
        prospects = [CustomerFactory(rfm_recency=3, rfm_frequency=3, rfm_monetary=3)
                     for _ in range(3)]
        buyers = [buyer(frozen_clock.now, last_days_ago=50 - 10 * i, orders=i + 1, spent=str(i + 1))
                  for i in range(5)]

        report = customers_score()

        assert [scores(c) for c in prospects] == [(None, None, None)] * 3
        # Five buyers, five quintiles: the prospects are not in the ranking.
        assert [scores(c) for c in buyers] == [(q, q, q) for q in range(1, 6)]
        assert (report.customers, report.with_orders) == (8, 5)

    def test_erased_customers_are_left_alone(self, frozen_clock):
        erased = buyer(frozen_clock.now, last_days_ago=1, erased_at=frozen_clock.now)

        report = customers_score()

        erased.refresh_from_db()
        assert report.customers == 0
        assert (erased.rfm_recency, erased.lifecycle_stage, erased.scored_at) == (None, "", None)


class TestStages:
    @pytest.mark.parametrize("last_days_ago, orders, first_days_ago, expected", [
        (None, 0, None, S.PROSPECT),
        (29, 1, 29, S.NEW),              # first order 29 days ago
        (10, 2, 31, S.ACTIVE),           # first order 31 days ago: no longer new
        (59, 2, 200, S.ACTIVE),
        (59, 3, 200, S.LOYAL),           # 3 orders and the last within 60 days
        (60, 3, 200, S.AT_RISK),         # 60 days without an order
        (89, 1, 89, S.AT_RISK),
        (90, 5, 400, S.LAPSED),          # 90 days: the win-back journey's default
        (400, 1, 400, S.LAPSED),
    ])
    def test_each_stage_boundary(self, frozen_clock, last_days_ago, orders, first_days_ago, expected):
        if last_days_ago is None:
            customer = CustomerFactory()
        else:
            customer = buyer(frozen_clock.now, last_days_ago=last_days_ago, orders=orders,
                             first_days_ago=first_days_ago)

        customers_score()

        customer.refresh_from_db()
        assert customer.lifecycle_stage == expected
        assert customer.lifecycle_stage_since == customer.scored_at == frozen_clock.now

    def test_one_second_before_a_boundary_the_customer_is_still_in_the_earlier_stage(self, frozen_clock):
        customer = buyer(frozen_clock.now, last_days_ago=0, orders=2, first_days_ago=100)
        customer.last_order_at = frozen_clock.now
        customer.save()

        frozen_clock.advance(days=60, seconds=-1)
        customers_score()
        assert stage(customer) == S.ACTIVE
        frozen_clock.advance(seconds=1)
        customers_score()
        assert stage(customer) == S.AT_RISK
        frozen_clock.advance(days=30, seconds=-1)
        customers_score()
        assert stage(customer) == S.AT_RISK
        frozen_clock.advance(seconds=1)
        customers_score()
        assert stage(customer) == S.LAPSED

    def test_a_new_customer_becomes_active_after_thirty_days(self, frozen_clock):
        customer = buyer(frozen_clock.now, last_days_ago=0, orders=1, first_days_ago=0)
        customers_score()
        assert stage(customer) == S.NEW

        customer.last_order_at = frozen_clock.advance(days=25)  # a second order
        customer.order_count = 2
        customer.save()
        frozen_clock.advance(days=5)
        customers_score()

        assert stage(customer) == S.ACTIVE

    def test_a_lapsed_customer_who_orders_again_is_won_back_for_thirty_days(self, frozen_clock):
        customer = buyer(frozen_clock.now, last_days_ago=120, orders=4, first_days_ago=500)
        customers_score()
        assert stage(customer) == S.LAPSED

        frozen_clock.advance(days=3)
        Customer.objects.filter(pk=customer.pk).update(
            last_order_at=frozen_clock.now - dt.timedelta(hours=2), order_count=5)
        customers_score()
        assert stage(customer) == S.WON_BACK
        won_at = frozen_clock.now

        frozen_clock.advance(days=29)
        customers_score()
        assert stage(customer) == S.WON_BACK
        assert customer.lifecycle_stage_since == won_at

        frozen_clock.advance(days=1)
        customers_score()
        assert stage(customer) == S.LOYAL  # 5 orders, the last one 30 days ago

    def test_a_won_back_customer_who_slips_again_is_at_risk(self, frozen_clock):
        customer = buyer(frozen_clock.now, last_days_ago=100, orders=1)
        customers_score()
        Customer.objects.filter(pk=customer.pk).update(last_order_at=frozen_clock.now, order_count=2)
        customers_score()
        assert stage(customer) == S.WON_BACK

        frozen_clock.advance(days=60)
        customers_score()

        assert stage(customer) == S.AT_RISK

    def test_an_at_risk_customer_who_orders_again_is_active_not_won_back(self, frozen_clock):
        customer = buyer(frozen_clock.now, last_days_ago=70, orders=1)
        customers_score()
        Customer.objects.filter(pk=customer.pk).update(last_order_at=frozen_clock.now, order_count=2)

        customers_score()

        assert stage(customer) == S.ACTIVE

    def test_the_stage_since_stays_while_the_stage_stays(self, frozen_clock):
        customer = buyer(frozen_clock.now, last_days_ago=10, orders=2, first_days_ago=100)
        rival = buyer(frozen_clock.now, last_days_ago=5, orders=2, first_days_ago=100)
        customers_score()
        first = frozen_clock.now

        # A week on, the rival's recency drops below the customer's: scores change, the
        # stage (active) does not.
        frozen_clock.advance(days=7)
        Customer.objects.filter(pk=rival.pk).update(last_order_at=frozen_clock.now - 30 * DAY)
        report = customers_score()

        customer.refresh_from_db()
        assert (customer.lifecycle_stage, customer.rfm_recency) == (S.ACTIVE, 3)
        assert customer.lifecycle_stage_since == first
        assert customer.scored_at == frozen_clock.now
        assert (report.updated, report.stage_changes, report.events) == (2, 0, 0)

    def test_a_customer_whose_scores_and_stage_stay_is_not_rewritten(self, frozen_clock):
        customer = buyer(frozen_clock.now, last_days_ago=10, orders=2, first_days_ago=100)
        customers_score()
        first = frozen_clock.now

        frozen_clock.advance(days=1)
        report = customers_score()

        customer.refresh_from_db()
        assert (customer.scored_at, customer.lifecycle_stage_since) == (first, first)
        assert (report.customers, report.updated) == (1, 0)

    @override_settings(LIFECYCLE_LAPSED_DAYS=120, LIFECYCLE_AT_RISK_DAYS=45)
    def test_the_thresholds_come_from_settings(self, frozen_clock):
        late = buyer(frozen_clock.now, last_days_ago=100)
        slipping = buyer(frozen_clock.now, last_days_ago=50, first_days_ago=80)

        customers_score()

        assert (stage(late), stage(slipping)) == (S.AT_RISK, S.AT_RISK)

    @override_settings(LIFECYCLE_LAPSED_DAYS=30)
    def test_contradicting_thresholds_are_refused_before_anything_is_written(self, frozen_clock):
        customer = buyer(frozen_clock.now, last_days_ago=10)

        with pytest.raises(ValueError, match="LIFECYCLE_AT_RISK_DAYS must be above 0 and below"):
            customers_score()

        assert stage(customer) == ""


class TestEvents:
    def test_the_first_stage_of_a_customer_emits_no_event(self, frozen_clock):
        buyer(frozen_clock.now, last_days_ago=100)
        CustomerFactory()

        report = customers_score()

        assert lifecycle_events() == []
        assert (report.stage_changes, report.events) == (2, 0)

    def test_a_change_emits_one_event_and_a_rerun_emits_none(self, frozen_clock):
        customer = buyer(frozen_clock.now, last_days_ago=50, orders=2)
        steady = buyer(frozen_clock.now, last_days_ago=5, orders=2)
        customers_score()
        frozen_clock.advance(days=15)

        report = customers_score()
        again = customers_score()
        frozen_clock.advance(days=1)
        next_day = customers_score()

        assert lifecycle_events() == [(customer.pk, "lifecycle.at_risk", {"from": "active"})]
        event = Event.objects.get(type="lifecycle.at_risk")
        assert event.occurred_at == event.received_at == frozen_clock.now - DAY
        assert (report.events, again.events, next_day.events) == (1, 0, 0)
        assert stage(steady) == S.ACTIVE

    def test_a_prospect_who_buys_becomes_new_with_an_event(self, frozen_clock):
        customer = CustomerFactory()
        customers_score()
        Customer.objects.filter(pk=customer.pk).update(
            order_count=1, first_order_at=frozen_clock.now, last_order_at=frozen_clock.now)

        customers_score()

        assert lifecycle_events() == [(customer.pk, "lifecycle.new", {"from": "prospect"})]

    def test_a_campaign_triggered_by_becoming_at_risk_enrols_the_customer(self, frozen_clock):
        campaign = CampaignFactory(trigger_event_type="lifecycle.at_risk", name="Save them")
        slipping = buyer(frozen_clock.now, last_days_ago=55, orders=2)
        fine = buyer(frozen_clock.now, last_days_ago=5, orders=2)
        customers_score()
        enrollments_plan(now=frozen_clock.now)
        frozen_clock.advance(days=6)

        customers_score()
        enrollments_plan(now=frozen_clock.now)

        entered = Enrollment.objects.filter(campaign=campaign)
        assert list(entered.values_list("customer_id", flat=True)) == [slipping.pk]
        assert entered.get().trigger_event.type == "lifecycle.at_risk"
        assert fine.pk not in entered.values_list("customer_id", flat=True)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the fallback is for old SQLite")
def test_an_sqlite_without_update_from_gets_the_same_result(frozen_clock, monkeypatch):
    from campaigns.services import rfm

    customer = buyer(frozen_clock.now, last_days_ago=50, orders=2)
    other = buyer(frozen_clock.now, last_days_ago=5, orders=1, spent="10")
    monkeypatch.setattr(rfm, "_update_from_supported", lambda: False)
    customers_score()
    first = frozen_clock.now
    frozen_clock.advance(days=15)

    report = customers_score()

    customer.refresh_from_db()
    assert (customer.lifecycle_stage, customer.lifecycle_stage_since) == (S.AT_RISK, frozen_clock.now)
    assert scores(customer) == (1, 3, 3) and scores(other) == (3, 1, 1)
    assert stage(other) == S.ACTIVE and other.lifecycle_stage_since == first
    assert (report.updated, report.events) == (1, 1)


def test_the_management_command_scores_and_reports(frozen_clock, capsys):
    buyer(frozen_clock.now, last_days_ago=100)
    CustomerFactory()

    call_command("score_customers")

    out = capsys.readouterr().out
    assert "2 customers scored (1 with orders); 2 changed: 2 stage changes, 0 lifecycle events" in out
    assert "lapsed: 1" in out and "prospect: 1" in out
    assert Customer.objects.filter(scored_at=frozen_clock.now).count() == 2


@override_settings(LIFECYCLE_WON_BACK_DAYS=0)
def test_the_management_command_refuses_bad_thresholds_with_the_setting_named(frozen_clock):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="LIFECYCLE_WON_BACK_DAYS must be at least 1"):
        call_command("score_customers")


def test_the_nightly_beat_entry_runs_the_scoring_task(frozen_clock, settings):
    from campaigns import tasks  # noqa: F401  (registers the tasks, as the worker does)
    from loyaltycrm.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["score-customers"]
    customer = buyer(frozen_clock.now, last_days_ago=100)

    result = app.tasks[entry["task"]].delay()

    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {15}
    assert result.get()["customers"] == 1
    assert stage(customer) == S.LAPSED
