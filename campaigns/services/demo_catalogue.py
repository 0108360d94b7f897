"""The demo shop's catalogue, the lines of its orders, and a few open carts and viewed
products of the last days, so the product journeys (abandoned cart, browse abandonment,
time to reorder) have something to do on `make run`.

Deterministic (a seeded random per order and per customer, separate from the one that
made them, so the customers and orders stay as they were) and idempotent like the rest of
the demo: products are keyed by sku, lines and events are made only for new customers.
"""
import datetime as dt
import random
from decimal import Decimal

from django.conf import settings

from campaigns.models import Event, EventLine, Order, OrderLine, Product

SEED = 20261204
# (sku, en, sv, nb, category, brand, price SEK, reorder days or None, in stock)
PRODUCTS = [
    ("KNV-CHEF20", "Chef's knife 20 cm", "Kockkniv 20 cm", "Kokkekniv 20 cm", "Kitchen > Knives", "Fjällstål", 899, None, True),
    ("KNV-BREAD", "Bread knife", "Brödkniv", "Brødkniv", "Kitchen > Knives", "Fjällstål", 649, None, True),
    ("KNV-PARING", "Paring knife", "Skalkniv", "Skrellekniv", "Kitchen > Knives", "Fjällstål", 349, None, True),
    ("KNV-SHARP", "Whetstone 1000/6000", "Slipsten 1000/6000", "Slipestein 1000/6000", "Kitchen > Knives", "Fjällstål", 449, None, False),
    ("CKW-PAN28", "Cast-iron pan 28 cm", "Gjutjärnspanna 28 cm", "Støpejernspanne 28 cm", "Kitchen > Cookware", "Lindhem", 749, None, True),
    ("CKW-POT4", "Enamel pot 4 l", "Emaljgryta 4 l", "Emaljegryte 4 l", "Kitchen > Cookware", "Lindhem", 1199, None, True),
    ("CKW-BOARD", "Oak cutting board", "Skärbräda i ek", "Skjærefjøl i eik", "Kitchen > Cookware", "Lindhem", 399, None, True),
    ("CKW-OIL", "Board oil 250 ml", "Skärbrädsolja 250 ml", "Fjølolje 250 ml", "Kitchen > Cookware", "Lindhem", 129, 90, True),
    ("COF-DARK", "Coffee beans, dark roast 500 g", "Kaffebönor mörkrost 500 g", "Kaffebønner mørkbrent 500 g", "Coffee > Beans", "Nordbrygg", 149, 30, True),
    ("COF-LIGHT", "Coffee beans, light roast 500 g", "Kaffebönor ljusrost 500 g", "Kaffebønner lysbrent 500 g", "Coffee > Beans", "Nordbrygg", 159, 30, True),
    ("COF-ESPR", "Espresso beans 1 kg", "Espressobönor 1 kg", "Espressobønner 1 kg", "Coffee > Beans", "Nordbrygg", 289, None, True),
    ("COF-DECAF", "Decaf beans 500 g", "Koffeinfria bönor 500 g", "Koffeinfrie bønner 500 g", "Coffee > Beans", "Nordbrygg", 169, None, True),
    ("COF-FILT", "Paper filters, 100", "Kaffefilter, 100 st", "Kaffefilter, 100 stk", "Coffee > Brewing", "Nordbrygg", 49, None, True),
    ("COF-V60", "Pour-over dripper", "Droppbryggare", "Dryppbrygger", "Coffee > Brewing", "Havsglas", 229, None, True),
    ("COF-PRESS", "French press 1 l", "Presskanna 1 l", "Stempelkanne 1 l", "Coffee > Brewing", "Havsglas", 399, None, True),
    ("COF-GRIND", "Hand grinder", "Handkvarn", "Håndkvern", "Coffee > Brewing", "Fjällstål", 699, None, True),
    ("TEA-EARL", "Earl Grey, loose 100 g", "Earl Grey, lösvikt 100 g", "Earl Grey, løs 100 g", "Tea > Loose leaf", "Skog & Te", 89, None, True),
    ("TEA-GREEN", "Sencha green tea 100 g", "Grönt te sencha 100 g", "Grønn te sencha 100 g", "Tea > Loose leaf", "Skog & Te", 109, None, True),
    ("TEA-BIRCH", "Birch leaf herbal tea 50 g", "Björklövste 50 g", "Bjørkebladte 50 g", "Tea > Loose leaf", "Skog & Te", 79, None, True),
    ("TEA-ROOIB", "Rooibos vanilla 100 g", "Rooibos vanilj 100 g", "Rooibos vanilje 100 g", "Tea > Loose leaf", "Skog & Te", 85, None, True),
    ("TEA-POT", "Glass teapot 0.8 l", "Tekanna i glas 0,8 l", "Tekanne i glass 0,8 l", "Tea > Teaware", "Havsglas", 349, None, True),
    ("TEA-INFUS", "Tea infuser", "Tesil", "Tesil", "Tea > Teaware", "Havsglas", 99, None, True),
    ("TEA-CUPS", "Stoneware cups, 2", "Stengodskoppar, 2 st", "Steintøykopper, 2 stk", "Tea > Teaware", "Lindhem", 279, None, True),
    ("HOM-THROW", "Wool throw", "Ullpläd", "Ullpledd", "Home > Textiles", "Lindhem", 899, None, True),
    ("HOM-NAPK", "Linen napkins, 4", "Linneservetter, 4 st", "Linservietter, 4 stk", "Home > Textiles", "Lindhem", 299, None, True),
    ("HOM-TOWEL", "Waffle towel", "Våffelhandduk", "Vaffelhåndkle", "Home > Textiles", "Lindhem", 199, None, True),
    ("HOM-LAMP", "Table lamp Ljus", "Bordslampa Ljus", "Bordlampe Ljus", "Home > Lighting", "Havsglas", 1290, None, True),
    ("HOM-CANDL", "Candles, 6", "Kronljus, 6 st", "Kronelys, 6 stk", "Home > Lighting", "Norrsken", 119, 60, True),
    ("HOM-HOLD", "Brass candle holder", "Ljusstake i mässing", "Lysestake i messing", "Home > Lighting", "Norrsken", 349, None, True),
    ("HOM-VASE", "Glass vase", "Glasvas", "Glassvase", "Home > Lighting", "Havsglas", 449, None, True),
]
# The consumables a customer may keep buying (their "staple"), most often coffee beans.
STAPLES = ["COF-DARK", "COF-DARK", "COF-LIGHT", "TEA-EARL", "TEA-GREEN", "CKW-OIL",
           "HOM-CANDL", "COF-FILT"]
# A customer's currency per SEK: the demo's orders are in SEK, NOK and EUR.
RATES = {"SEK": Decimal("1"), "NOK": Decimal("1"), "EUR": Decimal("0.09")}
# One in this many of the customers with consent left a cart or looked at a product lately.
CART_EVERY = 25
VIEW_EVERY = 17


def _static(path: str) -> str:
    static = settings.STATIC_URL
    if static.startswith(("http://", "https://")):
        return f"{static.rstrip('/')}/{path}"
    return f"{settings.SITE_URL}/{static.strip('/')}/{path}"


def _slug(sku: str) -> str:
    return sku.lower()


def catalogue_load() -> int:
    """The demo's ~30 products (missing ones added; a product that exists is left as
    it is). Images are small SVG files served with the static files."""
    existing = set(Product.objects.filter(sku__in=[p[0] for p in PRODUCTS])
                   .values_list("sku", flat=True))
    new = [
        Product(sku=sku, name=en, names={"en": en, "sv": sv, "nb": nb},
                url=f"{settings.SITE_URL}/products/{_slug(sku)}",
                image_url=_static(f"campaigns/demo/products/{_slug(sku)}.svg"),
                price=Decimal(price), currency="SEK", category=category, brand=brand,
                reorder_days=reorder, in_stock=in_stock)
        for sku, en, sv, nb, category, brand, price, reorder, in_stock in PRODUCTS
        if sku not in existing
    ]
    Product.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def order_lines_draw(orders: list[Order], *, external_id: str) -> dict[str, list[tuple]]:
    """Each order's lines (sku, quantity, unit price in the order's currency), and its
    amount set to their sum. A customer may have a staple they keep buying (coffee beans,
    tea), so the shop's history has repeat purchases to learn reorder intervals from."""
    rng = random.Random(f"{SEED}-{external_id}")
    staple = rng.choice(STAPLES) if rng.random() < 0.55 else None
    prices = {p[0]: Decimal(p[6]) for p in PRODUCTS}
    others = [p[0] for p in PRODUCTS if p[8]]
    lines = {}
    for order in orders:
        skus = rng.sample(others, rng.choices([1, 2, 3], weights=[5, 3, 2])[0])
        if staple and rng.random() < 0.85:
            skus = [staple] + [s for s in skus if s != staple][:1]
        rate = RATES.get(order.currency, Decimal("1"))
        order_lines = [(sku, rng.choices([1, 2], weights=[4, 1])[0],
                        (prices[sku] * rate).quantize(Decimal("0.01"))) for sku in skus]
        order.amount = sum((q * p for _, q, p in order_lines), Decimal("0"))
        lines[order.external_id] = order_lines
    return lines


def order_lines_load(people: list[dict]) -> int:
    """The lines of the new customers' orders (drawn by order_lines_draw)."""
    products = dict(Product.objects.filter(sku__in=[p[0] for p in PRODUCTS])
                    .values_list("sku", "pk"))
    order_ids = dict(Order.objects.filter(
        external_id__in=[o.external_id for p in people for o in p["orders"]])
        .values_list("external_id", "pk"))
    rows = [
        OrderLine(order_id=order_ids[order.external_id], customer_id=person["customer"].pk,
                  sku=sku, product_id=products.get(sku), quantity=quantity, price=price,
                  placed_at=order.placed_at)
        for person in people for order in person["orders"]
        for sku, quantity, price in person["lines"].get(order.external_id, [])
    ]
    OrderLine.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def recent_activity_load(people: list[dict], *, now: dt.datetime) -> int:
    """Open carts (`checkout.started`, 1-9 hours ago; one customer replaced a cart with a
    newer one) and viewed products (2-30 hours ago) of a few consenting customers."""
    products = {p[0]: p for p in PRODUCTS}
    ids = dict(Product.objects.filter(sku__in=list(products)).values_list("sku", "pk"))
    in_stock = [p[0] for p in PRODUCTS if p[8]]
    events, lines = [], []
    for person in people:
        customer = person["customer"]
        number = int(customer.external_id.removeprefix("demo-c-"))
        if not person["consent"] or customer.signed_up_at > now - dt.timedelta(days=2):
            continue
        rng = random.Random(f"{SEED}-recent-{customer.external_id}")
        rate = RATES.get(person["orders"][0].currency if person["orders"] else "SEK",
                         Decimal("1"))
        moments = []
        if number % CART_EVERY == 3:
            moments.append(("checkout.started", now - dt.timedelta(hours=rng.uniform(1.5, 9)),
                            rng.sample(in_stock, rng.randint(1, 3))))
            if number % (CART_EVERY * 3) == 3:  # an older cart this one replaced
                moments.append(("checkout.started", moments[0][1] - dt.timedelta(hours=5),
                                rng.sample(in_stock, 2)))
        if number % VIEW_EVERY == 5:
            moments.append(("product.viewed", now - dt.timedelta(hours=rng.uniform(2, 30)),
                            [rng.choice(in_stock)]))
        for n, (kind, at, skus) in enumerate(moments):
            token = f"{number:04d}-{n}"
            event = Event(
                event_id=f"demo-ev-{kind.split('.')[0]}-{token}", customer_id=customer.pk,
                type=kind, occurred_at=at,
                properties={"cart_url": f"{settings.SITE_URL}/cart/demo-{token}"}
                if kind == "checkout.started" else {"source": "demo"})
            quantities = [rng.choices([1, 2], weights=[4, 1])[0] for _ in skus]
            events.append(event)
            lines.append([(sku, q, (Decimal(products[sku][6]) * rate).quantize(Decimal("0.01")))
                          for sku, q in zip(skus, quantities)])
    Event.objects.bulk_create(events, batch_size=500, ignore_conflicts=True)
    stored = dict(Event.objects.filter(event_id__in=[e.event_id for e in events])
                  .values_list("event_id", "pk"))
    EventLine.objects.bulk_create([
        EventLine(event_id=stored[event.event_id], customer_id=event.customer_id, sku=sku,
                  product_id=ids.get(sku), quantity=quantity, price=price,
                  occurred_at=event.occurred_at)
        for event, event_lines in zip(events, lines) for sku, quantity, price in event_lines
    ], batch_size=1000)
    return len(events)
