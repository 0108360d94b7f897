"""The marketer's workbench end to end, in a real browser (headless Debian chromium).

One marketer (the "Marketers" group, not a superuser), in Swedish, takes a win-back from
its starter to a sent email: the template on the layout, a preview for a real customer at
phone width, a test, a forecast, activation, the scheduler on a moved clock, the results
and the email as sent. Then two forecasts at once while the scheduler runs; then the pages
a marketer must not reach. The catalogs are being translated as this is written, so the
steps find things by ids, classes and URLs and check the language by <html lang>, not by
Swedish wording.
"""
import base64
import contextvars
import datetime as dt
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core import mail
from django.utils import timezone

from campaigns.models import (
    Campaign, Customer, EmailLayout, ForecastJob, FrequencyPolicy, Message, PrivacyRequest,
)
from campaigns.services.consent import consent_record
from campaigns.services.roles import ADMINS, MARKETERS, roles_ensure
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from campaigns.services.test_sends import TEST_HEADER
from tests.browser.conftest import needs_chromium, wait_for
from tests.factories import CustomerFactory

pytestmark = needs_chromium

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
PASSWORD = "a-long-marketer-password"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


# -- helpers ---------------------------------------------------------------------------

def _wait(browser, condition, timeout=20):
    return wait_for(browser, condition, timeout)


def _css(browser, css):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, css)


def _all(browser, css):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, css)


def _lang(browser) -> str:
    return _css(browser, "html").get_attribute("lang")


def _shot(browser, name: str, *, whole: bool = True) -> None:
    """The whole page, as the marketer would scroll through it; or only the window."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if not whole:
        browser.save_screenshot(str(SCREENSHOTS / f"workbench_{name}.png"))
        return
    metrics = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
    })
    (SCREENSHOTS / f"workbench_{name}.png").write_bytes(base64.b64decode(shot["data"]))


def _no_server_error(browser) -> None:
    source = browser.page_source
    assert "Server Error" not in source and "Traceback" not in source, browser.current_url


def _login(browser, live_server, username, path="/admin/"):
    browser.get(f"{live_server.url}/admin/login/?next={path}")
    _css(browser, "#id_username").send_keys(username)
    _css(browser, "#id_password").send_keys(PASSWORD)
    _css(browser, "#login-form [type=submit]").click()
    _wait(browser, lambda b: "/admin/login/" not in b.current_url)


def _switch_to(browser, code):
    old = _css(browser, "html")
    _css(browser, f'.language-switch button[value="{code}"]').click()
    _wait(browser, lambda b: _lang(b) == code and _css(b, "html") != old)


def _saved(browser) -> None:
    """Wait for the page after a save or a move: its success note, or its errors (fail)."""
    _wait(browser, lambda b: _all(b, ".messagelist .success, .errornote, .cp-confirm"))
    errors = [e.text for e in _all(browser, ".errorlist, .errornote")]
    assert not errors, errors


def _user(username, group, email):
    user = User.objects.create_user(username, email=email, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


# -- fixtures --------------------------------------------------------------------------

@pytest.fixture
def roles(transactional_db):
    """The two groups as services/roles.py defines them (a flushed database may lack them)."""
    roles_ensure()


@pytest.fixture
def marketer(roles):
    user = _user("maja", MARKETERS, "maja@example.com")
    assert not user.is_superuser
    return user


@pytest.fixture
def shop(transactional_db):
    """The shop's layout and rules: no quiet hours, so the test runs at any hour of the day."""
    EmailLayout.objects.create(name="Nordic Goods", is_default=True, company_name="Nordic Goods",
                               brand_color="#7a2e3b", footer_text="Öppet alla dagar 10–18.")
    FrequencyPolicy.objects.create(max_per_day=3)


def _lapsing_customer(*, days_since_order: float, **fields) -> Customer:
    customer = CustomerFactory(**fields)
    consent_record(customer=customer, granted=True, source="api")
    Customer.objects.filter(pk=customer.pk).update(
        last_order_at=timezone.now() - dt.timedelta(days=days_since_order))
    return customer


# -- 1. from a starter to a sent email ---------------------------------------------------

def test_a_marketer_in_swedish_takes_a_winback_from_its_starter_to_a_sent_email(
    browser, live_server, marketer, shop,
):
    from selenium.webdriver.support.ui import Select

    # Sigrid last ordered 89 days and 12 hours ago: she lapses (90 days) tomorrow.
    sigrid = _lapsing_customer(days_since_order=89.5, first_name="Sigrid", last_name="Berg",
                               email="sigrid@example.se", locale="sv")
    browser.set_window_size(1400, 1200)

    # Given the marketer, signed in, switching the admin to Swedish in its header
    _login(browser, live_server, "maja")
    _switch_to(browser, "sv")
    assert _lang(browser) == "sv"

    # When they start a campaign from the win-back starter
    browser.get(f"{live_server.url}/admin/campaigns/campaign/")
    _css(browser, ".object-tools a.addlink").click()
    _wait(browser, lambda b: b.current_url.endswith("/admin/campaigns/campaign/start/"))
    assert _lang(browser) == "sv"
    assert len(_all(browser, ".cp-starter")) >= 5
    _shot(browser, "starter_chooser")
    _css(browser, "button[name=starter][value=winback]").click()

    # Then its page opens as a draft with the inactivity trigger and its steps
    _wait(browser, lambda b: "/change/" in b.current_url)
    assert _lang(browser) == "sv"
    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.trigger == Campaign.Trigger.INACTIVITY
    assert _css(browser, "#id_inactivity_days").get_attribute("value") == "90"
    assert len(_all(browser, ".cp-journey .cp-box")) >= 3
    assert "{" not in _css(browser, "#campaign_form").text  # no JSON anywhere
    _shot(browser, "campaign_page")

    # When they open the first email's template from the campaign's page
    first_step = campaign.steps.order_by("position").first()
    template = first_step.template
    # (its box in the journey picture links to it)
    _css(browser, ".cp-journey .cp-box-send a.cp-box-template").click()
    _wait(browser, lambda b: _all(b, "#template-editor"))
    assert f"/admin/campaigns/messagetemplate/{template.pk}/change/" in browser.current_url
    assert _lang(browser) == "sv"

    # And write a line into its Swedish HTML, on the shop's layout
    sv_box = next(area for area in _all(browser, "textarea[name$='-html_body']")
                  if "__prefix__" not in area.get_attribute("name")
                  and _css(browser, "[name='%s-locale']" % area.get_attribute("name")[
                      :-len("-html_body")]).get_attribute("value") == "sv")
    Select(_css(browser, "#te-translation")).select_by_visible_text("sv")
    sv_box.send_keys("\n<p class=\"e2e\">Vi ses snart, {{ customer.first_name }}!</p>")

    # And preview it for a real customer, found by name, at phone width
    _css(browser, "#te-customer-search").send_keys("Sigrid")
    _wait(browser, lambda b: Select(_css(b, "#te-customer")).first_selected_option
          .get_attribute("value") == str(sigrid.pk))
    _css(browser, ".te-width-button[data-width=phone]").click()
    frame = lambda b: _css(b, "#te-frame")  # noqa: E731
    _wait(browser, lambda b: "Vi ses snart, Sigrid!" in (frame(b).get_attribute("srcdoc") or ""))
    _wait(browser, lambda b: frame(b).get_attribute("data-loaded") == "yes")
    assert frame(browser).size["width"] <= 400
    assert "sigrid@example.se" in _css(browser, "#te-for").text
    assert "Nordic Goods" in (frame(browser).get_attribute("srcdoc") or "")  # the layout
    browser.execute_script("arguments[0].scrollIntoView()", _css(browser, ".te-preview"))
    _shot(browser, "template_editor_phone_preview", whole=False)

    # And send themselves a test: it reaches the outbox marked as a test, and is no Message
    _css(browser, "#te-send").click()
    _wait(browser, lambda b: "maja@example.com" in _css(b, "#te-send-result").text)
    (test_email,) = mail.outbox
    assert test_email.to == ["maja@example.com"]
    assert test_email.extra_headers.get(TEST_HEADER) == "1"
    assert test_email.subject.startswith("[TEST]")
    assert "Vi ses snart, Sigrid!" in test_email.alternatives[0][0]
    assert not Message.objects.exists()

    # And save the template
    _css(browser, "input[name=_continue]").click()
    _saved(browser)
    assert "Vi ses snart" in template.translations.get(locale="sv").html_body

    # When they forecast the campaign with the button on its page
    browser.get(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    _css(browser, ".object-tools button.cp-tool-forecast").click()

    # Then the job's page gives its answer (Celery runs the task at once in tests)
    _wait(browser, lambda b: "/admin/campaigns/forecastjob/" in b.current_url)
    _wait(browser, lambda b: _all(b, ".forecast-campaign"))
    assert _lang(browser) == "sv"
    job = ForecastJob.objects.get()
    assert job.state == ForecastJob.State.DONE, job.error
    assert "Win-back" in _css(browser, ".forecast-campaign").text or campaign.name in \
        _css(browser, ".forecast-campaign").text
    assert "_" not in _css(browser, ".forecast-campaign").text  # no raw codes
    _shot(browser, "forecast_answer")
    assert len(mail.outbox) == 1 and not Message.objects.exists()  # the forecast sent nothing

    # When they activate it on its page (confirming if they are asked)
    browser.get(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    _css(browser, ".object-tools button.cp-tool-activate").click()
    _saved(browser)
    if _all(browser, ".cp-confirm"):
        _css(browser, ".cp-confirm button[type=submit]").click()
        _saved(browser)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE

    # And the scheduler runs on a clock two days on: Sigrid has lapsed and is emailed
    later = timezone.now() + dt.timedelta(days=2)
    report = scheduler_tick(now=later)
    assert report.enrolled == 1
    sent = messages_send_due(now=later, backend=LOCMEM)
    assert sent.sent == 1
    message = Message.objects.get()
    assert (message.campaign, message.customer, message.state) == (campaign, sigrid, "sent")
    real = mail.outbox[-1]
    assert real.to == ["sigrid@example.se"] and TEST_HEADER not in real.extra_headers
    assert "Vi ses snart, Sigrid!" in real.alternatives[0][0]

    # Then the campaign's page shows the sent email in its results
    browser.get(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    _no_server_error(browser)
    results = _css(browser, ".field-results_reach")
    browser.execute_script("arguments[0].scrollIntoView()", results)
    assert "1" in _css(browser, ".field-results_messages").text
    latest = _css(browser, ".field-latest_messages a")
    _shot(browser, "campaign_results")

    # And the email opens as it was sent, on a phone
    browser.set_window_size(390, 900)
    browser.get(latest.get_attribute("href"))
    _no_server_error(browser)
    assert _lang(browser) == "sv"
    phone = _css(browser, ".phone iframe")
    assert phone.is_displayed() and phone.size["width"] <= 390
    browser.switch_to.frame(phone)
    assert "Vi ses snart, Sigrid!" in _css(browser, "body").text
    browser.switch_to.default_content()
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 392
    _shot(browser, "message_as_sent")

    # Its step is counted as the campaign page counts them, from 1
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(marketer)
    # (and the forecast button's address answers only its POST, only for a campaign)
    forecast_url = reverse("admin:campaigns_campaign_forecast", args=[campaign.pk])
    assert client.get(forecast_url).status_code == 405
    assert client.post(reverse("admin:campaigns_campaign_forecast", args=[campaign.pk + 99])
                       ).status_code == 404
    assert ForecastJob.objects.count() == 1
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("admin:campaigns_message_as_sent", args=[message.pk])).content.decode()
    assert "(step 1)." in page


# -- 2. two forecasts at once while the scheduler runs ---------------------------------

class _NoWorker:
    """The task queue before a worker takes the job: the job waits, as in production."""

    @staticmethod
    def delay(*args):
        return None


def _forecast_from_the_list(browser, live_server, campaign) -> None:
    from selenium.webdriver.support.ui import Select

    browser.get(f"{live_server.url}/admin/campaigns/campaign/")
    _css(browser, f"input[name=_selected_action][value='{campaign.pk}']").click()
    Select(_css(browser, "select[name=action]")).select_by_value("forecast")
    _css(browser, "button[name=index]").click()
    _wait(browser, lambda b: "/admin/campaigns/forecastjob/" in b.current_url)
    _no_server_error(browser)


def test_two_forecasts_at_once_while_the_scheduler_runs_send_nothing_and_fail_nothing(
    browser, live_server, marketer, shop, monkeypatch,
):
    from django.core.signals import got_request_exception
    from django.db import connections

    from campaigns import tasks
    from campaigns.services import forecast as forecast_service
    from campaigns.services.campaign_drafts import campaign_create_from_starter
    from tests.factories import (
        CampaignFactory, EventFactory, JourneyStepFactory, TemplateTranslationFactory,
    )
    from tests.test_forecast import thank_you

    # A server error anywhere in the live server is recorded, whatever page showed it.
    server_errors = []

    def record(sender, request=None, **kwargs):
        server_errors.append(getattr(request, "path", "?"))

    got_request_exception.connect(record)
    monkeypatch.setattr(tasks, "forecast", _NoWorker)

    now = timezone.now()
    # Two drafts to forecast: a win-back whose customers lapsed in the last days, and a
    # thank-you for recent purchases.
    winback = campaign_create_from_starter(key="winback")
    lapsed = [_lapsing_customer(days_since_order=days, first_name="Lapsed")
              for days in (92, 95, 100)]
    thanks, buyers = thank_you(now, hours_ago=(30, 50, 200))
    # And a real, active welcome campaign the scheduler runs meanwhile.
    real = CampaignFactory(name="Welcome", slug="welcome", trigger_event_type="signup")
    JourneyStepFactory(campaign=real, template=TemplateTranslationFactory(
        subject="Välkommen, {{ customer.first_name }}!").template)
    newcomers = []

    def newcomer():
        customer = CustomerFactory(first_name="Ny", email=f"new{len(newcomers)}@example.se")
        consent_record(customer=customer, granted=True, source="api")
        EventFactory(customer=customer, type="signup",
                     occurred_at=timezone.now() - dt.timedelta(minutes=1))
        newcomers.append(customer)

    # Given the marketer, in Swedish, starting a forecast in each of two tabs
    _login(browser, live_server, "maja")
    _switch_to(browser, "sv")
    _forecast_from_the_list(browser, live_server, winback)
    first_tab = browser.current_window_handle
    browser.switch_to.new_window("tab")
    _forecast_from_the_list(browser, live_server, thanks)
    second_tab = browser.current_window_handle
    jobs = list(ForecastJob.objects.order_by("pk"))
    assert len(jobs) == 2 and all(j.state == ForecastJob.State.QUEUED for j in jobs)
    assert [j.campaign_ids for j in jobs] == [[winback.pk], [thanks.pk]]

    # When two workers take them at the same moment as the scheduler ticks and sends
    start = threading.Barrier(3, timeout=60)
    real_compute = forecast_service.forecast_compute

    def compute_together(**kwargs):
        start.wait()  # both replays and the real tick begin together
        return real_compute(**kwargs)

    monkeypatch.setattr(forecast_service, "forecast_compute", compute_together)
    errors, ticks = [], []
    done = threading.Event()

    def worker(job_id):
        try:
            forecast_service.forecast_job_run(job_id=job_id)
        except BaseException as error:  # noqa: BLE001 - asserted below
            errors.append(("forecast", error))
        finally:
            connections.close_all()

    def scheduler():
        try:
            start.wait()
            # Ticks and sends until both forecasts are done, a new customer each time.
            while not done.is_set() or len(ticks) < 3:
                if len(ticks) < 5:
                    newcomer()  # before the tick, so every newcomer is planned and sent
                moment = timezone.now()
                report = scheduler_tick(now=moment)
                result = messages_send_due(now=moment, backend=LOCMEM)
                ticks.append((report.enrolled, result.sent))
                done.wait(0.3)
        except BaseException as error:  # noqa: BLE001 - asserted below
            errors.append(("scheduler", error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(worker, j.pk))
               for j in jobs] + [threading.Thread(target=scheduler)]
    for thread in threads:
        thread.start()
    try:
        # Then each tab follows its job to its answer (the page refreshes itself)
        for tab in (first_tab, second_tab):
            browser.switch_to.window(tab)
            _wait(browser, lambda b: _all(b, ".forecast-campaign"), timeout=90)
            _no_server_error(browser)
            assert _lang(browser) == "sv"
    finally:
        for thread in threads[:2]:
            thread.join(120)
        done.set()
        threads[2].join(120)
        got_request_exception.disconnect(record)
    _shot(browser, "forecast_two_at_once")

    # Nothing failed: the jobs, the ticks, the server
    assert errors == [], errors
    assert server_errors == [], server_errors
    assert len(ticks) >= 3 and ticks[0] == (1, 1)
    for job in ForecastJob.objects.order_by("pk"):
        assert job.state == ForecastJob.State.DONE and job.progress == 100, job.error
    # The answers are the forecasts' own: the thank-you replayed its three purchases.
    thanks_job = ForecastJob.objects.get(campaign_ids=[thanks.pk])
    assert thanks_job.result["campaigns"][0]["past"]["sent"] == 3

    # And only the real campaign sent: to the newcomers, each once
    assert sum(sent for _, sent in ticks) == len(newcomers)
    assert sorted(e.to[0] for e in mail.outbox) == sorted(c.email for c in newcomers)
    assert set(Message.objects.values_list("campaign_id", flat=True)) == {real.pk}
    assert Message.objects.count() == len(newcomers)
    forecast_people = {c.email for c in lapsed + buyers}
    assert not forecast_people & {e.to[0] for e in mail.outbox}
    for campaign in (winback, thanks):
        campaign.refresh_from_db()
        assert campaign.status == Campaign.Status.DRAFT
        assert not campaign.enrollments.exists()


# -- 3. what a marketer may not reach ----------------------------------------------------

def test_a_marketer_cannot_reach_export_erase_or_api_keys_and_an_admin_can(
    browser, live_server, marketer, roles,
):
    from django.test import Client
    from django.urls import reverse
    from selenium.webdriver.support.ui import Select

    from campaigns.models import ApiKey

    admin = _user("ada", ADMINS, "ada@example.com")
    customer = CustomerFactory(first_name="Greta", email="greta@example.se")
    customers = reverse("admin:campaigns_customer_changelist")
    forbidden_pages = [reverse("admin:campaigns_apikey_changelist"),
                       reverse("admin:campaigns_apikey_add"),
                       reverse("admin:campaigns_privacyrequest_changelist")]

    # In the browser, the marketer finds no export or erase among the customer actions
    _login(browser, live_server, "maja", customers)
    actions = [o.get_attribute("value") for o in Select(_css(browser, "select[name=action]")).options]
    assert "withdraw_marketing_consent" in actions  # the list's actions are there
    assert "export_personal_data" not in actions and "erase_personal_data" not in actions
    # … and the API keys and the privacy trail typed by hand are refused
    for path in forbidden_pages:
        browser.get(f"{live_server.url}{path}")
        assert "403" in browser.title, path
        # A page in the admin's language that says why and leads back, not a bare code
        assert _all(browser, "#no-access") and _lang(browser) == "en"
        assert _css(browser, "main a").get_attribute("href") == f"{live_server.url}/admin/"
    _shot(browser, "marketer_refused", whole=False)
    browser.get(f"{live_server.url}/admin/")
    assert "/admin/campaigns/apikey/" not in browser.page_source  # not offered either

    # A direct POST of each action is refused too: nothing exported, nothing erased
    client = Client()
    client.force_login(marketer)
    exported = client.post(customers, {"action": "export_personal_data",
                                       "_selected_action": [customer.pk]})
    assert "attachment" not in exported.get("Content-Disposition", "")
    assert "greta@example.se" not in exported.content.decode()
    erased = client.post(customers, {"action": "erase_personal_data", "post": "yes",
                                     "_selected_action": [customer.pk]})
    assert erased.status_code in (200, 302, 403)
    customer.refresh_from_db()
    assert customer.erased_at is None and not PrivacyRequest.objects.exists()
    for path in forbidden_pages:
        assert client.get(path).status_code == 403, path
    assert client.post(reverse("admin:campaigns_apikey_add"), {"name": "mine"}).status_code == 403
    assert not ApiKey.objects.exists()

    # An Admins user can: the actions are offered, the pages open, the export downloads
    browser.get(f"{live_server.url}/admin/")
    _css(browser, "#logout-form button").click()
    _wait(browser, lambda b: not _all(b, "#logout-form"))
    _login(browser, live_server, "ada", customers)
    actions = [o.get_attribute("value") for o in Select(_css(browser, "select[name=action]")).options]
    assert {"export_personal_data", "erase_personal_data"} <= set(actions)
    for path in forbidden_pages:
        browser.get(f"{live_server.url}{path}")
        assert "403" not in browser.title and not _all(browser, "#no-access"), path
        _no_server_error(browser)
    admin_client = Client()
    admin_client.force_login(admin)
    exported = admin_client.post(customers, {"action": "export_personal_data",
                                             "_selected_action": [customer.pk]})
    assert exported.status_code == 200
    assert "attachment" in exported["Content-Disposition"]
    assert "greta@example.se" in exported.content.decode()
    admin_client.post(customers, {"action": "erase_personal_data", "post": "yes",
                                  "_selected_action": [customer.pk]})
    customer.refresh_from_db()
    assert customer.erased_at is not None
    assert PrivacyRequest.objects.count() == 2  # the export and the erasure, on record
