"""A Swedish customer on a phone follows the unsubscribe link of their email."""
from django.core import mail

from campaigns.models import Customer
from tests.browser.conftest import needs_chromium
from tests.factories import EventFactory
from tests.helpers import consenting_customer, run_tick

pytestmark = needs_chromium


def test_a_swedish_customer_on_a_phone_unsubscribes_in_swedish(
        browser, live_server, transactional_db, welcome, policy, frozen_clock):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    customer = consenting_customer(locale="sv-SE")
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    run_tick(frozen_clock.now)
    link = mail.outbox[0].extra_headers["List-Unsubscribe"].strip("<>")
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    browser.set_window_size(390, 844)  # a phone

    browser.get(f"{live_server.url}{path}")

    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "sv"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Dina e-postinställningar"
    # Nothing wider than the phone's screen: no sideways scrolling.
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")
    browser.find_element(By.XPATH, "//button[text()='Avsluta alla utskick']").click()

    # Wait for the answer page (the click only starts the navigation).
    WebDriverWait(browser, 10).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Du är avregistrerad"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Du är avregistrerad"
    assert Customer.objects.get(pk=customer.pk).marketing_consent is False

