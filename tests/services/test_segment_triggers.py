"""Segments as audiences: entering a segment starts a journey; a scheduled random draw."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from campaigns.models import Campaign, Segment, SegmentMembership
from campaigns.services.planning import enrollments_plan
from tests.factories import CampaignFactory, CustomerFactory
from tests.services.test_planning import started

pytestmark = pytest.mark.django_db


def member(segment, customer, at):
    """What a segment refresh writes when a customer enters."""
    return SegmentMembership.objects.create(segment=segment, customer=customer, entered_at=at)


def test_entering_a_segment_starts_the_journey_once_per_entry(frozen_clock):
    loyal = Segment.objects.create(name="Loyal customers", rule={})
    already = CustomerFactory()
    member(loyal, already, frozen_clock.now - dt.timedelta(days=3))
    campaign = started(trigger=Campaign.Trigger.SEGMENT_ENTRY, trigger_event_type="",
                       trigger_config={"segment": "Loyal customers"})
    newcomer = CustomerFactory()

    entry = member(loyal, newcomer, frozen_clock.advance(hours=1))
    enrollments_plan(now=frozen_clock.advance(minutes=1))
    enrollments_plan(now=frozen_clock.advance(minutes=1))

    # Members from before the campaign started did not "enter" it.
    enrollment = campaign.enrollments.get()
    assert (enrollment.customer, enrollment.entry_key, enrollment.triggered_at) == (
        newcomer, f"segment:{entry.pk}", entry.entered_at)

    # Leaving and entering again is a new entry.
    first_key = f"segment:{entry.pk}"
    entry.delete()
    again = member(loyal, newcomer, frozen_clock.advance(days=40))
    enrollments_plan(now=frozen_clock.advance(minutes=1))
    assert sorted(campaign.enrollments.values_list("entry_key", flat=True)) == sorted(
        [first_key, f"segment:{again.pk}"])


def test_entries_into_other_segments_are_ignored(frozen_clock):
    loyal = Segment.objects.create(name="Loyal customers", rule={})
    other = Segment.objects.create(name="Sweden", rule={})
    campaign = started(trigger=Campaign.Trigger.SEGMENT_ENTRY, trigger_event_type="",
                       trigger_config={"segment": loyal.pk})

    member(other, CustomerFactory(), frozen_clock.advance(hours=1))
    enrollments_plan(now=frozen_clock.advance(minutes=1))

    assert not campaign.enrollments.exists()


def test_a_scheduled_draw_enrolls_the_share_of_the_segment_anew_each_run(frozen_clock):
    loyal = Segment.objects.create(name="Loyal customers", rule={})
    members = [CustomerFactory() for _ in range(400)]
    for customer in members:
        member(loyal, customer, frozen_clock.now)
    outsiders = [CustomerFactory() for _ in range(50)]
    campaign = started(trigger=Campaign.Trigger.SCHEDULE, trigger_event_type="", trigger_config={
        "first_run": "2026-03-02T10:00:00+00:00", "every_days": 30,
        "segment": "Loyal customers", "share": 10})

    enrollments_plan(now=frozen_clock.advance(hours=2))
    first = set(campaign.enrollments.values_list("customer_id", flat=True))
    enrollments_plan(now=frozen_clock.advance(days=30))
    second = set(campaign.enrollments.values_list("customer_id", flat=True)) - first

    member_ids = {c.pk for c in members}
    assert first <= member_ids and second <= member_ids
    assert not first & {c.pk for c in outsiders}
    # About 10 % each run (a stable draw, so not exactly 40), and not the same people.
    assert 20 <= len(first) <= 60 and 20 <= len(second) <= 60
    assert first != second


@pytest.mark.parametrize("trigger, config, message", [
    (Campaign.Trigger.SEGMENT_ENTRY, {}, "Name an existing segment"),
    (Campaign.Trigger.SEGMENT_ENTRY, {"segment": "No such segment"}, 'Segments: "Loyal customers"'),
    (Campaign.Trigger.SCHEDULE, {"first_run": "2026-04-01T09:00Z", "every_days": 30,
                                 "segment": "Loyal customers", "share": 0}, '"share"'),
    (Campaign.Trigger.SCHEDULE, {"first_run": "2026-04-01T09:00Z", "every_days": 30,
                                 "segment": 999999}, "Name an existing segment"),
])
def test_segment_settings_with_a_mistake_are_refused_with_a_reason(trigger, config, message):
    Segment.objects.create(name="Loyal customers", rule={})
    campaign = CampaignFactory.build(trigger=trigger, trigger_event_type="", trigger_config=config)

    with pytest.raises(ValidationError, match=message):
        campaign.clean()


def test_a_customer_who_comes_to_match_the_rule_gets_the_journey_at_the_next_tick(
        frozen_clock, settings):
    from campaigns import tasks
    from campaigns.services.scheduling import scheduler_tick

    assert "campaigns.segments_refresh" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    swedes = Segment.objects.create(name="Swedes", rule={"field": "country", "op": "is", "value": "SE"})
    CustomerFactory(country="SE")
    tasks.segments_refresh()  # the members of the day the campaign starts
    campaign = started(trigger=Campaign.Trigger.SEGMENT_ENTRY, trigger_event_type="",
                       trigger_config={"segment": "Swedes"})
    mover = CustomerFactory(country="NO")

    frozen_clock.advance(minutes=15)
    mover.country = "SE"
    mover.save()
    assert tasks.segments_refresh() == {"Swedes": 1}
    scheduler_tick(now=frozen_clock.advance(minutes=1))

    assert list(campaign.enrollments.values_list("customer_id", flat=True)) == [mover.pk]
    assert swedes.memberships.count() == 2


def test_a_segment_whose_rule_broke_is_skipped_and_the_others_refreshed(frozen_clock):
    from campaigns.services.segments import segments_refresh_all

    Segment.objects.create(name="Broken", rule={"attribute": "deleted_attribute", "op": "is", "value": "x"})
    Segment.objects.create(name="Swedes", rule={"field": "country", "op": "is", "value": "SE"})
    CustomerFactory(country="SE")

    assert segments_refresh_all(now=frozen_clock.now) == {"Swedes": 1}
