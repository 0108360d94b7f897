"""Why a customer did or did not get each campaign's messages: each trigger, each outcome,
worked out by moving the clock and running the real scheduler and sender."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign, Event, JourneyStep, Segment, SegmentMembership
from campaigns.selectors.journey_explain import (
    JOURNEY_EXPLAIN_QUERIES, consent_detail_words, customer_journeys_explain, next_anniversary,
)
from campaigns.services.consent import consent_record
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory, OrderFactory,
)

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")
DAY = dt.timedelta(days=1)


def explain(customer, now, campaign=None):
    customer.refresh_from_db()
    items = customer_journeys_explain(customer=customer, now=now, zone=UTC)
    if campaign is None:
        return items
    return next(item for item in items if item.campaign.pk == campaign.pk)


def run(now):
    scheduler_tick(now=now)
    messages_send_due(now=now)


def opted_in(**fields):
    customer = CustomerFactory(time_zone="UTC", **fields)
    consent_record(customer=customer, granted=True, source="api",
                   at=dt.datetime(2026, 2, 1, 12, tzinfo=dt.timezone.utc))
    return customer


class TestEventTrigger:
    def test_no_sign_up_means_not_in_the_audience(self, welcome, frozen_clock):
        customer = opted_in()

        item = explain(customer, frozen_clock.now, welcome)

        assert item.outcome == "not_in"
        assert item.headline == "Not in the audience: no sign-up recorded."

    def test_a_purchase_trigger_says_no_order_yet(self, frozen_clock):
        campaign = CampaignFactory(trigger_event_type="purchase")
        customer = opted_in()

        assert explain(customer, frozen_clock.now, campaign).headline == (
            "Not in the audience: no order yet.")

    def test_a_new_sign_up_enters_at_the_next_run_then_is_sent_with_its_consent(
            self, welcome, policy, frozen_clock):
        customer = opted_in()
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

        before = explain(customer, frozen_clock.now, welcome)
        run(frozen_clock.now)
        after = explain(customer, frozen_clock.now, welcome)

        assert before.outcome == "will_enter"
        assert before.headline.startswith("Enters at the next planning run")
        assert after.outcome == "sent"
        assert after.headline == ("“Welcome”: sent on 2026-03-02 09:00 UTC (consent: opted in "
                                  "on 1 February 2026).")
        assert "takes each customer once" in " ".join(after.details)

    def test_a_sign_up_from_before_the_campaign_was_switched_on_is_not_taken(self, welcome,
                                                                             frozen_clock):
        customer = opted_in()
        event = EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now - DAY)
        Campaign.objects.filter(pk=welcome.pk).update(event_watermark=event.pk,
                                                      event_ceiling=event.pk)

        item = explain(customer, frozen_clock.now, welcome)

        assert item.outcome == "not_in"
        assert "came before the campaign was switched on" in item.headline

    def test_quiet_hours_hold_the_message_back_until_morning(self, welcome, policy,
                                                             frozen_clock):
        customer = opted_in()
        customer.time_zone = "America/Los_Angeles"  # 01:00 there
        customer.save()
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

        run(frozen_clock.now)
        item = customer_journeys_explain(customer=customer, now=frozen_clock.now,
                                         zone=ZoneInfo("America/Los_Angeles"))[0]

        assert item.outcome == "waiting"
        assert item.headline == ("“Welcome”: waiting, due 2026-03-02 08:00 America/Los_Angeles "
                                 "(held back: quiet hours in the customer's time zone).")

    def test_the_daily_cap_stops_a_second_email(self, welcome, policy, frozen_clock):
        customer = opted_in()
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
        run(frozen_clock.now)
        bonus = CampaignFactory(name="Bonus", trigger_event_type="purchase", priority=10)
        step = JourneyStepFactory(campaign=bonus, template=welcome.steps.get().template,
                                  on_blocked=JourneyStep.OnBlocked.NEXT)
        assert step.template.name == "Welcome"
        EventFactory(customer=customer, type="purchase", occurred_at=frozen_clock.advance(hours=1))

        run(frozen_clock.now)
        item = explain(customer, frozen_clock.now, bonus)

        assert item.outcome == "not_sent"
        assert item.headline == ("“Welcome”: not sent: the daily or weekly cap of marketing emails "
                                 "was reached.")

    def test_without_consent_the_reason_is_a_sentence(self, welcome, frozen_clock):
        customer = CustomerFactory(time_zone="UTC", country="SE")
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

        before = explain(customer, frozen_clock.now, welcome)
        run(frozen_clock.now)
        after = explain(customer, frozen_clock.now, welcome)

        gate = ("Its marketing emails would not go out now: The customer has not opted in to "
                "marketing, and the existing-customer exception is not switched on for SE.")
        assert gate in before.details
        assert after.outcome == "not_sent"
        assert after.headline == (
            "“Welcome”: not sent: no marketing consent. The customer has not opted in to "
            "marketing, and the existing-customer exception is not switched on for SE.")
        assert "no opt-in consent" not in after.headline

    def test_a_paused_campaign_is_shown_and_marked(self, welcome, frozen_clock):
        Campaign.objects.filter(pk=welcome.pk).update(status=Campaign.Status.PAUSED)
        customer = opted_in()

        item = explain(customer, frozen_clock.now, welcome)

        assert item.paused is True

    def test_draft_and_archived_campaigns_are_left_out(self, frozen_clock):
        CampaignFactory(status=Campaign.Status.DRAFT)
        CampaignFactory(status=Campaign.Status.ARCHIVED)

        assert explain(opted_in(), frozen_clock.now) == []


class TestInactivityTrigger:
    @pytest.fixture
    def winback(self, db, welcome):
        campaign = CampaignFactory(name="Win-back", trigger=Campaign.Trigger.INACTIVITY,
                                   trigger_event_type="", trigger_config={"days": 90},
                                   exit_event_types=["purchase"], deadline=None)
        JourneyStepFactory(campaign=campaign, position=0, kind=JourneyStep.Kind.WAIT,
                           template=None, wait_duration=dt.timedelta(days=7))
        JourneyStepFactory(campaign=campaign, position=1, template=welcome.steps.get().template)
        return campaign

    def test_no_order_yet(self, winback, frozen_clock):
        item = explain(opted_in(), frozen_clock.now, winback)

        assert item.headline.startswith("Not in the audience: no order yet")

    def test_a_recent_customer_would_enter_later_then_enters_then_leaves_after_a_purchase(
            self, winback, frozen_clock):
        customer = opted_in(last_order_at=frozen_clock.now - 40 * DAY, order_count=1)
        run(frozen_clock.now)  # the campaign starts planning here

        soon = explain(customer, frozen_clock.now, winback)
        frozen_clock.advance(days=50, minutes=1)
        run(frozen_clock.now)
        inside = explain(customer, frozen_clock.now, winback)
        EventFactory(customer=customer, type="purchase", occurred_at=frozen_clock.advance(days=2))
        run(frozen_clock.now)
        left = explain(customer, frozen_clock.now, winback)

        assert soon.outcome == "will_enter"
        assert soon.headline == ("Would enter after 90 days without an order, on 2026-04-21 "
                                 "09:00 UTC: last order 40 days ago.")
        assert inside.outcome == "in_journey"
        assert "next step (wait)" in inside.headline or "next step (send an email)" in inside.headline
        assert left.outcome == "left"
        assert left.headline == "Left the journey after a purchase on 2026-04-23 09:01 UTC."
        assert ("They enter again after their next order and another 90 days without one."
                in left.details)

    def test_a_customer_who_lapsed_before_the_campaign_started_is_told_why(self, winback,
                                                                          frozen_clock):
        customer = opted_in(last_order_at=frozen_clock.now - 200 * DAY, order_count=1)
        run(frozen_clock.now)

        item = explain(customer, frozen_clock.now, winback)

        assert item.outcome == "not_in"
        assert "before the campaign was switched on" in item.headline


class TestSegmentTriggers:
    def test_not_a_member_of_the_segment(self, frozen_clock):
        segment = Segment.objects.create(name="Loyal customers", rule={})
        campaign = CampaignFactory(trigger=Campaign.Trigger.SEGMENT_ENTRY, trigger_event_type="",
                                   trigger_config={"segment": "Loyal customers"})

        item = explain(opted_in(), frozen_clock.now, campaign)

        assert item.headline == ("Not in the audience: not a member of the segment "
                                 "“Loyal customers”.")
        assert (item.segment_id, item.segment_member) == (segment.pk, False)

    def test_a_new_member_enters_at_the_next_run(self, frozen_clock):
        segment = Segment.objects.create(name="Swedes", rule={})
        campaign = CampaignFactory(trigger=Campaign.Trigger.SEGMENT_ENTRY, trigger_event_type="",
                                   trigger_config={"segment": segment.pk})
        customer = opted_in()
        SegmentMembership.objects.create(segment=segment, customer=customer,
                                         entered_at=frozen_clock.now)

        item = explain(customer, frozen_clock.now, campaign)

        assert item.outcome == "will_enter"
        assert item.segment_member is True
        assert "joined the segment “Swedes” on 2026-03-02 09:00 UTC" in item.headline

    def test_a_schedule_names_its_next_run(self, frozen_clock):
        campaign = CampaignFactory(trigger=Campaign.Trigger.SCHEDULE, trigger_event_type="",
                                   trigger_config={"first_run": "2026-04-01T09:00:00+00:00",
                                                   "every_days": 91})

        item = explain(opted_in(), frozen_clock.now, campaign)

        assert item.outcome == "will_enter"
        assert "Next run: 2026-04-01 09:00 UTC." in item.details


class TestDateTrigger:
    def test_a_birthday_enters_on_the_day(self, frozen_clock):
        campaign = CampaignFactory(trigger=Campaign.Trigger.DATE_ATTRIBUTE, trigger_event_type="",
                                   trigger_config={"attribute": "birthday"})

        with_birthday = explain(opted_in(attributes={"birthday": "1990-06-12"}),
                                frozen_clock.now, campaign)
        without = explain(opted_in(attributes={}), frozen_clock.now, campaign)

        assert with_birthday.headline == "Enters on 12 June 2026 (birthday)."
        assert without.headline == "Not in the audience: no birthday recorded."

    def test_next_anniversary_keeps_leap_days_on_28_february(self):
        assert next_anniversary("2000-02-29", dt.date(2027, 1, 1)) == dt.date(2027, 2, 28)
        assert next_anniversary("1990-01-05", dt.date(2026, 3, 2)) == dt.date(2027, 1, 5)
        assert next_anniversary("not a date", dt.date(2026, 3, 2)) is None


def test_consent_details_read_as_sentences():
    words = consent_detail_words(
        "no opt-in consent; the message is not about similar products at send time (loyalty)")

    assert words.startswith("The customer has not opted in to marketing, and this email is not "
                            "about products like the ones they bought")
    assert consent_detail_words("something else") == "something else"


def test_the_query_count_does_not_grow_with_the_campaigns(welcome, frozen_clock):
    customer = opted_in(last_order_at=frozen_clock.now - 10 * DAY, order_count=1,
                        attributes={"birthday": "1990-06-12"})
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    OrderFactory(customer=customer)
    run(frozen_clock.now)
    segment = Segment.objects.create(name="Everyone", rule={})

    def campaigns_of_every_kind(n):
        for i in range(n):
            CampaignFactory(trigger=Campaign.Trigger.INACTIVITY, trigger_event_type="",
                            trigger_config={"days": 30 + i}, exit_event_types=["purchase"])
            CampaignFactory(trigger=Campaign.Trigger.SEGMENT_ENTRY, trigger_event_type="",
                            trigger_config={"segment": segment.name})
            CampaignFactory(trigger=Campaign.Trigger.DATE_ATTRIBUTE, trigger_event_type="")
            CampaignFactory(trigger=Campaign.Trigger.SCHEDULE, trigger_event_type="",
                            trigger_config={"first_run": "2026-04-01T09:00:00+00:00",
                                            "every_days": 7, "segment": segment.pk})
            JourneyStepFactory(campaign=CampaignFactory(trigger_event_type=f"custom_{i}"))

    campaigns_of_every_kind(1)
    with CaptureQueriesContext(connection) as few:
        small = customer_journeys_explain(customer=customer, now=frozen_clock.now, zone=UTC)
    campaigns_of_every_kind(5)
    with CaptureQueriesContext(connection) as many:
        large = customer_journeys_explain(customer=customer, now=frozen_clock.now, zone=UTC)

    assert (len(small), len(large)) == (6, 31)
    assert len(few) == len(many) <= JOURNEY_EXPLAIN_QUERIES, [q["sql"][:60] for q in many]
    assert Event.objects.filter(customer=customer).count() == 1


def test_settings_stored_around_the_form_are_reported_not_a_crash(welcome, frozen_clock):
    broken = CampaignFactory(name="Broken", trigger=Campaign.Trigger.INACTIVITY,
                             trigger_event_type="", trigger_config={"days": "ninety"})
    Campaign.objects.filter(pk=broken.pk).update(trigger_config=["not", "an", "object"])
    customer = opted_in(last_order_at=frozen_clock.now - 10 * DAY, order_count=1)

    items = {item.campaign.name: item for item in explain(customer, frozen_clock.now)}

    assert items["Broken"].headline.startswith("Cannot be worked out: the campaign's trigger "
                                               "settings are incomplete")
    assert items["Welcome"].headline == "Not in the audience: no sign-up recorded."
