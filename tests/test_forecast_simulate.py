"""`simulate` and the forecast treat every trigger alike over any span, past or future.

The issue's example: a customer whose last order was 2025-07-20 and a 90-day win-back
whose planning (like the demo's) last ran at the real now; simulating October 2025 must
enrol them on 2025-10-18, as it replays the event journeys of that month.
"""
import datetime as dt
import io

import pytest
from django.core.management import call_command

from campaigns.models import Campaign, Enrollment, Message
from campaigns.services.consent import consent_record
from campaigns.services.forecast import forecast_compute
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory, TemplateTranslationFactory,
)

UTC = dt.timezone.utc


def win_back(now, *, last_orders):
    campaign = CampaignFactory(
        name="Win-back", slug="win-back", trigger=Campaign.Trigger.INACTIVITY,
        trigger_event_type="", trigger_config={"days": 90}, deadline=None,
        planned_through=now, event_watermark=0)
    JourneyStepFactory(campaign=campaign, template=TemplateTranslationFactory(
        subject="We miss you, {{ customer.first_name }}").template)
    customers = []
    for last_order in last_orders:
        customer = CustomerFactory(last_order_at=last_order, time_zone="Europe/Stockholm")
        consent_record(customer=customer, granted=True, source="api")
        customers.append(customer)
    return campaign, customers


def simulate(*args):
    out = io.StringIO()
    call_command("simulate", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_past_span_enrols_a_lapse_due_in_it_though_planning_ran_since(frozen_clock):
    campaign, (lapsed, _) = win_back(frozen_clock.now, last_orders=[
        dt.datetime(2025, 7, 20, 12, tzinfo=UTC), dt.datetime(2025, 9, 20, tzinfo=UTC)])

    output = simulate("--start", "2025-10-01T00:00:00Z", "--end", "2025-11-01T00:00:00Z",
                      "--step", "1h")

    assert "Win-back: enrolled 1, sent 1" in output, output
    enrollment = Enrollment.objects.get(campaign=campaign)
    assert enrollment.customer == lapsed
    assert enrollment.triggered_at == dt.datetime(2025, 10, 18, 12, tzinfo=UTC)
    assert Message.objects.get().sent_at.date() == dt.date(2025, 10, 18)
    # The real planning goes on from where it was, not from the span's end.
    campaign.refresh_from_db()
    assert campaign.planned_through == frozen_clock.now


@pytest.mark.django_db(transaction=True)
def test_a_dry_run_of_a_past_span_does_the_same_and_stores_nothing(frozen_clock):
    campaign, _ = win_back(frozen_clock.now, last_orders=[dt.datetime(2025, 7, 20, 12, tzinfo=UTC)])

    output = simulate("--start", "2025-10-01", "--end", "2025-11-01", "--step", "1h", "--dry-run")

    assert "1 email(s) would be sent" in output and "Win-back: enrolled 1, sent 1" in output
    assert not Enrollment.objects.exists()
    campaign.refresh_from_db()
    assert campaign.planned_through == frozen_clock.now


@pytest.mark.django_db(transaction=True)
def test_a_future_span_plans_from_the_last_real_planning(frozen_clock):
    now = frozen_clock.now
    _, (between, within, planned) = win_back(now, last_orders=[
        now - dt.timedelta(days=89, hours=12), now - dt.timedelta(days=85),
        now - dt.timedelta(days=95)])

    output = simulate("--start", (now + dt.timedelta(days=1)).isoformat(),
                      "--end", (now + dt.timedelta(days=11)).isoformat(), "--step", "1h",
                      "--dry-run")

    # Lapsed between the last real planning and the span: enters at its first tick; within
    # it: on the day; before the last real planning: that planning's business, not ours.
    assert "Win-back: enrolled 2, sent 2" in output, output
    assert "Tue, 03 Mar 2026 09:00:00" in output and "Sat, 07 Mar 2026 09:00:00" in output


@pytest.mark.django_db(transaction=True)
def test_the_forecast_counts_lapses_behind_and_ahead_as_known(frozen_clock):
    now = frozen_clock.now
    campaign, (behind, ahead, far) = win_back(now, last_orders=[
        now - dt.timedelta(days=95), now - dt.timedelta(days=85), now - dt.timedelta(days=30)])
    # An event campaign at the same time is left out of the replay.
    other = CampaignFactory(trigger_event_type="signup")
    JourneyStepFactory(campaign=other)
    EventFactory(type="signup", occurred_at=now - dt.timedelta(days=2))

    (answer,) = forecast_compute(campaign_ids=[campaign.pk], days=14, now=now)["campaigns"]

    assert answer["past"]["enrolled"] == 1 and answer["past"]["sample"] == [behind.pk]
    assert answer["future"]["kind"] == "known" and answer["future"]["count"] == 1
    assert answer["future"]["sample"] == [ahead.pk]
    assert not Enrollment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_dry_run_sees_each_customers_last_order_as_it_was_then(frozen_clock):
    """Lapsed in October 2025, back in December: today's last order says December, but
    the replay of October sees July's and enrols them, as the real tick did then."""
    from tests.factories import OrderFactory

    _, (returned,) = win_back(frozen_clock.now, last_orders=[dt.datetime(2025, 12, 1, tzinfo=UTC)])
    for placed_at in (dt.datetime(2025, 7, 20, 12, tzinfo=UTC), dt.datetime(2025, 12, 1, tzinfo=UTC)):
        OrderFactory(customer=returned, placed_at=placed_at)

    output = simulate("--start", "2025-10-01", "--end", "2025-11-01", "--step", "1h", "--dry-run")

    assert "Win-back: enrolled 1, sent 1" in output, output
    returned.refresh_from_db()
    assert returned.last_order_at == dt.datetime(2025, 12, 1, tzinfo=UTC)
