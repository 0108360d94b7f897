"""The campaign page in a real browser: a win-back from its starter, edited and reordered."""
import base64
import datetime as dt
from pathlib import Path

from django.conf import settings

from campaigns.models import Campaign, JourneyStep
from campaigns.starters import STARTERS
from tests.browser.conftest import needs_chromium

pytestmark = needs_chromium

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def _screenshot(browser, name: str) -> None:
    """The whole page, not only the window, as a marketer would scroll through it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    metrics = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
    })
    (SCREENSHOTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


def _saved(browser) -> None:
    """Wait for the page after a save: its success note, or its errors (then fail)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(lambda b: b.find_elements(
        By.CSS_SELECTOR, ".messagelist .success, .errornote"))
    errors = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".errorlist, .errornote")]
    assert not errors, errors


def _visible(browser, css: str) -> bool:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, css).is_displayed()


def test_a_marketer_starts_a_winback_changes_its_days_reorders_steps_and_sees_the_picture(
    browser, live_server, admin_user, transactional_db
):
    from selenium.webdriver.common.by import By

    # Given a logged-in marketer on the campaign list
    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/campaign/")
    browser.find_element(By.ID, "id_username").send_keys(admin_user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    # When they add a campaign and choose the win-back starter
    browser.find_element(By.CSS_SELECTOR, ".object-tools a.addlink").click()
    browser.find_element(By.CSS_SELECTOR, "button[name=starter][value=winback]").click()

    # Then its page shows only the inactivity trigger's field, and the journey
    days = browser.find_element(By.ID, "id_inactivity_days")
    assert days.get_attribute("value") == "90"
    assert not _visible(browser, ".form-row.field-nth_order")
    assert not _visible(browser, ".form-row.field-first_run")
    boxes = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".cp-journey .cp-box")]
    assert boxes[0].startswith("Starts when") and "No order for 90 days" in boxes[0]
    assert "14 days" in boxes[2]
    assert "{" not in browser.find_element(By.ID, "campaign_form").text  # no JSON anywhere

    # When they change the days and move the first email below the wait
    days.clear()
    days.send_keys("60")
    steps = browser.find_elements(By.CSS_SELECTOR, "#steps-group .inline-related:not(.empty-form)")
    assert len(steps) == 3
    assert not steps[0].find_element(By.CSS_SELECTOR, ".form-row.field-wait_duration").is_displayed()
    steps[0].find_element(By.CSS_SELECTOR, "button.cp-down").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=_continue]").click()
    _saved(browser)

    # Then the campaign is saved in that order and the picture follows it
    campaign = Campaign.objects.get()
    assert campaign.trigger_config == {"days": 60}
    assert list(campaign.steps.order_by("position").values_list("kind", "position")) == [
        (JourneyStep.Kind.WAIT, 0), (JourneyStep.Kind.SEND, 1), (JourneyStep.Kind.SEND, 2)]
    assert campaign.steps.get(position=0).wait_duration == dt.timedelta(days=14)
    boxes = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".cp-journey .cp-box")]
    assert "No order for 60 days" in boxes[0]
    assert boxes[1].startswith("Wait") and boxes[2].startswith("Send an email")
    assert "Leaves early when" in boxes[-2] and "purchase" in boxes[-2]
    assert "Priority 40" in browser.find_element(By.CSS_SELECTOR, ".cp-rules").text
    _screenshot(browser, "campaign_page")

    # Dragging the last step onto the top of the first puts it first (not saved here)
    browser.execute_script("""
        const steps = [...document.querySelectorAll('#steps-group .inline-related:not(.empty-form)')];
        const handle = steps[2].querySelector('h3'), target = steps[0];
        const data = new DataTransfer(), box = target.getBoundingClientRect();
        handle.dispatchEvent(new DragEvent('dragstart', {bubbles: true, dataTransfer: data}));
        target.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true,
            dataTransfer: data, clientY: box.top + 2}));
        target.dispatchEvent(new DragEvent('drop', {bubbles: true, dataTransfer: data}));
        handle.dispatchEvent(new DragEvent('dragend', {bubbles: true, dataTransfer: data}));
    """)
    order = browser.execute_script("""
        return [...document.querySelectorAll('#steps-group .inline-related:not(.empty-form)')]
            .map(s => [s.querySelector('.inline_label').textContent,
                       s.querySelector('input.cp-position').value]);""")
    assert order == [["Send an email", "0"], ["Wait", "1"], ["Send an email", "2"]], order

    # The list says the trigger and the deadline in words
    browser.get(f"{live_server.url}/admin/campaigns/campaign/")
    row = browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr").text
    assert "No order for 60 days" in row and "21 days" in row
    _screenshot(browser, "campaign_list")
    browser.back()

    # And on a phone the page fits the screen's width
    browser.set_window_size(390, 844)
    browser.refresh()
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390 + 2, width
    _screenshot(browser, "campaign_page_phone_full")
    # What the phone's screen shows: the journey, then the steps.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.execute_script("document.querySelector('.cp-overview').scrollIntoView()")
    browser.save_screenshot(str(SCREENSHOTS / "campaign_page_phone.png"))
    browser.execute_script("document.getElementById('steps-group').scrollIntoView()")
    browser.save_screenshot(str(SCREENSHOTS / "campaign_page_phone_steps.png"))


def test_the_starters_page_fits_a_phone(browser, live_server, admin_user, transactional_db):
    from selenium.webdriver.common.by import By

    browser.set_window_size(390, 844)
    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/campaign/start/")
    browser.find_element(By.ID, "id_username").send_keys(admin_user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    cards = browser.find_elements(By.CSS_SELECTOR, ".cp-starter")
    assert len(cards) == len(STARTERS)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 392
    _screenshot(browser, "campaign_starters_phone")


def test_resuming_a_winback_that_would_take_in_many_at_once_asks_first(
    browser, live_server, admin_user, transactional_db, settings
):
    from django.utils import timezone
    from selenium.webdriver.common.by import By

    from campaigns.models import Customer
    from campaigns.services.campaign_drafts import campaign_create_from_starter
    from tests.factories import CustomerFactory

    settings.CAMPAIGN_CONFIRM_ABOVE = 2
    campaign = campaign_create_from_starter(key="winback")
    # Paused since 20 days; three customers reached 90 days without an order since.
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.PAUSED, planned_through=timezone.now() - dt.timedelta(days=20))
    for _ in range(3):
        Customer.objects.filter(pk=CustomerFactory().pk).update(
            last_order_at=timezone.now() - dt.timedelta(days=100))

    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/campaign/{campaign.pk}/change/")
    browser.find_element(By.ID, "id_username").send_keys(admin_user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.CSS_SELECTOR, ".object-tools button.cp-tool-activate").click()

    page = browser.find_element(By.CSS_SELECTOR, ".cp-confirm").text
    assert "3 customers would enter at once." in page
    assert "reached 90 days without an order while the campaign was paused" in page
    _screenshot(browser, "campaign_activate_confirmation")
    browser.find_element(By.CSS_SELECTOR, ".cp-confirm button[type=submit]").click()
    _saved(browser)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE
    assert "1 campaign activated." in browser.find_element(By.CSS_SELECTOR, ".messagelist").text


def test_choosing_a_trigger_shows_only_its_fields_and_saves_them(
    browser, live_server, admin_user, transactional_db
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from campaigns.models import Segment

    segment = Segment.objects.create(name="Loyal customers", rule={})
    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/campaign/start/")
    browser.find_element(By.ID, "id_username").send_keys(admin_user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.CSS_SELECTOR, "button[name=starter][value=blank]").click()
    assert _visible(browser, ".form-row.field-trigger_event_type")

    Select(browser.find_element(By.ID, "id_trigger")).select_by_value("schedule")

    assert not _visible(browser, ".form-row.field-trigger_event_type")
    assert not _visible(browser, ".form-row.field-inactivity_days")
    assert not _visible(browser, ".form-row.field-entry_key")  # a schedule keys by its run
    for field in ("first_run", "every_days", "trigger_segment", "share"):
        assert _visible(browser, f".form-row.field-{field}"), field
    browser.execute_script(
        "document.getElementById('id_first_run').value = '2026-12-01T10:00'")
    browser.find_element(By.ID, "id_every_days").send_keys("30")
    Select(browser.find_element(By.ID, "id_trigger_segment")).select_by_visible_text(
        "Loyal customers")
    browser.find_element(By.ID, "id_share").send_keys("10")
    # Two new steps, the second moved above the first with its arrow
    for kind, field, value in (("wait", "wait_duration_0", "2"), ("reward", "reward_points", "100")):
        browser.find_element(By.CSS_SELECTOR, "#steps-group .add-row a").click()
        new = browser.find_elements(
            By.CSS_SELECTOR, "#steps-group .inline-related:not(.empty-form)")[-1]
        Select(new.find_element(By.CSS_SELECTOR, "select.cp-kind")).select_by_value(kind)
        new.find_element(By.CSS_SELECTOR, f"input[name$='-{field}']").send_keys(value)
    new.find_element(By.CSS_SELECTOR, "button.cp-up").click()
    _screenshot(browser, "campaign_page_schedule")
    browser.find_element(By.CSS_SELECTOR, "input[name=_continue]").click()
    _saved(browser)
    campaign = Campaign.objects.get()
    assert campaign.trigger == Campaign.Trigger.SCHEDULE
    assert campaign.trigger_config["every_days"] == 30
    assert (campaign.trigger_config["segment"], campaign.trigger_config["share"]) == (segment.pk, 10)
    assert "Every 30 days from" in browser.find_element(By.CSS_SELECTOR, ".cp-box-trigger").text
    assert list(campaign.steps.order_by("position").values_list("kind", "position")) == [
        (JourneyStep.Kind.REWARD, 0), (JourneyStep.Kind.WAIT, 1)]
    assert campaign.steps.get(kind=JourneyStep.Kind.WAIT).wait_duration == dt.timedelta(days=2)
