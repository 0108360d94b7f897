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


PRODUCT_RULE = {"field": "bought", "category": "Kitchen", "op": ">=", "value": 2,
                "window": {"last_days": 90}}


@pytest.fixture
def shoppers(transactional_db):
    """Kitchen buyers: 2 knives lately (in), 1 pan lately (out), 3 mugs of "Kitchenware" (out)."""
    from decimal import Decimal

    from campaigns.models import OrderLine, Product

    now = timezone.now()
    products = {sku: Product.objects.create(sku=sku, name=sku, category=category)
                for sku, category in (("KNIFE-1", "Kitchen > Knives"), ("PAN-1", "Kitchen"),
                                      ("MUG-1", "Kitchenware"))}
    for sku, quantity in (("KNIFE-1", 2), ("PAN-1", 1), ("MUG-1", 3)):
        customer = CustomerFactory(country="SE")
        order = OrderFactory(customer=customer, placed_at=now - dt.timedelta(days=3))
        OrderLine.objects.create(order=order, customer=customer, sku=sku, quantity=quantity,
                                 price=Decimal("10"), placed_at=order.placed_at,
                                 product=products[sku])


def test_a_marketer_builds_a_product_condition_with_the_catalogues_suggestions(
    browser, live_server, admin_user, shoppers
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    assert segment_count(PRODUCT_RULE) == 1

    # Given a logged-in marketer on the new segment page
    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/segment/add/")
    browser.find_element(By.ID, "id_username").send_keys(admin_user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.ID, "id_name").send_keys("Kitchen buyers")

    # When they pick "bought (items)" and start typing a category
    row = _add_condition(browser)
    Select(_in_row(browser, row, ".sb-field")).select_by_value("bought")
    Select(_in_row(browser, row, ".sb-target-kind")).select_by_value("category")
    _in_row(browser, row, ".sb-target").send_keys("Kit")

    # Then the catalogue's categories are suggested, each level of a path included
    def suggestions(b):
        target = _in_row(b, row, ".sb-target")
        options = b.find_elements(By.CSS_SELECTOR, f"#{target.get_attribute('list')} option")
        return [o.get_attribute("value") for o in options]

    _wait(browser, lambda b: suggestions(b) == ["Kitchen", "Kitchen > Knives", "Kitchenware"])
    # and the counts read in items
    assert "items" in _rows(browser)[row].text

    # When they finish "bought at least 2 items in Kitchen in the last 90 days"
    _in_row(browser, row, ".sb-target").send_keys("chen")
    Select(_in_row(browser, row, ".sb-window")).select_by_value("last_days")
    Select(_in_row(browser, row, ".sb-op")).select_by_visible_text("at least")
    _in_row(browser, row, ".sb-value").send_keys("2")

    # Then the live count is the server's: only the knife buyer
    _wait(browser, lambda b: b.find_elements(By.ID, "segment-count")
          and b.find_element(By.ID, "segment-count").text == "1")

    # When they save and reopen it, the builder shows the product condition again
    browser.find_element(By.NAME, "_continue").click()
    _wait(browser, lambda b: "/change/" in b.current_url)
    segment = Segment.objects.get(name="Kitchen buyers")
    assert segment.rule == {"all": [PRODUCT_RULE]}
    browser.get(f"{live_server.url}/admin/campaigns/segment/{segment.pk}/change/")
    _wait(browser, lambda b: len(_rows(b)) == 1)
    assert Select(_in_row(browser, 0, ".sb-target-kind")).first_selected_option.get_attribute(
        "value") == "category"
    assert _in_row(browser, 0, ".sb-target").get_attribute("value") == "Kitchen"
    assert _in_row(browser, 0, ".sb-window-days").get_attribute("value") == "90"
