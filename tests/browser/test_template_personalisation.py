"""Content by segment in the template editor, in a real browser: the preview offers both
versions as a labelled toggle, and notes what does not stop the email."""
import pytest

from campaigns.models import MessageTemplate, Segment
from campaigns.services.demo import demo_load
from tests.browser.conftest import needs_chromium, wait_for

pytestmark = needs_chromium


def _srcdoc(browser) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, "te-frame").get_attribute("srcdoc") or ""


@pytest.fixture
def demo(transactional_db):
    demo_load(customers=3)


def test_a_marketer_sees_both_versions_of_content_by_segment(browser, live_server, admin_user,
                                                           demo):
    from selenium.webdriver.common.by import By

    Segment.objects.create(name="VIP", rule={})
    template = MessageTemplate.objects.get(name="Win-back offer")
    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/messagetemplate/"
                f"{template.pk}/change/")
    browser.find_element(By.ID, "id_username").send_keys(admin_user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(browser, lambda b: "Astrid" in _srcdoc(b), 15)

    # When they add a block for one segment's members, and one about a missing segment
    box = browser.find_element(By.NAME, "translations-0-html_body")
    box.send_keys('\n{% if in_segment("VIP") %}<p>Members only</p>{% else %}<p>Everyone else'
                  '</p>{% endif %}{% if in_segment("Gold") %}gold{% endif %}')

    # Then the preview shows the members' version, with a toggle to the other one
    wait_for(browser, lambda b: "Members only" in _srcdoc(b), 15)
    buttons = browser.find_elements(By.CSS_SELECTOR, "#te-versions .te-version-button")
    assert [b.text for b in buttons] == ["Member of “Gold”, “VIP”", "Not a member of “Gold”, “VIP”"]
    assert buttons[0].get_attribute("aria-pressed") == "true"
    notes = browser.find_element(By.ID, "te-notes").text
    assert "no segment called “Gold”" in notes

    buttons[1].click()
    wait_for(browser, lambda b: "Everyone else" in _srcdoc(b), 15)
    assert "Members only" not in _srcdoc(browser)
    assert buttons[1].get_attribute("aria-pressed") == "true"
