"""Hand over: render each decided message and give it to the email backend, many at once.

A provider call takes 50–200 ms, so one call at a time caps a process at 5–20 emails/s.
`HandOver` keeps up to `in_flight` calls running on a thread pool, each thread with its
own backend connection (an HTTP session or an SMTP connection is not shared between
threads). Threads rather than gevent: the work in a call is waiting on a socket, which
releases the GIL, and threads need no monkeypatching of the database driver or of
Celery's pool. With `in_flight == 1` the call runs on the caller's thread, which is what a
local backend (the .eml outbox, anymail's test backend) wants.

No transaction is open here and nothing here touches the database.
"""
import logging
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import get_connection

from campaigns.delivery.failures import send_failure
from campaigns.delivery.messages import email_build
from campaigns.exceptions import TemplateRenderError
from campaigns.models import Message
from campaigns.services.rendering import message_render

logger = logging.getLogger(__name__)

SENT = "sent"
TEMPLATE_ERROR = "template_error"
# Marked `sending` but never handed over (the send call was stopped): back to pending.
RELEASED = "released"
GATHER_SECONDS = 0.02


def site_domain() -> str:
    return settings.SITE_URL.split("://")[-1].split("/")[0].split(":")[0] or "localhost"


def email_prepare(message: Message, *, now, domain: str):
    """The message rendered and built: (email, None), or (None, outcome) for a template
    that cannot be rendered for this customer."""
    try:
        rendered, locale, unsubscribe_url = message_render(message=message)
    except TemplateRenderError as exc:
        # The reason says which: an error, too slow or too large (exceptions.py).
        return None, (message, TEMPLATE_ERROR, {"detail": str(exc), "reason": exc.reason})
    email = email_build(
        rendered=rendered, to=message.customer.email,
        from_email=settings.DEFAULT_FROM_EMAIL, sent_at=now,
        message_uuid=str(message.message_id), domain=domain,
        unsubscribe_url=unsubscribe_url, tags=[message.campaign.slug],
    )
    message.rendered_subject, message.rendered_locale = rendered["subject"], locale
    return email, None


class HandOver:
    """Provider calls in flight for one send call; `close()` waits for them all."""

    def __init__(self, *, in_flight: int, backend: str | None = None, now):
        self.in_flight = max(1, in_flight)
        self.backend = backend
        self.now = now
        self._local = threading.local()
        self._connections = []
        self._lock = threading.Lock()
        self._pool = (ThreadPoolExecutor(max_workers=self.in_flight, thread_name_prefix="handover")
                      if self.in_flight > 1 else None)
        self._running = set()
        self._done = []

    def free(self) -> int:
        """Calls that can start now; on the caller's thread there is no limit (each call
        ends before the next starts)."""
        if self._pool is None:
            return 1 << 30
        return self.in_flight - len(self._running)

    def outcome_add(self, outcome: tuple) -> None:
        """An outcome settled without a call (a template that cannot be rendered)."""
        self._done.append(outcome)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def submit(self, message: Message, email) -> None:
        if self._pool is None:
            self._done.append(self._call(message, email))
        else:
            self._running.add(self._pool.submit(self._call, message, email))

    def collect(self, *, block: bool, timeout: float = 0.05) -> list[tuple]:
        """Outcomes that have come back (waiting up to `timeout` for a first one if `block`).

        After a wait, the calls that end within GATHER_SECONDS more are taken too: their
        outcomes are then recorded in one transaction rather than one each.
        """
        if self._running:
            done, self._running = wait(self._running, timeout=timeout if block else 0,
                                       return_when=FIRST_COMPLETED)
            if block and done and self._running:
                more, self._running = wait(self._running, timeout=GATHER_SECONDS)
                done |= more
            self._done.extend(future.result() for future in done)
        outcomes, self._done = self._done, []
        return outcomes

    def close(self) -> list[tuple]:
        """Wait for every call in flight; close the connections; the last outcomes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        outcomes = self.collect(block=False)
        for connection in self._connections:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - a broken connection at the end loses nothing
                logger.warning("closing an email connection failed", exc_info=True)
        return outcomes

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = get_connection(self.backend)
            connection.open()
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _connection_drop(self) -> None:
        """After a failure the connection may be half-broken (an SMTP session in the middle
        of a command): the thread's next call opens a new one."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                pass

    def _call(self, message: Message, email) -> tuple:
        """One hand-over; never raises: the outcome says what happened."""
        try:
            email.connection = self._connection()
            email.send()
        except SoftTimeLimitExceeded:
            # The task's time is up (on the caller's thread): not a provider failure. The
            # row stays `sending`; it may be at the provider, so the tick settles it.
            self._connection_drop()
            raise
        except Exception as exc:  # classified: retry, unknown or failed (delivery/failures.py)
            self._connection_drop()
            failure = send_failure(exc, now=self.now)
            logger.warning("message %s: %s (%s)", message.pk, failure.reason, failure.outcome)
            return message, failure.outcome, {
                "reason": failure.reason, "detail": failure.detail,
                "retry_after": failure.retry_after}
        status = getattr(email, "anymail_status", None)
        provider_id = (status.message_id if status is not None else None) or ""
        return message, SENT, {"provider_message_id": str(provider_id),
                               "subject": message.rendered_subject,
                               "locale": message.rendered_locale}
