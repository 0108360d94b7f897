"""When the provider does not simply accept: retry, give up, or never resend (RL-6, RL-7, RL-8).

Real anymail Postmark backend, real HTTP: a local server plays the provider's API, answering
as Postmark does, refusing, or dropping the connection after reading the request.
"""
import datetime as dt
import http.server
import json
import random
import smtplib
import socket
import threading
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from campaigns.admin.deliveries import message_summary
from campaigns.delivery import failures
from campaigns.models import Enrollment, Message
from campaigns.services.deliverability import message_event_process, message_event_store
from tests.factories import EventFactory
from tests.helpers import consenting_customer, run_tick

pytestmark = pytest.mark.django_db
ACCEPTED = "accept"  # Postmark's answer to a message it took


class FakePostmark(http.server.ThreadingHTTPServer):
    """Answers each POST /email with the next scripted reply; counts what it received."""

    def __init__(self):
        self.script, self.received = [], []
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/"


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append(body)
        reply = self.server.script.pop(0) if self.server.script else ACCEPTED
        if reply == ACCEPTED:
            reply = (200, {}, {"To": body["To"], "SubmittedAt": "2026-03-02T09:00:00.1234567Z",
                               "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
                               "ErrorCode": 0, "Message": "OK"})
        if reply == "drop":  # read the request, then hang up without a word
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply == "hang":  # never answer (until the test ends)
            self.server.release.wait(5)
            return
        status, headers, payload = reply
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def provider():
    server = FakePostmark()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with override_settings(
        EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        ANYMAIL={"POSTMARK_SERVER_TOKEN": "server-token", "POSTMARK_API_URL": server.url,
                 "REQUESTS_TIMEOUT": 0.5},
    ):
        yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def signup(clock):
    customer = consenting_customer(locale="en")
    EventFactory(customer=customer, type="signup", occurred_at=clock.now)
    return customer


def the_message(customer) -> Message:
    return Message.objects.get(customer=customer)


def test_a_429_waits_as_long_as_the_provider_asks_then_sends_once(
        provider, frozen_clock, welcome, policy):
    customer = signup(frozen_clock)
    provider.script = [(429, {"Retry-After": "600"}, {"ErrorCode": 429, "Message": "Slow down"})]

    run_tick(frozen_clock.now)

    message = the_message(customer)
    assert (message.state, message.reason, message.sent_at) == ("pending", "provider_rate_limited", None)
    assert message.due_at >= frozen_clock.now + dt.timedelta(seconds=600)
    assert "provider answered 429; next try in" in message.log.last().detail
    frozen_clock.advance(seconds=599)
    run_tick(frozen_clock.now)
    assert len(provider.received) == 1  # not before the provider said
    frozen_clock.set(message.due_at)
    run_tick(frozen_clock.now)

    message.refresh_from_db()
    assert message.state == "sent" and len(provider.received) == 2
    assert provider.received[1]["To"] == customer.email


def test_a_5xx_is_retried_later_with_backoff(provider, frozen_clock, welcome, policy):
    customer = signup(frozen_clock)
    provider.script = [(503, {}, {"ErrorCode": 100, "Message": "Maintenance"})]

    run_tick(frozen_clock.now)

    message = the_message(customer)
    assert (message.state, message.reason) == ("pending", "provider_unavailable")
    # First attempt: full jitter below 2 minutes.
    assert frozen_clock.now <= message.due_at <= frozen_clock.now + dt.timedelta(minutes=2)


def test_a_provider_that_cannot_be_reached_is_tried_again(frozen_clock, welcome, policy):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    customer = signup(frozen_clock)
    with override_settings(EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
                           ANYMAIL={"POSTMARK_SERVER_TOKEN": "t", "POSTMARK_API_URL": closed}):
        run_tick(frozen_clock.now)

    message = the_message(customer)
    assert (message.state, message.reason) == ("pending", "provider_unreachable")
    assert "could not connect" in message.log.last().detail


def test_a_refusal_fails_at_once_and_is_not_retried(provider, frozen_clock, welcome, policy):
    customer = signup(frozen_clock)
    provider.script = [(422, {}, {"ErrorCode": 300, "Message": "Invalid email request"})]

    run_tick(frozen_clock.now)
    frozen_clock.advance(hours=2)
    run_tick(frozen_clock.now)

    message = the_message(customer)
    assert (message.state, message.reason) == ("failed", "provider_error")
    assert len(provider.received) == 1


@pytest.mark.parametrize("reply, reason", [("drop", "provider_timeout"),
                                           ("hang", "provider_timeout")])
def test_a_hand_over_that_breaks_after_the_request_went_out_is_never_resent(
        provider, frozen_clock, welcome, policy, reply, reason):
    customer = signup(frozen_clock)
    provider.script = [reply]

    run_tick(frozen_clock.now)
    for _ in range(3):
        frozen_clock.advance(hours=1)
        run_tick(frozen_clock.now)

    message = the_message(customer)
    assert (message.state, message.reason) == ("unknown", reason)
    assert message.sent_at is not None  # it may have reached the customer: it holds its cap slot
    assert "not resent automatically" in message.log.get(state="unknown").detail
    assert len(provider.received) == 1
    # The journey goes on as if it was sent.
    assert Enrollment.objects.get(customer=customer).state == "completed"
    # The customer page says it in words.
    summary = message_summary(message, ZoneInfo("Europe/Stockholm"))
    assert summary.startswith("Outcome unknown: no answer from the email provider after the "
                              "message went out. It is not resent automatically")


def test_a_later_delivery_report_settles_an_unknown_send_as_sent(provider, frozen_clock, welcome, policy):
    customer = signup(frozen_clock)
    provider.script = ["drop"]
    run_tick(frozen_clock.now)
    message = the_message(customer)
    assert message.state == "unknown"

    event, _ = message_event_store(
        provider="postmark", event_id="delivery-1", event_type="delivered",
        occurred_at=frozen_clock.now, payload={"message_uuid": str(message.message_id),
                                               "recipient": customer.email})
    message_event_process(event_id=event.pk)

    message.refresh_from_db()
    assert message.state == "sent" and message.delivered_at == frozen_clock.now
    assert message.log.last().reason == "reconciled"


def test_one_messages_failure_does_not_lose_the_rest_of_the_batch(
        provider, frozen_clock, welcome, policy):
    first, second = signup(frozen_clock), signup(frozen_clock)
    provider.script = [(422, {}, {"ErrorCode": 300, "Message": "Invalid email request"}), ACCEPTED]

    run_tick(frozen_clock.now)

    states = dict(Message.objects.values_list("customer_id", "state"))
    assert sorted(states.values()) == ["failed", "sent"]
    assert set(states) == {first.pk, second.pk}


def test_after_the_last_attempt_a_retryable_failure_gives_up(provider, frozen_clock, welcome, policy):
    customer = signup(frozen_clock)
    provider.script = [(503, {}, {"ErrorCode": 100, "Message": "Maintenance"})] * 10

    for _ in range(8):
        run_tick(frozen_clock.now)
        frozen_clock.advance(hours=1)

    message = the_message(customer)
    assert (message.state, message.reason) == ("failed", "provider_unavailable")
    assert "gave up after 5 attempts" in message.log.last().detail
    assert len(provider.received) == 5


# The pure rules -----------------------------------------------------------------------

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("header, expected", [
    ("7", dt.timedelta(seconds=7)),
    ("Mon, 02 Mar 2026 09:02:00 GMT", dt.timedelta(minutes=2)),
    ("Mon, 02 Mar 2026 08:00:00 GMT", dt.timedelta(0)),  # in the past: now
    ("999999999", failures.RETRY_AFTER_CAP),
    ("soon", None), ("", None), (None, None),
])
def test_retry_after_reads_seconds_and_http_dates(header, expected):
    assert failures.retry_after(header, now=NOW) == expected


def test_the_backoff_is_jittered_capped_and_never_sooner_than_asked():
    rng = random.Random(4)
    delays = [failures.retry_delay(attempts=a, asked=None, rng=rng) for a in range(12)]

    assert all(dt.timedelta(0) <= d <= min(failures.BACKOFF_CAP, dt.timedelta(minutes=2 ** a))
               for a, d in enumerate(delays))
    assert failures.retry_delay(attempts=1, asked=dt.timedelta(hours=3), rng=rng) == dt.timedelta(hours=3)


@pytest.mark.parametrize("error, outcome", [
    (smtplib.SMTPDataError(451, b"Try again later"), failures.RETRY),
    (smtplib.SMTPDataError(554, b"Message rejected"), failures.FAILED),
    (smtplib.SMTPRecipientsRefused({"a@example.se": (550, b"No such user")}), failures.FAILED),
    (smtplib.SMTPConnectError(421, b"Too busy"), failures.RETRY),
    (ConnectionRefusedError(111, "Connection refused"), failures.RETRY),
    (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), failures.UNKNOWN),
    (TimeoutError("timed out"), failures.UNKNOWN),
    (RuntimeError("a bug in a backend"), failures.UNKNOWN),
])
def test_smtp_and_unexpected_failures(error, outcome):
    assert failures.send_failure(error, now=NOW).outcome == outcome
