"""What a template sees of the customer's shopping: the trigger event's items joined with
the catalogue, the last orders, content by segment (services/personalisation.py)."""
import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import (
    EventLine, Message, OrderLine, Product, Segment, SegmentMembership,
)
from campaigns.services.personalisation import personalisation_attach
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.factories import (
    CampaignFactory, EventFactory, JourneyStepFactory, OrderFactory, TemplateTranslationFactory,
)
from tests.helpers import consenting_customer

pytestmark = pytest.mark.django_db


def _campaign(event_type: str, text: str):
    translation = TemplateTranslationFactory(locale="sv", subject="Hej", html_body="<p>x</p>",
                                             text_body=text)
    campaign = CampaignFactory(trigger_event_type=event_type)
    JourneyStepFactory(campaign=campaign, template=translation.template)
    return campaign


def _send(clock) -> list[str]:
    scheduler_tick(now=clock.now)
    report = messages_send_due(now=clock.now, in_flight=1)
    assert report.failed == 0, list(Message.objects.values_list("reason", flat=True))
    return [email.body for email in mail.outbox]


@pytest.fixture
def knife(db):
    return Product.objects.create(
        sku="knife", name="Chef's knife", names={"sv": "Kockkniv"}, price=Decimal("895.00"),
        currency="SEK", url="https://shop.example.com/knife", category="Kitchen > Knives",
        brand="Edge", attributes={"color": "black"})


def test_a_cart_email_lists_the_carts_lines_joined_with_the_catalogue(frozen_clock, policy, knife):
    _campaign("checkout.started",
              "{% for i in event.items %}{{ i.name }}|{{ i.price }}|{{ i.quantity }}|"
              "{{ i.line_total }}|{{ i.url }}|{{ i.known }}|{{ i.in_stock }}|"
              "{{ i.attributes.color | default('none') }}\n{% endfor %}{{ event.type }}")
    customer = consenting_customer()
    cart = EventFactory(customer=customer, type="checkout.started", occurred_at=frozen_clock.now,
                        properties={"currency": "SEK"})
    EventLine.objects.create(event=cart, customer=customer, sku="knife", product=knife,
                             quantity=2, price=None, occurred_at=frozen_clock.now)
    EventLine.objects.create(event=cart, customer=customer, sku="mystery", quantity=1,
                             price=Decimal("12.5"), occurred_at=frozen_clock.now)

    [body] = _send(frozen_clock)

    assert "Kockkniv|895.00|2|1790.00|https://shop.example.com/knife|True|True|black" in body
    # Not (yet) in the catalogue: the sku for a name, the shop for a link, no attributes.
    assert "mystery|12.50|1|12.50|http" in body and "|False|False|none" in body
    assert "checkout.started" in body


def test_a_purchase_emails_items_are_the_orders_lines(frozen_clock, policy, knife):
    _campaign("purchase", "{% for i in event.items %}{{ i.name }} {{ i.currency }};{% endfor %}")
    customer = consenting_customer()
    order = OrderFactory(customer=customer, currency="NOK", placed_at=frozen_clock.now)
    OrderLine.objects.create(order=order, customer=customer, sku="knife", product=knife,
                             quantity=1, price=Decimal("900"), placed_at=order.placed_at)
    EventFactory(customer=customer, type="purchase", order=order, occurred_at=frozen_clock.now)

    [body] = _send(frozen_clock)

    assert "Kockkniv NOK;" in body


def test_orders_are_the_last_three_placed_newest_first(frozen_clock, policy, knife):
    _campaign("signup", "{% for o in orders %}{{ o.external_id }}({{ o.items | length }}) "
                        "{% endfor %}")
    customer = consenting_customer()
    for days, external_id, status in ((40, "o-old", "placed"), (30, "o-1", "placed"),
                                      (20, "o-2", "placed"), (5, "o-refunded", "refunded"),
                                      (10, "o-3", "placed")):
        order = OrderFactory(customer=customer, external_id=external_id, status=status,
                             placed_at=frozen_clock.now - dt.timedelta(days=days))
        OrderLine.objects.create(order=order, customer=customer, sku="knife", product=knife,
                                 placed_at=order.placed_at)
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

    [body] = _send(frozen_clock)

    assert "o-3(1) o-2(1) o-1(1)" in body and "o-old" not in body and "refunded" not in body


def test_content_by_segment_shows_a_block_only_to_current_members(frozen_clock, policy):
    _campaign("signup", "{% if in_segment('VIP') %}VIP offer{% else %}Regular{% endif %}"
                        "{% if in_segment('No such segment') %}never{% endif %}")
    vip = Segment.objects.create(name="VIP", rule={})
    member, other = consenting_customer(), consenting_customer()
    SegmentMembership.objects.create(segment=vip, customer=member)
    for customer in (member, other):
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

    _send(frozen_clock)
    bodies = {email.to[0]: email.body for email in mail.outbox}

    assert "VIP offer" in bodies[member.email] and "Regular" not in bodies[member.email]
    assert "Regular" in bodies[other.email] and "never" not in bodies[other.email]


def test_a_missing_product_attribute_without_a_default_never_fails_a_send(
        frozen_clock, policy, knife):
    _campaign("checkout.started",
              "Colour: [{{ event.items[0].attributes.colour }}] "
              "{% if event.items[0].attributes.size %}sized{% endif %}")
    customer = consenting_customer()
    cart = EventFactory(customer=customer, type="checkout.started", occurred_at=frozen_clock.now)
    EventLine.objects.create(event=cart, customer=customer, sku="knife", product=knife,
                             occurred_at=frozen_clock.now)

    [body] = _send(frozen_clock)

    assert "Colour: []" in body and "sized" not in body


def test_a_template_that_reads_none_of_it_loads_none_of_it(frozen_clock, policy, welcome):
    customer = consenting_customer()
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    scheduler_tick(now=frozen_clock.now)
    message = Message.objects.select_related("enrollment", "customer", "step__template").get()

    with CaptureQueriesContext(connection) as queries:
        personalisation_attach([message], reads=(frozenset({"customer"}), frozenset()))

    assert len(queries) == 0
    assert message.personalisation == {"event": None, "orders": None, "segments": None}


def test_a_message_rendered_on_its_own_loads_its_own_items(frozen_clock, policy, knife):
    # The as-sent page renders one message outside any send batch.
    from campaigns.services.rendering import message_render

    _campaign("checkout.started", "{% for i in event.items %}{{ i.name }}{% endfor %}"
                                  "{{ orders | length }}{{ in_segment('VIP') }}")
    customer = consenting_customer()
    cart = EventFactory(customer=customer, type="checkout.started", occurred_at=frozen_clock.now)
    EventLine.objects.create(event=cart, customer=customer, sku="knife", product=knife,
                             occurred_at=frozen_clock.now)
    scheduler_tick(now=frozen_clock.now)
    message = Message.objects.get()

    rendered, _, _ = message_render(message=message)

    assert rendered["text"].startswith("Kockkniv0False")
