"""The journeys about products: abandoned cart, browse abandonment, time to reorder."""
import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import (
    Campaign, Enrollment, Event, EventLine, Heartbeat, Order, OrderLine, Product,
)
from campaigns.services.campaign_drafts import campaign_create_from_starter
from campaigns.services.journeys import campaign_activate
from campaigns.services.planning import enrollments_exit, enrollments_plan
from campaigns.services.reorder import reorder_due_emit, reorder_intervals_learn
from tests.factories import CampaignFactory, CustomerFactory

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


def started(key: str) -> Campaign:
    campaign = campaign_create_from_starter(key=key)
    campaign_activate(campaign=campaign)
    return campaign


def event(customer, type_, at, skus=("COF-1",), event_id=None):
    ev = Event.objects.create(customer=customer, type=type_, occurred_at=at, event_id=event_id)
    EventLine.objects.bulk_create([
        EventLine(event=ev, customer=customer, sku=sku, quantity=1, price=Decimal("99.00"),
                  occurred_at=at) for sku in skus])
    return ev


_orders = iter(range(1, 10**6))


def purchase(customer, at, skus=("COF-1",), products=None):
    order = Order.objects.create(customer=customer, external_id=f"o-{next(_orders)}",
                                 amount=Decimal("99.00"), currency="SEK", placed_at=at)
    Event.objects.create(customer=customer, type="purchase", occurred_at=at, order=order)
    OrderLine.objects.bulk_create([
        OrderLine(order=order, customer=customer, sku=sku, quantity=1, price=Decimal("99.00"),
                  placed_at=at, product=(products or {}).get(sku)) for sku in skus])
    return order


# Abandoned cart ---------------------------------------------------------------------

def test_a_newer_cart_ends_the_older_journey_never_two_carts_at_once(frozen_clock):
    cart = started("abandoned_cart")
    customer = CustomerFactory()
    event(customer, "checkout.started", frozen_clock.now - 10 * dt.timedelta(minutes=1))
    enrollments_plan(now=frozen_clock.now)
    enrollments_exit(now=frozen_clock.now)
    assert cart.enrollments.get().state == Enrollment.State.ACTIVE

    newer = event(customer, "checkout.started", frozen_clock.advance(minutes=20), skus=["TEA-1"])
    enrollments_plan(now=frozen_clock.now)
    enrollments_exit(now=frozen_clock.now)

    states = dict(cart.enrollments.values_list("trigger_event_id", "state"))
    assert list(states.values()).count(Enrollment.State.ACTIVE) == 1
    assert states[newer.pk] == Enrollment.State.ACTIVE


def test_a_cart_is_not_ended_by_its_own_event_or_another_at_the_same_instant(frozen_clock):
    cart = started("abandoned_cart")
    customer = CustomerFactory()
    at = frozen_clock.now - dt.timedelta(minutes=5)
    first = event(customer, "checkout.started", at)
    event(customer, "cart.updated", at)
    enrollments_plan(now=frozen_clock.now)

    assert enrollments_exit(now=frozen_clock.now) == 0
    assert cart.enrollments.get(trigger_event=first).state == Enrollment.State.ACTIVE


def test_buying_an_item_of_the_cart_ends_it_and_buying_something_else_does_not(frozen_clock):
    cart = started("abandoned_cart")
    buyer, other = CustomerFactory(), CustomerFactory()
    for customer in (buyer, other):
        event(customer, "checkout.started", frozen_clock.now - HOUR / 2, skus=["COF-1", "MUG-2"])
    enrollments_plan(now=frozen_clock.now)
    purchase(buyer, frozen_clock.advance(minutes=10), skus=["MUG-2"])
    purchase(other, frozen_clock.now, skus=["KNIFE-9"])

    assert enrollments_exit(now=frozen_clock.now) == 1

    assert cart.enrollments.get(customer=buyer).exit_reason == "purchase_of_items"
    assert cart.enrollments.get(customer=other).state == Enrollment.State.ACTIVE


def test_a_purchase_before_the_cart_does_not_end_it(frozen_clock):
    cart = started("abandoned_cart")
    customer = CustomerFactory()
    purchase(customer, frozen_clock.now - 2 * HOUR, skus=["COF-1"])
    event(customer, "checkout.started", frozen_clock.now - HOUR / 2, skus=["COF-1"])
    enrollments_plan(now=frozen_clock.now)

    assert enrollments_exit(now=frozen_clock.now) == 0
    assert cart.enrollments.get().state == Enrollment.State.ACTIVE


def test_the_purchase_exit_costs_the_same_statements_for_few_and_many_carts(frozen_clock):
    started("abandoned_cart")

    def exit_statements(carts):
        for _ in range(carts):
            event(CustomerFactory(), "checkout.started", frozen_clock.now - HOUR / 2)
        enrollments_plan(now=frozen_clock.now)
        with CaptureQueriesContext(connection) as queries:
            enrollments_exit(now=frozen_clock.now)
        return len(queries)

    assert exit_statements(3) == exit_statements(30)


# Browse abandonment -------------------------------------------------------------------

def test_five_views_in_a_week_bring_one_browse_email(frozen_clock):
    browse = started("browse_abandonment")
    customer = CustomerFactory()
    for day in range(5):
        event(customer, "product.viewed", frozen_clock.now + day * DAY + HOUR, skus=[f"P-{day}"])
        enrollments_plan(now=frozen_clock.advance(days=1) if day else frozen_clock.advance(hours=2))

    assert browse.enrollments.count() == 1
    # A week after the first, a view is welcome again.
    event(customer, "product.viewed", frozen_clock.advance(days=4), skus=["P-9"])
    enrollments_plan(now=frozen_clock.advance(minutes=1))
    assert browse.enrollments.count() == 2


def test_five_views_arriving_in_one_batch_bring_one_browse_email(frozen_clock):
    browse = started("browse_abandonment")
    customer = CustomerFactory()
    for n in range(5):
        event(customer, "product.viewed", frozen_clock.now + n * HOUR, skus=[f"P-{n}"])

    enrollments_plan(now=frozen_clock.advance(hours=6))

    assert browse.enrollments.count() == 1


def test_buying_the_viewed_product_ends_the_browse_journey(frozen_clock):
    browse = started("browse_abandonment")
    customer = CustomerFactory()
    event(customer, "product.viewed", frozen_clock.now - HOUR, skus=["KNIFE-1"])
    enrollments_plan(now=frozen_clock.now)
    purchase(customer, frozen_clock.advance(hours=3), skus=["KNIFE-1"])

    enrollments_exit(now=frozen_clock.now)

    assert browse.enrollments.get().state == Enrollment.State.EXITED


# Time to reorder ------------------------------------------------------------------------

def product(sku, **fields):
    return Product.objects.create(sku=sku, name=sku, **fields)


def test_the_reorder_interval_is_the_median_gap_between_repeat_purchases(frozen_clock):
    beans = product("BEANS")
    rare = product("RARE")
    now = frozen_clock.now
    for n, gap in enumerate([28, 30, 31, 29, 60, 30]):
        customer = CustomerFactory()
        purchase(customer, now - 200 * DAY, skus=["BEANS", "RARE"],
                 products={"BEANS": beans, "RARE": rare})
        purchase(customer, now - (200 - gap) * DAY, skus=["BEANS"], products={"BEANS": beans})
        if n < 3:  # only 3 repeat pairs of RARE: too few to learn from
            purchase(customer, now - (200 - gap) * DAY, skus=["RARE"], products={"RARE": rare})

    assert reorder_intervals_learn(now=now) == 1

    beans.refresh_from_db()
    rare.refresh_from_db()
    assert beans.learned_reorder_days == 30  # median of 28 29 30 30 31 60
    assert rare.learned_reorder_days is None


def test_a_reorder_reminder_comes_once_when_the_interval_passed_without_a_new_purchase(frozen_clock):
    beans = product("BEANS", reorder_days=30, learned_reorder_days=45)
    reorder = started("reorder")
    customer, rebought = CustomerFactory(), CustomerFactory()
    purchase(customer, frozen_clock.now - 29 * DAY, skus=["BEANS"], products={"BEANS": beans})
    purchase(rebought, frozen_clock.now - 29 * DAY, skus=["BEANS"], products={"BEANS": beans})
    purchase(rebought, frozen_clock.now - 2 * DAY, skus=["BEANS"], products={"BEANS": beans})
    enrollments_plan(now=frozen_clock.now)
    assert not reorder.enrollments.exists()

    enrollments_plan(now=frozen_clock.advance(days=1, hours=1))  # reorder_days wins over 45
    enrollments_plan(now=frozen_clock.advance(hours=2))

    enrollment = reorder.enrollments.get()
    assert enrollment.customer == customer
    due = Event.objects.get(type="product.reorder_due")
    assert due.event_id.startswith("reorder-due:")
    assert list(due.lines.values_list("sku", "product")) == [("BEANS", beans.pk)]


def test_the_reorder_emission_runs_at_most_hourly_and_reads_only_what_came_due(frozen_clock):
    beans = product("BEANS", reorder_days=30)
    reorder_due_emit(now=frozen_clock.now)
    purchase(CustomerFactory(), frozen_clock.now - 30 * DAY + dt.timedelta(minutes=10),
             skus=["BEANS"], products={"BEANS": beans})

    assert reorder_due_emit(now=frozen_clock.advance(minutes=30)) == 0  # not an hour yet
    assert reorder_due_emit(now=frozen_clock.advance(minutes=31)) == 1
    assert reorder_due_emit(now=frozen_clock.advance(hours=2)) == 0
    assert reorder_due_emit(now=frozen_clock.now, force=True) == 0  # emitted once
    assert Heartbeat.objects.get(name="reorder_due").at == frozen_clock.now


def test_buying_the_product_again_ends_the_reorder_journey(frozen_clock):
    beans = product("BEANS", reorder_days=30)
    reorder = started("reorder")
    customer = CustomerFactory()
    purchase(customer, frozen_clock.now - 30 * DAY + HOUR, skus=["BEANS"],
             products={"BEANS": beans})
    enrollments_plan(now=frozen_clock.advance(hours=2))
    assert reorder.enrollments.get().state == Enrollment.State.ACTIVE  # its email is pending
    purchase(customer, frozen_clock.advance(hours=1), skus=["BEANS"], products={"BEANS": beans})

    enrollments_exit(now=frozen_clock.now)

    assert reorder.enrollments.get().exit_reason == "purchase_of_items"


# Settings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("config, trigger", [
    ({"exit_on_purchase_of_items": "yes"}, Campaign.Trigger.EVENT),
    ({"exit_on_purchase_of_items": True, "days": 90}, Campaign.Trigger.INACTIVITY),
])
def test_the_purchase_exit_setting_is_checked_when_saved(config, trigger):
    campaign = CampaignFactory.build(trigger=trigger, trigger_config=config)

    with pytest.raises(ValidationError) as error:
        campaign.clean()

    assert "exit_on_purchase_of_items" in str(error.value) or "event trigger" in str(error.value)


# Caps and priorities -------------------------------------------------------------------

def test_a_cart_email_and_a_win_back_on_the_same_day_keep_the_daily_cap_cart_first(
        frozen_clock, policy):
    from campaigns.models import Message, TemplateTranslation
    from tests.helpers import consenting_customer, run_tick

    cart, winback = started("abandoned_cart"), started("winback")
    # Plain texts: this test is about caps and priority, not the cart's content.
    TemplateTranslation.objects.update(subject="Hi", html_body="<p>Hi</p>", text_body="Hi")
    t = frozen_clock.now + HOUR
    customer = consenting_customer(last_order_at=t - 90 * DAY)
    event(customer, "checkout.started", t - HOUR)

    moment = frozen_clock.advance(minutes=1)
    while moment < t + 3 * DAY:
        run_tick(moment)
        moment = frozen_clock.advance(hours=1)

    sent = list(Message.objects.filter(customer=customer, state=Message.State.SENT)
                .order_by("sent_at").values_list("campaign_id", "sent_at"))
    # Both are due at t: the cart's priority (75) goes first, at the first tick after t.
    assert sent[0] == (cart.pk, t + dt.timedelta(minutes=1))
    assert winback.pk in [campaign_id for campaign_id, _ in sent]
    assert all(b - a >= DAY for (_, a), (_, b) in zip(sent, sent[1:]))  # 1 per 24 h
    assert cart.priority > winback.priority


def test_the_reorder_emission_costs_the_same_statements_for_few_and_many_due_lines(frozen_clock):
    beans = product("BEANS", reorder_days=30)
    reorder_due_emit(now=frozen_clock.now)  # its first run also makes its heartbeat row

    def emit_statements(due):
        for _ in range(due):
            purchase(CustomerFactory(), frozen_clock.now - 30 * DAY + dt.timedelta(minutes=30),
                     skus=["BEANS"], products={"BEANS": beans})
        with CaptureQueriesContext(connection) as queries:
            assert reorder_due_emit(now=frozen_clock.advance(hours=1)) == due
        return len(queries)

    assert emit_statements(3) == emit_statements(30)
