"""Admin fixtures: a seeded shop whose welcome journey has run once."""
import datetime as dt

import pytest
from django.core import mail
from django.db import transaction

from campaigns import clock
from campaigns.models import (
    AttributeDefinition, Campaign, Coupon, Customer, EarningRule, Enrollment, ErasureRequest,
    Event, EventLine, Order, OrderLine, Product, ForecastJob, ImportJob, Message, MessageEvent, PrivacyRequest, Referral, ReferralCode, ReferralProgram, StepVariant, SubscriptionRequest,
    SurveyQuestion, Tier,
)
from campaigns.services.api_keys import api_key_create
from campaigns.services.consent import suppression_add
from campaigns.services.demo import demo_load
from campaigns.services.scheduling import points_grant, scheduler_tick
from campaigns.services.surveys import survey_answer
from campaigns.services.sending import messages_send_due
from tests.conftest import FROZEN_AT, Clock

SHOP_NOW = FROZEN_AT


def tick_and_send(now: dt.datetime) -> None:
    scheduler_tick(now=now)
    messages_send_due(now=now)


@pytest.fixture(scope="module")
def shop_data(django_db_setup, django_db_blocker):
    """The shop's rows, built once per module inside a transaction that is rolled back when
    the module ends; each test runs in a savepoint inside it, so what a test changes is
    undone after it (Django's `TestCase.setUpTestData`, for pytest)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            _shop_build(Clock(SHOP_NOW))
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
        finally:
            clock.set_virtual(None)
            mail.outbox = []
    yield
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture
def shop(shop_data, db, frozen_clock):
    """Demo data for 30 customers and a signup that reached us 30 h late, one tick later:
    5 welcomes sent to the fresh signups, the late one expired. The clock stands where the
    tick ran."""
    assert frozen_clock.now == SHOP_NOW
    return frozen_clock


def _shop_build(frozen_clock: Clock) -> None:
    demo_load(customers=30)
    Event.objects.create(
        customer=Customer.objects.get(external_id="demo-c-0001"), type="signup",
        event_id="late-signup", occurred_at=frozen_clock.now - dt.timedelta(hours=30),
    )
    tick_and_send(frozen_clock.now)
    sent = Message.objects.filter(state=Message.State.SENT).first()
    MessageEvent.objects.create(
        message=sent, provider="test", event_id="evt-1", event_type="delivered",
        occurred_at=frozen_clock.now,
    )
    suppression_add(email="bounced@example.com", reason="bounced")
    survey_answer(message=sent, kind="nps", score=4, comment="Slow delivery")
    SurveyQuestion.objects.create(kind="ces", locale="nb", question="Hvor enkelt var det?",
                                  low_label="Svært vanskelig", high_label="Svært enkelt")
    step = Campaign.objects.get(slug="welcome").steps.get()
    StepVariant.objects.create(step=step, name="A", template=step.template, weight=1)
    bonus = Campaign.objects.get(slug="surprise-bonus")
    points_grant(enrollment=Enrollment.objects.create(
        campaign=bonus, customer=sent.customer, entry_key="order:o-1",
        triggered_at=frozen_clock.now), step=bonus.steps.get(kind="reward"), now=frozen_clock.now)
    api_key_create(name="Shop")
    AttributeDefinition.objects.create(key="birthday", label="Birthday", type="date")
    ImportJob.objects.create(kind="customers", file="imports/shop.csv", status="done",
                             rows_done=3, created=2, rejected=1)
    ForecastJob.objects.create(campaign_ids=[bonus.pk], state="done", progress=100)
    PrivacyRequest.objects.create(kind="export", customer_id=sent.customer_id, actor="command")
    ErasureRequest.objects.create(customer=sent.customer)
    SubscriptionRequest.objects.create(
        email="new@example.com", email_hash="0" * 64, topics=["marketing"], source="subscription_page",
        expires_at=frozen_clock.now + dt.timedelta(days=7))
    EarningRule.objects.create(kind="spend", currency="SEK", points_per_unit="0.1")
    Tier.objects.create(name="bronze", threshold=0)
    Coupon.objects.create(code="TEST-CODE-01", customer=sent.customer, campaign=bonus,
                          expires_at=frozen_clock.now + dt.timedelta(days=30))
    _catalogue_build(sent.customer, frozen_clock.now)
    if not ReferralCode.objects.exists():  # unless the demo made some already
        ReferralCode.objects.create(customer=sent.customer, code="k7qxm2pa9tbc",
                                    created_at=frozen_clock.now)
    if not Referral.objects.exists():  # a friend the demo's customer brought
        friend = Customer.objects.exclude(pk=sent.customer.pk).exclude(
            referral__isnull=False).order_by("pk").first()
        Referral.objects.create(referred=friend, referrer=sent.customer, code="k7qxm2pa9tbc",
                                status=Referral.Status.COUNTED, source="api",
                                referred_at=frozen_clock.now)
    ReferralProgram.current()


def _catalogue_build(customer: Customer, now: dt.datetime) -> None:
    """A product, an order line and a cart line (unless the demo made some already)."""
    product = Product.objects.order_by("pk").first() or Product.objects.create(
        sku="demo-p-1", name="Chef's knife", names={"sv": "Kockkniv"}, price="899.00",
        currency="SEK", category="Kitchen > Knives", brand="Morakniv",
        image_url="https://cdn.example.com/p1.jpg")
    order = Order.objects.filter(customer=customer).first() or Order.objects.create(
        customer=customer, external_id="catalogue-o-1", amount="899.00", currency="SEK",
        placed_at=now)
    if not OrderLine.objects.exists():
        OrderLine.objects.create(order=order, customer=customer, sku=product.sku,
                                 product=product, price="899.00", placed_at=order.placed_at)
    if not EventLine.objects.exists():
        cart = Event.objects.create(customer=customer, type="checkout.started", occurred_at=now)
        EventLine.objects.create(event=cart, customer=customer, sku=product.sku,
                                 product=product, occurred_at=now)
