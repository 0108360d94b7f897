"""Segment membership refresh: set-based, entered ids returned, leavers removed, counts cached."""
import datetime as dt

import pytest

from campaigns.models import Segment, SegmentMembership
from campaigns.segmentation import RuleError
from campaigns.services.segments import segment_members_refresh
from tests.factories import CustomerFactory

SWEDES = {"field": "country", "op": "is", "value": "SE"}


def members(segment) -> dict[int, dt.datetime]:
    return dict(SegmentMembership.objects.filter(segment=segment)
                .values_list("customer_id", "entered_at"))


@pytest.fixture
def segment(db):
    return Segment.objects.create(name="Swedes", rule=SWEDES)


def test_the_first_refresh_inserts_every_member_and_returns_them(segment, frozen_clock):
    a, b = CustomerFactory(country="SE"), CustomerFactory(country="SE")
    CustomerFactory(country="NO")

    entered = segment_members_refresh(segment)

    assert entered == sorted([a.pk, b.pk])
    assert members(segment) == {a.pk: frozen_clock.now, b.pk: frozen_clock.now}
    segment.refresh_from_db()
    assert (segment.member_count, segment.counted_at) == (2, frozen_clock.now)


def test_a_later_refresh_returns_only_newcomers_and_removes_leavers(segment, frozen_clock):
    stays, leaves = CustomerFactory(country="SE"), CustomerFactory(country="SE")
    first_time = frozen_clock.now
    segment_members_refresh(segment)
    frozen_clock.advance(days=1)
    leaves.country = "NO"
    leaves.save()
    newcomer = CustomerFactory(country="SE")

    entered = segment_members_refresh(segment)

    assert entered == [newcomer.pk]
    assert members(segment) == {stays.pk: first_time, newcomer.pk: frozen_clock.now}
    segment.refresh_from_db()
    assert segment.member_count == 2


def test_refreshing_twice_changes_nothing(segment, frozen_clock):
    CustomerFactory(country="SE")
    segment_members_refresh(segment)
    before = members(segment)
    frozen_clock.advance(hours=1)

    assert segment_members_refresh(segment) == []
    assert members(segment) == before


def test_other_segments_are_left_alone(segment, frozen_clock):
    swede, norwegian = CustomerFactory(country="SE"), CustomerFactory(country="NO")
    other = Segment.objects.create(name="Norwegians", rule={"field": "country", "op": "is", "value": "NO"})
    segment_members_refresh(other)

    segment_members_refresh(segment)

    assert set(members(other)) == {norwegian.pk}
    assert set(members(segment)) == {swede.pk}


def test_relative_rules_are_evaluated_at_the_refresh_moment(db, frozen_clock):
    fresh = CustomerFactory(signed_up_at=frozen_clock.now - dt.timedelta(days=5))
    segment = Segment.objects.create(
        name="New", rule={"field": "signed_up_at", "op": "in_last_days", "value": 7})
    assert segment_members_refresh(segment) == [fresh.pk]
    assert segment_members_refresh(segment, now=frozen_clock.now + dt.timedelta(days=3)) == []
    assert members(segment) == {}


def test_a_bad_rule_writes_nothing(segment, frozen_clock):
    CustomerFactory(country="SE")
    segment_members_refresh(segment)
    Segment.objects.filter(pk=segment.pk).update(rule={"field": "cuntry", "op": "is", "value": "SE"})
    segment.refresh_from_db()

    with pytest.raises(RuleError) as caught:
        segment_members_refresh(segment)

    assert "there is no field" in caught.value.messages[0]
    assert len(members(segment)) == 1
