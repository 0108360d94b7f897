"""Signed, opaque tokens for links in emails: they carry a row id, never an address."""
from django.core import signing

from campaigns.exceptions import InvalidTokenError

_UNSUBSCRIBE_SALT = "loyaltycrm.unsubscribe.v1"
_SURVEY_SALT = "loyaltycrm.survey.v1"
_SUBSCRIPTION_SALT = "loyaltycrm.subscription-confirm.v1"


def _signed_id(value: int, *, salt: str) -> str:
    return signing.dumps(value, salt=salt)


def _signed_id_read(token: str, *, salt: str) -> int:
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
