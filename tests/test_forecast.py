"""The forecast and dry runs: nothing real is sent, written or locked, and the answer is right.

The sandbox works on its own connection, so these tests commit their data
(`transactional_db`): a connection of another thread sees committed rows only.
"""
import contextvars
import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connection
from django.db.models import Max

from campaigns.models import (
    Campaign, Coupon, Customer, Enrollment, Event, ForecastJob, Heartbeat, Message, MessageLog,
    Order, PointsEntry,
)
from campaigns.services import forecast as forecast_service
from campaigns.services.consent import consent_record
from campaigns.services.forecast import (
    forecast_compute, forecast_job_again, forecast_job_create, forecast_job_run,
)
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import decide, messages_send_due
from campaigns.services.simulation import (
    SandboxViolation, sandbox_run, simulation_dry_run,
)
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory, TemplateTranslationFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)
UTC = dt.timezone.utc
REAL_TABLES = (Campaign, Customer, Enrollment, Message, MessageLog, Event, Heartbeat,
               PointsEntry, Coupon, Order)


def thank_you(now, *, hours_ago=(30, 50, 200), status=Campaign.Status.DRAFT, consent=True):
    """A campaign that thanks for each purchase, and customers who bought `hours_ago`."""
    campaign = CampaignFactory(name="Thank you", slug="thank-you", status=status,
                               trigger_event_type="purchase", deadline=None)
    JourneyStepFactory(campaign=campaign, template=TemplateTranslationFactory(
        subject="Thanks, {{ customer.first_name }}").template)
    customers = []
    for hours in hours_ago:
        customer = CustomerFactory(time_zone="Europe/Stockholm")
        if consent:
            consent_record(customer=customer, granted=True, source="api")
        EventFactory(customer=customer, type="purchase", occurred_at=now - dt.timedelta(hours=hours))
        customers.append(customer)
    return campaign, customers


def snapshot():
    """Row counts, highest ids and every campaign and customer row, as plain values."""
    tables = {model.__name__: (model.objects.count(), model.objects.aggregate(m=Max("id"))["m"])
              for model in REAL_TABLES}
    return (tables, list(Campaign.objects.order_by("pk").values()),
            list(Customer.objects.order_by("pk").values()))


def test_a_forecast_answers_for_a_draft_and_leaves_every_real_table_unchanged(frozen_clock):
    campaign, customers = thank_you(frozen_clock.now)
    old = EventFactory(type="purchase", occurred_at=frozen_clock.now - dt.timedelta(days=20))
    before = snapshot()

    result = forecast_compute(campaign_ids=[campaign.pk], days=14, now=frozen_clock.now)

    (answer,) = result["campaigns"]
    assert answer["past"]["enrolled"] == 3 and answer["past"]["sent"] == 3
    assert sorted(answer["past"]["sample"]) == sorted(c.pk for c in customers)
    assert old.customer_id not in answer["past"]["sample"]  # before the span
    assert answer["future"] == {"kind": "estimate", "basis": "pace", "count": 3, "sample": []}
    assert snapshot() == before
    assert mail.outbox == []


def test_caps_and_quiet_hours_are_told_with_their_reasons(frozen_clock, policy):
    # 21:30 Stockholm: quiet hours (21-08) hold the thank-you until the morning; a second
    # purchase the next morning finds the day's cap taken; one customer gave no consent.
    now = frozen_clock.now
    campaign, (night, _) = thank_you(now, hours_ago=(24 * 3 + 12 - 0.5, 24 * 5))
    Campaign.objects.filter(pk=campaign.pk).update(entry_key=Campaign.EntryKey.EVENT)
    EventFactory(customer=night, type="purchase", occurred_at=now - dt.timedelta(hours=24 * 3 - 1))
    thank_you_again = CustomerFactory()
    EventFactory(customer=thank_you_again, type="purchase", occurred_at=now - dt.timedelta(days=2))
    # Bought at 07:00 and 09:00 today (Stockholm): the first waits for 08:00, the second
    # for tomorrow (the day's cap), so it is still waiting when the forecast starts.
    busy = CustomerFactory()
    consent_record(customer=busy, granted=True, source="api")
    for hours in (3, 1):
        EventFactory(customer=busy, type="purchase", occurred_at=now - dt.timedelta(hours=hours))

    (answer,) = forecast_compute(campaign_ids=[campaign.pk], days=14, now=now)["campaigns"]

    past = answer["past"]
    assert past["enrolled"] == 6
    assert past["sent"] == 4 and past["waiting"] == 1
    assert past["deferred_reasons"].get("quiet_hours") == 2
    assert past["skipped"] == {"no_consent": 1}
    assert past["deferred_reasons"].get("frequency_cap", 0) + past["deferred_reasons"].get(
        "min_gap", 0) >= 1


class CountingBackend:
    """Stands for the configured provider: counts every time one is made."""

    made = 0

    def __init__(self, *args, **kwargs):
        CountingBackend.made += 1
        raise AssertionError("the forecast made the configured email backend")


def test_the_forecast_never_makes_the_configured_email_backend(frozen_clock, settings):
    settings.EMAIL_BACKEND = f"{__name__}.CountingBackend"
    CountingBackend.made = 0
    campaign, _ = thank_you(frozen_clock.now)

    (answer,) = forecast_compute(campaign_ids=[campaign.pk], days=14, now=frozen_clock.now)["campaigns"]

    assert answer["past"]["sent"] == 3
    assert CountingBackend.made == 0


def test_a_forecast_and_a_real_tick_and_send_at_the_same_moment_each_land_where_they_should(
        frozen_clock, monkeypatch):
    """The replay stops inside one of its transactions (deciding a group) while the real
    tick plans and the real sender sends through the locmem outbox: the real tick is not
    blocked, nothing of the forecast reaches the outbox, nothing real reaches the
    forecast's collection, and the forecast then finishes with its whole answer."""
    now = frozen_clock.now
    forecast_campaign, forecast_customers = thank_you(now)
    real = CampaignFactory(name="Welcome", slug="welcome", trigger_event_type="signup")
    JourneyStepFactory(campaign=real, template=TemplateTranslationFactory().template)
    newcomer = CustomerFactory(email="newcomer@example.se")
    consent_record(customer=newcomer, granted=True, source="api")
    # The replay pauses the welcome campaign: only the thank-you runs in it.
    EventFactory(customer=newcomer, type="signup", occurred_at=now - dt.timedelta(minutes=5))
    inside, resume = threading.Event(), threading.Event()
    original = decide._inputs_load

    def pausing(*args, **kwargs):
        if threading.current_thread().name == "simulation-sandbox" and not inside.is_set():
            inside.set()
            assert resume.wait(60), "the main thread never let the replay go on"
        return original(*args, **kwargs)

    monkeypatch.setattr(decide, "_inputs_load", pausing)
    collected, outcome = [], {}

    def forecast():
        try:
            outcome["summary"] = simulation_dry_run(
                start=now - dt.timedelta(days=14), end=now, step=dt.timedelta(hours=1),
                campaign_ids=[forecast_campaign.pk], collect=collected)
        except BaseException as error:  # noqa: BLE001 - reported below
            outcome["error"] = error

    thread = threading.Thread(target=forecast)
    thread.start()
    try:
        assert inside.wait(60), "the replay never reached a send"
        report = scheduler_tick(now=now)
        sent = messages_send_due(now=now, backend="django.core.mail.backends.locmem.EmailBackend")
    finally:
        resume.set()
        thread.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert report.enrolled == 1 and sent.sent == 1
    assert [m.to for m in mail.outbox] == [["newcomer@example.se"]]
    assert sorted(e.to[0] for e in collected) == sorted(c.email for c in forecast_customers)
    assert outcome["summary"]["Thank you"].sent == 3
    assert Message.objects.filter(campaign=forecast_campaign).count() == 0
    assert Message.objects.get().customer == newcomer
    forecast_campaign.refresh_from_db()
    assert forecast_campaign.status == Campaign.Status.DRAFT


def test_two_forecasts_at_once_both_finish_and_nothing_is_sent(frozen_clock):
    campaign, _ = thank_you(frozen_clock.now)
    jobs = [forecast_job_create(campaign_ids=[campaign.pk]) for _ in range(2)]
    # The eager task ran each at once; run two more side by side on threads.
    ForecastJob.objects.filter(pk__in=[j.pk for j in jobs]).update(state=ForecastJob.State.QUEUED)
    errors = []

    def run(job_id):
        try:
            forecast_job_run(job_id=job_id)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    # Each thread in a copy of this context: the frozen clock goes with it.
    threads = [threading.Thread(target=contextvars.copy_context().run, args=(run, job.pk))
               for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    for job in ForecastJob.objects.all():
        assert job.state == ForecastJob.State.DONE and job.progress == 100
        assert job.result["campaigns"][0]["past"]["sent"] == 3
    assert mail.outbox == [] and not Message.objects.exists()


def test_a_job_reports_progress_and_a_failed_one_can_run_again(frozen_clock, monkeypatch):
    campaign, _ = thank_you(frozen_clock.now)
    seen = []
    real_compute = forecast_service.forecast_compute

    def failing(**kwargs):
        raise RuntimeError("the worker's database went away")

    monkeypatch.setattr(forecast_service, "forecast_compute", failing)
    with pytest.raises(RuntimeError):
        forecast_job_create(campaign_ids=[campaign.pk])
    failed = ForecastJob.objects.get()
    assert failed.state == ForecastJob.State.FAILED and "went away" in failed.error

    def watched(**kwargs):
        kwargs["progress"] = lambda p, report=kwargs["progress"]: (seen.append(p), report(p))
        return real_compute(**kwargs)

    monkeypatch.setattr(forecast_service, "forecast_compute", watched)
    again = forecast_job_again(job=failed)

    again.refresh_from_db()
    assert again.pk != failed.pk and again.state == ForecastJob.State.DONE
    assert again.campaign_ids == [campaign.pk] and again.progress == 100
    assert seen and seen == sorted(seen) and max(seen) == 99


def test_a_redelivered_task_does_not_run_a_job_twice(frozen_clock):
    campaign, _ = thank_you(frozen_clock.now)
    job = forecast_job_create(campaign_ids=[campaign.pk])
    job.refresh_from_db()
    finished_at = job.finished_at

    assert forecast_job_run(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.finished_at == finished_at


@pytest.mark.parametrize("days", [0, 91])
def test_a_forecast_needs_a_sensible_span(days):
    with pytest.raises(ValueError):
        forecast_job_create(campaign_ids=[1], days=days)


def test_the_sandbox_refuses_to_write_a_table_it_does_not_shadow(frozen_clock):
    order = Order.objects.create(customer=CustomerFactory(), external_id="o-1", amount=10,
                                 currency="SEK", placed_at=frozen_clock.now)

    def write_real(state):
        Order.objects.filter(pk=order.pk).update(amount=99)

    with pytest.raises(SandboxViolation, match="campaigns_order"):
        sandbox_run(write_real, start=frozen_clock.now, campaign_ids=[])
    order.refresh_from_db()
    assert order.amount == 10


def test_the_sandbox_refuses_to_name_the_real_table_past_its_shadow(frozen_clock):
    schema = "main" if connection.vendor == "sqlite" else "public"

    def write_around(state):
        from django.db import connection as sandbox_connection

        with sandbox_connection.cursor() as cursor:
            cursor.execute(f'DELETE FROM {schema}."campaigns_campaign"')

    CampaignFactory()
    with pytest.raises(SandboxViolation):
        sandbox_run(write_around, start=frozen_clock.now, campaign_ids=[])
    assert Campaign.objects.count() == 1


def test_skipping_idle_hours_gives_the_same_answer_as_ticking_every_hour(frozen_clock, policy):
    """Purchases, and a win-back whose customers lapse in the span, some of them ordering
    just before their lapse: with the idle hours skipped, the same rows at the same times."""
    from campaigns.services import simulation
    from tests.factories import OrderFactory

    now = frozen_clock.now
    start = now - dt.timedelta(days=14)
    campaign, customers = thank_you(now, hours_ago=(5, 29, 30, 77, 78, 150, 300))
    win_back = CampaignFactory(name="Win-back", slug="win-back", status=Campaign.Status.DRAFT,
                               trigger=Campaign.Trigger.INACTIVITY, trigger_event_type="",
                               trigger_config={"days": 90}, deadline=None, planned_through=now)
    JourneyStepFactory(campaign=win_back, template=TemplateTranslationFactory().template)
    for index, customer in enumerate(customers):
        last = now - dt.timedelta(days=90 + index * 2, hours=index)
        OrderFactory(customer=customer, placed_at=last)
        if index % 3 == 0:  # back just before they would have lapsed
            OrderFactory(customer=customer, placed_at=last + dt.timedelta(days=89, hours=23))
        OrderFactory(customer=customer, placed_at=now - dt.timedelta(days=1))
    Customer.objects.update(last_order_at=now - dt.timedelta(days=1))  # today's, as ingest keeps it
    ids = [campaign.pk, win_back.pk]

    def replay(skip):
        def work(state):
            summary = simulation.simulation_run(
                start=start, end=now, step=dt.timedelta(hours=1), facts_as_of=True,
                backend=simulation.RENDER_ONLY_BACKEND, campaign_ids=ids, skip_idle=skip)
            rows = sorted(Message.objects.filter(campaign_id__in=ids).values_list(
                "campaign_id", "customer_id", "state", "sent_at", "due_at"))
            return summary, rows
        return sandbox_run(work, start=start, campaign_ids=ids)

    skipped, every_hour = replay(True), replay(False)
    assert skipped == every_hour
    # Six lapse in the span (the first only at its end), two came back an hour before.
    assert skipped[0]["Win-back"].enrolled == 4


def test_a_replay_stops_when_its_caller_gives_up(frozen_clock, monkeypatch):
    """A Celery time limit interrupts the waiting caller: the sandbox's replay stops at its
    next tick instead of going on alone."""
    from campaigns.services import simulation

    now = frozen_clock.now
    campaign, _ = thank_you(now, hours_ago=(10, 100, 200, 300))
    ticked, given_up, ticks = threading.Event(), threading.Event(), []
    real_tick = simulation.scheduler_tick

    def tick(**kwargs):
        ticks.append(kwargs["now"])
        ticked.set()
        assert given_up.wait(30)
        return real_tick(**kwargs)

    monkeypatch.setattr(simulation, "scheduler_tick", tick)

    def give_up(percent):
        assert ticked.wait(30)
        raise TimeoutError("soft time limit")

    with pytest.raises(TimeoutError):
        simulation_dry_run(start=now - dt.timedelta(days=14), end=now, step=dt.timedelta(hours=1),
                           campaign_ids=[campaign.pk], progress=give_up)
    (sandbox,) = [t for t in threading.enumerate() if t.name == "simulation-sandbox"]
    given_up.set()
    sandbox.join(30)
    assert not sandbox.is_alive() and len(ticks) == 1
