"""The template editor in a real browser (headless Debian chromium through Selenium): a
marketer edits a demo template, watches the live preview follow, switches to phone width
and sends themselves a test."""
from pathlib import Path

import pytest
from django.core import mail

from campaigns.models import Message, MessageTemplate, TemplateTranslation
from campaigns.services.demo import demo_load
from tests.browser.conftest import needs_chromium, wait_for

pytestmark = needs_chromium

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _wait(browser, condition, timeout=15):
    return wait_for(browser, condition, timeout)


def _shot(browser, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / name))


def _srcdoc(browser) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, "te-frame").get_attribute("srcdoc") or ""


@pytest.fixture
def demo(transactional_db):
    demo_load(customers=3)


def test_a_marketer_edits_a_template_sees_the_live_preview_and_sends_a_test(
    browser, live_server, admin_user, demo
):
    from selenium.webdriver.common.by import By

    template = MessageTemplate.objects.get(name="Win-back offer")
    saved = TemplateTranslation.objects.get(template=template, locale="en").html_body

    # Given a logged-in marketer on a demo template's page
    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/messagetemplate/"
                f"{template.pk}/change/")
    browser.find_element(By.ID, "id_username").send_keys(admin_user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait(browser, lambda b: "Astrid" in _srcdoc(b))
    assert "COMEBACK10" in _srcdoc(browser)
    assert "Unsubscribe" in _srcdoc(browser)  # the legal footer, as in the email

    # When they type into the HTML box
    box = browser.find_element(By.NAME, "translations-0-html_body")
    box.send_keys("\n<p>See you soon, {{ customer.first_name }}!</p>")

    # Then the preview shows the unsaved text, rendered
    _wait(browser, lambda b: "See you soon, Astrid!" in _srcdoc(b))
    _wait(browser, lambda b: b.find_element(By.ID, "te-frame").get_attribute("data-loaded") == "yes")
    editor = browser.find_element(By.ID, "template-editor")
    browser.execute_script("arguments[0].scrollIntoView()", editor.find_element(
        By.CSS_SELECTOR, ".te-preview"))
    browser.set_window_size(1400, 1500)
    _shot(browser, "template_editor.png")

    # A typo is named next to the HTML box, with its line
    box.send_keys("\n{{ custmer.first_name }}")
    _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, ".te-problems[data-part=html] li"))
    problem = browser.find_element(By.CSS_SELECTOR, ".te-problems[data-part=html] li").text
    assert "custmer" in problem and "customer" in problem and problem.startswith("Line ")
    # … and goes away once fixed
    for _ in range(len("{{ custmer.first_name }}") + 1):
        box.send_keys("\b")
    _wait(browser, lambda b: not b.find_elements(By.CSS_SELECTOR, ".te-problems"))

    # When they switch to phone width
    browser.find_element(By.CSS_SELECTOR, ".te-width-button[data-width=phone]").click()
    _wait(browser, lambda b: b.find_element(By.ID, "te-frame").size["width"] <= 380)
    _wait(browser, lambda b: b.find_element(By.ID, "te-frame").get_attribute("data-loaded") == "yes")
    browser.execute_script("arguments[0].scrollIntoView()", editor.find_element(
        By.CSS_SELECTOR, ".te-preview"))
    _shot(browser, "template_phone.png")

    # And send themselves a test
    browser.find_element(By.ID, "te-send").click()
    _wait(browser, lambda b: "A test was sent to admin@example.com"
          in b.find_element(By.ID, "te-send-result").text)
    browser.execute_script("arguments[0].scrollIntoView()",
                           browser.find_element(By.CSS_SELECTOR, ".te-test"))
    _shot(browser, "template_test_sent.png")
    (email,) = mail.outbox
    assert email.subject.startswith("[TEST] ")
    assert "See you soon, Astrid!" in email.alternatives[0][0]
    assert not Message.objects.exists()
    # Nothing was saved by previewing or testing.
    assert TemplateTranslation.objects.get(template=template, locale="en").html_body == saved

    # The email as a mail app shows it
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = SCREENSHOTS / "email_rendered.html"
    page.write_text(email.alternatives[0][0], encoding="utf-8")
    browser.set_window_size(700, 1100)
    browser.get(page.as_uri())
    _shot(browser, "email_rendered.png")


def test_the_editor_fits_a_phone(browser, live_server, admin_user, demo):
    from selenium.webdriver.common.by import By

    template = MessageTemplate.objects.get(name="Welcome")
    browser.set_window_size(390, 1600)
    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/messagetemplate/"
                f"{template.pk}/change/")
    browser.find_element(By.ID, "id_username").send_keys(admin_user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait(browser, lambda b: "Astrid" in _srcdoc(b))
    browser.find_element(By.CSS_SELECTOR, ".te-width-button[data-width=phone]").click()
    browser.execute_script("arguments[0].scrollIntoView()",
                           browser.find_element(By.CSS_SELECTOR, ".te-preview"))

    # Nothing wider than the screen: no sideways scrolling.
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1")
    _shot(browser, "template_editor_on_a_phone.png")


def test_a_new_template_on_the_default_layout_previews_as_it_is_written(
    browser, live_server, admin_user, demo
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/messagetemplate/add/")
    browser.find_element(By.ID, "id_username").send_keys(admin_user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # The default layout is chosen for a new template
    assert Select(browser.find_element(By.ID, "id_layout")).first_selected_option.text == "Nordic Goods"
    browser.find_element(By.ID, "id_name").send_keys("Spring news")
    Select(browser.find_element(By.ID, "id_purpose")).select_by_value("marketing")

    browser.find_element(By.CSS_SELECTOR, "#translations-group .add-row a").click()
    browser.find_element(By.NAME, "translations-0-locale").send_keys("sv")
    browser.find_element(By.NAME, "translations-0-subject").send_keys("Våren är här")
    html = browser.find_element(By.NAME, "translations-0-html_body")
    html.send_keys("<h1>Hej ")
    # A click on a variable puts it where the cursor is
    browser.find_element(By.CSS_SELECTOR, ".te-insert[data-insert='{{ customer.first_name }}']").click()
    html.send_keys("!</h1>\n<p>Nya färger i butiken.</p>")
    browser.find_element(By.NAME, "translations-0-text_body").send_keys("Hej!")

    _wait(browser, lambda b: "Hej Astrid!</h1>" in _srcdoc(b))
    assert "Avregistrera dig" in _srcdoc(browser)  # the footer in the draft's language
    browser.find_element(By.NAME, "_continue").click()
    _wait(browser, lambda b: "/change/" in b.current_url)
    template = MessageTemplate.objects.get(name="Spring news")
    assert template.layout.name == "Nordic Goods"
    assert template.translations.get().html_body.startswith("<h1>Hej {{ customer.first_name }}!</h1>")

    # The layout's page shows every email's frame
    browser.get(f"{live_server.url}/admin/campaigns/emaillayout/{template.layout_id}/change/")
    brand = browser.find_element(By.ID, "id_brand_color")
    brand.clear()
    brand.send_keys("#7a2e3b")
    browser.find_element(By.NAME, "_continue").click()
    _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, ".messagelist .success"))
    _wait(browser, lambda b: "#7a2e3b" in (b.find_element(
        By.CSS_SELECTOR, ".te-layout-frame").get_attribute("srcdoc") or ""))
    frame = browser.find_element(By.CSS_SELECTOR, ".te-layout-frame")
    browser.execute_script("arguments[0].scrollIntoView()", frame)
    # Loaded again, and waited for, so the picture is not taken before it is painted.
    browser.execute_async_script(
        "var frame = arguments[0], done = arguments[1];"
        "frame.addEventListener('load', function () { done(true); }); frame.srcdoc = frame.srcdoc;",
        frame)
    _shot(browser, "email_layout.png")


def test_on_a_wide_screen_the_preview_sits_beside_the_texts(browser, live_server, admin_user, demo):
    from selenium.webdriver.common.by import By

    template = MessageTemplate.objects.get(name="Post-purchase survey (NPS)")
    browser.set_window_size(1920, 1200)
    browser.get(f"{live_server.url}/admin/login/?next=/admin/campaigns/messagetemplate/"
                f"{template.pk}/change/")
    browser.find_element(By.ID, "id_username").send_keys(admin_user.username)
    browser.find_element(By.ID, "id_password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait(browser, lambda b: "Astrid" in _srcdoc(b))
    _wait(browser, lambda b: b.find_element(By.ID, "te-frame").get_attribute("data-loaded") == "yes")

    box = browser.find_element(By.NAME, "translations-0-html_body")
    preview = browser.find_element(By.ID, "te-frame")
    assert preview.location["x"] > box.location["x"] + box.size["width"]
    # Scrolled down to the last translation, the preview is still in view.
    last = browser.find_elements(By.CSS_SELECTOR, "textarea[name$='-html_body']")[-2]
    browser.execute_script("arguments[0].scrollIntoView()", last)
    frame = browser.execute_script("var r = arguments[0].getBoundingClientRect();"
                                   "return [r.top, r.bottom, window.innerHeight];", preview)
    assert frame[0] < frame[2] and frame[1] > 0  # some of it on screen
    _shot(browser, "template_editor_wide.png")
