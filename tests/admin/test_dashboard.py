"""The impact dashboard: staff only, chart data as JSON, CSV exports with known answers on a
small hand-built shop, and nothing loaded from outside the site."""
import csv
import datetime as dt
import io
import json
import re

import pytest
from django.urls import reverse

from campaigns import clock
from campaigns.models import MessageLog, StepVariant, SurveyResponse
from campaigns.selectors.dashboard import DASHBOARD_TABLES
from campaigns.services.snapshots import metric_snapshots_build
from tests.factories import (
    CampaignFactory, CustomerFactory, EnrollmentFactory, JourneyStepFactory,
    MessageTemplateFactory, OrderFactory, SentMessageFactory,
)

UTC = dt.timezone.utc
PAGE = "/admin/campaigns/dashboard/"
PERIOD = {"from": "2026-01-01", "to": "2026-03-01"}


def at(month, day, hour=9):
    return dt.datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def small_shop(db, frozen_clock):
    """Welcome: 3 enrolled on 10 Feb (one holdout), 2 sent; Ann ordered 2 days after hers
    (converted), Bo 10 days after (not). Bonus: one skipped (no consent), one deferred twice
    then expired (frequency cap). NPS answers: 10, 9, 3 in the week of 9 Feb, 5 the next week.
    Cohorts: Ann and Bo signed up in January (Ann ordered in January and February, Bo in
    February), Cid in February (no order)."""
    ann = CustomerFactory(signed_up_at=at(1, 15))
    bo = CustomerFactory(signed_up_at=at(1, 20))
    cid = CustomerFactory(signed_up_at=at(2, 5))
    welcome = CampaignFactory(name="Welcome")
    first = SentMessageFactory(enrollment__campaign=welcome, enrollment__customer=ann,
                               enrollment__enrolled_at=at(2, 10), sent_at=at(2, 10),
                               delivered_at=at(2, 10), opened_at=at(2, 10), clicked_at=at(2, 10))
    second = SentMessageFactory(enrollment__campaign=welcome, enrollment__customer=bo,
                                enrollment__enrolled_at=at(2, 10), sent_at=at(2, 10),
                                delivered_at=at(2, 10))
    EnrollmentFactory(campaign=welcome, customer=cid, enrolled_at=at(2, 10), is_holdout=True)
    OrderFactory(customer=ann, placed_at=at(1, 20))
    OrderFactory(customer=ann, placed_at=at(2, 12))
    OrderFactory(customer=bo, placed_at=at(2, 20))
    bonus = CampaignFactory(name="Bonus")
    skipped = SentMessageFactory(enrollment__campaign=bonus, enrollment__customer=cid,
                                 enrollment__enrolled_at=at(2, 11), state="skipped", sent_at=None)
    expired = SentMessageFactory(enrollment__campaign=bonus, enrollment__customer=bo,
                                 enrollment__enrolled_at=at(2, 11), state="expired", sent_at=None)
    MessageLog.objects.create(message=skipped, state="skipped", reason="no_consent")
    MessageLog.objects.create(message=expired, state="deferred", reason="frequency_cap")
    MessageLog.objects.create(message=expired, state="deferred", reason="frequency_cap")
    MessageLog.objects.create(message=expired, state="expired", reason="frequency_cap")
    for message, score, when in ((first, 10, at(2, 10)), (second, 9, at(2, 11)),
                                 (skipped, 3, at(2, 12)), (expired, 5, at(2, 17))):
        SurveyResponse.objects.create(message=message, customer=message.customer, kind="nps",
                                      score=score, answered_at=when)


def export(client, table, period=PERIOD):
    response = client.get(reverse("admin:campaigns_dashboard_export", args=[table]), period)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_page_is_for_staff_only(client, django_user_model, small_shop):
    django_user_model.objects.create_user("shopper", password="pw", is_staff=False)
    client.login(username="shopper", password="pw")

    page = client.get(PAGE)
    csv_export = client.get(reverse("admin:campaigns_dashboard_export", args=["weekly_sends"]))

    assert page.status_code == 302 and "/login/" in page["Location"]
    assert csv_export.status_code == 302


def test_staff_without_the_view_permission_is_refused(client, django_user_model, small_shop):
    django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.login(username="clerk", password="pw")

    assert client.get(PAGE).status_code == 403


def test_staff_with_the_dashboard_permission_sees_it(client, django_user_model, small_shop):
    from django.contrib.auth.models import Permission

    marketer = django_user_model.objects.create_user("marketer", password="pw", is_staff=True)
    marketer.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client.login(username="marketer", password="pw")

    assert client.get(PAGE).status_code == 200
    assert export(client, "weekly_sends")[0] == ["week", "sent"]


def test_the_page_holds_the_chart_data_as_json(admin_client, small_shop):
    page = admin_client.get(PAGE, PERIOD).content.decode()

    raw = re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>',
                    page, re.S).group(1)
    data = json.loads(raw)
    assert data["weekly_sends"] == [{"week": "2026-02-09", "sent": 2}]
    assert data["weekly_nps"][0] == {"week": "2026-02-09", "answers": 3, "promoters": 2,
                                     "detractors": 1, "nps": 33.3}
    assert {row["campaign"]: row["converted"] for row in data["campaign_funnel"]} == {
        "Bonus": 0, "Welcome": 1}


def test_the_page_loads_nothing_from_outside_the_site(admin_client, small_shop):
    page = admin_client.get(PAGE, PERIOD).content.decode()
    # The admin's inline SVG icons name their XML namespace; that is not a download.
    page = page.replace('xmlns="http://www.w3.org/2000/svg"', "")

    assert "http:" not in page and "https:" not in page and "//cdn" not in page
    assert all(u.startswith("/") and not u.startswith("//")
               for u in re.findall(r'(?:src|href)="([^"#?][^"]*)"', page))
    assert {"/static/campaigns/vendor/chartjs/chart.umd.js", "/static/campaigns/dashboard.js"} <= set(
        re.findall(r'src="([^"]+)"', page))
    assert page.count(">Download (CSV)</a>") == 8  # one per table


def test_the_admin_index_links_to_the_dashboard(admin_client, small_shop):
    assert PAGE in admin_client.get("/admin/").content.decode()


def test_weekly_sends_and_nps_export(admin_client, small_shop):
    assert export(admin_client, "weekly_sends") == [["week", "sent"], ["2026-02-09", "2"]]
    assert export(admin_client, "weekly_nps") == [
        ["week", "answers", "promoters", "detractors", "nps"],
        ["2026-02-09", "3", "2", "1", "33.3"],
        ["2026-02-16", "1", "0", "1", "-100.0"],
    ]


def test_cohort_retention_export(admin_client, small_shop):
    assert export(admin_client, "cohort_retention") == [
        ["cohort", "cohort_size", "months_since", "customers", "retention"],
        ["2026-01-01", "2", "0", "1", "50.0"],
        ["2026-01-01", "2", "1", "2", "100.0"],
        ["2026-02-01", "1", "0", "0", "0.0"],
    ]


def test_the_heat_map_colours_each_cohort_month(admin_client, small_shop):
    page = admin_client.get(PAGE, PERIOD).content.decode()

    assert 'title="2 customers">100.0 %</td>' in page
    assert "hsl(140, 55%, 37%)" in page  # 100 %
    assert "hsl(140, 55%, 67%)" in page  # 50 %


def test_campaign_funnel_export(admin_client, small_shop):
    assert export(admin_client, "campaign_funnel") == [
        ["campaign", "enrolled", "holdout", "sent", "delivered", "opened", "clicked", "converted"],
        ["Bonus", "2", "0", "0", "0", "0", "0", "0"],
        ["Welcome", "3", "1", "2", "2", "1", "1", "1"],
    ]


def test_held_back_reasons_export(admin_client, small_shop):
    assert export(admin_client, "campaign_held_back") == [
        ["campaign", "outcome", "reason", "messages"],
        ["Bonus", "deferred", "frequency_cap", "1"],
        ["Bonus", "expired", "frequency_cap", "1"],
        ["Bonus", "skipped", "no_consent", "1"],
    ]


def test_the_period_limits_what_is_counted(admin_client, small_shop):
    response = admin_client.get(reverse("admin:campaigns_dashboard_export",
                                        args=["weekly_sends"]), {"from": "2026-02-11"})

    assert list(csv.reader(io.StringIO(response.content.decode()))) == [["week", "sent"]]


def test_a_bad_period_gets_a_clear_error(admin_client, small_shop):
    url = reverse("admin:campaigns_dashboard_export", args=["weekly_sends"])

    bad = admin_client.get(url, {"from": "31/01/2026"})
    backwards = admin_client.get(url, {"from": "2026-02-01", "to": "2026-01-01"})
    page = admin_client.get(PAGE, {"from": "yesterday"})
    unknown = admin_client.get(reverse("admin:campaigns_dashboard_export", args=["nope"]))

    assert bad.status_code == 400 and b"YYYY-MM-DD" in bad.content
    assert backwards.status_code == 400 and b"before its end" in backwards.content
    assert page.status_code == 200 and "YYYY-MM-DD" in page.content.decode()
    assert unknown.status_code == 404


def test_chart_js_is_vendored_with_its_licence():
    from django.contrib.staticfiles import finders

    script = finders.find("campaigns/vendor/chartjs/chart.umd.js")
    licence = finders.find("campaigns/vendor/chartjs/LICENSE.md")

    assert script and licence
    assert "Chart.js v4.6.1" in open(script, encoding="utf-8").read(200)
    assert "MIT" in open(licence, encoding="utf-8").read()


def test_campaign_lift_export_compares_treated_with_holdout(admin_client, db, frozen_clock):
    """Winback: two treated (one ordered 2 days after its trigger, one never), one holdout
    (ordered 9 days after, outside the 7-day window): 50 % against 0 %, a lift of 50
    percentage points, with an interval around it and too few customers to tell."""
    winback = CampaignFactory(name="Winback")
    buyer, idle, held = CustomerFactory(), CustomerFactory(), CustomerFactory()
    for customer, holdout in ((buyer, False), (idle, False), (held, True)):
        EnrollmentFactory(campaign=winback, customer=customer, triggered_at=at(2, 1),
                          is_holdout=holdout)
    OrderFactory(customer=buyer, placed_at=at(2, 3))
    OrderFactory(customer=held, placed_at=at(2, 10))

    header, row = export(admin_client, "campaign_lift")

    assert header == ["campaign", "treated", "treated_conversion_pct", "holdout",
                      "holdout_conversion_pct", "lift_pp", "ci_low_pp", "ci_high_pp", "verdict"]
    assert row[:6] == ["Winback", "2", "50.0", "1", "0.0", "50.0"]
    assert float(row[6]) < 50 < float(row[7])
    assert "too small" in row[8].lower()
    page = admin_client.get(PAGE, PERIOD).content.decode()
    assert 'id="campaign_lift"' in page and "Winback" in page


def test_monthly_trends_export_has_sends_nps_csat_and_ces(admin_client, small_shop):
    """February: 2 sent, NPS 10, 9, 3, 5 (2 promoters, 2 detractors: NPS 0), CSAT 4 and 5
    (mean 4.5); January: one CES answer of 6 and nothing sent."""
    ann_message, bo_message = (SurveyResponse.objects.get(score=10).message,
                               SurveyResponse.objects.get(score=9).message)
    SurveyResponse.objects.create(message=ann_message, customer=ann_message.customer,
                                  kind="csat", score=4, answered_at=at(2, 15))
    SurveyResponse.objects.create(message=bo_message, customer=bo_message.customer,
                                  kind="csat", score=5, answered_at=at(2, 16))
    SurveyResponse.objects.create(message=ann_message, customer=ann_message.customer,
                                  kind="ces", score=6, answered_at=at(1, 25))

    assert export(admin_client, "monthly_trends") == [
        ["month", "sent", "nps_answers", "nps", "csat", "ces"],
        ["2026-01-01", "0", "0", "", "", "6.0"],
        ["2026-02-01", "2", "4", "0.0", "4.5", ""],
    ]


@pytest.fixture
def ab_test(db, frozen_clock):
    """Welcome A/B, step 0, variants A and B sent on 10 January: A twice (one opened; its customer
    ordered 60 three days later), B once (opened, clicked; ordered 90 the next day), and one
    B sent in March, outside the period."""
    bonus = CampaignFactory(name="Welcome A/B")
    step = JourneyStepFactory(campaign=bonus, position=0)
    a, b = (StepVariant.objects.create(step=step, name=name, template=MessageTemplateFactory())
            for name in "AB")
    sent = at(1, 10)

    def send(variant, when=sent, **fields):
        return SentMessageFactory(enrollment__campaign=bonus, step=step, variant=variant,
                                  sent_at=when, due_at=when, **fields)

    first = send(a, opened_at=sent)
    send(a)
    third = send(b, opened_at=sent, clicked_at=sent)
    send(b, when=at(3, 1))
    OrderFactory(customer=first.customer, placed_at=sent + dt.timedelta(days=3), amount="60")
    OrderFactory(customer=third.customer, placed_at=sent + dt.timedelta(days=1), amount="90")


def test_ab_variants_export_compares_each_variant_with_the_control(admin_client, ab_test):
    header, control, b = export(admin_client, "campaign_variants")

    assert header == ["campaign", "step", "variant", "sends", "opens", "clicks", "conversions",
                      "revenue", "conversion_pct", "vs_control_pp", "ci_low_pp", "ci_high_pp",
                      "verdict"]
    assert control == ["Welcome A/B", "0", "A", "2", "1", "0", "1", "60.0", "50.0", "", "", "",
                       "Control."]
    assert b[:10] == ["Welcome A/B", "0", "B", "1", "1", "1", "1", "90.0", "100.0", "50.0"]
    assert float(b[10]) < 50 < float(b[11])
    assert b[12] == "Too small to tell: fewer than 30 sends in a variant."


def test_the_page_shows_the_ab_table_and_its_chart_data(admin_client, ab_test):
    page = admin_client.get(PAGE, PERIOD).content.decode()

    assert 'id="campaign_variants"' in page and 'id="chart-campaign-variants"' in page
    data = json.loads(re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>',
                                page, re.S).group(1))
    assert [(row["variant"], row["conversion_pct"]) for row in data["campaign_variants"]] == [
        ("A", 50.0), ("B", 100.0)]


def test_the_exports_are_the_same_from_the_snapshots(admin_client, small_shop, ab_test):
    """Up to and including today (2 March): closed days from the snapshots, today live."""
    period = {"from": "2026-01-01", "to": "2026-03-03"}
    live = {name: export(admin_client, name, period) for name in DASHBOARD_TABLES}

    metric_snapshots_build(now=clock.now())
    page = admin_client.get(PAGE, period).content.decode()

    assert "brought up to date every night" in page and "2026-03-02" in page
    assert {name: export(admin_client, name, period) for name in DASHBOARD_TABLES} == live
    assert all(len(rows) > 1 for rows in live.values())
