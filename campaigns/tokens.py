"""Signed, opaque tokens for links in emails: they carry a customer id, never an address."""
from django.core import signing

from campaigns.exceptions import InvalidTokenError

_UNSUBSCRIBE_SALT = "loyaltycrm.unsubscribe.v1"


def unsubscribe_token(*, customer_id: int) -> str:
    return signing.dumps(customer_id, salt=_UNSUBSCRIBE_SALT)


def unsubscribe_token_read(*, token: str) -> int:
    """The customer id in a token; InvalidTokenError for anything forged or mangled."""
    try:
        value = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise InvalidTokenError("bad unsubscribe token") from exc
    if not isinstance(value, int):
        raise InvalidTokenError("bad unsubscribe token")
    return value
