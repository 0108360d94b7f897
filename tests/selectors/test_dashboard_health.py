"""The shop's health on the dashboard: the nightly snapshots hold exactly what `manage.py
metrics` prints for the same period, one function computing both, and beat builds them
every night."""
import datetime as dt
import io
import json
import random
from decimal import Decimal

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.management import call_command

from campaigns.models import MetricSnapshot, Order, SurveyResponse
from campaigns.selectors import metrics
from campaigns.selectors.dashboard import shop_health
from campaigns.services.snapshots import metric_snapshots_build
from tests.factories import CustomerFactory, OrderFactory, SentMessageFactory

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the frozen clock


def midnight(y, m, d):
    return dt.datetime(y, m, d, tzinfo=UTC)


@pytest.fixture
def shop(frozen_clock):
    """Fourteen months of a small shop: 30 customers with 0-6 orders each (some refunded),
    and NPS, CSAT and CES answers spread over the last year."""
    rng = random.Random(14)
    start = midnight(2025, 1, 1)
    span = int((NOW - start).total_seconds())
    for i in range(30):
        customer = CustomerFactory(signed_up_at=start + dt.timedelta(seconds=rng.randrange(span // 2)))
        for n in range(rng.randrange(7)):
            OrderFactory(customer=customer, amount=Decimal(rng.randrange(100, 900)),
                         placed_at=customer.signed_up_at + dt.timedelta(days=rng.randrange(1, 420)),
                         status=Order.Status.REFUNDED if n == 3 else Order.Status.PLACED)
        if i % 2:
            message = SentMessageFactory(enrollment__customer=customer, sent_at=NOW - dt.timedelta(days=200))
            answered = NOW - dt.timedelta(days=rng.randrange(2, 330))
            for kind, score in (("nps", rng.randrange(11)), ("csat", rng.randrange(1, 6)),
                                ("ces", rng.randrange(1, 8))):
                SurveyResponse.objects.create(message=message, customer=customer, kind=kind,
                                              score=score, answered_at=answered)
    Order.objects.filter(placed_at__gte=NOW).delete()


def command_json(start: str, end: str) -> dict:
    out = io.StringIO()
    call_command("metrics", "--from", start, "--to", end, "--json", stdout=out)
    return json.loads(out.getvalue())


def health(**period) -> dict:
    return shop_health(since=midnight(2025, 1, 1), until=midnight(2026, 3, 3), **period)


def test_each_month_on_the_dashboard_is_what_the_metrics_command_prints_for_it(shop):
    metric_snapshots_build(now=NOW)
    months = {row["month"]: row for row in health()["months"]}

    for start, end in (("2025-06-01", "2025-07-01"), ("2026-01-01", "2026-02-01"),
                       ("2026-02-01", "2026-03-01")):
        printed = command_json(start, end)
        shown = months[dt.date.fromisoformat(start)]
        assert {k: shown[k] for k in metrics.HEALTH_FIGURES} == {
            k: printed[k] for k in metrics.HEALTH_FIGURES}, start
    # The data is rich enough that the comparison compares something.
    january = months[dt.date(2026, 1, 1)]
    assert january["retention_rate"] is not None and january["clv"] > 0
    assert sum(row["nps_answers"] for row in months.values()) == 15


def test_the_twelve_months_cards_are_the_command_over_the_year_before_the_build(shop):
    metric_snapshots_build(now=NOW)

    year = health()["year"]
    printed = command_json("2025-03-02", "2026-03-02")

    assert year["through"] == dt.date(2026, 3, 2)
    assert {k: year[k] for k in metrics.HEALTH_FIGURES} == {k: printed[k] for k in metrics.HEALTH_FIGURES}
    assert year["repeat_purchase_rate"] is not None and year["nps"] is not None


def test_the_open_month_runs_up_to_the_build_and_a_rebuild_replaces_it(shop, frozen_clock):
    metric_snapshots_build(now=NOW)
    rows = MetricSnapshot.objects.filter(kind=MetricSnapshot.Kind.HEALTH).count()
    OrderFactory(customer=CustomerFactory(), placed_at=midnight(2026, 3, 1) + dt.timedelta(hours=5),
                 amount=Decimal("5000"))

    metric_snapshots_build(now=NOW)

    march = health()["months"][-1]
    assert march["month"] == dt.date(2026, 3, 1)
    assert march == {"month": dt.date(2026, 3, 1),
                     **metrics.health_figures(midnight(2026, 3, 1), midnight(2026, 3, 2))}
    assert march["new_customers"] >= 1
    assert MetricSnapshot.objects.filter(kind=MetricSnapshot.Kind.HEALTH).count() == rows


def test_the_dashboard_asks_the_snapshots_only_for_the_months_of_its_period(shop):
    metric_snapshots_build(now=NOW)

    shown = shop_health(since=midnight(2025, 10, 15), until=midnight(2026, 1, 1))

    assert [row["month"] for row in shown["months"]] == [
        dt.date(2025, 10, 1), dt.date(2025, 11, 1), dt.date(2025, 12, 1)]


def test_without_snapshots_there_is_nothing_to_show_rather_than_a_slow_live_count(shop):
    assert health() == {"months": [], "year": None}


def test_beat_builds_the_snapshots_every_night():
    entry = settings.CELERY_BEAT_SCHEDULE["metric-snapshots"]
    schedule = entry["schedule"]

    assert entry["task"] == "campaigns.metric_snapshots"
    assert isinstance(schedule, crontab)
    assert schedule.day_of_week == set(range(7)) and schedule.day_of_month == set(range(1, 32))
    assert len(schedule.hour) == 1 and len(schedule.minute) == 1
