"""Recommendations composed per batch: strategies, exclusions, reasons, a fixed query count."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.selectors.catalogue import catalogue_cache_clear
from campaigns.selectors.recommendations import recommendations_load
from campaigns.services.recommendations import recommendations_compute
from tests.factories import CustomerFactory
from tests.recommendation_data import NOW, buy, cart, product

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    """Knife buyers also buy boards and whetstones; pans sell best in Kitchen; a gift card
    is the best seller overall."""
    p = {sku: product(sku, category) for sku, category in [
        ("knife", "Kitchen > Knives"), ("board", "Kitchen > Boards"),
        ("whetstone", "Kitchen > Knives"), ("pan", "Kitchen > Pans"), ("gift", "Gifts"),
        ("apron", "Home > Textiles")]}
    for _ in range(3):
        buy(CustomerFactory(), p["knife"], p["board"], p["whetstone"], days_ago=30)
    for _ in range(4):
        buy(CustomerFactory(), p["pan"], quantity=2, days_ago=20)
    for _ in range(6):
        buy(CustomerFactory(), p["gift"], quantity=3, days_ago=5)
    recommendations_compute(now=NOW)
    return p


def skus(items):
    return [item["sku"] for item in items]


def test_bought_together_from_what_the_customer_bought(shop):
    customer = CustomerFactory()
    buy(customer, shop["knife"], days_ago=200)
    r = recommendations_load(customers={customer.pk: "en"}, now=NOW)
    items = r.pick(customer_id=customer.pk, n=4, strategy="bought_together")
    assert skus(items) == ["board", "whetstone"]
    assert items[0]["reason"] == "Because you bought Knife"


def test_never_what_was_bought_in_the_last_90_days_nor_out_of_stock(shop):
    customer = CustomerFactory()
    buy(customer, shop["knife"], shop["board"], days_ago=30)
    shop["whetstone"].in_stock = False
    shop["whetstone"].save()
    r = recommendations_load(customers={customer.pk: "en"}, now=NOW)
    items = r.pick(customer_id=customer.pk, n=12)
    assert {"knife", "board", "whetstone"}.isdisjoint(skus(items))
    assert skus(items) == ["pan", "gift"]


def test_the_cart_suggests_pairs_and_is_never_recommended(shop):
    customer = CustomerFactory()
    event = cart(customer, shop["knife"])
    r = recommendations_load(customers={customer.pk: "en"}, carts={customer.pk: [event.pk]},
                             now=NOW)
    items = r.pick(customer_id=customer.pk, n=3)
    assert skus(items)[:2] == ["board", "whetstone"]
    assert "knife" not in skus(items)
    assert items[0]["reason"] == "Goes well with Knife"


def test_category_strategy_uses_the_favourite_category_then_its_parent(shop):
    customer = CustomerFactory()
    buy(customer, shop["whetstone"], quantity=5, days_ago=30)
    buy(customer, shop["apron"], days_ago=30)
    r = recommendations_load(customers={customer.pk: "en"}, now=NOW)
    items = r.pick(customer_id=customer.pk, n=4, strategy="category")
    # Kitchen > Knives first (the knife), then Kitchen (pans, the board).
    assert skus(items) == ["knife", "pan", "board"]
    assert items[0]["reason"] == "Popular in Knives"
    assert items[1]["reason"] == "Popular in Kitchen"


def test_top_and_the_blend_without_duplicates(shop):
    customer = CustomerFactory()
    buy(customer, shop["knife"], days_ago=200)
    r = recommendations_load(customers={customer.pk: "en"}, now=NOW)
    assert skus(r.pick(customer_id=customer.pk, n=2, strategy="top")) == ["gift", "pan"]
    # Bought together, then the favourite category's (Kitchen > Knives, then Kitchen:
    # the knife itself is older than 90 days), then overall; each product once.
    blend = r.pick(customer_id=customer.pk, n=12)
    assert skus(blend) == ["board", "whetstone", "knife", "pan", "gift"]
    assert r.pick(customer_id=customer.pk, n=12, strategy="top")[0]["reason"] == "A best seller"


def test_n_is_clamped_and_a_customer_with_nothing_gets_the_best_sellers(shop):
    customer = CustomerFactory()
    r = recommendations_load(customers={customer.pk: "en"}, now=NOW)
    assert len(r.pick(customer_id=customer.pk, n=0)) == 1
    assert len(r.pick(customer_id=customer.pk, n=99)) <= 12
    with pytest.raises(ValueError, match="strategy"):
        r.pick(customer_id=customer.pk, strategy="cheapest")


def test_items_follow_the_contract_and_speak_the_customers_language(shop, settings):
    shop["board"].names = {"sv": "Skärbräda"}
    shop["board"].price = "349.5"
    shop["board"].currency = "SEK"
    shop["board"].save()
    customer = CustomerFactory(locale="sv")
    buy(customer, shop["knife"], days_ago=200)
    r = recommendations_load(customers={customer.pk: "sv"}, now=NOW)
    item = r.pick(customer_id=customer.pk, n=1)[0]
    assert item == {
        "sku": "board", "name": "Skärbräda", "url": settings.SITE_URL, "image_url": "",
        "price": "349.50", "currency": "SEK", "quantity": 1, "line_total": "",
        "category": "Kitchen > Boards", "brand": "", "in_stock": True, "attributes": {},
        "known": True, "reason": item["reason"]}
    assert "Knife" in item["reason"]


def test_loading_takes_the_same_queries_for_2_and_20_customers(shop):
    def queries(count, *, cold=True):
        if cold:
            catalogue_cache_clear()
        customers = {}
        carts = {}
        for _ in range(count):
            c = CustomerFactory()
            buy(c, shop["knife"], days_ago=200)
            carts[c.pk] = [cart(c, shop["pan"]).pk]
            customers[c.pk] = "en"
        with CaptureQueriesContext(connection) as captured:
            r = recommendations_load(customers=customers, carts=carts, now=NOW)
            for pk in customers:
                r.pick(customer_id=pk, n=4)
        return len(captured)

    # Cold: lines, carts, the token check, the products bought, pairs, top sellers, the
    # products they name. Warm (the process's catalogue cache holds the lists and the
    # products): lines, carts, the check.
    assert queries(2) == queries(20) == 7
    assert queries(2, cold=False) == queries(20, cold=False) == 3


def test_loading_only_what_the_templates_largest_n_can_show_picks_the_same(shop):
    customer = CustomerFactory()
    buy(customer, shop["knife"], days_ago=30)
    full = recommendations_load(customers={customer.pk: "en"}, now=NOW)
    for most in (1, 2, 3):
        few = recommendations_load(customers={customer.pk: "en"}, now=NOW, most=most)
        for strategy in (None, "bought_together", "category", "top"):
            assert (skus(few.pick(customer_id=customer.pk, n=most, strategy=strategy))
                    == skus(full.pick(customer_id=customer.pk, n=most, strategy=strategy)))


def test_the_largest_n_a_template_asks_for():
    from campaigns.templating.recommendations import recommendations_most

    def most(html):
        return recommendations_most(cache_key=("t", html), subject="", html_body=html,
                                    text_body="")

    assert most("{{ customer.first_name }}") == 0
    assert most("{% for p in recommendations() %}{% endfor %}") == 4
    assert most("{{ recommendations(2) }}{{ recommendations(6, strategy='top') }}") == 6
    assert most("{{ recommendations(n=40) }}") == 12
    assert most("{% set k = 3 %}{{ recommendations(k) }}") == 12
