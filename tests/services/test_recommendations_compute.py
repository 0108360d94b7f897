"""The nightly recommendations job: bought together and top sellers, set-based in SQL."""
import pytest
from django.core.management import call_command

from campaigns.models import Order, ProductPair, TopSeller
from campaigns.services.recommendations import recommendations_compute
from tests.factories import CustomerFactory
from tests.recommendation_data import NOW, buy, product

pytestmark = pytest.mark.django_db


def pairs_of(p):
    return list(ProductPair.objects.filter(product=p).order_by("rank")
                .values_list("other__sku", flat=True))


def tops(category):
    return list(TopSeller.objects.filter(category=category).order_by("rank")
                .values_list("product__sku", "units"))


def test_bought_together_prefers_what_goes_with_the_product_over_the_best_seller():
    knife, board, bestseller = product("knife"), product("board"), product("bestseller")
    # Everyone buys the best seller; those who buy the knife also buy the board.
    for _ in range(3):
        buy(CustomerFactory(), knife, board, bestseller)
    for _ in range(10):
        buy(CustomerFactory(), bestseller)
    recommendations_compute(now=NOW)
    assert pairs_of(knife) == ["board", "bestseller"]


def test_a_single_co_buyer_is_not_enough():
    a, b = product("a"), product("b")
    buy(CustomerFactory(), a, b)
    recommendations_compute(now=NOW)
    assert pairs_of(a) == []


def test_refunded_lines_other_orders_and_old_purchases_do_not_count():
    a, b, c, d = product("a"), product("b"), product("c"), product("d")
    for _ in range(2):
        customer = CustomerFactory()
        buy(customer, a)
        buy(customer, b, refunded=1)  # refunded whole
        buy(customer, c, status=Order.Status.CANCELLED)
        buy(customer, d, days_ago=400)
    recommendations_compute(now=NOW)
    assert ProductPair.objects.count() == 0


def test_pairs_across_a_customers_orders_count():
    a, b = product("a"), product("b")
    for _ in range(2):
        customer = CustomerFactory()
        buy(customer, a, days_ago=100)
        buy(customer, b, days_ago=5)
    recommendations_compute(now=NOW)
    assert pairs_of(a) == ["b"] and pairs_of(b) == ["a"]


def test_top_sellers_overall_and_at_every_level_of_the_category_path():
    knife = product("knife", "Kitchen > Knives")
    pan = product("pan", "Kitchen>Pans")
    shirt = product("shirt", "Clothes")
    customer = CustomerFactory()
    buy(customer, knife, quantity=3)
    buy(customer, pan, quantity=2)
    buy(customer, shirt, quantity=1)
    buy(customer, shirt, quantity=5, days_ago=120)  # outside the 90 days
    recommendations_compute(now=NOW)
    assert tops("") == [("knife", 3), ("pan", 2), ("shirt", 1)]
    assert tops("Kitchen") == [("knife", 3), ("pan", 2)]
    assert tops("Kitchen > Knives") == [("knife", 3)]
    assert tops("Kitchen > Pans") == [("pan", 2)]
    assert tops("Clothes") == [("shirt", 1)]
    assert set(TopSeller.objects.values_list("category", flat=True)) == {
        "", "Kitchen", "Kitchen > Knives", "Kitchen > Pans", "Clothes"}


def test_top_sellers_count_units_less_refunds():
    a, b = product("a"), product("b")
    customer = CustomerFactory()
    buy(customer, a, quantity=5, refunded=4)
    buy(customer, b, quantity=2)
    recommendations_compute(now=NOW)
    assert tops("") == [("b", 2), ("a", 1)]


def test_a_second_run_replaces_the_lists_whole():
    a, b = product("a"), product("b")
    for _ in range(2):
        buy(CustomerFactory(), a, b)
    first = recommendations_compute(now=NOW)
    second = recommendations_compute(now=NOW)
    assert first == second
    assert ProductPair.objects.count() == 2 and TopSeller.objects.count() == 2
    Order.objects.all().delete()
    recommendations_compute(now=NOW)
    assert ProductPair.objects.count() == 0 and TopSeller.objects.count() == 0


def test_top_20_per_product_and_per_category():
    a = product("a", "C")
    others = [product(f"o{i}", "C") for i in range(25)]
    for _ in range(2):
        buy(CustomerFactory(), a, *others)
    recommendations_compute(now=NOW)
    assert ProductPair.objects.filter(product=a).count() == 20
    assert TopSeller.objects.filter(category="C").count() == 20


def test_the_command_and_the_task_run_it(capsys, frozen_clock):
    from campaigns.tasks import recommendations_compute as task

    a, b = product("a"), product("b")
    for _ in range(2):
        buy(CustomerFactory(), a, b)
    call_command("recommendations_compute")
    assert "2 product pairs" in capsys.readouterr().out
    assert task.apply().get() == {"pairs": 2, "top_sellers": 2}
