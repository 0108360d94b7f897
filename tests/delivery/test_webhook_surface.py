"""The webhook surface: only the providers the site uses answer, an unauthenticated or
malformed post is a 4xx (never a 5xx), and the secret check covers every real backend."""
import base64
import re

import pytest
from anymail import urls as anymail_urls
from django.core import checks
from django.test import Client

from campaigns.checks import webhook_secret_check, webhook_signing_key_check
from campaigns.models import MessageEvent

pytestmark = pytest.mark.django_db

SECRET = "hooks:a-long-random-password"
AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(SECRET.encode()).decode()}
# Every webhook path anymail has, e.g. ("amazon_ses", "/anymail/amazon_ses/tracking/").
PATHS = sorted({
    (re.match(r"\^?(\w+)", str(p.pattern)).group(1),
     "/anymail/" + re.sub(r"\(_mime\)\?|[\^$]", "", str(p.pattern)))
    for p in anymail_urls.urlpatterns
})
BODIES = [("{}", "application/json"), ('{"Records": [{"x": null}]}', "application/json"),
          ("[1, 2", "application/json"), ("event=delivered", "application/x-www-form-urlencoded"),
          ("not json", "text/plain")]


@pytest.fixture
def site(settings):
    """A production site (DEBUG off) with a webhook secret, using the provider it is given."""
    settings.DEBUG = False
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}

    def uses(provider):
        settings.WEBHOOK_PROVIDERS = [provider]

    return uses


def client():
    return Client(raise_request_exception=False)


def test_the_webhooks_of_a_provider_the_site_does_not_use_are_not_found(site):
    site("postmark")

    codes = {path: client().post(path, "{}", content_type="application/json", **AUTH).status_code
             for provider, path in PATHS if provider != "postmark"}

    assert set(codes.values()) == {404}
    assert client().post("/anymail/postmark/tracking/", "{}", content_type="application/json",
                         **AUTH).status_code != 404


@pytest.mark.parametrize("provider,path", PATHS)
def test_an_unauthenticated_post_is_refused_with_a_4xx(site, provider, path):
    site(provider)

    codes = [client().post(path, body, content_type=kind).status_code for body, kind in BODIES]

    assert all(400 <= code < 500 for code in codes), codes
    assert not MessageEvent.objects.exists()


@pytest.mark.parametrize("provider,path", PATHS)
def test_an_authenticated_post_the_provider_never_sends_is_a_4xx_not_a_5xx(site, provider, path):
    site(provider)

    codes = [client().post(path, body, content_type=kind, **AUTH).status_code
             for body, kind in BODIES]

    assert all(code < 500 for code in codes), codes


def test_mailgun_without_its_signing_key_refuses_every_post(site, caplog):
    site("mailgun")

    response = client().post("/anymail/mailgun/tracking/", {"event": "delivered"}, **AUTH)

    assert response.status_code == 403
    assert "mailgun webhook refused: it is not configured" in caplog.text


def test_an_unsigned_amazon_ses_notification_is_refused(site):
    site("amazon_ses")
    notification = ('{"Type": "Notification", "MessageId": "1", "TopicArn": "arn:aws:sns:x", '
                    '"Message": "{\\"eventType\\": \\"Bounce\\"}"}')

    response = client().post("/anymail/amazon_ses/tracking/", notification,
                             content_type="text/plain")

    # 403 here, where boto3 (which SES sending needs) is not installed; else anymail's 400.
    assert response.status_code in (400, 403)
    assert not MessageEvent.objects.exists()


@pytest.mark.parametrize("backend", [
    "django.core.mail.backends.smtp.EmailBackend",
    "anymail.backends.amazon_ses.EmailBackend",
    "someone_elses.provider.EmailBackend",  # not known here: still a real backend
])
def test_every_real_backend_without_a_webhook_secret_is_an_error_outside_debug(settings, backend):
    settings.DEBUG, settings.EMAIL_BACKEND, settings.ANYMAIL = False, backend, {}

    assert [(p.id, p.level) for p in webhook_secret_check(None)] == [
        ("campaigns.E103", checks.ERROR)]


def test_a_backend_that_delivers_nothing_needs_no_webhook_secret(settings):
    settings.DEBUG, settings.ANYMAIL = False, {}
    settings.EMAIL_BACKEND = "campaigns.delivery.outbox.EmlFileBackend"
    settings.WEBHOOK_PROVIDERS = []

    assert webhook_secret_check(None) == []


def test_mailgun_webhooks_without_the_signing_key_stop_the_start_up(settings):
    settings.DEBUG, settings.WEBHOOK_PROVIDERS = False, ["mailgun"]
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}

    assert [p.id for p in webhook_signing_key_check(None)] == ["campaigns.E104"]
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": "key"}
    assert webhook_signing_key_check(None) == []
