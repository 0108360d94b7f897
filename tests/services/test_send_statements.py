"""The send path is set-based: its statements per group do not grow with the group (habit 16)."""
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import EventLine, OrderLine, Product, Segment, SegmentMembership
from campaigns.selectors.catalogue import catalogue_cache_clear
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.factories import (
    CampaignFactory, EventFactory, JourneyStepFactory, OrderFactory, TemplateTranslationFactory,
)
from tests.helpers import consenting_customer

pytestmark = pytest.mark.django_db


def statements_to_send(clock, count: int) -> int:
    for _ in range(count):
        EventFactory(customer=consenting_customer(), type="signup", occurred_at=clock.now)
    scheduler_tick(now=clock.now)
    with CaptureQueriesContext(connection) as queries:
        report = messages_send_due(now=clock.now, in_flight=1, group_size=100)
    assert report.sent == count
    return len(queries)


def test_sending_a_group_of_40_takes_the_statements_of_a_group_of_4(frozen_clock, welcome, policy):
    few = statements_to_send(frozen_clock, 4)
    frozen_clock.advance(days=2)  # past the daily cap of the first ones

    many = statements_to_send(frozen_clock, 40)

    assert many == few


CART_EMAIL = (
    "{% for item in event.items %}{{ item.name }} {{ item.price }} "
    "{{ item.attributes.color | default('-') }}\n{% endfor %}"
    "{% for order in orders %}{{ order.external_id }}:{% for item in order.items %}"
    "{{ item.name }},{% endfor %}\n{% endfor %}"
    "{% if in_segment('VIP') %}VIP{% endif %}"
    "{{ referral.url }} {{ referral.count }} {{ referral.rewarded_points }}"
)


@pytest.fixture
def cart_campaign(db):
    translation = TemplateTranslationFactory(locale="sv", subject="Din varukorg",
                                             html_body=CART_EMAIL, text_body=CART_EMAIL)
    campaign = CampaignFactory(trigger_event_type="checkout.started")
    JourneyStepFactory(campaign=campaign, template=translation.template)
    Product.objects.create(sku="knife", name="Chef's knife", names={"sv": "Kockkniv"},
                           price=Decimal("895.00"), currency="SEK", attributes={"color": "black"})
    Segment.objects.create(name="VIP", rule={})
    return campaign


def _shopper(now, index: int):
    """A customer with two past orders (two lines each) and a cart of two lines."""
    customer = consenting_customer()
    knife = Product.objects.get(sku="knife")
    for days in (30, 10):
        order = OrderFactory(customer=customer, placed_at=now - dt.timedelta(days=days))
        for sku, product in (("knife", knife), ("gone", None)):
            OrderLine.objects.create(order=order, customer=customer, sku=sku, product=product,
                                     quantity=1, price=Decimal("10.00"), placed_at=order.placed_at)
    cart = EventFactory(customer=customer, type="checkout.started", occurred_at=now)
    for sku, product in (("knife", knife), ("unknown", None)):
        EventLine.objects.create(event=cart, customer=customer, sku=sku, product=product,
                                 quantity=2, price=None, occurred_at=now)
    if index % 2:
        SegmentMembership.objects.create(segment=Segment.objects.get(name="VIP"),
                                         customer=customer)


def cart_statements(clock, count: int, *, cold: bool = True) -> int:
    for index in range(count):
        _shopper(clock.now, index)
    scheduler_tick(now=clock.now)
    if cold:
        catalogue_cache_clear()
    with CaptureQueriesContext(connection) as queries:
        # One group either way (a full group looks for more once).
        report = messages_send_due(now=clock.now, in_flight=1, group_size=150)
    assert report.sent == count
    return len(queries)


def test_cart_items_orders_segments_and_referral_cost_the_same_statements_for_10_and_100(
        frozen_clock, cart_campaign, policy):
    few = cart_statements(frozen_clock, 10)
    frozen_clock.advance(days=2)

    many = cart_statements(frozen_clock, 100)

    assert many == few
    # With the process's catalogue cache warm, the products are not read again.
    frozen_clock.advance(days=2)
    warm = cart_statements(frozen_clock, 10, cold=False)
    frozen_clock.advance(days=2)
    assert cart_statements(frozen_clock, 100, cold=False) == warm == few - 1
