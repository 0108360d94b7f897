"""The admin as a marketer sees it, in a real browser (headless Debian chromium): the
language switch, the home grouped by task in Swedish and Norwegian, on a desktop and a
phone, and the API keys refused."""
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

from campaigns.services.roles import MARKETERS
from tests.browser.conftest import needs_chromium, wait_for

pytestmark = needs_chromium
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


@pytest.fixture
def marketer(transactional_db):
    user = User.objects.create_user("maja", password="a-long-marketer-password", is_staff=True)
    user.groups.add(Group.objects.get(name=MARKETERS))
    return user


def _wait(browser, condition, timeout=10):
    return wait_for(browser, condition, timeout)


def _switch_to(browser, code):
    from selenium.webdriver.common.by import By

    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, f'.language-switch button[value="{code}"]').click()
    _wait(browser, lambda b: b.find_element(By.TAG_NAME, "html").get_attribute("lang") == code
          and b.find_element(By.TAG_NAME, "html") != old)


def _group_titles(browser) -> list[str]:
    from selenium.webdriver.common.by import By

    # textContent: the admin shows captions in capitals (CSS), the words are as written.
    return [e.get_attribute("textContent").strip()
            for e in browser.find_elements(By.CSS_SELECTOR, "#content-main caption a")]


def test_a_marketer_switches_the_admin_to_swedish_and_norwegian_and_cannot_open_api_keys(
        browser, live_server, marketer):
    from selenium.webdriver.common.by import By

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.ID, "id_username").send_keys("maja")
    browser.find_element(By.ID, "id_password").send_keys("a-long-marketer-password")
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    _wait(browser, lambda b: b.find_elements(By.ID, "group-customers"))
    assert _group_titles(browser)[0] == "Customers"

    _switch_to(browser, "sv")

    assert browser.current_url == f"{live_server.url}/admin/"
    assert browser.find_element(By.CSS_SELECTOR, "#content h1").text == "Vad vill du göra?"
    assert _group_titles(browser) == ["Kunder", "Kampanjer", "Innehåll", "Lojalitet", "Insikter",
                                      "Inställningar"]
    models = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#content-main th a")}
    assert {"Kunder", "Segment", "Kuponger", "Enkätsvar"} <= models
    assert not {"API-nycklar", "Användare", "Grupper"} & models
    browser.save_screenshot(str(SCREENSHOTS / "admin_home_sv.png"))

    # The choice stays with the browser: another page is in Swedish too, its sidebar grouped.
    browser.get(f"{live_server.url}/admin/campaigns/segment/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "sv"
    sidebar = [e.get_attribute("textContent").strip()
               for e in browser.find_elements(By.CSS_SELECTOR, "#nav-sidebar caption a")]
    assert sidebar[:2] == ["Kunder", "Kampanjer"]
    browser.save_screenshot(str(SCREENSHOTS / "admin_segments_sv.png"))

    # Typed by hand, the API keys are refused by the server.
    browser.get(f"{live_server.url}/admin/campaigns/apikey/")
    assert "403" in browser.page_source and "lcrm_" not in browser.page_source

    # Signed out, the login page is still in Swedish (the choice is the browser's cookie).
    browser.get(f"{live_server.url}/admin/")
    browser.find_element(By.CSS_SELECTOR, "#logout-form button").click()
    # Wait for the sign-out to finish (a signed-in staff user asking for the login page is
    # sent on to the home page) by the address alone: an element of the page being left
    # can fail even a staleness check ("Node … does not belong to the document").
    _wait(browser, lambda b: "/admin/logout/" in b.current_url)
    browser.get(f"{live_server.url}/admin/login/")
    assert browser.find_element(By.CSS_SELECTOR, 'label[for="id_username"]').text.startswith(
        "Användarnamn")
    assert browser.find_elements(By.CSS_SELECTOR, '.language-switch button[value="nb"]')
    browser.save_screenshot(str(SCREENSHOTS / "admin_login_sv.png"))
    browser.find_element(By.ID, "id_username").send_keys("maja")
    browser.find_element(By.ID, "id_password").send_keys("a-long-marketer-password")
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    _wait(browser, lambda b: b.find_elements(By.ID, "group-customers"))

    browser.set_window_size(390, 844)
    browser.get(f"{live_server.url}/admin/")
    _switch_to(browser, "nb")
    assert _group_titles(browser)[:3] == ["Kunder", "Kampanjer", "Innhold"]
    assert browser.find_element(By.CSS_SELECTOR, "#content h1").text == "Hva vil du gjøre?"
    browser.save_screenshot(str(SCREENSHOTS / "admin_home_nb_phone.png"))
    # Nothing wider than the phone: no sideways scrolling.
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1")

    # "View site" opens a real page, in the chosen language.
    view_site = browser.find_element(By.CSS_SELECTOR, "#user-tools a[href=\"/\"]")
    assert view_site.get_attribute("textContent") == "Vis nettsted"
    view_site.click()
    _wait(browser, lambda b: b.find_elements(By.TAG_NAME, "h1"))
    assert browser.current_url == f"{live_server.url}/"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "nb"
    assert "kundeklubb" in browser.find_element(By.TAG_NAME, "main").text
    browser.save_screenshot(str(SCREENSHOTS / "landing_nb_phone.png"))
