"""The customer page in a real browser: a demo customer who got the welcome and is not in
the other journeys, every campaign explained in words, at desktop and phone widths."""
import pathlib

import pytest
from django.utils import timezone

from campaigns.models import Message
from campaigns.services.demo import demo_load
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.segments import segments_refresh_all
from campaigns.services.sending import messages_send_due
from tests.browser.conftest import needs_chromium

pytestmark = needs_chromium
SCREENSHOTS = pathlib.Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def welcomed(transactional_db):
    """The demo shop (real time: the live server's thread reads the wall clock), one tick
    later: the fresh signups got (or wait for) their welcome."""
    demo_load(customers=30)
    segments_refresh_all()
    now = timezone.now()
    scheduler_tick(now=now)
    messages_send_due(now=now)
    # Sent, or waiting for the morning when the test runs in the demo's quiet hours.
    return Message.objects.filter(campaign__slug="welcome").select_related(
        "customer", "campaign").order_by("-sent_at", "id").first()


def _open(browser, live_server, admin_user, path):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element("name", "username").send_keys(admin_user.username)
    browser.find_element("name", "password").send_keys("password")
    browser.find_element("css selector", "input[type=submit]").click()
    # Wait for the logged-in page, or the next request may go out before the session cookie.
    WebDriverWait(browser, 10).until(lambda b: b.find_elements("id", "user-tools"))
    browser.get(f"{live_server.url}{path}")


def test_a_marketer_reads_why_a_customer_got_one_journey_and_not_the_others(
        browser, live_server, admin_user, welcomed):
    from selenium.webdriver.common.by import By

    assert welcomed is not None, "the demo sends at least one welcome"
    customer = welcomed.customer
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    _open(browser, live_server, admin_user, f"/admin/campaigns/customer/{customer.pk}/change/")
    others = browser.find_element(By.CSS_SELECTOR, ".cp-other-segments")
    others.find_element(By.TAG_NAME, "summary").click()
    browser.execute_script("arguments[0].scrollIntoView(); window.scrollBy(0, -300);", others)
    browser.save_screenshot(str(SCREENSHOTS / "customer_page_segments.png"))
    journeys = browser.find_element(By.CSS_SELECTOR, ".cp-journeys")
    journeys.location_once_scrolled_into_view
    browser.save_screenshot(str(SCREENSHOTS / "customer_page.png"))

    text = journeys.text
    blocks = browser.find_elements(By.CSS_SELECTOR, ".cp-journey")
    welcome = next(b for b in blocks if welcomed.campaign.name in b.text)
    if welcomed.state == Message.State.SENT:
        assert "cp-sent" in welcome.get_attribute("class")
        assert "sent on" in welcome.text and "consent: opted in on" in welcome.text
    else:
        assert "cp-waiting" in welcome.get_attribute("class")
        assert "waiting, due" in welcome.text
    assert "Not in the audience" in text or "Would enter" in text or "Enters" in text
    assert "no_consent" not in text and "{" not in text
    timeline = browser.find_element(By.XPATH, "//*[contains(text(), 'what happened')]/ancestor::table")
    assert "Signed up" in timeline.text and '"source"' not in timeline.text
    # The segment links open the explanation, in words: one the customer is in, if any,
    # and always one they are not in (the demo has segments the newcomer is outside of).
    member_links = browser.find_elements(By.PARTIAL_LINK_TEXT, "why is this customer in it?")
    if member_links:
        browser.get(member_links[0].get_attribute("href"))
        assert "In the segment." in browser.find_element(By.ID, "segment-explanation").text
        browser.back()
    other = browser.find_element(By.PARTIAL_LINK_TEXT, "Why not in")
    browser.get(other.get_attribute("href"))
    explanation = browser.find_element(By.ID, "segment-explanation").text
    assert "Not in the segment." in explanation and "✘ does not hold" in explanation
    browser.save_screenshot(str(SCREENSHOTS / "segment_explain.png"))

    browser.set_window_size(390, 844)
    browser.get(f"{live_server.url}/admin/campaigns/customer/{customer.pk}/change/")
    journeys = browser.find_element(By.CSS_SELECTOR, ".cp-journeys")
    journeys.location_once_scrolled_into_view
    browser.save_screenshot(str(SCREENSHOTS / "customer_page_phone.png"))
    width = browser.execute_script("return document.documentElement.clientWidth")
    assert journeys.size["width"] <= width
