"""A campaign's results and one email as sent, in a real browser (headless Debian chromium)."""
import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from campaigns.models import FrequencyPolicy, Message, StepVariant
from campaigns.services.consent import consent_record
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.browser.conftest import needs_chromium
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory, OrderFactory,
    TemplateTranslationFactory,
)

pytestmark = needs_chromium

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
HTML = """<html><body style="margin:0;font-family:Arial,sans-serif;background:#f4f1ec">
<div style="max-width:600px;margin:0 auto;background:#fff;padding:24px">
<h1 style="color:#8a3b12">Hej {{ customer.first_name }}!</h1>
<p>Välkommen till Nordic Goods. Här är 10 % rabatt på ditt första köp.</p>
<p><a href="{{ site_url }}" style="background:#8a3b12;color:#fff;padding:10px 16px;
text-decoration:none;border-radius:4px">Till butiken</a></p></div></body></html>"""


@pytest.fixture
def sent_campaign(transactional_db):
    """A welcome campaign with an A/B test whose emails went out a minute ago (wall clock:
    the live server's thread reads it), one buyer, and the text edited after the send."""
    FrequencyPolicy.objects.create(max_per_day=3)  # no quiet hours: the test runs any hour
    a = TemplateTranslationFactory(template__name="Welcome A", locale="sv",
                                   subject="Välkommen, {{ customer.first_name }}!",
                                   html_body=HTML, text_body="Hej {{ customer.first_name }}!")
    b = TemplateTranslationFactory(template__name="Welcome B", locale="sv",
                                   subject="Hej {{ customer.first_name }}, här är din rabatt",
                                   html_body=HTML, text_body="Hej {{ customer.first_name }}!")
    campaign = CampaignFactory(name="Welcome", slug="welcome")
    step = JourneyStepFactory(campaign=campaign, template=a.template)
    StepVariant.objects.create(step=step, name="A", template=a.template)
    StepVariant.objects.create(step=step, name="B", template=b.template)
    now = timezone.now()
    for index in range(8):
        customer = CustomerFactory(first_name=["Astrid", "Nils", "Ingrid", "Lars"][index % 4])
        consent_record(customer=customer, granted=True, source="api")
        EventFactory(customer=customer, type="signup", occurred_at=now - dt.timedelta(minutes=2))
    scheduler_tick(now=now)
    messages_send_due(now=now)
    first = Message.objects.filter(state="sent").order_by("pk").first()
    OrderFactory(customer=first.customer, placed_at=now + dt.timedelta(seconds=1))
    a.subject, a.html_body = "Edited later", "<p>Edited later</p>"
    a.save()
    return campaign


def _login(browser, live_server, user, path):
    from selenium.webdriver.common.by import By

    browser.get(f"{live_server.url}/admin/login/?next={path}")
    browser.find_element(By.ID, "id_username").send_keys(user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def test_a_marketer_reads_the_results_and_opens_an_email_as_sent_on_a_phone(
    browser, live_server, admin_user, sent_campaign,
):
    from selenium.webdriver.common.by import By

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    campaign = sent_campaign
    assert Message.objects.filter(campaign=campaign, state="sent").count() == 8

    # Given a marketer on the campaign's page
    _login(browser, live_server, admin_user, f"/admin/campaigns/campaign/{campaign.pk}/change/")
    results = browser.find_element(By.CSS_SELECTOR, ".field-results_reach")
    browser.execute_script("arguments[0].scrollIntoView()", results)
    body = browser.find_element(By.TAG_NAME, "body").text

    # Then the results read in words
    assert "8 customers entered the journey" in body
    assert "8 emails sent." in body
    assert "were followed by a purchase within 7 days" in body
    assert "A/B test against “A”" in body
    browser.save_screenshot(str(SCREENSHOTS / "campaign_results.png"))

    # When they open the latest email at phone width
    browser.set_window_size(390, 900)
    link = browser.find_element(By.CSS_SELECTOR, ".field-latest_messages a")
    browser.get(link.get_attribute("href"))

    # Then it is the email as sent, not the text edited afterwards, with its footer
    assert "Email as sent" in browser.title
    assert "Edited later" not in browser.find_element(By.TAG_NAME, "body").text
    phone = browser.find_element(By.CSS_SELECTOR, ".phone iframe")
    assert phone.is_displayed() and phone.size["width"] <= 390
    assert not browser.find_element(By.CSS_SELECTOR, ".desktop iframe").is_displayed()
    browser.switch_to.frame(phone)
    inside = browser.find_element(By.TAG_NAME, "body").text
    assert "Välkommen till Nordic Goods" in inside
    assert "Avregistrera dig" in inside  # the footer every marketing email gets
    browser.switch_to.default_content()
    browser.save_screenshot(str(SCREENSHOTS / "message_as_sent.png"))

    # And the template's history says who changed its text after the send, before and after
    template = campaign.steps.get().template
    browser.get(f"{live_server.url}/admin/campaigns/messagetemplate/{template.pk}/history/")
    history = browser.find_element(By.ID, "content-main").text
    assert "translation “sv” changed" in history
    assert "Edited later" in history and "Välkommen, {{ customer.first_name }}!" in history
    browser.save_screenshot(str(SCREENSHOTS / "audit_trail.png"))
