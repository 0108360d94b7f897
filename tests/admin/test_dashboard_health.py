"""The dashboard as a marketer reads it: words instead of column names, every chart and
table filled on the demo, and no command to run before the first figures appear."""
import json
import re
from html import unescape

import pytest

from campaigns.models import MetricSnapshotState
from campaigns.selectors import metrics
from campaigns.selectors.dashboard import DASHBOARD_TABLES
from campaigns.services.demo import demo_load

PAGE = "/admin/campaigns/dashboard/"
pytestmark = pytest.mark.django_db


def chart_data(page: str) -> dict:
    raw = re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>',
                    page, re.S).group(1)
    return json.loads(raw)


def visible(page: str) -> str:
    """What the reader sees: the page without its scripts, styles and tags."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", page))


def column_names(data: dict) -> set[str]:
    """Every column name the tables have: the keys of the chart data's rows."""
    return {key for rows in data.values() for row in rows for key in row}


@pytest.fixture
def demo(frozen_clock):
    demo_load(customers=60, history=True)


def test_every_chart_and_table_has_something_after_seeding_the_demo(admin_client, demo):
    page = admin_client.get(PAGE).content.decode()

    data = chart_data(page)
    for name in (*DASHBOARD_TABLES, "health"):
        assert data[name], f"{name} is empty"
    assert len(data["health"]) >= 12
    for figure in metrics.HEALTH_FIGURES:
        assert any(month[figure] is not None for month in data["health"]), figure
    assert {row["variant"] for row in data["campaign_variants"]} == {"A", "B"}
    assert any(row["holdout"] for row in data["campaign_lift"])
    assert {row["outcome"] for row in data["campaign_held_back"]} >= {"skipped", "deferred", "expired"}
    cards = re.findall(r'<li class="card" id="card-(\w+)">.*?<div class="figure">(.*?)</div>', page, re.S)
    assert len(cards) == 9 and all(shown.strip() not in {"", "—"} for _, shown in cards)
    for canvas in ("satisfaction", "retention", "clv", "days-between", "weekly-sends", "weekly-nps",
                   "campaign-funnel", "campaign-variants"):
        assert f'<canvas id="chart-{canvas}">' in page


def test_headers_and_words_on_the_page_are_words_not_column_names_or_codes(admin_client, demo):
    page = admin_client.get(PAGE).content.decode()

    text = visible(page)
    headers = [unescape(re.sub(r"<[^>]+>", "", h)).strip()
               for h in re.findall(r"<th[^>]*>(.*?)</th>", page, re.S)]
    raw = column_names(chart_data(page))
    assert {"treated_conversion_pct", "ci_low_pp", "retention_rate", "cohort_size"} <= raw
    assert headers and not [h for h in headers if h in raw or "_" in h]
    for name in raw:
        if "_" in name:
            assert name not in text and name.upper() not in text, name
    assert "TREATED_CONVERSION_PCT" not in text and "CI_LOW_PP" not in text
    # The held-back reasons are sentences, not the sender's codes.
    assert "no_consent" not in text and "frequency_cap" not in text
    assert "no marketing consent" in text and "not sent" in text
    assert "manage.py" not in text


def test_each_health_figure_is_explained_in_a_line(admin_client, demo):
    page = admin_client.get(PAGE).content.decode()

    helps = re.findall(r'<p class="help">(.*?)</p></li>', page, re.S)
    assert len(helps) == 9 and all(len(h.split()) >= 8 for h in helps)
    assert "The last 12 months" in visible(page)


def test_before_any_snapshot_the_first_visit_queues_one_build_and_says_so(
    admin_client, frozen_clock, django_capture_on_commit_callbacks
):
    demo_load(customers=5, history=True)
    from campaigns.models import MetricSnapshot
    MetricSnapshot.objects.all().delete()
    MetricSnapshotState.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True) as first:
        page = visible(admin_client.get(PAGE).content.decode())
    with django_capture_on_commit_callbacks(execute=False) as again:
        MetricSnapshotState.objects.all().delete()
        admin_client.get(PAGE)

    assert "being prepared for the first time" in page and "manage.py" not in page
    assert "first figures appear after tonight" in page
    assert len(first) == 1 and MetricSnapshotState.objects.count() == 0  # deleted again above
    assert again == []  # one build queued, not one per visit


def test_after_the_first_build_the_page_says_when_the_figures_were_brought_up_to_date(
    admin_client, demo
):
    text = visible(admin_client.get(PAGE).content.decode())

    assert "being prepared" not in text
    assert "brought up to date every night (last: 2026-03-02 09:00 UTC)" in " ".join(text.split())
