"""The public pages with the broker down: the visitor gets the normal answer, the request is
stored, and its email goes once the broker is back (the sweep beat runs every minute)."""
import time

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client

from campaigns.models import PrivacyRequest, SubscriptionRequest
from campaigns.tasks import public_requests_sweep
from campaigns.tokens import unsubscribe_token
from loyaltycrm.celery import app
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
# Nothing listens on port 1 of this machine: every connection is refused.
UNREACHABLE = "redis://127.0.0.1:1/0"


def broker_set(url: str, *, eager: bool = False, options: dict | None = None) -> tuple:
    """Point the Celery app at `url` (settings may have set a separate write URL too);
    returns what to give back to it."""
    conf = app.conf
    saved = (conf.broker_url, conf.broker_write_url, conf.task_always_eager,
             conf.broker_transport_options)
    app.close()  # drop a pool that points at the old broker
    conf.broker_url, conf.broker_write_url, conf.task_always_eager = url, url, eager
    conf.broker_transport_options = options or {}
    return saved


def broker_restore(saved: tuple) -> None:
    app.close()
    conf = app.conf
    (conf.broker_url, conf.broker_write_url, conf.task_always_eager,
     conf.broker_transport_options) = saved


@pytest.fixture
def broker_down():
    """Tasks really go to a broker, and that broker cannot be reached; `.back()` restores
    the test setting (tasks run at once, as a worker would take them)."""
    saved = broker_set(UNREACHABLE)

    class Broker:
        @staticmethod
        def back():
            broker_restore(saved)

    yield Broker
    broker_restore(saved)


def test_a_subscription_during_a_broker_outage_is_answered_and_confirmed_later(
        broker_down, frozen_clock, django_capture_on_commit_callbacks):
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/subscribe?lang=sv",
                                 {"email": "ny@example.se", "agree": "on", "locale": "sv"})

    assert response.status_code == 200
    assert "inkorg" in response.content.decode().lower()  # "check your inbox", in Swedish
    assert time.monotonic() - started < 5  # one try, no retry loop in the request
    assert SubscriptionRequest.objects.get().sent_at is None
    assert mail.outbox == []

    broker_down.back()
    frozen_clock.advance(seconds=30)
    assert public_requests_sweep() == {"confirmations": 0, "exports": 0}  # its task may be on the way
    frozen_clock.advance(seconds=60)
    assert public_requests_sweep() == {"confirmations": 1, "exports": 0}
    assert public_requests_sweep() == {"confirmations": 0, "exports": 0}

    [email] = mail.outbox
    assert email.to == ["ny@example.se"]
    assert SubscriptionRequest.objects.get().sent_at is not None


def test_an_export_asked_for_during_a_broker_outage_is_emailed_once_the_broker_is_back(
        broker_down, frozen_clock, django_capture_on_commit_callbacks):
    customer = CustomerFactory(email="nils@example.se")
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(f"/privacy/{unsubscribe_token(customer_id=customer.pk)}/export")

    assert response.status_code == 200
    assert PrivacyRequest.objects.get().completed_at is None
    assert mail.outbox == []

    broker_down.back()
    frozen_clock.advance(minutes=2)
    public_requests_sweep()
    public_requests_sweep()

    [email] = mail.outbox
    assert email.to == ["nils@example.se"]
    assert PrivacyRequest.objects.get().completed_at is not None


def test_with_a_real_broker_up_the_request_is_queued_at_once(tmp_path, django_capture_on_commit_callbacks):
    folder = tmp_path / "queue"
    folder.mkdir()
    saved = broker_set("filesystem://", options={
        "data_folder_in": str(folder), "data_folder_out": str(folder),
        "control_folder": str(tmp_path / "control")})
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post("/subscribe", {"email": "up@example.se", "agree": "on"})
    finally:
        broker_restore(saved)

    assert response.status_code == 200
    [queued] = list(folder.iterdir())
    assert "campaigns.subscription_confirmation_send" in queued.read_text()


def test_with_the_broker_up_the_sweep_finds_nothing_to_send_again(
        frozen_clock, django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/subscribe", {"email": "up@example.se", "agree": "on"})
        Client().post(f"/privacy/{unsubscribe_token(customer_id=customer.pk)}/export")
    assert len(mail.outbox) == 2

    frozen_clock.advance(minutes=10)

    assert public_requests_sweep() == {"confirmations": 0, "exports": 0}
    assert len(mail.outbox) == 2


def test_beat_runs_the_sweep_every_minute():
    entry = django_settings.CELERY_BEAT_SCHEDULE["public-requests-sweep"]

    assert entry["task"] == public_requests_sweep.name
    assert entry["schedule"] == 60.0
