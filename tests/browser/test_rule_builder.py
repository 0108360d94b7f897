"""The segment rule builder in a real browser (headless Debian chromium through Selenium)."""
import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Segment
from campaigns.selectors.segments import segment_count
from tests.browser.conftest import needs_chromium, wait_for
from tests.factories import CustomerFactory, OrderFactory

pytestmark = needs_chromium

RULE = {"all": [
    {"field": "country", "op": "is", "value": "SE"},
    {"field": "order_count", "op": ">=", "value": 2, "window": {"last_days": 90}},
]}


@pytest.fixture
def population(transactional_db):
    """Two Swedes with 2 recent orders, one with 1, a Norwegian with 2, a Swede with old ones."""
    now = timezone.now()
    for country, ages in (("SE", [3, 40]), ("SE", [5, 80]), ("SE", [10]), ("NO", [1, 2]),
                          ("SE", [200, 300])):
        customer = CustomerFactory(country=country)
        for days in ages:
            OrderFactory(customer=customer, placed_at=now - dt.timedelta(days=days))


def _wait(browser, condition, timeout=10):
    return wait_for(browser, condition, timeout)


def _rows(browser):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, ".sb-condition")


def _add_condition(browser):
    from selenium.webdriver.common.by import By

    before = len(_rows(browser))
    browser.find_element(By.CSS_SELECTOR, ".sb-top > .sb-group-header .sb-add-condition").click()
    _wait(browser, lambda b: len(_rows(b)) == before + 1)
    return before


def _in_row(browser, index, css):
    from selenium.webdriver.common.by import By

    return _rows(browser)[index].find_element(By.CSS_SELECTOR, css)


def test_a_marketer_builds_a_rule_sees_the_live_count_saves_and_reopens_it(
    browser, live_server, admin_user, population
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    expected = segment_count(RULE)
    assert expected == 2

    # Given a logged-in marketer on the new segment page
    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/segment/add/")
    browser.find_element(By.ID, "id_username").send_keys(admin_user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.ID, "id_name").send_keys("Swedes who bought twice lately")

    # When they build "country is SE" …
    first = _add_condition(browser)
    Select(_in_row(browser, first, ".sb-field")).select_by_value("country")
    Select(_in_row(browser, first, ".sb-op")).select_by_value("is")
    _in_row(browser, first, ".sb-value").send_keys("SE")
    # … and "number of orders in the last 90 days ≥ 2"
    second = _add_condition(browser)
    Select(_in_row(browser, second, ".sb-field")).select_by_value("order_count")
    Select(_in_row(browser, second, ".sb-window")).select_by_value("last_days")
    days = _in_row(browser, second, ".sb-window-days")
    days.clear()
    days.send_keys("90")
    Select(_in_row(browser, second, ".sb-op")).select_by_value(">=")
    _in_row(browser, second, ".sb-value").send_keys("2")

    # Then the live count is the server's count for that rule, with a sample
    _wait(browser, lambda b: b.find_elements(By.ID, "segment-count")
          and b.find_element(By.ID, "segment-count").text == str(expected))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#segment-sample tbody tr")) == expected

    # When they save and reopen the segment
    browser.find_element(By.NAME, "_continue").click()
    _wait(browser, lambda b: "/change/" in b.current_url)
    segment = Segment.objects.get(name="Swedes who bought twice lately")
    assert segment.rule == RULE
    browser.get(f"{live_server.url}/admin/campaigns/segment/{segment.pk}/change/")

    # Then the builder shows the rule again
    _wait(browser, lambda b: len(_rows(b)) == 2)
    assert Select(_in_row(browser, 0, ".sb-field")).first_selected_option.get_attribute("value") == "country"
    assert _in_row(browser, 0, ".sb-value").get_attribute("value") == "SE"
    assert Select(_in_row(browser, 1, ".sb-field")).first_selected_option.get_attribute("value") == "order_count"
    assert Select(_in_row(browser, 1, ".sb-window")).first_selected_option.get_attribute("value") == "last_days"
    assert _in_row(browser, 1, ".sb-window-days").get_attribute("value") == "90"
    assert Select(_in_row(browser, 1, ".sb-op")).first_selected_option.get_attribute("value") == ">="
    assert _in_row(browser, 1, ".sb-value").get_attribute("value") == "2"
    _wait(browser, lambda b: b.find_elements(By.ID, "segment-count")
          and b.find_element(By.ID, "segment-count").text == str(expected))
