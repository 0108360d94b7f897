"""The forecast in the admin: the campaign list's action, the job page in each state."""
import datetime as dt

import pytest
from django.urls import reverse

from campaigns.models import Campaign, ForecastJob, Message
from tests.test_forecast import thank_you

CHANGELIST = reverse("admin:campaigns_campaign_changelist")


def page(job):
    return reverse("admin:campaigns_forecastjob_change", args=[job.pk])


@pytest.mark.django_db(transaction=True)
def test_the_action_starts_a_job_and_its_page_says_the_answer_in_words(admin_client, frozen_clock):
    campaign, customers = thank_you(frozen_clock.now, hours_ago=(30, 50, 200))
    thank_you_customer = customers[0]

    response = admin_client.post(CHANGELIST, {"action": "forecast", "_selected_action": [campaign.pk]})

    job = ForecastJob.objects.get()
    assert response.status_code == 302 and response["Location"] == page(job)
    assert job.campaign_ids == [campaign.pk] and job.state == ForecastJob.State.DONE
    text = admin_client.get(page(job)).content.decode()
    assert "3 customers would have entered." in text
    assert "3 emails would have been sent." in text
    assert "if customers behave as they did in the last 14 days" in text
    assert reverse("admin:campaigns_customer_change", args=[thank_you_customer.pk]) in text
    assert thank_you_customer.email not in text
    assert 'http-equiv="refresh"' not in text
    assert "Nothing was sent and nothing was stored" in text
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_held_back_and_unsent_emails_are_told_with_reasons_in_words(admin_client, frozen_clock):
    campaign, _ = thank_you(frozen_clock.now, hours_ago=(30,), consent=False)

    admin_client.post(CHANGELIST, {"action": "forecast", "_selected_action": [campaign.pk]})

    text = admin_client.get(page(ForecastJob.objects.get())).content.decode()
    assert "Not sent" in text and "no marketing consent: 1 email" in text
    assert "no_consent" not in text


@pytest.mark.django_db
def test_a_queued_or_running_job_refreshes_itself_and_shows_its_progress(admin_client, frozen_clock):
    job = ForecastJob.objects.create(campaign_ids=[1], days=14)
    text = admin_client.get(page(job)).content.decode()
    assert 'http-equiv="refresh" content="2"' in text and "Waiting for a worker" in text
    assert "Run again" not in text

    ForecastJob.objects.filter(pk=job.pk).update(state=ForecastJob.State.RUNNING, progress=40)
    text = admin_client.get(page(job)).content.decode()
    assert 'value="40"' in text and "40 % done" in text


@pytest.mark.django_db(transaction=True)
def test_a_failed_or_abandoned_job_can_run_again(admin_client, frozen_clock):
    campaign, _ = thank_you(frozen_clock.now)
    failed = ForecastJob.objects.create(campaign_ids=[campaign.pk], days=7,
                                        state=ForecastJob.State.FAILED, error="OperationalError: gone")
    abandoned = ForecastJob.objects.create(
        campaign_ids=[campaign.pk], state=ForecastJob.State.RUNNING,
        created_at=frozen_clock.now - dt.timedelta(hours=1))

    text = admin_client.get(page(failed)).content.decode()
    assert "could not finish" in text and "Run again" in text
    text = admin_client.get(page(abandoned)).content.decode()
    assert "may have stopped" in text and "Run again" in text and "http-equiv" not in text

    again_url = reverse("admin:campaigns_forecastjob_again", args=[failed.pk])
    assert admin_client.get(again_url).status_code == 405
    response = admin_client.post(again_url)
    again = ForecastJob.objects.exclude(pk__in=[failed.pk, abandoned.pk]).get()
    assert response["Location"] == page(again)
    assert again.days == 7 and again.state == ForecastJob.State.DONE


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["999999/change/", "abc/change/", "999999/again/"])
def test_a_job_that_does_not_exist_is_not_found(admin_client, path):
    url = reverse("admin:campaigns_forecastjob_changelist") + path
    response = admin_client.post(url) if path.endswith("again/") else admin_client.get(url)
    assert response.status_code == 404


@pytest.mark.django_db
def test_the_forecast_list_names_the_campaigns(admin_client, frozen_clock):
    campaign = Campaign.objects.create(name="Birthday", slug="birthday")
    ForecastJob.objects.create(campaign_ids=[campaign.pk, 424242])
    text = admin_client.get(reverse("admin:campaigns_forecastjob_changelist")).content.decode()
    assert "Birthday, #424242" in text


@pytest.mark.django_db
def test_a_user_without_access_to_forecasts_cannot_see_one(client, django_user_model):
    job = ForecastJob.objects.create(campaign_ids=[1])
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(page(job)).status_code == 403
    assert client.post(reverse("admin:campaigns_forecastjob_again", args=[job.pk])).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_campaign_page_has_a_forecast_button_that_starts_the_same_job(admin_client, frozen_clock):
    campaign, _customers = thank_you(frozen_clock.now, hours_ago=(30,))
    change = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    url = reverse("admin:campaigns_campaign_forecast", args=[campaign.pk])
    assert url in admin_client.get(change).content.decode()

    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url)

    job = ForecastJob.objects.get()
    assert response.status_code == 302 and response["Location"] == page(job)
    assert job.campaign_ids == [campaign.pk] and job.state == ForecastJob.State.DONE


@pytest.mark.django_db
def test_the_forecast_button_needs_access_to_forecasts(client, django_user_model):
    from django.contrib.auth.models import Permission

    campaign = Campaign.objects.create(name="Thanks", slug="thanks", trigger_event_type="purchase")
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    client.force_login(staff)
    url = reverse("admin:campaigns_campaign_forecast", args=[campaign.pk])
    assert url not in client.get(
        reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert client.post(url).status_code == 403 and not ForecastJob.objects.exists()
