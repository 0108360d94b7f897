"""Segment counts on the list (counted on save and by the periodic refresh, their age in
words, out of date said plainly, never a COUNT per row) and the explanation's words."""
import html
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import tasks
from campaigns.models import Segment, SegmentMembership
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
ADD = reverse("admin:campaigns_segment_add")
CHANGELIST = reverse("admin:campaigns_segment_changelist")
SWEDES = {"all": [{"field": "country", "op": "is", "value": "SE"}]}


def page_text(response) -> str:
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(text))


def row_text(response, name: str) -> str:
    body = response.content.decode()
    row = next(r for r in re.findall(r"<tr.*?</tr>", body, flags=re.S) if name in r)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", row))).strip()


@pytest.fixture
def people(db):
    return [CustomerFactory(country="SE") for _ in range(3)] + [CustomerFactory(country="NO")]


def test_a_saved_segment_is_counted_at_once(admin_client, people, frozen_clock):
    response = admin_client.post(ADD, {"name": "Swedes", "description": "",
                                       "rule": json.dumps(SWEDES)})

    segment = Segment.objects.get(name="Swedes")
    assert response.status_code == 302
    assert (segment.member_count, segment.counted_at) == (3, frozen_clock.now)
    assert SegmentMembership.objects.filter(segment=segment).count() == 3
    assert row_text(admin_client.get(CHANGELIST), "Swedes") == "Swedes 3 counted just now"


def test_an_edited_rule_is_counted_again_on_save(admin_client, people, frozen_clock):
    admin_client.post(ADD, {"name": "Swedes", "description": "", "rule": json.dumps(SWEDES)})
    segment = Segment.objects.get(name="Swedes")
    frozen_clock.advance(minutes=5)

    admin_client.post(reverse("admin:campaigns_segment_change", args=[segment.pk]), {
        "name": "Swedes", "description": "",
        "rule": json.dumps({"any": [SWEDES, {"field": "country", "op": "is", "value": "NO"}]})})

    segment.refresh_from_db()
    assert (segment.member_count, segment.counted_at) == (4, frozen_clock.now)


def test_the_list_says_how_old_each_count_is_and_the_periodic_task_refreshes_it(
        admin_client, people, frozen_clock, settings):
    settings.SEGMENT_REFRESH_MINUTES = 15
    admin_client.post(ADD, {"name": "Swedes", "description": "", "rule": json.dumps(SWEDES)})
    CustomerFactory(country="SE")

    frozen_clock.advance(minutes=5)
    five = row_text(admin_client.get(CHANGELIST), "Swedes")
    frozen_clock.advance(hours=2)
    stale = row_text(admin_client.get(CHANGELIST), "Swedes")
    tasks.segments_refresh()
    fresh = row_text(admin_client.get(CHANGELIST), "Swedes")

    assert five == "Swedes 3 counted 5 minutes ago"
    assert stale.startswith("Swedes 3 counted 2 hours ago (out of date: the refresh every 15 "
                            "minutes has not run")
    assert fresh == "Swedes 4 counted just now"


def test_a_segment_never_counted_is_counted_when_the_list_is_opened(
        admin_client, people, frozen_clock, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    cache.clear()
    Segment.objects.create(name="Made by the demo", rule=SWEDES)

    with django_capture_on_commit_callbacks(execute=True) as queued:
        first = row_text(admin_client.get(CHANGELIST), "Made by the demo")
    then = row_text(admin_client.get(CHANGELIST), "Made by the demo")
    Segment.objects.create(name="Another", rule=SWEDES)
    with django_capture_on_commit_callbacks(execute=True) as again:
        admin_client.get(CHANGELIST)

    assert first.startswith("Made by the demo not counted yet being counted now: reload in a "
                            "moment")
    assert " - " not in f" {first} " and "—" not in first
    assert then == "Made by the demo 3 counted just now"
    # One refresh per period, not one per view: the periodic task counts "Another".
    assert (len(queued), len(again)) == (1, 0)


def test_the_list_never_counts_per_row(admin_client, people, frozen_clock):
    for i in range(2):
        Segment.objects.create(name=f"S{i}", rule=SWEDES, member_count=i, counted_at=frozen_clock.now)
    admin_client.get(CHANGELIST)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CHANGELIST)
    for i in range(2, 12):
        Segment.objects.create(name=f"S{i}", rule=SWEDES, member_count=i, counted_at=frozen_clock.now)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(CHANGELIST)

    assert len(few) == len(many)
    assert not [q for q in many if "customer" in q["sql"].lower() and "count(" in q["sql"].lower()]


def test_the_segment_page_shows_a_live_count_next_to_the_stored_one(admin_client, people,
                                                                   frozen_clock):
    segment = Segment.objects.create(name="Swedes", rule=SWEDES, member_count=1,
                                     counted_at=frozen_clock.now)

    text = page_text(admin_client.get(reverse("admin:campaigns_segment_change",
                                              args=[segment.pk])))

    assert "3 customers match the rule right now." in text


def test_a_rule_broken_since_is_saved_with_a_warning_not_a_500(admin_client, people,
                                                               frozen_clock, monkeypatch):
    from campaigns.admin import segments as segment_admin
    from campaigns.segmentation import RuleError

    def broken(segment):
        raise RuleError(["the attribute “shoe_size” no longer exists"])

    monkeypatch.setattr(segment_admin, "segment_members_refresh", broken)

    response = admin_client.post(ADD, {"name": "Swedes", "description": "",
                                       "rule": json.dumps(SWEDES)}, follow=True)

    assert response.status_code == 200
    assert "“Swedes” was saved but not counted: the attribute “shoe_size” no longer exists" in \
        page_text(response)


def test_the_explanation_says_no_order_yet_rather_than_none(admin_client, frozen_clock):
    customer = CustomerFactory(country="NO")
    segment = Segment.objects.create(name="Lapsed", rule={"all": [
        {"field": "last_order_at", "op": "more_than_days_ago", "value": 90}]})

    text = page_text(admin_client.get(reverse("admin:campaigns_segment_explain",
                                              args=[segment.pk, customer.pk])))

    assert "last order more than 90 days ago no order yet ✘ does not hold" in text
