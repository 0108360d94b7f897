"""The best hour in the admin: the send step's checkbox and fallback, the picture's words,
the customer page."""
import datetime as dt
import html
import re

import pytest
from django.urls import reverse

from campaigns.models import Campaign, JourneyStep
from tests.admin.test_campaign_page import change_url, save, send_step
from tests.factories import CampaignFactory, CustomerFactory, JourneyStepFactory

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ",
                                                   response.content.decode())))


def test_a_send_step_is_set_to_the_best_hour_with_its_fallback_time(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    step = JourneyStepFactory(campaign=campaign, position=0)

    response = save(admin_client, campaign, steps=[
        send_step(step, 0, send_at_best_hour="on", best_hour_fallback="09:30")])

    assert response.status_code == 302
    step.refresh_from_db()
    assert (step.send_at_best_hour, step.best_hour_fallback) == (True, dt.time(9, 30))
    page = text_of(admin_client.get(change_url(campaign)))
    assert "At the customer's best hour" in page
    assert "Send an email at the customer's best hour (else 09:30)" in page


def test_without_a_fallback_time_the_step_keeps_10_and_other_kinds_never_wait(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    step = JourneyStepFactory(campaign=campaign, position=0)

    save(admin_client, campaign, steps=[
        send_step(step, 0, send_at_best_hour="on", best_hour_fallback=""),
        {"position": 1, "kind": "wait", "wait_duration_0": "1", "wait_duration_1": "",
         "send_at_best_hour": "on"},
    ])

    send, wait = campaign.steps.order_by("position")
    assert (send.send_at_best_hour, send.best_hour_fallback) == (True, dt.time(10))
    assert (wait.kind, wait.send_at_best_hour) == (JourneyStep.Kind.WAIT, False)


def test_a_plain_send_step_says_nothing_about_hours(admin_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    JourneyStepFactory(campaign=campaign, position=0)

    page = text_of(admin_client.get(change_url(campaign)))

    assert "Send an email" in page and "best hour (else" not in page


def test_the_customer_page_says_the_best_hour_in_words(admin_client):
    known = CustomerFactory(best_hour=20)
    unknown = CustomerFactory()

    def page(customer):
        return text_of(admin_client.get(
            reverse("admin:campaigns_customer_change", args=[customer.pk])))

    assert "Best hour to email: 20:00–21:00 in their time zone" in page(known)
    assert "Best hour to email: not known yet" in page(unknown)
