"""Shared fixtures: time control and a default frequency policy; the order of the tests."""
import datetime as dt

import pytest

from campaigns import clock


def _module(item) -> str:
    return item.nodeid.split("::", 1)[0]


def _module_scoped(item) -> bool:
    """Whether the test uses a fixture that lives as long as its module (built data)."""
    fixtures = getattr(item, "_fixtureinfo", None)
    return fixtures is not None and any(
        d.scope in ("module", "package") for defs in fixtures.name2fixturedefs.values() for d in defs)


@pytest.hookimpl(trylast=True)  # after pytest-django's order (database tests, transactional, others)
def pytest_collection_modifyitems(items):
    """The order of the tests: long modules first, and inside a module with a module-scoped
    fixture the tests that do not use it before those that do.

    Under pytest-xdist (`make test`) each process takes whole modules in this order (see
    `pytest_xdist_make_scheduler`): the long ones (`slow`, `integration`, module-scoped
    data) start at once instead of holding up the end of the run. The tests that do not
    use a module's data run before it is built, so they see the database as empty as ever.
    """
    first_seen: dict[str, int] = {}
    for item in items:
        first_seen.setdefault(_module(item), len(first_seen))
    long = {_module(item) for item in items if _module_scoped(item) or any(
        item.get_closest_marker(name) for name in ("slow", "integration"))}
    items.sort(key=lambda item: (_module(item) not in long, first_seen[_module(item)],
                                 _module_scoped(item)))


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, absent without it
def pytest_xdist_make_scheduler(config, log):
    """Whole modules to each process (pytest-xdist's `loadscope`), in collection order, and
    every test under tests/integration/ in one process, one after the other: their Celery
    workers and beat use the configured broker, and two clusters on one broker take each
    other's tasks. A module-scoped fixture is built once, in the one process that runs the
    module."""
    from xdist.scheduler import LoadScopeScheduling

    class WholeModules(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "tests/integration/" if module.startswith("tests/integration/") else module

    config.option.loadscopereorder = False  # the order above, not the number of tests
    return WholeModules(config, log)


FROZEN_AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


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
    c = Clock(FROZEN_AT)
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
