"""Referral rewards through the ledger: granted on the friend's first order, held through
the refund window, reversed by a refund inside it, limited per referrer per month."""
import datetime as dt
import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from campaigns.models import (
    Coupon, Customer, Event, Order, PointsEntry, Referral, ReferralProgram,
)
from campaigns.services.loyalty import points_expire
from campaigns.services.referral_rewards import REWARDED_EVENT, referral_rewards_apply
from campaigns.services.scheduling import scheduler_tick
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def program(**fields):
    return ReferralProgram.objects.create(**{"referrer_points": 500, "friend_points": 250,
                                             "refund_window_days": 0, **fields})


def referral(*, referrer=None, ordered_at=NOW - dt.timedelta(hours=1), **fields):
    """A counted referral of a new friend (with their first order at `ordered_at`)."""
    referrer = referrer if referrer is not None else CustomerFactory()
    friend = CustomerFactory()
    row = Referral.objects.create(**{
        "referrer": referrer, "referred": friend, "code": "ABCDEFGHJK",
        "status": Referral.Status.COUNTED, "source": "api",
        "referred_at": NOW - dt.timedelta(days=2), **fields})
    if ordered_at is not None:
        OrderFactory(customer=friend, placed_at=ordered_at)
    return row


def refund(order: Order, *, at: dt.datetime) -> None:
    Order.objects.filter(pk=order.pk).update(status=Order.Status.REFUNDED, updated_at=at)


def balance(customer) -> int:
    return Customer.objects.get(pk=customer.pk).points_balance


def test_the_first_order_rewards_both_sides_through_the_ledger():
    program()
    row = referral()

    assert referral_rewards_apply(now=NOW) == 1

    row.refresh_from_db()
    assert (row.reward, row.reward_note, row.rewarded_at) == (Referral.Reward.GRANTED, "", NOW)
    assert (row.referrer_points, row.friend_points) == (500, 250)
    assert row.first_order == Order.objects.get(customer=row.referred)
    assert (balance(row.referrer), balance(row.referred)) == (500, 250)
    entries = PointsEntry.objects.filter(referral=row)
    assert {(e.customer_id, e.kind, e.delta, e.balance_after) for e in entries} == {
        (row.referrer_id, "referral", 500, 500), (row.referred_id, "referral", 250, 250)}
    events = Event.objects.filter(type=REWARDED_EVENT)
    assert {(e.customer_id, e.properties["role"], e.properties["points"],
             e.properties["referral_id"]) for e in events} == {
        (row.referrer_id, "referrer", 500, row.pk), (row.referred_id, "friend", 250, row.pk)}


def test_no_order_yet_or_an_order_in_the_future_leaves_it_pending():
    program()
    waiting = referral(ordered_at=None)
    later = referral(ordered_at=NOW + dt.timedelta(days=1))
    cancelled = referral(ordered_at=None)
    OrderFactory(customer=cancelled.referred, placed_at=NOW - dt.timedelta(hours=2),
                 status=Order.Status.CANCELLED)

    assert referral_rewards_apply(now=NOW) == 0

    assert set(Referral.objects.values_list("reward", flat=True)) == {Referral.Reward.PENDING}
    assert not PointsEntry.objects.exists()
    assert waiting.pk and later.pk


def test_an_ignored_referral_is_never_rewarded():
    program()
    referral(status=Referral.Status.IGNORED, reason=Referral.Reason.UNKNOWN)

    assert referral_rewards_apply(now=NOW) == 0
    assert not PointsEntry.objects.exists()


def test_with_a_hold_the_reward_waits_for_the_window_to_pass_without_a_refund():
    program(refund_window_days=14, hold_until_window_passes=True)
    row = referral(ordered_at=NOW)

    referral_rewards_apply(now=NOW)
    row.refresh_from_db()
    assert (row.reward, row.first_order_at) == (Referral.Reward.HOLDING, NOW)
    assert referral_rewards_apply(now=NOW + dt.timedelta(days=13)) == 0

    assert referral_rewards_apply(now=NOW + dt.timedelta(days=14)) == 1
    row.refresh_from_db()
    assert row.reward == Referral.Reward.GRANTED
    assert balance(row.referred) == 250


def test_a_held_reward_refunded_in_the_window_is_never_granted():
    program(refund_window_days=14, hold_until_window_passes=True)
    row = referral(ordered_at=NOW)
    referral_rewards_apply(now=NOW)
    refund(row.referred.orders.get(), at=NOW + dt.timedelta(days=3))

    referral_rewards_apply(now=NOW + dt.timedelta(days=14))

    row.refresh_from_db()
    assert (row.reward, row.reward_note) == (Referral.Reward.NOT_GRANTED, "refunded")
    assert not PointsEntry.objects.exists()


def test_a_refund_inside_the_window_reverses_both_sides():
    program(refund_window_days=30)
    row = referral(ordered_at=NOW)
    referral_rewards_apply(now=NOW)
    later = NOW + dt.timedelta(days=5)
    refund(row.referred.orders.get(), at=later)

    referral_rewards_apply(now=later)

    row.refresh_from_db()
    assert (row.reward, row.reversed_at) == (Referral.Reward.REVERSED, later)
    assert (balance(row.referrer), balance(row.referred)) == (0, 0)
    assert sorted(PointsEntry.objects.filter(referral=row, kind="reversal")
                  .values_list("delta", flat=True)) == [-500, -250]
    # Once: a later tick finds nothing to do.
    assert referral_rewards_apply(now=later + dt.timedelta(minutes=1)) == 0
    assert PointsEntry.objects.filter(referral=row).count() == 4


def test_a_refund_after_the_window_or_with_no_window_reverses_nothing():
    program(refund_window_days=7)
    late = referral(ordered_at=NOW)
    referral_rewards_apply(now=NOW)
    refund(late.referred.orders.get(), at=NOW + dt.timedelta(days=8))
    referral_rewards_apply(now=NOW + dt.timedelta(days=8))
    ReferralProgram.objects.update(refund_window_days=0)
    never = referral(ordered_at=NOW + dt.timedelta(days=8))
    referral_rewards_apply(now=NOW + dt.timedelta(days=9))
    refund(never.referred.orders.get(), at=NOW + dt.timedelta(days=9))

    referral_rewards_apply(now=NOW + dt.timedelta(days=9, hours=1))

    assert set(Referral.objects.values_list("reward", flat=True)) == {Referral.Reward.GRANTED}
    assert not PointsEntry.objects.filter(kind="reversal").exists()


def test_past_the_monthly_limit_the_friend_is_rewarded_and_the_referrer_not():
    program(monthly_limit_per_referrer=2)
    referrer = CustomerFactory()
    rows = [referral(referrer=referrer, ordered_at=NOW - dt.timedelta(hours=3 - i))
            for i in range(3)]

    assert referral_rewards_apply(now=NOW) == 3

    notes = [Referral.objects.get(pk=r.pk).reward_note for r in rows]
    assert notes == ["", "", "monthly_limit"]
    assert balance(referrer) == 1000
    assert all(balance(r.referred) == 250 for r in rows)
    assert Referral.objects.get(pk=rows[2].pk).referrer_points == 0
    # The next calendar month has its own count.
    fourth = referral(referrer=referrer, ordered_at=dt.datetime(2026, 4, 2, tzinfo=UTC))
    referral_rewards_apply(now=dt.datetime(2026, 4, 2, 12, tzinfo=UTC))
    assert Referral.objects.get(pk=fourth.pk).referrer_points == 500


def test_with_the_programme_off_a_first_order_earns_nothing():
    program(active=False)
    row = referral()

    assert referral_rewards_apply(now=NOW) == 0

    row.refresh_from_db()
    assert (row.reward, row.reward_note) == (Referral.Reward.NOT_GRANTED, "programme_off")
    assert not PointsEntry.objects.exists()
    assert not Event.objects.filter(type=REWARDED_EVENT).exists()


def test_an_erased_referrer_leaves_the_friend_rewarded_alone():
    program()
    row = referral()
    Referral.objects.filter(pk=row.pk).update(referrer=None)

    referral_rewards_apply(now=NOW)

    row.refresh_from_db()
    assert (row.reward, row.reward_note, row.friend_points) == ("granted", "no_referrer", 250)
    assert PointsEntry.objects.get().customer_id == row.referred_id


def test_the_coupon_reward_gives_each_side_a_coupon_and_a_refund_expires_the_unused_one():
    program(reward_kind=ReferralProgram.RewardKind.COUPON, coupon_valid_days=30,
            refund_window_days=10)
    row = referral(ordered_at=NOW)

    referral_rewards_apply(now=NOW)

    coupons = {c.customer_id: c for c in Coupon.objects.filter(referral=row)}
    assert set(coupons) == {row.referrer_id, row.referred_id}
    assert all(c.expires_at == NOW + dt.timedelta(days=30) for c in coupons.values())
    assert not PointsEntry.objects.exists()
    codes = {e.properties["role"]: e.properties["coupon"]
             for e in Event.objects.filter(type=REWARDED_EVENT)}
    assert codes == {"referrer": coupons[row.referrer_id].code,
                     "friend": coupons[row.referred_id].code}
    Coupon.objects.filter(pk=coupons[row.referrer_id].pk).update(
        redeemed_at=NOW, redeemed_order="o-x")
    refund(row.referred.orders.get(), at=NOW + dt.timedelta(days=2))

    referral_rewards_apply(now=NOW + dt.timedelta(days=2))

    assert Coupon.objects.get(pk=coupons[row.referred_id].pk).expires_at == NOW + dt.timedelta(days=2)
    assert Coupon.objects.get(pk=coupons[row.referrer_id].pk).expires_at == NOW + dt.timedelta(days=30)
    assert Referral.objects.get(pk=row.pk).reward == Referral.Reward.REVERSED


def test_two_ticks_reward_once():
    program()
    row = referral()

    scheduler_tick(now=NOW)
    scheduler_tick(now=NOW + dt.timedelta(minutes=1))

    assert PointsEntry.objects.filter(referral=row).count() == 2
    assert Event.objects.filter(type=REWARDED_EVENT).count() == 2
    assert balance(row.referrer) == 500


def test_a_reversed_reward_is_no_lot_for_expiry(settings):
    settings.POINTS_EXPIRY_MONTHS = 12
    program(refund_window_days=30)
    row = referral(ordered_at=NOW)
    referral_rewards_apply(now=NOW)
    refund(row.referred.orders.get(), at=NOW + dt.timedelta(days=1))
    referral_rewards_apply(now=NOW + dt.timedelta(days=1))
    Customer.objects.filter(pk=row.referrer_id).update(points_balance=100)
    PointsEntry.objects.create(customer_id=row.referrer_id, kind="bonus", delta=100,
                               balance_after=100, reason="later",
                               created_at=NOW + dt.timedelta(days=200))

    assert points_expire(now=NOW + dt.timedelta(days=380)) == 0
    assert balance(row.referrer) == 100


def _due(count):
    program()
    referrer = CustomerFactory()
    for _ in range(count):
        referral(referrer=referrer)


def test_the_statements_do_not_grow_with_the_number_of_due_referrals():
    counts = []
    for size in (1, 20):
        _due(size)
        with CaptureQueriesContext(connection) as queries:
            assert referral_rewards_apply(now=NOW) == size
        counts.append(len(queries))
        Referral.objects.all().delete()
        ReferralProgram.objects.all().delete()
    assert counts[0] == counts[1]


def test_nothing_due_costs_the_programme_row_and_one_query():
    program(refund_window_days=14, hold_until_window_passes=True)
    referral(ordered_at=None)
    held = referral(ordered_at=NOW)
    referral_rewards_apply(now=NOW)
    assert Referral.objects.get(pk=held.pk).reward == Referral.Reward.HOLDING

    with CaptureQueriesContext(connection) as queries:
        assert referral_rewards_apply(now=NOW + dt.timedelta(minutes=1)) == 0

    assert len(queries) == 2, [q["sql"] for q in queries]


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_reward_each_referral_once():
    program()
    referrer = CustomerFactory()
    rows = [referral(referrer=referrer) for _ in range(30)]
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            for _ in range(2):
                referral_rewards_apply(now=NOW)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    # Every friend once; the referrer once per friend up to the default monthly limit (10).
    assert PointsEntry.objects.filter(kind="referral").count() == len(rows) + 10
    assert balance(referrer) == 500 * 10
    assert Event.objects.filter(type=REWARDED_EVENT).count() == len(rows) + 10


def simulate(*args):
    out = io.StringIO()
    call_command("simulate", *args, stdout=out)
    return out.getvalue()


def test_simulate_rewards_on_the_moved_clock():
    program()
    ordered = dt.datetime(2026, 4, 1, 10, 20, tzinfo=UTC)
    row = referral(ordered_at=ordered)

    output = simulate("--start", "2026-04-01T00:00:00Z", "--end", "2026-04-02T00:00:00Z",
                      "--step", "1h")

    assert "Referral rewards: 1 referral(s) rewarded." in output
    row.refresh_from_db()
    # The first tick on the grid after the order, not every hour before it.
    assert (row.reward, row.rewarded_at) == ("granted", dt.datetime(2026, 4, 1, 11, tzinfo=UTC))


# The dry run's sandbox reads on its own connection: the data must be committed.
@pytest.mark.django_db(transaction=True)
def test_a_dry_run_shows_the_rewards_and_stores_none():
    program(refund_window_days=3, hold_until_window_passes=True)
    row = referral(ordered_at=dt.datetime(2026, 4, 1, 10, 20, tzinfo=UTC))

    output = simulate("--start", "2026-04-01T00:00:00Z", "--end", "2026-04-06T00:00:00Z",
                      "--step", "1h", "--dry-run")

    assert "Referral rewards: 1 referral(s) rewarded." in output
    row.refresh_from_db()
    assert row.reward == Referral.Reward.PENDING
    assert not PointsEntry.objects.exists() and not Event.objects.exists()
