"""Known answers for every metric on small hand-computed data sets."""
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from campaigns import stats
from campaigns.models import Customer, Order, StepVariant, SurveyResponse
from campaigns.selectors import metrics
from tests.factories import (
    CampaignFactory, CustomerFactory, EnrollmentFactory, JourneyStepFactory, MessageTemplateFactory,
    OrderFactory, SentMessageFactory,
)

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


def at(y, m, d, h=12):
    return dt.datetime(y, m, d, h, tzinfo=UTC)


JAN, FEB = at(2026, 1, 1, 0), at(2026, 2, 1, 0)


def order(customer, when, amount="100.00", status=Order.Status.PLACED):
    return OrderFactory(customer=customer, placed_at=when, amount=Decimal(amount), status=status)


def bulk_customers(n, prefix):
    return Customer.objects.bulk_create(
        [Customer(external_id=f"{prefix}-{i}", email=f"{prefix}{i}@example.se") for i in range(n)])


def bulk_orders(customers, when, prefix, status=Order.Status.PLACED):
    Order.objects.bulk_create([
        Order(customer=c, external_id=f"{prefix}-{c.pk}", amount=Decimal("10"), currency="SEK",
              placed_at=when, status=status) for c in customers])


@pytest.fixture
def retention_example():
    """100 customers at start, 20 new, 110 at end -> retention 90 %."""
    kept = bulk_customers(90, "kept")      # ordered 2025-06-01: active at start and at end
    lost = bulk_customers(10, "lost")      # only ordered 2025-01-15: active at start, not at end
    new = bulk_customers(20, "new")        # first order in January 2026
    bulk_orders(kept, at(2025, 6, 1), "k")
    bulk_orders(lost, at(2025, 1, 15), "l")
    bulk_orders(new, at(2026, 1, 20), "n")
    bulk_orders(lost, at(2026, 1, 21), "lr", status=Order.Status.REFUNDED)  # does not bring them back
    old = CustomerFactory()  # one order long ago, nothing since: in no count
    order(old, at(2024, 3, 1))


def test_retention_example(retention_example):
    result = metrics.retention(JAN, FEB)
    assert result == {"customers_at_start": 100, "customers_at_end": 110, "new_customers": 20,
                      "retention_rate": 90.0, "churn_rate": 10.0}


def test_a_lapsed_customer_who_returns_is_not_new():
    returning = CustomerFactory()
    order(returning, at(2024, 6, 1))
    order(returning, at(2026, 1, 10))
    assert metrics.new_customers(JAN, FEB) == 0
    assert metrics.customers_active_at(FEB) == 1
    assert metrics.customers_active_at(JAN) == 0
    assert metrics.retention(JAN, FEB)["retention_rate"] is None  # nobody at start: no rate


def test_active_window_is_365_days_before_the_moment():
    c = CustomerFactory()
    order(c, JAN - dt.timedelta(days=365))  # exactly 365 days before: inside
    assert metrics.customers_active_at(JAN) == 1
    assert metrics.customers_active_at(JAN + dt.timedelta(microseconds=1)) == 0
    d = CustomerFactory()
    order(d, JAN)  # at the moment itself: not before it
    assert metrics.customers_active_at(JAN) == 1


def test_survey_scores():
    def answer(kind, score, when=at(2026, 1, 10)):
        message = SentMessageFactory()
        SurveyResponse.objects.create(customer=message.customer, message=message, kind=kind,
                                      score=score, answered_at=when)

    for score in (10, 9, 9, 8, 3):
        answer(SurveyResponse.Kind.NPS, score)
    answer(SurveyResponse.Kind.NPS, 0, when=at(2026, 2, 1, 0))  # outside [from, to)
    for score in (5, 4):
        answer(SurveyResponse.Kind.CSAT, score)
    for score in (7, 5, 6):
        answer(SurveyResponse.Kind.CES, score)
    result = metrics.survey_scores(JAN, FEB)
    # promoters 3/5 = 60 %, detractors 1/5 = 20 % -> 40
    assert result["nps"] == pytest.approx(40.0)
    assert result["nps_answers"] == 5
    assert result["csat"] == pytest.approx(4.5)
    assert result["ces"] == pytest.approx(6.0)


def test_no_answers_gives_none():
    assert metrics.survey_scores(JAN, FEB)["nps"] is None


def test_repeat_purchase_rate():
    a, b, c, d = (CustomerFactory() for _ in range(4))
    order(a, at(2025, 12, 1)), order(a, at(2026, 1, 5))
    order(b, at(2026, 1, 5))
    order(c, at(2026, 1, 5)), order(c, at(2026, 1, 6), status=Order.Status.REFUNDED)
    order(d, at(2026, 2, 5)), order(d, at(2026, 2, 6))  # after `to`
    assert metrics.repeat_purchase_rate(FEB) == pytest.approx(100 / 3)


def test_avg_days_between_purchases():
    start = at(2026, 1, 10, 0)
    a, b, c, d, e = (CustomerFactory() for _ in range(5))
    order(a, at(2025, 12, 31)), order(a, at(2026, 1, 10)), order(a, at(2026, 1, 20))  # 10, 10
    order(b, at(2026, 1, 5)), order(b, at(2026, 1, 25))  # 20
    order(c, at(2026, 1, 15))  # one order: no gap
    order(d, at(2026, 1, 1)), order(d, at(2026, 1, 12), status=Order.Status.CANCELLED)
    order(d, at(2026, 1, 30))  # 29: the cancelled order is not a purchase
    order(e, at(2026, 1, 28)), order(e, at(2026, 2, 3))  # gap ends after the period
    assert metrics.avg_days_between_purchases(start, FEB) == pytest.approx((10 + 10 + 20 + 29) / 4)


def test_same_moment_orders_give_a_zero_gap():
    a = CustomerFactory()
    order(a, at(2026, 1, 5)), order(a, at(2026, 1, 5))
    assert metrics.avg_days_between_purchases(JAN, FEB) == 0


def test_clv_historic_and_predictive():
    x, y, z = (CustomerFactory() for _ in range(3))
    order(x, at(2024, 6, 1), "100"), order(x, at(2025, 6, 1), "100"), order(x, at(2025, 9, 1), "300")
    order(y, at(2024, 6, 1), "100")
    order(z, at(2025, 12, 1), "200")
    order(z, at(2025, 12, 2), "999", status=Order.Status.REFUNDED)
    order(z, at(2026, 3, 1), "999")  # after `to`
    result = metrics.clv(FEB)
    assert result["clv"] == pytest.approx(800 / 3)
    # Year [2025-02-01, 2026-02-01): revenue 600 in 3 orders by 2 customers -> AOV 200,
    # 1.5 orders per customer; at start 2 (x, y), at end 2 (x, z), 1 new (z) -> retention
    # 50 %, churn 50 % -> lifetime 2 years -> 200 x 1.5 x 2 = 600.
    assert result["avg_order_value_year"] == pytest.approx(200)
    assert result["orders_per_customer_year"] == pytest.approx(1.5)
    assert result["expected_lifetime_years"] == pytest.approx(2)
    assert result["predictive_clv"] == pytest.approx(600)


def test_cohort_retention():
    end = at(2026, 4, 1, 0)
    p = CustomerFactory(signed_up_at=at(2026, 1, 3))
    q = CustomerFactory(signed_up_at=at(2026, 1, 20))
    r = CustomerFactory(signed_up_at=at(2026, 2, 2))
    CustomerFactory(signed_up_at=at(2026, 3, 9))  # s: no order
    old = CustomerFactory(signed_up_at=at(2025, 12, 1))  # cohort before the 3 months shown
    order(p, at(2026, 1, 4)), order(p, at(2026, 1, 5)), order(p, at(2026, 3, 1))
    order(q, at(2026, 2, 10)), order(q, at(2026, 3, 10), status=Order.Status.REFUNDED)
    order(r, at(2026, 2, 3))
    order(r, at(2026, 4, 2))  # after `to`
    order(old, at(2026, 1, 5))
    assert metrics.cohort_retention(end, months=3) == [
        {"cohort": "2026-01", "size": 2, "retention": [50.0, 50.0, 50.0]},
        {"cohort": "2026-02", "size": 1, "retention": [100.0, 0.0]},
        {"cohort": "2026-03", "size": 1, "retention": [0.0]},
    ]


@pytest.fixture
def lift_data():
    campaign = CampaignFactory(name="Win-back", holdout_percent=30)
    t0 = at(2026, 1, 10)

    def enrol(holdout, *orders):
        enrollment = EnrollmentFactory(campaign=campaign, is_holdout=holdout, triggered_at=t0)
        for offset, amount, *status in orders:
            order(enrollment.customer, t0 + offset, amount, *status)
        return enrollment

    day = dt.timedelta(days=1)
    enrol(False, (2 * day, "100"))
    enrol(False, (0 * day, "500"), (8 * day, "70"))  # the trigger order itself and a late one
    enrol(False, (day, "50"), (7 * day, "30"))  # two orders inside the window (7 days included)
    enrol(False, (day, "40", Order.Status.REFUNDED))
    enrol(True, (day, "40"))
    enrol(True)
    EnrollmentFactory(campaign=campaign, triggered_at=at(2026, 2, 1, 0))  # outside the period
    return campaign


def test_campaign_lift(lift_data):
    [item] = metrics.campaign_lift(JAN, FEB)
    assert item["campaign"] == "Win-back" and item["attribution_days"] == 7
    assert item["treated"] == {"customers": 4, "conversions": 2, "conversion_rate": 0.5,
                               "revenue": 180.0, "revenue_per_customer": 45.0}
    assert item["holdout"] == {"customers": 2, "conversions": 1, "conversion_rate": 0.5,
                               "revenue": 40.0, "revenue_per_customer": 20.0}
    conversion = item["lift"]["conversion_rate"]
    expected = stats.proportion_difference(2, 4, 1, 2)
    assert conversion["difference"] == 0
    assert conversion["ci_low"] == pytest.approx(expected["ci_low"])
    assert conversion["verdict"] == "too_small"
    revenue = item["lift"]["revenue_per_customer"]
    assert revenue["difference"] == pytest.approx(25.0)
    # Welch on treated [100, 0, 80, 0] vs holdout [40, 0]
    expected = stats.mean_difference(4, 45.0, (100**2 + 80**2 - 4 * 45**2) / 3, 2, 20.0, 800.0)
    assert revenue["ci_low"] == pytest.approx(expected["ci_low"])
    assert revenue["ci_high"] == pytest.approx(expected["ci_high"])


def test_longer_attribution_window_counts_the_late_order(lift_data):
    [item] = metrics.campaign_lift(JAN, FEB, attribution_days=8)
    assert item["treated"]["conversions"] == 3
    assert item["treated"]["revenue"] == 250.0


@pytest.fixture
def variant_data():
    campaign = CampaignFactory(name="Bonus")
    step = JourneyStepFactory(campaign=campaign, position=0)
    a = StepVariant.objects.create(step=step, name="A", template=MessageTemplateFactory())
    b = StepVariant.objects.create(step=step, name="B", template=MessageTemplateFactory())
    sent = at(2026, 1, 10)

    def send(variant, **fields):
        enrollment = EnrollmentFactory(campaign=campaign)
        fields = {"sent_at": sent, "due_at": sent, **fields}
        return SentMessageFactory(enrollment=enrollment, step=step, variant=variant, **fields)

    m1 = send(a, opened_at=sent)
    send(a)
    m3 = send(b, opened_at=sent, clicked_at=sent)
    send(b, sent_at=at(2026, 2, 2))  # outside the period
    order(m1.customer, sent + dt.timedelta(days=3), "60")
    order(m3.customer, sent + dt.timedelta(days=1), "90")


def test_variant_stats(variant_data):
    [item] = metrics.variant_stats(JAN, FEB)
    assert item["control"] == "A"
    va, vb = item["variants"]
    assert (va["variant"], va["sends"], va["opens"], va["clicks"], va["conversions"], va["revenue"]) == \
        ("A", 2, 1, 0, 1, 60.0)
    assert (vb["variant"], vb["sends"], vb["opens"], vb["clicks"], vb["conversions"], vb["revenue"]) == \
        ("B", 1, 1, 1, 1, 90.0)
    assert va["vs_control"] is None
    assert vb["vs_control"]["conversion_rate"]["difference"] == pytest.approx(0.5)
    assert vb["vs_control"]["conversion_rate"]["verdict"] == "too_small"


def test_bad_periods_are_refused():
    with pytest.raises(ValueError, match="start before"):
        metrics.retention(FEB, JAN)
    with pytest.raises(ValueError, match="attribution"):
        metrics.campaign_lift(JAN, FEB, attribution_days=0)


def test_command_json(retention_example, lift_data):
    out = io.StringIO()
    call_command("metrics", "--from", "2026-01-01", "--to", "2026-02-01", "--json", stdout=out)
    data = json.loads(out.getvalue())
    for key in ("nps", "csat", "ces", "customers_at_start", "customers_at_end", "new_customers",
                "retention_rate", "churn_rate", "repeat_purchase_rate", "avg_days_between_purchases",
                "clv", "predictive_clv", "cohort_retention", "lift", "ab_variants"):
        assert key in data
    # The lift fixture adds 4 buyers in January (none before): new, and active at the end.
    assert data["customers_at_start"] == 100
    assert data["new_customers"] == 24
    assert data["customers_at_end"] == 114
    assert data["retention_rate"] == 90.0 and data["churn_rate"] == 10.0
    assert data["nps"] is None
    assert data["lift"][0]["treated"]["revenue_per_customer"] == 45.0
    assert data["lift"][0]["lift"]["conversion_rate"]["method"] == "newcombe-wilson"


def test_command_table(retention_example, lift_data, variant_data):
    out = io.StringIO()
    call_command("metrics", "--from", "2026-01-01", "--to", "2026-02-01", stdout=out)
    text = out.getvalue()
    assert "Retention rate" in text and "90.0 %" in text
    assert "Campaign Win-back" in text and "Too small to tell" in text
    assert "A/B test in Bonus" in text and "control A" in text
    assert "B: 1 sent, 1 opened, 1 clicked, 1 converted, revenue 90.00; vs control 50.0 pp" in text
    # A variant is judged against its control, in the dashboard's words.
    assert "Too small to tell: fewer than 30 sends in a variant." in text


@pytest.mark.parametrize("args,message", [
    (("--from", "2026-13-01", "--to", "2026-02-01"), "not a date"),
    (("--from", "2026-02-01", "--to", "2026-01-01"), "start before"),
])
def test_command_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("metrics", *args)


def test_the_commands_days_are_utc_days_like_the_dashboards(settings):
    # A shop in Stockholm: 23:30 UTC on 31 January is already 1 February there, but the
    # dashboard's days (and snapshots) are UTC days, so the command counts it in January.
    settings.TIME_ZONE = "Europe/Stockholm"
    message = SentMessageFactory()
    SurveyResponse.objects.create(customer=message.customer, message=message,
                                  kind=SurveyResponse.Kind.NPS, score=10,
                                  answered_at=dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.timezone.utc))
    out = io.StringIO()

    call_command("metrics", "--from", "2026-01-01", "--to", "2026-02-01", "--json", stdout=out)

    assert json.loads(out.getvalue())["nps_answers"] == 1
