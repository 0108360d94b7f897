"""A forecast in a real browser: started from the campaign list, followed, then read."""
import threading
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from campaigns.models import ForecastJob
from campaigns.services import forecast as forecast_service
from tests.browser.conftest import needs_chromium, wait_for
from tests.test_forecast import thank_you

pytestmark = needs_chromium
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def _wait(browser, condition, timeout=20):
    return wait_for(browser, condition, timeout)


def _text(browser):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, "content").text


class _NoWorker:
    """The task queue with no worker yet: the job waits, as it does in production."""

    @staticmethod
    def delay(*args):
        return None


def test_a_marketer_starts_a_forecast_follows_its_progress_and_reads_the_answer(
    browser, live_server, admin_user, transactional_db, monkeypatch
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from campaigns import tasks

    SHOTS.mkdir(parents=True, exist_ok=True)
    campaign, customers = thank_you(timezone.now(), hours_ago=(30, 50, 200, 260))
    monkeypatch.setattr(tasks, "forecast", _NoWorker)

    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/campaign/")
    browser.find_element(By.ID, "id_username").send_keys("admin")
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait(browser, lambda b: "/admin/campaigns/campaign/" in b.current_url)
    browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{campaign.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("forecast")
    browser.find_element(By.NAME, "index").click()

    _wait(browser, lambda b: "Waiting for a worker" in _text(b))
    job = ForecastJob.objects.get()
    assert f"/admin/campaigns/forecastjob/{job.pk}/change/" in browser.current_url
    assert "Thank you" in _text(browser)

    # A worker takes it; it stops at 40 % until the page has shown that.
    shown, real_compute = threading.Event(), forecast_service.forecast_compute

    def slow_compute(**kwargs):
        kwargs["progress"](40)
        assert shown.wait(30)
        return real_compute(**kwargs)

    monkeypatch.setattr(forecast_service, "forecast_compute", slow_compute)
    worker = threading.Thread(target=forecast_service.forecast_job_run, kwargs={"job_id": job.pk})
    worker.start()
    try:
        _wait(browser, lambda b: "40 % done" in _text(b))
        assert browser.find_element(By.ID, "forecast-progress").get_attribute("value") == "40"
        browser.save_screenshot(str(SHOTS / "forecast-progress.png"))
    finally:
        shown.set()
        worker.join(60)

    _wait(browser, lambda b: "would have been sent" in _text(b))
    text = _text(browser)
    assert "4 customers would have entered." in text and "4 emails would have been sent." in text
    assert "Nothing was sent and nothing was stored" in text
    names = browser.find_elements(By.CSS_SELECTOR, ".forecast-people a")
    assert len(names) == 4
    assert all(customer.email not in text for customer in customers)
    browser.save_screenshot(str(SHOTS / "forecast.png"))

    browser.set_window_size(390, 900)
    browser.refresh()
    _wait(browser, lambda b: "would have been sent" in _text(b))
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"
    browser.save_screenshot(str(SHOTS / "forecast-phone.png"))

    browser.find_element(By.CSS_SELECTOR, ".forecast-people a").click()
    _wait(browser, lambda b: "/admin/campaigns/customer/" in b.current_url)


def test_the_demos_campaigns_forecast_in_words(browser, live_server, admin_user, transactional_db):
    """Every shipped campaign of the demo (`make run`), forecast at once: the page names
    each, says which future is known and which estimated, and gives reasons in words."""
    from selenium.webdriver.common.by import By

    from campaigns.models import Campaign
    from campaigns.services.demo import demo_load

    SHOTS.mkdir(parents=True, exist_ok=True)
    demo_load(customers=200)
    job = forecast_service.forecast_job_create(
        campaign_ids=list(Campaign.objects.values_list("pk", flat=True)))
    job.refresh_from_db()
    assert job.state == ForecastJob.State.DONE, job.error

    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/forecastjob/{job.pk}/change/")
    browser.find_element(By.ID, "id_username").send_keys("admin")
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait(browser, lambda b: "would have been sent" in _text(b))
    text = _text(browser)
    sections = browser.find_elements(By.CSS_SELECTOR, ".forecast-campaign")
    assert len(sections) == Campaign.objects.count()
    win_back = next(s for s in sections if "Win-back" in s.text)
    assert "days without an order in the next 14 days" in win_back.text
    assert "known" in win_back.text
    assert "quiet hours" in text and "no marketing consent" in text
    assert "_" not in "".join(s.find_element(By.CSS_SELECTOR, ".forecast-reasons").text
                              for s in sections if s.find_elements(By.CSS_SELECTOR, ".forecast-reasons"))
    browser.set_window_size(1400, 3000)
    browser.save_screenshot(str(SHOTS / "forecast-demo.png"))
