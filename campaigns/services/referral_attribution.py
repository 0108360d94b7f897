"""Attribution: the new customers who arrived with a referral code, tied to their referrers
once, set-based (issue 16)."""

import dataclasses
import datetime as dt

from campaigns.models import Event, Referral, ReferralCode
from campaigns.services.bulk import filter_in, model_defaults, rows_insert
from campaigns.services.consent import email_folded
from campaigns.services.referrals import referral_code_clean
from campaigns.storable import text_problem

# The event a counted referral emits on the referrer: an event-triggered campaign can
# say "your friend joined". Properties: {"referral_id"}.
REFERRAL_JOINED_EVENT = "referral.joined"
# Referral.code keeps at most this much of what was posted.
CODE_KEPT = 64


@dataclasses.dataclass(frozen=True)
class ReferralsAttributed:
    counted: int = 0
    ignored: int = 0


def referrals_attribute(
    *, new_customers: list[tuple[int, str, str]], source: str, now: dt.datetime
) -> ReferralsAttributed:
    """Record one Referral for each new customer that came with a code.

    `new_customers` holds (customer id, email, posted code) for customers CREATED by the
    caller's batch, never for stored ones: a code posted for an existing customer must
    change nothing, and only the caller knows which it created. A blank code is no code
    (no row). A customer listed twice keeps its first code.

    Each row is counted (the referrer set, reward pending, and one `referral.joined` event
    on the referrer) or ignored with its reason: malformed (not a code's format, or text
    the database cannot store), unknown (no such code, or its owner erased), revoked, or
    self (the code is the customer's own, or its owner has the same email address, folded
    as the suppression hash folds it). An ignored row has no referrer and no reward.

    Set-based and inside the caller's transaction: no statement without a code, else at
    most three whatever the batch's size: one SELECT of the posted codes with their owners,
    one INSERT of the rows (ON CONFLICT on the referred customer DO NOTHING, so the same
    friend attributed twice, even by concurrent requests, is counted once), one INSERT of
    the events for the rows this call inserted.
    """
    posted: dict[int, tuple[str, str]] = {}
    for customer_id, email, code in new_customers:
        code = (code or "").strip()
        if code and customer_id not in posted:
            posted[customer_id] = (email or "", code)
    if not posted:
        return ReferralsAttributed()
    # Looked up as stored (trimmed, lower-cased: a code typed in capitals still counts);
    # what is not a code's format is not looked up at all.
    wanted = sorted({clean for _, code in posted.values()
                     if (clean := referral_code_clean(code)) is not None})
    owners = {}
    if wanted:
        owners = {
            code: (referrer_id, revoked_at, referrer_email, erased_at)
            for code, referrer_id, revoked_at, referrer_email, erased_at in filter_in(
                ReferralCode.objects, "code", wanted).values_list(
                "code", "customer_id", "revoked_at", "customer__email",
                "customer__erased_at")
        }
    rows, defaults = [], model_defaults(Referral)
    for customer_id, (email, code) in sorted(posted.items()):
        referrer_id, reason = _decision(customer_id, email, code, owners, now=now)
        rows.append({
            **defaults,
            "referred_id": customer_id, "referrer_id": referrer_id,
            "code": code[:CODE_KEPT] if text_problem(code) is None else "",
            "status": str(Referral.Status.IGNORED if reason else Referral.Status.COUNTED),
            "reason": str(reason), "source": source, "referred_at": now,
            "reward": str(Referral.Reward.NOT_GRANTED if reason else Referral.Reward.PENDING),
        })
    inserted = rows_insert(Referral, rows, returning=("id", "referrer_id"),
                           skip_conflicts=True)
    counted = sorted((pk, referrer_id) for pk, referrer_id in inserted
                     if referrer_id is not None)
    rows_insert(Event, [
        {"event_id": f"crm:{REFERRAL_JOINED_EVENT}:{pk}", "customer_id": referrer_id,
         "type": REFERRAL_JOINED_EVENT, "occurred_at": now, "received_at": now,
         "properties": {"referral_id": pk}, "order_id": None}
        for pk, referrer_id in counted
    ], skip_conflicts=True)
    return ReferralsAttributed(counted=len(counted), ignored=len(inserted) - len(counted))


def _decision(customer_id: int, email: str, code: str, owners: dict, *, now: dt.datetime
              ) -> tuple[int | None, str]:
    """(the referrer's id, "") for a counted code, else (None, the reason)."""
    code = referral_code_clean(code)
    if code is None:
        return None, Referral.Reason.MALFORMED
    owner = owners.get(code)
    if owner is None or owner[3] is not None:
        return None, Referral.Reason.UNKNOWN
    referrer_id, revoked_at, referrer_email, _ = owner
    if revoked_at is not None and revoked_at <= now:
        return None, Referral.Reason.REVOKED
    if referrer_id == customer_id or (
            email and referrer_email and email_folded(email) == email_folded(referrer_email)):
        return None, Referral.Reason.SELF
    return referrer_id, Referral.Reason.NONE
