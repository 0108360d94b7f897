"""The demo's history: idempotent, in the past, consistent with the journeys, and with
lifecycle stages whose next nightly scoring emits lifecycle events."""
import datetime as dt
from collections import Counter

import pytest
from django.core.management import call_command

from campaigns.models import (
    Customer, Enrollment, Event, Message, MessageLog, MetricSnapshot, StepVariant, SurveyResponse,
)
from campaigns.services.demo import demo_load
from campaigns.services.demo_history import SCORED_DAYS_AGO
from campaigns.services.rfm import customers_score
from campaigns.tasks import score_customers

pytestmark = pytest.mark.django_db


def history_counts() -> dict:
    models = [Customer, Enrollment, Message, MessageLog, SurveyResponse, StepVariant, MetricSnapshot,
              Event]
    return {model.__name__: model.objects.count() for model in models}


def test_seeding_twice_adds_no_history_the_second_time(frozen_clock):
    call_command("seed_demo", "--customers", "40", "--force")
    first = history_counts()

    frozen_clock.advance(hours=1)
    call_command("seed_demo", "--customers", "40", "--force")

    assert history_counts() == first
    assert first["Message"] > 40 and first["SurveyResponse"] > 0


def test_the_same_seed_tells_the_same_story(frozen_clock):
    # Holdout and variant draws hash the customer's id, as the live planner's do (a customer
    # stays in or out); a second load here gets new ids, so the story compared is the rest.
    def story():
        drawn = {"surprise-bonus", "win-back"}
        return sorted(Message.objects.exclude(campaign__slug__in=drawn).values_list(
            "customer__external_id", "campaign__slug", "step__position", "state", "reason",
            "sent_at", "opened_at", "clicked_at")) + sorted(
            Enrollment.objects.values_list("customer__external_id", "campaign__slug", "entry_key",
                                           "triggered_at"))

    demo_load(customers=30, history=True)
    told = story()
    answers = sorted(SurveyResponse.objects.values_list("customer__external_id", "kind", "score"))
    Customer.objects.all().delete()

    demo_load(customers=30, history=True)

    assert story() == told and told
    assert sorted(SurveyResponse.objects.values_list("customer__external_id", "kind", "score")) == answers


def test_the_history_lies_in_the_past_and_follows_the_journeys(frozen_clock):
    demo_load(customers=80, history=True)
    now = frozen_clock.now

    messages = Message.objects.select_related("enrollment", "campaign")
    assert not messages.filter(sent_at__gte=now).exists()
    assert not SurveyResponse.objects.filter(answered_at__gte=now).exists()
    for message in messages:
        assert message.enrollment.state in {"completed", "exited"}
        if message.enrollment.is_holdout:
            assert (message.state, message.reason) == ("skipped", "holdout")
        if message.state == "sent":
            assert message.sent_at >= message.first_due_at >= message.enrollment.triggered_at
            assert message.customer.marketing_consent and message.subject and "{" not in message.subject
        if message.clicked_at:
            assert message.opened_at <= message.clicked_at
    # Only the win-back's first email is an A/B test, and both variants went out.
    variants = Counter(messages.filter(state="sent", variant__isnull=False)
                       .values_list("campaign__slug", "step__position", "variant__name"))
    assert set(variants) == {("win-back", 0, "A"), ("win-back", 0, "B")}
    for answer in SurveyResponse.objects.select_related("message"):
        assert answer.message.campaign.slug == "post-purchase-survey"
        assert answer.answered_at > answer.message.sent_at


def test_customers_have_stages_at_once_and_no_lifecycle_event_yet(frozen_clock):
    demo_load(customers=80, history=True)

    assert not Customer.objects.filter(lifecycle_stage="").exists()
    assert not Event.objects.filter(type__startswith="lifecycle.").exists()
    week_ago = frozen_clock.now - dt.timedelta(days=SCORED_DAYS_AGO)
    old = Customer.objects.filter(signed_up_at__lte=week_ago)
    assert set(old.values_list("scored_at", flat=True)) == {week_ago}
    assert not old.filter(rfm_recency__isnull=True, last_order_at__lte=week_ago).exists()


def test_the_next_nightly_scoring_emits_the_weeks_stage_changes_as_lifecycle_events(frozen_clock):
    demo_load(customers=200, history=True)
    stages = dict(Customer.objects.values_list("pk", "lifecycle_stage"))

    # The next night's scoring, at 03:15 tomorrow.
    frozen_clock.advance(hours=18, minutes=15)
    summary = score_customers()

    events = Event.objects.filter(type__startswith="lifecycle.")
    assert summary["events"] == events.count() > 0
    at_risk = events.filter(type="lifecycle.at_risk").select_related("customer")
    assert at_risk.count() >= 3
    became = frozen_clock.now - dt.timedelta(days=60)
    for event in at_risk:
        assert event.properties["from"] == stages[event.customer_id] != "at_risk"
        # Their last order crossed the 60 days since the last scoring a week ago.
        assert became - dt.timedelta(days=SCORED_DAYS_AGO + 1) < event.customer.last_order_at <= became
    assert all(event.occurred_at == frozen_clock.now for event in events)


def test_a_real_shops_first_scoring_still_starts_nobodys_journey(frozen_clock):
    from tests.factories import CustomerFactory, OrderFactory

    customer = CustomerFactory()
    OrderFactory(customer=customer, placed_at=frozen_clock.now - dt.timedelta(days=70))
    Customer.objects.filter(pk=customer.pk).update(
        order_count=1, first_order_at=frozen_clock.now - dt.timedelta(days=70),
        last_order_at=frozen_clock.now - dt.timedelta(days=70))

    report = customers_score(now=frozen_clock.now)

    assert report.events == 0 and report.stage_changes == 1
    assert Customer.objects.get().lifecycle_stage == "at_risk"
