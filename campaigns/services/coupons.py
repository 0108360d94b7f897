"""Coupon codes: issued once per journey step, redeemed once, concurrency-safe."""
import dataclasses
import datetime as dt
import secrets

from django.db import IntegrityError, transaction

from campaigns.exceptions import CampaignsError
from campaigns.models import Coupon, Enrollment, JourneyStep

# No 0/O or 1/I/L: codes are read off a screen and typed at a till.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
REDEEMED = "redeemed"
ALREADY_REDEEMED = "already_redeemed"


class CouponNotFound(CampaignsError):
    """No coupon has this code."""


class CouponRejected(CampaignsError):
    """The coupon exists but cannot be used for this redeem (used, expired, not theirs)."""


@dataclasses.dataclass(frozen=True)
class Redemption:
    coupon: Coupon
    status: str  # REDEEMED, or ALREADY_REDEEMED for a retry with the same order


def coupon_code_new() -> str:
    """A random code, e.g. "K7QX-M2PA-9T": 31^10 ≈ 8×10^14 possibilities."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def coupon_issue(*, enrollment: Enrollment, step: JourneyStep, now: dt.datetime) -> Coupon:
    """The enrollment's coupon for this step, created once (valid `coupon_valid_days`).

    A retried step finds the existing row through the unique (enrollment, step); a code
    colliding with another coupon's is drawn again.
    """
    for _ in range(5):
        existing = Coupon.objects.filter(enrollment=enrollment, step=step).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                return Coupon.objects.create(
                    code=coupon_code_new(), customer_id=enrollment.customer_id,
                    campaign_id=enrollment.campaign_id, enrollment=enrollment, step=step,
                    issued_at=now, expires_at=now + dt.timedelta(days=step.coupon_valid_days),
                )
        except IntegrityError:
            continue
    raise CampaignsError("could not draw a unique coupon code in 5 attempts")


def coupon_redeem(
    *, code: str, customer_external_id: str, order_id: str, now: dt.datetime
) -> Redemption:
    """Use a coupon on an order of its customer.

    Raises CouponNotFound for an unknown code, CouponRejected when it belongs to another
    customer, is expired, or was used on another order. Redeeming again for the same
    order is a no-op reported as ALREADY_REDEEMED. Two concurrent redeems: the
    conditional UPDATE lets exactly one of them take the unused row.
    """
    code = code.strip().upper()
    coupon = Coupon.objects.select_related("customer").filter(code=code).first()
    if coupon is None:
        raise CouponNotFound("No coupon has this code.")
    if coupon.customer.external_id != customer_external_id:
        raise CouponRejected("This coupon belongs to another customer.")
    taken = Coupon.objects.filter(
        pk=coupon.pk, redeemed_at__isnull=True, expires_at__gt=now,
    ).update(redeemed_at=now, redeemed_order=order_id)
    coupon.refresh_from_db()
    if taken:
        return Redemption(coupon=coupon, status=REDEEMED)
    if coupon.redeemed_at is not None:
        if coupon.redeemed_order == order_id:
            return Redemption(coupon=coupon, status=ALREADY_REDEEMED)
        raise CouponRejected("This coupon was already used on another order.")
    raise CouponRejected("This coupon has expired.")
