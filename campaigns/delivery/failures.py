"""What a failed hand-over to the email provider means for the message (pure).

compliance.md RL-6 and RL-8, and listmonk's triple sends (knadh/listmonk#1109): a send is
retried only when the provider cannot have accepted it — it answered 429 or 5xx, or the
connection was never made. A failure after the request may have reached the provider (a
read timeout, a connection dropped mid-request, an unreadable 2xx answer) is *unknown*
and never retried automatically: a marketing email twice is worse than once missing, and
a later webhook can still tell what happened (RL-7). Anything the provider refused, and
anything anymail calls a bug on our side (an invalid address, an unsupported feature), is
a failure without retry.
"""
import dataclasses
import datetime as dt
import random
import smtplib
import socket
from email.utils import parsedate_to_datetime

import requests
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused

RETRY = "retry"
UNKNOWN = "unknown"
FAILED = "failed"

BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_CAP = dt.timedelta(hours=1)
# A provider asking for more than this is treated as this; the message's deadline
# still decides whether a later try is worth making.
RETRY_AFTER_CAP = dt.timedelta(hours=24)


@dataclasses.dataclass(frozen=True)
class SendFailure:
    outcome: str  # RETRY, UNKNOWN or FAILED
    reason: str  # short, for the message row and the "why" page
    detail: str  # a sentence for the log; never the address
    retry_after: dt.timedelta | None = None  # what the provider asked for, if anything


def _causes(error: BaseException):
    """The error and what led to it (urllib3 keeps the first cause in MaxRetryError.reason)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        reason = getattr(error, "reason", None)
        error = error.__cause__ or error.__context__ or (
            reason if isinstance(reason, BaseException) else None)


def _never_connected(error: BaseException) -> bool:
    """True when no byte of the request can have reached the provider."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    for cause in _causes(error):
        name = type(cause).__name__
        # urllib3's NewConnectionError / NameResolutionError: the TCP connection was never
        # made. (A ProtocolError or a reset is not this: the request may have gone out.)
        if name in ("NewConnectionError", "NameResolutionError", "ConnectTimeoutError"):
            return True
        if isinstance(cause, (ConnectionRefusedError, socket.gaierror)):
            return True
    return False


def retry_after(value: str | None, *, now: dt.datetime) -> dt.timedelta | None:
    """An HTTP Retry-After header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(dt.timedelta(seconds=int(value)), RETRY_AFTER_CAP)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return min(max(moment - now, dt.timedelta(0)), RETRY_AFTER_CAP)


def _api_failure(error: AnymailAPIError, *, now: dt.datetime) -> SendFailure:
    status = getattr(error, "status_code", None)
    response = getattr(error, "response", None)
    asked = retry_after(response.headers.get("Retry-After") if response is not None else None,
                        now=now)
    if status == 429:
        return SendFailure(RETRY, "provider_rate_limited", "provider answered 429", asked)
    if status is not None and status >= 500:
        return SendFailure(RETRY, "provider_unavailable", f"provider answered {status}", asked)
    if status is not None and 200 <= status < 300:
        # Accepted, but the answer could not be read: it may well be on its way.
        return SendFailure(UNKNOWN, "provider_answer_unreadable",
                           f"provider answered {status} with a body anymail could not read")
    if status is not None:
        return SendFailure(FAILED, "provider_error", f"provider answered {status}")
    if _never_connected(error):
        return SendFailure(RETRY, "provider_unreachable",
                           f"could not connect to the provider ({_cause_name(error)})")
    return SendFailure(UNKNOWN, "provider_timeout",
                       f"no answer from the provider after sending ({_cause_name(error)}); "
                       "not resent automatically")


def _cause_name(error: BaseException) -> str:
    names = [type(cause).__name__ for cause in _causes(error)]
    return names[1] if len(names) > 1 else names[0]


def _smtp_failure(error: BaseException) -> SendFailure:
    name = type(error).__name__
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return SendFailure(FAILED, "rejected", "the mail server refused the recipient")
    if isinstance(error, smtplib.SMTPResponseException):
        # 4xx: "not now" (nothing was accepted); 5xx: refused for good.
        if 400 <= error.smtp_code < 500:
            return SendFailure(RETRY, "provider_unavailable",
                               f"mail server answered {error.smtp_code}")
        return SendFailure(FAILED, "provider_error", f"mail server answered {error.smtp_code}")
    if isinstance(error, smtplib.SMTPConnectError) or _never_connected(error):
        return SendFailure(RETRY, "provider_unreachable",
                           f"could not connect to the mail server ({name})")
    return SendFailure(UNKNOWN, "provider_timeout",
                       f"the connection to the mail server broke while sending ({name}); "
                       "not resent automatically")


def send_failure(error: BaseException, *, now: dt.datetime) -> SendFailure:
    """What an exception raised by `EmailMessage.send()` means for the message."""
    if isinstance(error, AnymailRecipientsRefused):
        return SendFailure(FAILED, "rejected", "the provider refused the recipient")
    if isinstance(error, AnymailAPIError):
        return _api_failure(error, now=now)
    if isinstance(error, AnymailError):
        # AnymailInvalidAddress, AnymailSerializationError, AnymailUnsupportedFeature …:
        # bugs on our side, raised while the payload is built, and a retry would fail the
        # same way (EM-17). (A malformed provider answer can raise one after the post;
        # either way nothing is resent.)
        return SendFailure(FAILED, "provider_error", f"{type(error).__name__} (not retried)")
    if isinstance(error, (smtplib.SMTPException, OSError)):
        return _smtp_failure(error)
    # Something unexpected inside the backend: it may have posted already.
    return SendFailure(UNKNOWN, "send_error",
                       f"{type(error).__name__} while handing over; not resent automatically")


def retry_delay(*, attempts: int, asked: dt.timedelta | None, rng=random) -> dt.timedelta:
    """Exponential backoff with full jitter and a cap (RL-8), never sooner than the provider
    asked: uniform(0, min(cap, base · 2^attempts)), or `asked` when that is later."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(attempts, 0)))
    backoff = dt.timedelta(seconds=rng.uniform(0, ceiling.total_seconds()))
    return max(backoff, asked or dt.timedelta(0))
