"""Shared fixtures: time control and a default frequency policy."""
import datetime as dt

import pytest

from campaigns import clock


class Clock:
    """Moves the one clock (`campaigns.clock.now`) in a test."""

    def __init__(self, start: dt.datetime):
        self.now = start
        clock.set_virtual(start)

    def set(self, moment: dt.datetime) -> dt.datetime:
        self.now = moment
        clock.set_virtual(moment)
        return moment

    def advance(self, **delta) -> dt.datetime:
        return self.set(self.now + dt.timedelta(**delta))


@pytest.fixture
def frozen_clock():
    """The clock stopped at 2026-03-02 09:00 UTC; `.advance(hours=1)` moves it."""
    c = Clock(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc))
    yield c
    clock.set_virtual(None)


@pytest.fixture
def policy(db):
    """The default over-messaging policy: 1 per 24 h, quiet hours 21:00-08:00."""
    from campaigns.models import FrequencyPolicy

    return FrequencyPolicy.objects.create(
        max_per_day=1, max_per_week=3, quiet_hours_start=dt.time(21), quiet_hours_end=dt.time(8)
    )


@pytest.fixture
def welcome(db):
    """An active welcome campaign: signup -> send within 24 h, in en / sv / nb."""
    from tests.factories import CampaignFactory, JourneyStepFactory, TemplateTranslationFactory

    translation = TemplateTranslationFactory(
        template__name="Welcome",
        locale="en",
        subject="Welcome, {{ customer.first_name }}!",
        html_body="<html><body><p>Hi {{ customer.first_name }}</p></body></html>",
        text_body="Hi {{ customer.first_name }}",
    )
    template = translation.template
    TemplateTranslationFactory(
        template=template, locale="sv", subject="Välkommen, {{ customer.first_name }}!",
        html_body="<p>Hej {{ customer.first_name }}</p>", text_body="Hej {{ customer.first_name }}",
    )
    TemplateTranslationFactory(
        template=template, locale="nb", subject="Velkommen, {{ customer.first_name }}!",
        html_body="<p>Hei {{ customer.first_name }}</p>", text_body="Hei {{ customer.first_name }}",
    )
    campaign = CampaignFactory(name="Welcome", slug="welcome", priority=100)
    JourneyStepFactory(campaign=campaign, position=0, template=template)
    return campaign


@pytest.fixture(autouse=True)
def _public_rate_limits_fresh():
    """The public pages' rate-limit counters start at zero in every test (the test cache
    lives as long as the process)."""
    from django.core.cache import cache

    cache.clear()
