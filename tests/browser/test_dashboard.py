"""The impact dashboard in a real browser on a small demo: every chart drawn, no script
error, at desktop and at phone width (screenshots in var/screenshots/)."""
from pathlib import Path

import pytest

from campaigns.services.demo import demo_load
from tests.browser.conftest import needs_chromium, wait_for

pytestmark = needs_chromium

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CHARTS = ["chart-satisfaction", "chart-retention", "chart-clv", "chart-days-between",
          "chart-weekly-sends", "chart-weekly-nps", "chart-campaign-funnel",
          "chart-campaign-variants"]
# Collects script errors from the very start of every page (before the page's own scripts).
CATCH_ERRORS = """
window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });
var original = console.error;
console.error = function () { window.__errors.push([].join.call(arguments, " ")); original.apply(console, arguments); };
"""
DRAWN = """
return arguments[0].map(function (id) {
  var canvas = document.getElementById(id);
  var chart = canvas && window.Chart && Chart.getChart(canvas);
  if (!chart) { return [id, 0, 0]; }
  var points = chart.data.datasets.reduce(function (n, d) {
    return n + d.data.filter(function (v) { return v !== null && v !== undefined; }).length; }, 0);
  return [id, chart.data.datasets.length, points];
});
"""


@pytest.fixture
def small_demo(transactional_db):
    demo_load(customers=120, history=True)


def _wait(browser, condition, timeout=15):
    return wait_for(browser, condition, timeout)


def _screenshot(browser, name: str, width: int, *, mobile: bool) -> None:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": min(height, 16000), "deviceScaleFactor": 1, "mobile": mobile})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / name))


def _open_dashboard(browser, url):
    browser.get(url)
    _wait(browser, lambda b: b.execute_script(
        "return document.readyState === 'complete' && !!window.Chart"))
    return dict((id_, (sets, points)) for id_, sets, points in browser.execute_script(DRAWN, CHARTS))


def test_a_marketer_sees_every_chart_drawn_at_desktop_and_phone_width(
    browser, live_server, admin_user, small_demo
):
    from selenium.webdriver.common.by import By

    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_ERRORS})
    # Given a logged-in marketer
    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/dashboard/")
    browser.find_element(By.ID, "id_username").send_keys(admin_user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait(browser, lambda b: "/admin/campaigns/dashboard/" in b.current_url)

    # When they open the dashboard on a desktop
    drawn = _open_dashboard(browser, f"{live_server.url}/admin/campaigns/dashboard/")

    # Then every chart is drawn with data, and no script failed
    assert {id_: sets > 0 and points > 0 for id_, (sets, points) in drawn.items()} == dict.fromkeys(CHARTS, True)
    assert browser.execute_script("return window.__errors") == []
    cards = browser.find_elements(By.CSS_SELECTOR, "#shop_health .card .figure")
    assert len(cards) == 9 and all(card.text.strip() not in {"", "—"} for card in cards)
    _screenshot(browser, "dashboard.png", 1400, mobile=False)

    # And at phone width the page fits the screen: nothing but the wide tables scroll sideways
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    drawn = _open_dashboard(browser, f"{live_server.url}/admin/campaigns/dashboard/")
    assert all(sets > 0 and points > 0 for sets, points in drawn.values())
    assert browser.execute_script("return window.__errors") == []
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    _screenshot(browser, "dashboard_phone.png", 390, mobile=True)
