"""Signed, opaque tokens for links in emails: they carry a row id, never an address."""
import base64
import functools
import hashlib
import hmac

from django.conf import settings
from django.core import signing

from campaigns.exceptions import InvalidTokenError

_UNSUBSCRIBE_SALT = "loyaltycrm.unsubscribe.v1"
_SURVEY_SALT = "loyaltycrm.survey.v1"
_SUBSCRIPTION_SALT = "loyaltycrm.subscription-confirm.v1"


@functools.lru_cache(maxsize=64)
def _derived_key(secret: str, salt: str) -> bytes:
    # One key per purpose (salt), derived once per process: signing.dumps derives it
    # again for every token, which the sender paid twice per email.
    return hmac.new(secret.encode(), f"loyaltycrm.token-key:{salt}".encode(), hashlib.sha256).digest()


def _mac(value: str, *, secret: str, salt: str) -> str:
    digest = hmac.new(_derived_key(secret, salt), value.encode(), hashlib.sha256).digest()
    # 132 bits: unguessable, and unforgeable without SECRET_KEY.
    return base64.urlsafe_b64encode(digest).decode()[:22]


def _signed_id(value: int, *, salt: str) -> str:
    """"<id in base 36>.<keyed HMAC-SHA256 of it>": short, opaque, cheap to make."""
    text = _base36(value)
    return f"{text}.{_mac(text, secret=settings.SECRET_KEY, salt=salt)}"


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        value, rest = divmod(value, 36)
        text = digits[rest] + text
        if not value:
            return text


def _signed_id_read(token: str, *, salt: str) -> int:
    if ":" in token:
        # A link from an email sent before these tokens (django.core.signing's format).
        return _signed_id_read_legacy(token, salt=salt)
    text, _, mac = token.partition(".")
    if not text or len(text) > 13 or not mac or not all(c in "0123456789abcdefghijklmnopqrstuvwxyz" for c in text):
        raise InvalidTokenError(f"bad token for {salt}")
    for secret in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())):
        if hmac.compare_digest(mac, _mac(text, secret=secret, salt=salt)):
            return int(text, 36)
    raise InvalidTokenError(f"bad token for {salt}")


def _signed_id_read_legacy(token: str, *, salt: str) -> int:
    try:
        value = signing.loads(token, salt=salt)
    except signing.BadSignature as exc:
        raise InvalidTokenError(f"bad token for {salt}") from exc
    if not isinstance(value, int):
        raise InvalidTokenError(f"bad token for {salt}")
    return value


def unsubscribe_token(*, customer_id: int) -> str:
    return _signed_id(customer_id, salt=_UNSUBSCRIBE_SALT)


def unsubscribe_token_read(*, token: str) -> int:
    """The customer id in a token; InvalidTokenError for anything forged or mangled."""
    return _signed_id_read(token, salt=_UNSUBSCRIBE_SALT)


def survey_token(*, message_id: int) -> str:
    """One token per survey email: it names the send, and through it the customer."""
    return _signed_id(message_id, salt=_SURVEY_SALT)


def survey_token_read(*, token: str) -> int:
    """The message id in a survey token; InvalidTokenError for anything else."""
    return _signed_id_read(token, salt=_SURVEY_SALT)


def subscription_token(*, request_id: int) -> str:
    """The double opt-in confirmation link's token: it names the request, never the address.

    Expiry is the request's `expires_at`, checked against the one clock when it is used.
    """
    return _signed_id(request_id, salt=_SUBSCRIPTION_SALT)


def subscription_token_read(*, token: str) -> int:
    """The request id in a confirmation token; InvalidTokenError for anything else."""
    return _signed_id_read(token, salt=_SUBSCRIPTION_SALT)
