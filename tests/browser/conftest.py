"""A real browser for the UI tests: headless Debian chromium through Selenium."""
import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

needs_chromium = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)) or not shutil.which(CHROMIUM),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1400,1200"):
        options.add_argument(argument)
    # An explicit driver path: Selenium Manager never tries to download anything.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


def wait_for(browser, condition, timeout=15):
    """Wait until `condition(browser)` is true. An element of a page the browser is leaving
    (a redirect, a form post, a language switch) goes stale or missing, and chromedriver
    may answer a question about it with an inspector error ("Node with given id does not
    belong to the document", a plain WebDriverException): look again until the timeout."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    # WebDriverException covers the stale and missing elements too.
    return WebDriverWait(browser, timeout, ignored_exceptions=(WebDriverException,)).until(
        condition)
