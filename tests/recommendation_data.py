"""Products, order lines and carts for the recommendation tests."""
import datetime as dt
from decimal import Decimal

from campaigns.models import EventLine, Order, OrderLine, Product
from tests.factories import EventFactory, OrderFactory

NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc)  # the frozen clock's time


def product(sku, category="", **fields) -> Product:
    return Product.objects.create(sku=sku, name=fields.pop("name", sku.title()),
                                  category=category, **fields)


def buy(customer, *products, days_ago=10, status=Order.Status.PLACED, refunded=0, quantity=1,
        at=None, price="10.00") -> Order:
    placed = at or NOW - dt.timedelta(days=days_ago)
    order = OrderFactory(customer=customer, placed_at=placed, status=status)
    for p in products:
        OrderLine.objects.create(order=order, customer=customer, sku=p.sku, product=p,
                                 quantity=quantity, price=Decimal(price), placed_at=placed,
                                 refunded_quantity=refunded)
    return order


def cart(customer, *products, at=NOW, type="checkout.started"):
    event = EventFactory(customer=customer, type=type, occurred_at=at)
    for p in products:
        EventLine.objects.create(event=event, customer=customer, sku=p.sku, product=p,
                                 quantity=1, price=Decimal("10.00"), occurred_at=at)
    return event
