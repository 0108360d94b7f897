"""The full customer page: every section with data and without, capped lists, a flat query
count, RFM columns and filters on the list, and the "Recompute RFM and stages now" button."""
import datetime as dt
import html
import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.admin import customer_page
from campaigns.selectors.journey_explain import JOURNEY_EXPLAIN_QUERIES
from campaigns.models import (
    AttributeDefinition, Customer, Enrollment, Event, Message, MessageLog, PointsEntry, Segment,
    SegmentMembership, SurveyResponse,
)
from campaigns.services.consent import consent_record
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory, OrderFactory,
)

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:campaigns_customer_changelist")
SCORE_URL = reverse("admin:campaigns_customer_score")
DAY = dt.timedelta(days=1)


def page_text(response) -> str:
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(text))


def change_url(customer) -> str:
    return reverse("admin:campaigns_customer_change", args=[customer.pk])


def rich_customer(now: dt.datetime, n: int) -> Customer:
    """A scored customer with n rows in every section of the page."""
    AttributeDefinition.objects.get_or_create(key="shoe_size", defaults={
        "label": "Shoe size", "type": AttributeDefinition.Type.NUMBER})
    customer = CustomerFactory(
        first_name="Astrid", time_zone="UTC", attributes={"shoe_size": 38, "favourite": "tea"},
        rfm_recency=2, rfm_frequency=4, rfm_monetary=5, lifecycle_stage="at_risk",
        lifecycle_stage_since=now - 3 * DAY, scored_at=now - DAY, points_balance=10 * n,
    )
    Event.objects.bulk_create([
        Event(customer=customer, type=f"page_view_{i}", occurred_at=now - i * dt.timedelta(hours=1),
              properties={"path": f"/p/{i}"}) for i in range(n)
    ])
    orders = [OrderFactory(customer=customer, external_id=f"o-{customer.pk}-{i}",
                           placed_at=now - i * DAY) for i in range(n)]
    EventFactory(customer=customer, type="purchase", order=orders[0], occurred_at=now)
    campaign = CampaignFactory(name=f"Survey {customer.pk}")
    for i in range(n):
        step = JourneyStepFactory(campaign=campaign, position=i)
        enrollment = Enrollment.objects.create(
            campaign=campaign, customer=customer, entry_key=f"k{i}", triggered_at=now,
            enrolled_at=now, next_action_at=now)
        state, reason = [("sent", ""), ("skipped", "no_consent"), ("expired", "quiet_hours")][i % 3]
        message = Message.objects.create(
            enrollment=enrollment, step=step, campaign=campaign, customer=customer, state=state,
            reason=reason, first_due_at=now, due_at=now - i * dt.timedelta(minutes=1),
            sent_at=now if state == "sent" else None, subject="How did we do?")
        MessageLog.objects.create(message=message, at=now, state=state, reason=reason)
        SurveyResponse.objects.create(customer=customer, message=message, kind="nps", score=i % 11,
                                      comment=f"comment {i}", answered_at=now - i * DAY)
        PointsEntry.objects.create(customer=customer, delta=10, balance_after=10 * (i + 1),
                                   reason=f"bonus {i}", created_at=now - i * DAY)
        segment = Segment.objects.create(name=f"Segment {customer.pk}-{i}", rule={})
        SegmentMembership.objects.create(segment=segment, customer=customer, entered_at=now - DAY)
        consent_record(customer=customer, granted=i % 2 == 0, source="api",
                       wording_version=f"v{i}", method="checkbox")
    return customer


class TestSections:
    def test_each_section_shows_the_customers_data(self, admin_client, frozen_clock):
        customer = rich_customer(frozen_clock.now, 3)

        text = page_text(admin_client.get(change_url(customer)))

        # Profile: custom attributes with their definitions.
        assert "Shoe size number 38" in text and "favourite not defined tea" in text
        # RFM and stage, with since-when.
        assert "At risk (no order for a while: at risk of lapsing) since 2026-02-27 09:00 UTC (3 days ago)" in text
        assert "Recency 2 (lower middle) · Frequency 4 (upper middle) · Monetary 5 (top 20 %)" in text
        assert "Scored 2026-03-01 09:00 UTC" in text
        # Timeline, newest first.
        timeline = text[text.index("Events, newest first"):]
        assert timeline.index("Purchase — order o-") < timeline.index("Page view 0") < timeline.index("Page view 2")
        assert "page: /p/1" in timeline and '{"path"' not in timeline
        # Orders, messages with their reasons, surveys, points, segments, consent.
        assert f"o-{customer.pk}-0 499.00 SEK Placed" in text
        assert "Not sent: no marketing consent" in text
        assert "Expired, not sent: quiet hours" in text
        assert "NPS (0-10) 2 comment 2" in text
        assert "Balance: 30 points." in text and "+10 30 bonus 2" in text
        assert f"Segment {customer.pk}-0 2026-03-01 09:00 UTC" in text
        assert "All marketing granted API v2 checkbox" in text
        assert "Now: All marketing: yes ." in text

    def test_a_customer_with_nothing_yet_gets_a_sentence_per_section(self, admin_client, frozen_clock):
        customer = CustomerFactory(attributes={})

        response = admin_client.get(change_url(customer))

        text = page_text(response)
        assert response.status_code == 200
        for sentence in ["No custom attributes.", "Not scored yet", "No events yet.",
                         "No orders.", "No survey answers.", "Balance: 0 points.",
                         "No points entries.", "In no segment", "No consent recorded.",
                         "No messages yet"]:
            assert sentence in text

    def test_a_prospect_is_told_why_it_has_no_scores(self, admin_client, frozen_clock):
        customer = CustomerFactory(lifecycle_stage="prospect", lifecycle_stage_since=frozen_clock.now, time_zone="UTC",
                                   scored_at=frozen_clock.now)

        text = page_text(admin_client.get(change_url(customer)))

        assert "Prospect (no order yet) (has not ordered yet) since 2026-03-02 09:00 UTC (today)" in text
        assert "No RFM scores: only customers with orders are ranked." in text

    def test_thousands_of_events_show_the_latest_hundred_and_link_to_the_rest(self, admin_client, frozen_clock):
        customer = CustomerFactory(time_zone="UTC")
        Event.objects.bulk_create([
            Event(customer=customer, type="view", occurred_at=frozen_clock.now - i * dt.timedelta(minutes=1))
            for i in range(2000)
        ])

        response = admin_client.get(change_url(customer))

        body = response.content.decode()
        timeline = body[body.index("Events, newest first"):body.index("Orders, newest first")]
        assert timeline.count("<tr>") == 1 + customer_page.TIMELINE_LIMIT  # header + rows
        assert "Showing the latest 100 events." in page_text(response)
        assert f"/admin/campaigns/event/?customer__id__exact={customer.pk}" in timeline
        assert "2026-03-02 07:21 UTC" in timeline and "2026-03-02 07:20 UTC" not in timeline
        assert admin_client.get(f"/admin/campaigns/event/?customer__id__exact={customer.pk}").status_code == 200

    def test_each_segment_links_to_why_the_customer_is_in_it(self, admin_client, frozen_clock):
        customer = rich_customer(frozen_clock.now, 1)
        membership = SegmentMembership.objects.get(customer=customer)

        page = admin_client.get(change_url(customer)).content.decode()

        link = reverse("admin:campaigns_segment_explain", args=[membership.segment_id, customer.pk])
        assert f'href="{link}"' in page
        explanation = admin_client.get(link)
        assert explanation.status_code == 200
        assert membership.segment.name in explanation.content.decode()

    def test_the_page_is_read_only_for_history(self, admin_client, frozen_clock):
        customer = rich_customer(frozen_clock.now, 2)

        response = admin_client.get(change_url(customer))

        # No inline formsets: history is shown, never edited, on this page.
        assert response.context["inline_admin_formsets"] == []


class TestQueries:
    def test_the_query_count_does_not_grow_with_the_customers_history(self, admin_client, frozen_clock,
                                                                      django_assert_max_num_queries):
        small = rich_customer(frozen_clock.now, 2)
        large = rich_customer(frozen_clock.now, 30)
        admin_client.get(change_url(small))  # warm caches (session, content types)

        with CaptureQueriesContext(connection) as few:
            admin_client.get(change_url(small))
        with django_assert_max_num_queries(25 + JOURNEY_EXPLAIN_QUERIES):
            response = admin_client.get(change_url(large))

        assert response.status_code == 200
        with CaptureQueriesContext(connection) as many:
            admin_client.get(change_url(large))
        assert len(many) == len(few)


class TestList:
    def test_the_list_shows_stage_and_rfm_and_filters_by_them(self, admin_client, frozen_clock):
        top = CustomerFactory(rfm_recency=5, rfm_frequency=4, rfm_monetary=3, lifecycle_stage="loyal")
        low = CustomerFactory(rfm_recency=1, rfm_frequency=1, rfm_monetary=1, lifecycle_stage="lapsed")
        never = CustomerFactory(lifecycle_stage="prospect")

        listing = admin_client.get(CHANGELIST)
        recent = admin_client.get(CHANGELIST, {"rfm_recency": "5"})
        unscored = admin_client.get(CHANGELIST, {"rfm_monetary": "none"})
        lapsed = admin_client.get(CHANGELIST, {"lifecycle_stage__exact": "lapsed"})

        text = page_text(listing)
        assert "5-4-3" in text and "Loyal" in text and "1-1-1" in text
        assert list(recent.context["cl"].result_list) == [top]
        assert list(unscored.context["cl"].result_list) == [never]
        assert list(lapsed.context["cl"].result_list) == [low]
        assert "RFM recency" in text and "Recompute RFM and stages now" in text


class TestRecomputeButton:
    def test_the_button_queues_the_recompute_and_says_so(self, admin_client, frozen_clock,
                                                         django_capture_on_commit_callbacks):
        customer = CustomerFactory(order_count=2, last_order_at=frozen_clock.now - 70 * DAY,
                                   first_order_at=frozen_clock.now - 200 * DAY)

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = admin_client.post(SCORE_URL, follow=True)

        customer.refresh_from_db()
        notes = [str(m) for m in get_messages(response.wsgi_request)]
        assert len(callbacks) == 1
        assert notes and notes[0].startswith("Recompute queued")
        assert response.redirect_chain[-1][0] == CHANGELIST
        assert customer.lifecycle_stage == "at_risk"

    def test_a_get_does_not_recompute(self, admin_client, frozen_clock):
        customer = CustomerFactory()

        response = admin_client.get(SCORE_URL)

        customer.refresh_from_db()
        assert response.status_code == 405
        assert customer.lifecycle_stage == ""

    def test_a_staff_member_who_may_only_view_customers_cannot_recompute(self, client, frozen_clock,
                                                                         django_user_model):
        from django.contrib.auth.models import Permission

        viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
        viewer.user_permissions.add(Permission.objects.get(codename="view_customer"))
        client.force_login(viewer)

        listing = client.get(CHANGELIST)
        response = client.post(SCORE_URL)

        assert listing.status_code == 200
        assert "Recompute RFM and stages now" not in page_text(listing)
        assert response.status_code == 403


def test_the_campaign_form_suggests_the_lifecycle_event_types(admin_client):
    from campaigns.models import Campaign

    form = admin_client.get(reverse("admin:campaigns_campaign_add")).content.decode()
    campaign = CampaignFactory.build(slug="save-at-risk", trigger_event_type="lifecycle.at_risk")

    assert 'list="id_trigger_event_type-types"' in form
    assert '<option value="lifecycle.at_risk">became at risk (nightly lifecycle scoring)</option>' in form
    campaign.full_clean()  # any typed event type is accepted
    assert Campaign.Trigger.EVENT == campaign.trigger
