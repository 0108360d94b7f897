"""The deliverability page (daily rates per sending domain) and the campaign's delivery numbers."""
import datetime as dt

import pytest
from django.urls import reverse

from campaigns.selectors.deliverability import DomainDay, deliverability_daily
from tests.factories import CampaignFactory, SentMessageFactory

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc
DAY = dt.datetime(2026, 3, 1, 10, tzinfo=UTC)
PAGE = "admin:campaigns_deliverability_changelist"


def sent_messages(n, *, campaign=None, domain="example.com", at=DAY, **reported):
    campaign = campaign or CampaignFactory()
    return [SentMessageFactory(enrollment__campaign=campaign, sending_domain=domain, sent_at=at,
                               **reported) for _ in range(n)]


@pytest.mark.parametrize(("sent", "complained", "bounced", "words"), [
    (10000, 7, 0, []),
    (10000, 8, 0, ["close to Gmail's 0.1 % line"]),
    (10000, 10, 0, ["over Gmail's 0.1 % line"]),
    (10000, 30, 0, ["at or over 0.3 %"]),
    (1000, 0, 19, []),
    (1000, 0, 20, ["bounce rate 2.0 %"]),
    (0, 1, 0, ["on a day with no emails sent"]),
])
def test_the_warnings_follow_gmails_complaint_lines_and_the_bounce_threshold(sent, complained, bounced, words):
    day = DomainDay(day=DAY.date(), domain="example.com", sent=sent, complained=complained,
                    bounced=bounced)

    warnings = " / ".join(day.warnings)

    assert all(w in warnings for w in words) and bool(warnings) == bool(words)


def test_rates_are_per_utc_day_and_sending_domain(frozen_clock):
    sent_messages(3, domain="example.com", complained_at=DAY + dt.timedelta(hours=2))
    sent_messages(1, domain="example.com")
    sent_messages(2, domain="news.example.com", bounced_at=DAY + dt.timedelta(hours=1))
    # Sent the day before, bounced on DAY: counted on the day the bounce was reported.
    sent_messages(1, domain="news.example.com", at=DAY - dt.timedelta(days=1),
                  bounced_at=DAY + dt.timedelta(hours=3))

    rows = {(r.day.isoformat(), r.domain): r for r in deliverability_daily(days=30, now=frozen_clock.now)}

    main = rows[("2026-03-01", "example.com")]
    assert (main.sent, main.complained, main.complaint_rate) == (4, 3, 75.0)
    news = rows[("2026-03-01", "news.example.com")]
    assert (news.sent, news.bounced, news.bounce_rate) == (2, 3, 150.0)
    assert rows[("2026-02-28", "news.example.com")].sent == 1


def test_messages_sent_before_the_domain_was_recorded_count_for_default_from_email(frozen_clock, settings):
    settings.DEFAULT_FROM_EMAIL = "Nordic Goods <hello@mail.nordic.example>"
    sent_messages(2, domain="")

    (row,) = deliverability_daily(days=30, now=frozen_clock.now)

    assert (row.domain, row.sent) == ("mail.nordic.example", 2)


def test_the_page_shows_the_rates_and_warns_past_gmails_line(admin_client, frozen_clock):
    sent_messages(499, domain="example.com")
    sent_messages(1, domain="example.com", complained_at=DAY + dt.timedelta(hours=1))

    response = admin_client.get(reverse(PAGE))

    assert response.status_code == 200
    html = response.content.decode()
    assert "example.com" in html and "0.200 %" in html
    assert 'id="deliverability-warnings"' in html
    assert "complaint rate 0.20 % is over Gmail&#x27;s 0.1 % line" in html


def test_the_page_has_no_warning_on_a_healthy_day(admin_client, frozen_clock):
    sent_messages(20, domain="example.com", delivered_at=DAY + dt.timedelta(minutes=1))

    html = admin_client.get(reverse(PAGE)).content.decode()

    assert "<td>20</td>" in html and 'id="deliverability-warnings"' not in html


def test_the_page_is_listed_in_the_admin_index(admin_client):
    assert reverse(PAGE) in admin_client.get(reverse("admin:index")).content.decode()


def test_the_campaign_page_shows_what_the_provider_reported(admin_client, frozen_clock):
    campaign = CampaignFactory()
    sent_messages(2, campaign=campaign, delivered_at=DAY)
    sent_messages(1, campaign=campaign, bounced_at=DAY)
    sent_messages(1, campaign=campaign, delivered_at=DAY, complained_at=DAY)

    html = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert "4 emails sent." in html
    assert "The provider reported 3 delivered (75.0 %), 1 bounced (25.0 %) and 1 marked as " \
           "spam (25.0 %)." in html
    assert "Opens are not tracked" in html and "Clicks are not tracked" in html


def test_the_campaign_page_shows_opens_and_clicks_when_tracked(admin_client, frozen_clock, settings):
    settings.TRACK_OPENS = settings.TRACK_CLICKS = True
    campaign = CampaignFactory()
    sent_messages(1, campaign=campaign, delivered_at=DAY, opened_at=DAY, clicked_at=DAY)
    sent_messages(1, campaign=campaign, delivered_at=DAY)

    html = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()

    assert "2 delivered (100.0 %)" in html
    assert "Opened: 1 (50.0 %" in html and "Clicked: 1 (50.0 %" in html
    assert "not tracked" not in html
