"""What `event.items` and `orders` add per email to the send path (docs/benchmarks.md).

    DATABASE_URL=postgres://…/scratch .venv/bin/python benchmarks/personalisation_bench.py

It needs a scratch database in DATABASE_URL (it migrates and flushes it; SQLite when unset).
Customers with a cart of 3 lines and 3 past orders of 2 lines each, a catalogue of 200
products, and two cart journeys on the same carts: the demo's welcome email as it is
("without"), and the same email with a block listing the cart's items and one listing the
last orders ("with"). For groups of SEND_GROUP_SIZE messages it times what the send path
does for them after claiming: load the messages and their trigger events (decide.py), the
personalisation (the one added line: at most three statements per group), then build each
context and render each email with its footer (handover.py). With and without are
interleaved, --runs times each; it prints medians per email:

* load: `personalisation_attach` for a group, divided by the group's size;
* render: the extra context and template work of the item and order blocks;
* total: with − without, everything above together.
"""
import argparse
import datetime as dt
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyaltycrm.settings.base")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from campaigns import models as m  # noqa: E402
from campaigns.services.demo import content_read  # noqa: E402
from campaigns.selectors.catalogue import catalogue_snapshot  # noqa: E402
from campaigns.services.personalisation import personalisation_attach  # noqa: E402
from campaigns.services.rendering import message_render  # noqa: E402
from campaigns.services.scheduling import scheduler_tick  # noqa: E402
from campaigns.services.sending.decide import Batch, _messages_load  # noqa: E402

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CART = (
    '{% for item in event.items %}<tr><td><img src="{{ item.image_url }}" width="80" alt="">'
    '</td><td><a href="{{ item.url }}">{{ item.name }}</a><br>{{ item.quantity }} × '
    "{{ item.price }} {{ item.currency }} {{ item.attributes.color | default('') }}</td></tr>"
    "{% endfor %}"
)
ORDERS = (
    "{% for order in orders %}<p>{{ order.external_id }} · {{ order.amount }} "
    "{{ order.currency }}: {% for item in order.items %}{{ item.name }}{% if not loop.last %}, "
    "{% endif %}{% endfor %}</p>{% endfor %}"
)
ITEMS_TEXT = ("{% for item in event.items %}- {{ item.name }}: {{ item.quantity }} × "
              "{{ item.price }} {{ item.currency }}\n{% endfor %}")


def build(customers: int) -> list[list[int]]:
    """The data set; returns the message ids of the campaigns without the blocks, with the
    cart's items, with the items and the orders."""
    products = m.Product.objects.bulk_create([
        m.Product(sku=f"sku-{n}", name=f"Product {n}", names={"sv": f"Produkt {n}"},
                  url=f"https://shop.example.com/p/{n}", image_url=f"https://cdn.example.com/{n}.jpg",
                  price=Decimal(100 + n), currency="SEK", category="Kitchen > Knives",
                  attributes={"color": "black"} if n % 2 else {})
        for n in range(200)])
    people = m.Customer.objects.bulk_create([
        m.Customer(external_id=f"c-{n}", email=f"c{n}@example.se", first_name="Astrid",
                   locale="sv", time_zone="Europe/Stockholm", country="SE")
        for n in range(customers)])
    orders, order_lines, events, event_lines = [], [], [], []
    for n, customer in enumerate(people):
        for k in range(3):
            orders.append(m.Order(customer=customer, external_id=f"o-{n}-{k}", amount=Decimal("499"),
                                  currency="SEK", placed_at=NOW - dt.timedelta(days=10 * (k + 1))))
        events.append(m.Event(customer=customer, type="checkout.started", occurred_at=NOW,
                              received_at=NOW, event_id=f"cart-{n}", properties={"currency": "SEK"}))
    m.Order.objects.bulk_create(orders)
    m.Event.objects.bulk_create(events)
    for i, order in enumerate(orders):
        for k in range(2):
            product = products[(i * 7 + k) % len(products)]
            order_lines.append(m.OrderLine(order=order, customer_id=order.customer_id, sku=product.sku,
                                           product=product, quantity=1, price=product.price,
                                           placed_at=order.placed_at))
    for i, event in enumerate(events):
        for k in range(3):
            product = products[(i * 3 + k) % len(products)]
            event_lines.append(m.EventLine(event=event, customer_id=event.customer_id, sku=product.sku,
                                           product=product, quantity=1 + k, price=None,
                                           occurred_at=NOW))
    m.OrderLine.objects.bulk_create(order_lines)
    m.EventLine.objects.bulk_create(event_lines)
    welcome = content_read(name="welcome", locale="sv")
    ids = []
    for label, html, text in (
        ("without", welcome["html_body"], welcome["text_body"]),
        ("cart", welcome["html_body"] + f"<table>{CART}</table>", welcome["text_body"] + ITEMS_TEXT),
        ("with", welcome["html_body"] + f"<table>{CART}</table>{ORDERS}",
         welcome["text_body"] + ITEMS_TEXT),
    ):
        template = m.MessageTemplate.objects.create(name=label, purpose=m.Purpose.TRANSACTIONAL)
        m.TemplateTranslation.objects.create(template=template, locale="sv",
                                             subject=welcome["subject"], html_body=html,
                                             text_body=text)
        campaign = m.Campaign.objects.create(
            name=label, slug=label, status=m.Campaign.Status.ACTIVE,
            trigger=m.Campaign.Trigger.EVENT, trigger_event_type="checkout.started",
            deadline=dt.timedelta(hours=24))
        m.JourneyStep.objects.create(campaign=campaign, position=0, kind=m.JourneyStep.Kind.SEND,
                                     template=template)
        ids.append(campaign.pk)
    scheduler_tick(now=NOW)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return [list(m.Message.objects.filter(campaign_id=pk).order_by("id").values_list("id", flat=True))
            for pk in ids]


def group_time(ids: list[int], *, cached: bool = True) -> tuple[float, float]:
    """(seconds for the whole group, seconds of personalisation_attach); `cached` False:
    the process's catalogue cache bypassed (every product read again, as in a process's
    first batch or the first after a catalogue change)."""
    batch = Batch()
    started = time.perf_counter()
    customers = m.Customer.objects.in_bulk({m_.customer_id for m_ in m.Message.objects.filter(
        id__in=ids).only("customer_id")})
    messages = _messages_load(ids, batch)
    for message in messages:
        message.customer = customers[message.customer_id]
        message.granted_points, message.coupon, message.tiers = 0, None, batch.tiers
    attach_started = time.perf_counter()
    personalisation_attach(messages, catalogue=catalogue_snapshot(cached=cached))
    attached = time.perf_counter() - attach_started
    for message in messages:
        message_render(message=message)
    return time.perf_counter() - started, attached


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--group", type=int, default=settings.SEND_GROUP_SIZE)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    without, cart, with_items = build(args.customers)
    assert len(without) == len(cart) == len(with_items) == args.customers
    groups = [(without[i:i + args.group], cart[i:i + args.group], with_items[i:i + args.group])
              for i in range(0, args.customers, args.group)]
    for ids in groups[0]:
        group_time(ids)  # warm: compiled templates, layout, connections
    totals = {"without": [], "cart": [], "cart_load": [], "cart_cold": [], "cart_cold_load": [],
              "with": [], "load": []}
    for _ in range(args.runs):
        for plain, carts, rich in groups:  # interleaved: the machine's load moves all alike
            spent, _ = group_time(plain)
            totals["without"].append(spent / len(plain))
            spent, attached = group_time(carts)
            totals["cart"].append(spent / len(carts))
            totals["cart_load"].append(attached / len(carts))
            spent, attached = group_time(carts, cached=False)
            totals["cart_cold"].append(spent / len(carts))
            totals["cart_cold_load"].append(attached / len(carts))
            spent, attached = group_time(rich)
            totals["with"].append(spent / len(rich))
            totals["load"].append(attached / len(rich))
    median = {key: statistics.median(values) * 1e3 for key, values in totals.items()}
    best = {key: min(values) * 1e3 for key, values in totals.items()}
    print(f"{connection.vendor}, {args.customers} customers, groups of {args.group}, "
          f"{args.runs} runs × {len(groups)} groups, medians per email:")
    print(f"  without the blocks:        {median['without']:.3f} ms")
    print(f"  with event.items (3 lines): {median['cart']:.3f} ms: added "
          f"{median['cart'] - median['without']:.3f} ms, of which loading {median['cart_load']:.3f} ms")
    print(f"  with event.items, catalogue cache bypassed: {median['cart_cold']:.3f} ms: added "
          f"{median['cart_cold'] - median['without']:.3f} ms, of which loading "
          f"{median['cart_cold_load']:.3f} ms")
    print(f"  with event.items + orders (3 + 3 × 2 lines): {median['with']:.3f} ms")
    print(f"  added, total:              {median['with'] - median['without']:.3f} ms")
    print(f"  of which loading (4 statements per group, cache warm): {median['load']:.3f} ms")
    print(f"  of which context + render:  {median['with'] - median['without'] - median['load']:.3f} ms")
    print(f"best group per email: without {best['without']:.3f} ms, cart {best['cart']:.3f} ms "
          f"(loading {best['cart_load']:.3f}), with orders {best['with']:.3f} ms (loading "
          f"{best['load']:.3f}); load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
