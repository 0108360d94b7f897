"""The campaign page's results in words, from a scenario run by the scheduler on a moved clock."""
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Message, StepVariant
from campaigns.selectors import campaign_results as results
from campaigns.services.consent import consent_record
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.factories import (
    CustomerFactory, EnrollmentFactory, EventFactory, OrderFactory, SentMessageFactory,
    TemplateTranslationFactory,
)

UTC = dt.timezone.utc
EVENING = dt.datetime(2026, 3, 2, 21, 0, tzinfo=UTC)  # 22:00 in Stockholm: quiet hours


def run(clock, moment):
    clock.set(moment)
    scheduler_tick(now=moment)
    messages_send_due(now=moment)


@pytest.fixture
def scenario(welcome, policy, frozen_clock):
    """Six consenting signups at 22:00 local (deferred by quiet hours, sent at 08:00) and
    one without consent; an A/B test on the step; one buyer two days after the email."""
    step = welcome.steps.get()
    StepVariant.objects.create(step=step, name="A", template=step.template, weight=1)
    other = TemplateTranslationFactory(template__name="Welcome B", locale="sv",
                                       subject="Hej {{ customer.first_name }}, välkommen!")
    StepVariant.objects.create(step=step, name="B", template=other.template, weight=1)
    customers = CustomerFactory.create_batch(6)
    for customer in customers:
        consent_record(customer=customer, granted=True, source="api")
    customers.append(CustomerFactory())  # never agreed to marketing
    for customer in customers:
        EventFactory(customer=customer, type="signup", occurred_at=EVENING - dt.timedelta(minutes=5))
    run(frozen_clock, EVENING)
    run(frozen_clock, EVENING + dt.timedelta(hours=10, minutes=5))
    OrderFactory(customer=customers[0], placed_at=frozen_clock.now + dt.timedelta(days=2))
    frozen_clock.advance(days=3)
    return welcome


def page(client, campaign) -> str:
    response = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


@pytest.mark.django_db
def test_the_numbers_follow_what_the_scheduler_did(scenario):
    enrolled = results.campaign_enrolled(campaign_id=scenario.pk)
    outcomes = results.campaign_outcomes(campaign_id=scenario.pk)
    conversions = results.campaign_conversions(campaign_id=scenario.pk)

    assert Message.objects.filter(campaign=scenario, state="sent").count() == 6
    assert (enrolled.total, enrolled.completed, enrolled.active) == (7, 7, 0)
    assert outcomes.count("sent") == 6
    assert outcomes.by_state["skipped"] == {"no_consent": 1}
    assert outcomes.deferred == {"quiet_hours": (6, 6)}
    assert (conversions.sent, conversions.converted, conversions.customers) == (6, 1, 1)


@pytest.mark.django_db
def test_the_campaign_page_tells_the_results_in_words(admin_client, scenario):
    text = page(admin_client, scenario)

    assert "7 customers entered the journey" in text
    assert "6 emails sent." in text
    assert "1 not sent: no marketing consent." in text
    assert "Deferred 6 times (6 emails) because of quiet hours." in text
    assert "1 of 6 sent emails (16.7 %) were followed by a purchase within 7 days." in text
    assert "Opens are not tracked on this site" in text
    assert "No holdout group" in text
    assert "A/B test against “A”" in text
    assert "Too small to tell" in text


@pytest.mark.django_db
def test_results_cost_the_same_number_of_queries_however_many_messages(admin_client, scenario):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page(admin_client, scenario)
        return len(captured)

    few = queries()
    step = scenario.steps.get()
    for _ in range(15):
        message = SentMessageFactory(enrollment__campaign=scenario, step=step,
                                     variant=step.variants.first())
        message.sent_at = message.due_at = scenario.created_at
        message.save()

    assert queries() == few


@pytest.mark.django_db
def test_holdout_lift_is_shown_with_its_interval_and_verdict(admin_client, welcome, frozen_clock):
    moment = frozen_clock.now - dt.timedelta(days=10)
    for index in range(40):
        holdout = index % 4 == 0
        enrollment = EnrollmentFactory(campaign=welcome, is_holdout=holdout, triggered_at=moment)
        if index % 2 == 1:  # 20 of the 30 treated buy, none of the holdout does
            OrderFactory(customer=enrollment.customer, placed_at=moment + dt.timedelta(days=1))

    text = page(admin_client, welcome)

    assert "66.7 % of 30 who got the emails, 0.0 % of 10 in the holdout group" in text
    assert "Lift: +66.7 percentage points (95 % interval" in text
    assert "Too small to tell: fewer than 30 in an arm." in text


@pytest.mark.django_db
def test_lag_is_judged_from_when_the_message_could_first_go(admin_client, welcome, frozen_clock):
    now = frozen_clock.now
    # A signup seeded 5 hours old: due 5 h ago, planned now, sent 30 s later.
    SentMessageFactory(enrollment__campaign=welcome, first_due_at=now - dt.timedelta(hours=5),
                       created_at=now, sent_at=now + dt.timedelta(seconds=30),
                       lag_seconds=5 * 3600 + 30)

    text = page(admin_client, welcome)

    assert "The one email went out 30 s after the moment it could go" in text
    assert "That is healthy" in text
    assert "1 email was planned well after its due time had passed" in text
    assert "5 h" not in text.split("Scheduling lag")[1][:400]


@pytest.mark.django_db
def test_a_late_scheduler_is_called_slow_in_minutes(admin_client, welcome, frozen_clock):
    now = frozen_clock.now
    SentMessageFactory(enrollment__campaign=welcome, first_due_at=now - dt.timedelta(minutes=20),
                       created_at=now - dt.timedelta(hours=1), sent_at=now, lag_seconds=1200)

    text = page(admin_client, welcome)

    assert "The one email went out 20 min after the moment it could go" in text
    assert "slower than the scheduler" in text


def as_sent_page(client, message):
    response = client.get(reverse("admin:campaigns_message_as_sent", args=[message.pk]))
    return response


@pytest.mark.django_db
def test_a_message_is_shown_as_sent_even_after_its_template_was_edited(
    admin_client, frozen_clock, welcome, policy,
):
    customer = CustomerFactory(first_name="Astrid", locale="sv")
    consent_record(customer=customer, granted=True, source="api")
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    run(frozen_clock, frozen_clock.now)
    message = Message.objects.get(customer=customer, state="sent")
    translation = welcome.steps.get().template.translations.get(locale="sv")
    frozen_clock.advance(days=1)
    # Edited in the admin after the send: a new subject and body.
    admin_client.post(reverse("admin:campaigns_templatetranslation_change", args=[translation.pk]), {
        "template": translation.template_id, "locale": "sv",
        "subject": "Nytt ämne", "html_body": "<p>Helt ny text</p>", "text_body": "Helt ny text",
    })
    assert welcome.steps.get().template.translations.get(locale="sv").subject == "Nytt ämne"

    response = as_sent_page(admin_client, message)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Välkommen, Astrid!" in html
    assert "Hej Astrid" in html  # the body as sent (in the iframes' srcdoc and the text part)
    assert "Helt ny text" not in html and "Nytt ämne" not in html
    assert "version 1" in html
    assert 'sandbox=""' in html
    assert "/u/" in html  # the footer's unsubscribe link, as sent
    assert "Avregistrera dig" in html  # the footer in the customer's language


@pytest.mark.django_db
def test_the_message_page_needs_the_right_to_see_customers(client, welcome, frozen_clock):
    from django.contrib.auth.models import Permission, User

    staff = User.objects.create_user("marketer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_message"))
    client.force_login(staff)
    message = SentMessageFactory(enrollment__campaign=welcome)

    assert as_sent_page(client, message).status_code == 403


@pytest.mark.django_db
def test_an_unknown_message_is_a_404_not_an_error(admin_client):
    response = admin_client.get("/admin/campaigns/message/999999/as-sent/")
    assert response.status_code == 404


@pytest.mark.django_db
def test_the_planning_ticks_own_delay_counts_as_lag(admin_client, welcome, frozen_clock):
    now = frozen_clock.now
    # Due at the signup, planned by the next tick 50 s later, sent 10 s after that.
    SentMessageFactory(enrollment__campaign=welcome, first_due_at=now - dt.timedelta(seconds=60),
                       created_at=now - dt.timedelta(seconds=10), sent_at=now, lag_seconds=60)

    text = page(admin_client, welcome)

    assert "The one email went out 1 min after the moment it could go" in text
    assert "planned well after" not in text


@pytest.mark.django_db
def test_an_email_sent_before_any_recorded_version_says_it_shows_todays_text(
    admin_client, frozen_clock, welcome,
):
    # Sent a week before the template's first recorded version (made "now" by the fixture).
    customer = CustomerFactory(locale="sv")
    message = SentMessageFactory(
        enrollment__campaign=welcome, enrollment__customer=customer, step=welcome.steps.get(),
        locale="sv", first_due_at=frozen_clock.now - dt.timedelta(days=7),
        sent_at=frozen_clock.now - dt.timedelta(days=7))

    html = as_sent_page(admin_client, message).content.decode()

    assert "No copy of the template from before this send was recorded" in html
    assert "Hej Astrid" in html
