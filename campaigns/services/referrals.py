"""Referral codes: made, reused and revoked; the link a code makes; a visit of that link."""
import datetime as dt
import re
import secrets
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Q, Subquery

from campaigns import clock
from campaigns.models import Customer, ReferralClick, ReferralCode

# Lower-case letters and digits without the look-alikes (0/o, 1/l/i): 31 signs.
REFERRAL_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
# 12 signs: 31^12 ≈ 2^59 codes, so guessing a live one among millions is hopeless.
REFERRAL_CODE_LENGTH = 12
# What a well-formed code looks like (use `fullmatch`). A posted code is cleaned first
# (`referral_code_clean`: trimmed, lower-cased), so "K7QX…" as typed from an email counts.
REFERRAL_CODE_RE = re.compile(f"[{REFERRAL_ALPHABET}]{{{REFERRAL_CODE_LENGTH}}}")
# Longer input is not looked at (nor lower-cased) at all.
_POSTED_MAX = 64


def referral_code_new() -> str:
    """A fresh random code (not yet stored)."""
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def referral_code_clean(posted) -> str | None:
    """The code as stored, from what a visitor or the shop posted (trimmed, lower-cased),
    or None when it cannot be a code (anything but text, too long, NUL, other signs)."""
    if not isinstance(posted, str) or len(posted) > _POSTED_MAX:
        return None
    code = posted.strip().lower()
    return code if REFERRAL_CODE_RE.fullmatch(code) else None


def referral_codes_ensure(customer_ids, *, now: dt.datetime | None = None) -> dict[int, str]:
    """{customer id: their live code} for those of `customer_ids` who may have one: not
    erased and with marketing consent (the others are left out). A customer's live code
    is reused; the ones without get one, all in one INSERT.

    One statement when everyone has a code, three otherwise (the INSERT ignores a
    conflict — another process made that customer's code at the same moment — and the
    codes made are read back, so the answer is always what is stored).
    """
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        return {}
    live = ReferralCode.objects.filter(customer_id=OuterRef("pk"), revoked_at__isnull=True)
    rows = Customer.objects.filter(
        pk__in=ids, marketing_consent=True, erased_at__isnull=True,
    ).annotate(code=Subquery(live.values("code")[:1])).order_by().values_list("pk", "code")
    codes = dict(rows)
    missing = [pk for pk, code in codes.items() if code is None]
    if missing:
        now = now or clock.now()
        ReferralCode.objects.bulk_create(
            [ReferralCode(customer_id=pk, code=referral_code_new(), created_at=now)
             for pk in missing], ignore_conflicts=True, batch_size=len(missing))
        codes.update(ReferralCode.objects.filter(
            customer_id__in=missing, revoked_at__isnull=True).values_list("customer_id", "code"))
    return {pk: code for pk, code in codes.items() if code is not None}


def referral_code_revoke(*, customer_ids=None, codes=None, now: dt.datetime | None = None) -> int:
    """Revoke the live codes of these customers and/or these codes; returns how many were
    live. A revoked code stops counting friends and leads nowhere special; the customer's
    next invite gets a new code. Safe to run twice."""
    which = Q(pk__in=[])
    if customer_ids:
        which |= Q(customer_id__in=list(customer_ids))
    if codes:
        which |= Q(code__in=list(codes))
    return ReferralCode.objects.filter(which, revoked_at__isnull=True).update(
        revoked_at=now or clock.now())


def referral_url(code: str) -> str:
    """The customer's link: SITE_URL/r/<code>."""
    return f"{settings.SITE_URL}/r/{quote(code, safe='')}"


def referral_landing(code: str | None, *, landing_url: str) -> str:
    """Where a referral link sends the visitor: `landing_url` with its own query kept and
    `ref=<code>` added (replacing any `ref` it had), or unchanged without a code."""
    if code is None:
        return landing_url
    parts = urlsplit(landing_url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if key != "ref"]
    query.append(("ref", code))
    return urlunsplit(parts._replace(query=urlencode(query)))


def referral_click_record(*, code: str, now: dt.datetime) -> bool:
    """Count one visit of a live code's link: one INSERT … SELECT, which inserts nothing
    for an unknown or revoked code. True when it counted."""
    clicks, codes = ReferralClick._meta.db_table, ReferralCode._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {clicks} (code_id, clicked_at) SELECT id, %s FROM {codes} "
            "WHERE code = %s AND revoked_at IS NULL",
            [connection.ops.adapt_datetimefield_value(now), code])
        return cursor.rowcount == 1
