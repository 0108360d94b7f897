"""The demo's word of mouth: a points programme for both sides, the three journeys active,
and codes, clicks and referred friends over the history; idempotent like the rest."""
import datetime as dt

import pytest
from django.db.models import Sum

from campaigns.models import (
    Campaign, Customer, Message, PointsEntry, Referral, ReferralClick, ReferralCode,
    ReferralProgram,
)
from campaigns.services.demo import demo_load

pytestmark = pytest.mark.django_db


def referral_counts() -> dict:
    return {model.__name__: model.objects.count()
            for model in (ReferralCode, ReferralClick, Referral, ReferralProgram)} | {
        "ledger": PointsEntry.objects.filter(kind=PointsEntry.Kind.REFERRAL).count(),
        "invites": Message.objects.filter(referral_invite=True).count()}


def test_seeding_twice_adds_no_referral_rows_the_second_time(frozen_clock):
    demo_load(customers=200, history=True)
    first = referral_counts()

    frozen_clock.advance(hours=1)
    demo_load(customers=200, history=True)

    assert referral_counts() == first
    assert all(first.values()), first


def test_the_programme_rewards_both_sides_with_points_and_has_no_refund_window(frozen_clock):
    demo_load(customers=0)

    program = ReferralProgram.current()
    assert (program.active, program.reward_kind, program.refund_window_days) == (
        True, ReferralProgram.RewardKind.POINTS, 0)
    assert program.referrer_points > 0 and program.friend_points > 0
    live = Campaign.objects.filter(status=Campaign.Status.ACTIVE)
    assert {"promoter-invite", "referral-reward", "detractor-followup"} <= set(
        live.values_list("slug", flat=True))


def test_an_edited_programme_is_left_alone(frozen_clock):
    ReferralProgram.objects.create(referrer_points=100, friend_points=0)

    demo_load(customers=0)

    assert ReferralProgram.objects.get().referrer_points == 100


def test_the_referrals_tell_a_consistent_story_over_the_history(frozen_clock):
    demo_load(customers=300, history=True)
    now = frozen_clock.now
    program = ReferralProgram.current()

    counted = Referral.objects.filter(status=Referral.Status.COUNTED).select_related(
        "referred", "referrer", "first_order")
    codes = {c.customer_id: c for c in ReferralCode.objects.all()}
    assert counted.count() >= 10
    for referral in counted:
        code = codes[referral.referrer_id]
        assert referral.code == code.code and referral.referrer_id != referral.referred_id
        assert code.created_at < referral.referred_at == referral.referred.signed_up_at < now
        assert ReferralClick.objects.filter(code=code, clicked_at__lt=referral.referred_at).exists()
        if referral.first_order is not None:
            assert referral.first_order.placed_at == referral.referred.first_order_at
            assert referral.reward == Referral.Reward.GRANTED
            assert (referral.referrer_points, referral.friend_points) == (
                program.referrer_points, program.friend_points)
            assert PointsEntry.objects.filter(referral=referral).count() == 2
        else:
            assert referral.reward == Referral.Reward.PENDING
    assert counted.filter(first_order__isnull=False).exists()
    assert counted.filter(first_order__isnull=True).exists()
    months = {r.referred_at.strftime("%Y-%m") for r in counted}
    assert len(months) >= 5
    ignored = Referral.objects.filter(status=Referral.Status.IGNORED)
    assert all(r.referrer_id is None and r.reason == Referral.Reason.UNKNOWN for r in ignored)
    assert not ReferralClick.objects.filter(clicked_at__gte=now).exists()
    # The balances are the ledger's sums.
    for customer in Customer.objects.filter(points__kind=PointsEntry.Kind.REFERRAL).distinct():
        assert customer.points_balance == customer.points.aggregate(s=Sum("delta"))["s"]
    # The invited promoters are the referrers with invitations: their code dates from it.
    invites = Message.objects.filter(referral_invite=True, state="sent")
    assert invites.exists()
    assert set(invites.values_list("campaign__slug", flat=True)) == {"promoter-invite"}
    for message in invites:
        assert codes[message.customer_id].created_at <= message.sent_at
        assert message.sent_at < now - dt.timedelta(hours=24)
