"""The demo's word of mouth: referral codes, clicks on the links and referred friends among
the customers a seeding run creates, over their fifteen months of history.

The promoters who received the invitation to refer a friend (services.demo_history) get a
code from that first email on, and a few others share theirs from the shop's own page; a
share of the later customers arrived with one of those codes (some with a code that did
not exist: ignored, with the reason). A friend's first order is rewarded as the demo's
programme says (points for both sides, no refund window), at the next tick after it, in
the points ledger. Rows are written directly, in a few bulk inserts, and only for the
customers just made, so a second run adds nothing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import random

from campaigns.models import (
    Customer, Order, PointsEntry, Referral, ReferralClick, ReferralCode, ReferralProgram,
)
from campaigns.services.referrals import REFERRAL_ALPHABET, REFERRAL_CODE_LENGTH

SEED = 20261204
# Customers who share their code without an invitation (from the shop's account page).
SHARE_WITHOUT_INVITE = 0.04
# Customers who arrived with a friend's code, and the share of those whose code was wrong.
REFERRED_SHARE = 0.14
UNKNOWN_CODE_SHARE = 0.08
# Signing up within this long of a click on the friend's link; the reward at the next tick.
CLICK_BEFORE_SIGNUP = dt.timedelta(hours=36)
REWARD_AFTER_ORDER = dt.timedelta(minutes=1)


def demo_code(external_id: str) -> str:
    """A customer's demo code: the same on every run, unguessable enough for a demo."""
    digest = hashlib.sha256(f"{SEED}:{external_id}".encode()).digest()
    return "".join(REFERRAL_ALPHABET[b % len(REFERRAL_ALPHABET)]
                   for b in digest[:REFERRAL_CODE_LENGTH])


def referrals_load(*, people: list[dict], invites: list[tuple[Customer, dt.datetime]],
                   now: dt.datetime) -> dict:
    """Codes, clicks, referrals and their rewards for the customers just made (`people`,
    with pks), where `invites` are the invitations to refer a friend that were sent."""
    counts = {"referral_codes": 0, "referral_clicks": 0, "referrals": 0}
    if not people:
        return counts
    codes = _codes(people, invites)
    if not codes:
        return counts
    ReferralCode.objects.bulk_create(codes.values(), batch_size=500)
    program = ReferralProgram.current()
    referrals, clicks = _referrals(people, codes, program=program, now=now)
    clicks += _idle_clicks(codes, now=now)
    Referral.objects.bulk_create(referrals, batch_size=500)
    ReferralClick.objects.bulk_create(clicks, batch_size=1000)
    _rewards_load(referrals, program=program)
    counts.update(referral_codes=len(codes), referral_clicks=len(clicks),
                  referrals=len(referrals))
    return counts


def _codes(people: list[dict], invites) -> dict[int, ReferralCode]:
    """One live code per sharing customer, from their first invitation (or, for those who
    share without one, from their first order)."""
    first_invite: dict[int, dt.datetime] = {}
    for customer, sent_at in invites:
        first_invite[customer.pk] = min(sent_at, first_invite.get(customer.pk, sent_at))
    codes = {}
    for person in people:
        customer, orders = person["customer"], person["orders"]
        since = first_invite.get(customer.pk)
        rng = random.Random(f"{SEED}-share-{customer.external_id}")
        if since is None and orders and person["consent"] and rng.random() < SHARE_WITHOUT_INVITE:
            since = orders[0].placed_at + dt.timedelta(hours=rng.uniform(1, 72))
        if since is not None:
            codes[customer.pk] = ReferralCode(customer_id=customer.pk, created_at=since,
                                              code=demo_code(customer.external_id))
    return codes


def _referrals(people, codes: dict[int, ReferralCode], *, program, now):
    """The later customers who arrived with a code: each picks, at random but the same on
    every run, a code that already existed when they signed up, clicked it shortly before."""
    sharing = sorted(codes.values(), key=lambda c: (c.created_at, c.customer_id))
    first_orders = _first_orders(people)
    referrals, clicks = [], []
    for person in sorted(people, key=lambda p: p["customer"].signed_up_at):
        friend = person["customer"]
        rng = random.Random(f"{SEED}-referred-{friend.external_id}")
        if rng.random() >= REFERRED_SHARE:
            continue
        live = [c for c in sharing if c.created_at < friend.signed_up_at - CLICK_BEFORE_SIGNUP
                and c.customer_id != friend.pk]
        if not live:
            continue
        if rng.random() < UNKNOWN_CODE_SHARE:
            referrals.append(Referral(
                referred_id=friend.pk, code=demo_code(f"nobody-{friend.external_id}"),
                status=Referral.Status.IGNORED, reason=Referral.Reason.UNKNOWN, source="api",
                referred_at=friend.signed_up_at, reward=Referral.Reward.NOT_GRANTED))
            continue
        code = rng.choice(live)
        clicks += [ReferralClick(code=code, clicked_at=friend.signed_up_at - dt.timedelta(
            seconds=rng.uniform(60, CLICK_BEFORE_SIGNUP.total_seconds())))
            for _ in range(rng.choice([1, 1, 1, 2]))]
        referral = Referral(
            referred_id=friend.pk, referrer_id=code.customer_id, code=code.code,
            status=Referral.Status.COUNTED, source=rng.choice(["api", "api", "import"]),
            referred_at=friend.signed_up_at)
        first = first_orders.get(friend.pk)
        if first is not None:
            order_id, placed_at = first
            rewarded_at = placed_at + REWARD_AFTER_ORDER
            referral.first_order_id, referral.first_order_at = order_id, placed_at
            if rewarded_at < now:
                referral.reward, referral.rewarded_at = Referral.Reward.GRANTED, rewarded_at
                referral.referrer_points = program.referrer_points
                referral.friend_points = program.friend_points
        referrals.append(referral)
    return referrals, clicks


def _first_orders(people) -> dict[int, tuple[int, dt.datetime]]:
    """Each new customer's first order: (its id, when it was placed)."""
    firsts = {p["orders"][0].external_id: p["customer"].pk for p in people if p["orders"]}
    return {firsts[external_id]: (pk, placed_at) for external_id, pk, placed_at in
            Order.objects.filter(external_id__in=firsts).values_list(
                "external_id", "pk", "placed_at")}


def _idle_clicks(codes: dict[int, ReferralCode], *, now) -> list[ReferralClick]:
    """Visits of shared links that did not become a customer: most clicks do not."""
    clicks = []
    for code in codes.values():
        rng = random.Random(f"{SEED}-clicks-{code.code}")
        span = (now - code.created_at).total_seconds()
        if span <= 0:
            continue
        clicks += [ReferralClick(code=code, clicked_at=code.created_at + dt.timedelta(
            seconds=rng.uniform(0, span))) for _ in range(rng.choice([0, 1, 1, 2, 3, 5, 8]))]
    return clicks


def _rewards_load(referrals: list[Referral], *, program) -> None:
    """The granted rewards in the points ledger, one entry per side, and the balances they
    add up to (the demo's customers start with none)."""
    grants = []
    for referral in referrals:
        if referral.reward != Referral.Reward.GRANTED:
            continue
        grants += [(referral.rewarded_at, referral.referrer_id, referral.referrer_points,
                    referral, "Referral reward: a friend's first order"),
                   (referral.rewarded_at, referral.referred_id, referral.friend_points, referral,
                    "Referral reward: first order of a referred customer")]
    if not grants:
        return
    balances = dict(Customer.objects.filter(pk__in={g[1] for g in grants}).values_list(
        "pk", "points_balance"))
    entries = []
    for at, customer_id, points, referral, reason in sorted(grants, key=lambda g: (g[0], g[1])):
        if not points:
            continue
        balances[customer_id] += points
        entries.append(PointsEntry(
            customer_id=customer_id, kind=PointsEntry.Kind.REFERRAL, delta=points,
            balance_after=balances[customer_id], reason=reason, referral=referral,
            created_at=at))
    PointsEntry.objects.bulk_create(entries, batch_size=500)
    Customer.objects.bulk_update(
        [Customer(pk=pk, points_balance=balance) for pk, balance in balances.items()],
        ["points_balance"], batch_size=500)
