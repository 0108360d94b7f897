"""API keys: issuing, checking and revoking the secrets the shop authenticates with."""

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Q

from campaigns import clock
from campaigns.exceptions import CampaignsError
from campaigns.models import ApiKey

KEY_PREFIX = "lcrm_"
PREFIX_LENGTH = 10
# Recording every request's use would turn each API call into a write.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class ApiKeyNameTaken(CampaignsError):
    def __init__(self, name: str):
        super().__init__(f"An API key named {name!r} already exists.")
        self.name = name


def _key_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def api_key_create(*, name: str) -> tuple[ApiKey, str]:
    """Issue a key; returns (key, plaintext). The plaintext is not stored anywhere.

    Raises ApiKeyNameTaken when `name` is in use (revoked keys keep their name).
    """
    name = name.strip()
    if not name:
        raise ValueError("An API key needs a name.")
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            api_key = ApiKey.objects.create(
                name=name,
                prefix=plaintext[:PREFIX_LENGTH],
                key_hash=_key_hash(plaintext),
            )
    except IntegrityError as exc:
        if ApiKey.objects.filter(name=name).exists():
            raise ApiKeyNameTaken(name) from exc
        raise
    return api_key, plaintext


def api_key_authenticate(*, plaintext: str) -> ApiKey | None:
    """The active key `plaintext` belongs to, or None.

    The lookup is by SHA-256 of the plaintext, so the database never compares secrets
    and response times reveal nothing about them. Notes the use at most once a minute.
    """
    if not plaintext or len(plaintext) > 200:
        return None
    api_key = ApiKey.objects.filter(
        key_hash=_key_hash(plaintext), revoked_at__isnull=True
    ).first()
    if api_key is None:
        return None
    now = clock.now()
    if (
        api_key.last_used_at is None
        or api_key.last_used_at <= now - LAST_USED_RESOLUTION
    ):
        ApiKey.objects.filter(pk=api_key.pk).filter(
            Q(last_used_at__isnull=True)
            | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_keys_revoke(*, ids: Iterable[int]) -> int:
    """Revoke the keys with these ids at once; returns how many were still active."""
    return ApiKey.objects.filter(pk__in=list(ids), revoked_at__isnull=True).update(
        revoked_at=clock.now()
    )
