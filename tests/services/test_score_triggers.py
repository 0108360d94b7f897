"""Event triggers with a score range: "min_score" / "max_score" in the trigger settings let
only events whose properties' score lies in the range start the journey (in SQL, on
SQLite and PostgreSQL alike); settings with a mistake are refused in words."""
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign, Event
from campaigns.services.journeys import campaign_activate
from campaigns.services.planning import enrollments_plan, events_in_score_range
from campaigns.services.surveys import PROMOTER_EVENT
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory,
    TemplateTranslationFactory,
)

pytestmark = pytest.mark.django_db


def started(config):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT, deadline=None,
                               trigger_event_type=PROMOTER_EVENT,
                               entry_key=Campaign.EntryKey.EVENT, trigger_config=config)
    JourneyStepFactory(campaign=campaign, template=TemplateTranslationFactory().template)
    campaign_activate(campaign=campaign)
    return campaign


SCORES = [0, 6, 8, 9, 10, 9.5, "10", None, [10], {"n": 10}, True]


def _events(now):
    made = {}
    for score in SCORES:
        properties = {"kind": "nps"} if score is None else {"kind": "nps", "score": score}
        made[repr(score)] = EventFactory(customer=CustomerFactory(), type=PROMOTER_EVENT,
                                         occurred_at=now, properties=properties).pk
    return made


def _entered(campaign, made):
    ids = set(campaign.enrollments.values_list("trigger_event_id", flat=True))
    return sorted((key for key, pk in made.items() if pk in ids), key=str)


@pytest.mark.parametrize("config, expected", [
    ({}, sorted(repr(s) for s in SCORES)),
    ({"min_score": 10}, ["10"]),
    ({"min_score": 9}, ["10", "9", "9.5"]),
    ({"min_score": 9, "max_score": 9}, ["9"]),
    ({"max_score": 6}, ["0", "6"]),
    ({"min_score": 7, "max_score": 8}, ["8"]),
])
def test_only_events_whose_numeric_score_lies_in_the_range_start_the_journey(
        frozen_clock, config, expected):
    campaign = started(config)
    made = _events(frozen_clock.now)

    enrollments_plan(now=frozen_clock.advance(minutes=1))

    assert _entered(campaign, made) == sorted(expected, key=str)


def test_a_text_or_missing_score_never_passes_a_range_even_an_open_ended_one(frozen_clock):
    # Text sorts after numbers in SQLite and before them in PostgreSQL's jsonb: the score
    # is read only when it is a JSON number, so neither order lets "10" through.
    EventFactory(type="review", occurred_at=frozen_clock.now, properties={"score": "10"})
    EventFactory(type="review", occurred_at=frozen_clock.now, properties={"score": "abc"})
    EventFactory(type="review", occurred_at=frozen_clock.now, properties={"score": 3})

    low = events_in_score_range(Event.objects.filter(type="review"), {"max_score": 5})
    high = events_in_score_range(Event.objects.filter(type="review"), {"min_score": 0})

    assert [e.properties["score"] for e in low] == [3]
    assert [e.properties["score"] for e in high] == [3]


def test_the_range_is_read_in_the_scan_and_adds_no_statement(frozen_clock):
    def statements(config) -> tuple[int, int]:
        campaign = started(config)
        _events(frozen_clock.now)
        with CaptureQueriesContext(connection) as queries:
            enrollments_plan(now=frozen_clock.advance(minutes=1))
        Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.PAUSED)
        return len(queries.captured_queries), campaign.enrollments.count()

    assert statements({})[0] == statements({"min_score": 9})[0]
    assert statements({"min_score": 9})[1] == 3


def test_the_watermark_moves_past_events_outside_the_range(frozen_clock):
    campaign = started({"min_score": 9})
    EventFactory(type=PROMOTER_EVENT, occurred_at=frozen_clock.now, properties={"score": 3})
    for _ in range(3):
        enrollments_plan(now=frozen_clock.advance(minutes=1))

    campaign.refresh_from_db()
    assert campaign.event_watermark == Event.objects.get().pk
    assert not campaign.enrollments.exists()


@pytest.mark.parametrize("trigger, config, message", [
    (Campaign.Trigger.EVENT, {"min_score": "9"}, '"min_score" is a whole number'),
    (Campaign.Trigger.EVENT, {"max_score": 9.5}, '"max_score" is a whole number'),
    (Campaign.Trigger.EVENT, {"min_score": True}, '"min_score" is a whole number'),
    (Campaign.Trigger.EVENT, {"min_score": None}, '"min_score" is a whole number'),
    (Campaign.Trigger.EVENT, {"min_score": 10, "max_score": 9}, "above the highest"),
    (Campaign.Trigger.EVENT, {"min_score": 10 ** 12}, '"min_score" is a whole number'),
    (Campaign.Trigger.INACTIVITY, {"days": 90, "min_score": 9}, "needs an event trigger"),
])
def test_score_range_settings_with_a_mistake_are_refused_with_a_reason(trigger, config, message):
    campaign = CampaignFactory.build(trigger=trigger, trigger_event_type=PROMOTER_EVENT,
                                     trigger_config=config)

    with pytest.raises(ValidationError, match=message):
        campaign.clean()


def test_a_valid_range_is_accepted():
    campaign = CampaignFactory.build(trigger_event_type=PROMOTER_EVENT,
                                     trigger_config={"min_score": 9, "max_score": 10})

    campaign.clean()


def test_the_customer_page_explains_an_answer_outside_the_range(frozen_clock):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from campaigns.selectors.journey_explain import customer_journeys_explain

    campaign = started({"min_score": 10})
    customer = CustomerFactory()
    EventFactory(customer=customer, type=PROMOTER_EVENT, occurred_at=frozen_clock.now,
                 properties={"score": 9})

    def headline():
        items = customer_journeys_explain(customer=customer, now=frozen_clock.now,
                                          zone=ZoneInfo("UTC"))
        return next(i for i in items if i.campaign.pk == campaign.pk).headline

    assert headline() == ("Not in the audience: it starts with a promoter's survey answer "
                          "(NPS 9-10), score 10 or more; theirs so far had other scores.")
    EventFactory(customer=customer, type=PROMOTER_EVENT,
                 occurred_at=frozen_clock.now + dt.timedelta(seconds=1), properties={"score": 10})
    frozen_clock.advance(seconds=2)
    assert headline().startswith("Enters at the next planning run")
