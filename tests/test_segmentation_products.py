"""Product conditions in segment rules: bought, viewed and spent on a product, a category or
a brand — each matching exactly the right customers of a small hand-built shop (SQLite and
PostgreSQL), their messages, and their explanation in words."""
import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import Customer, Event, EventLine, Order, OrderLine, Product
from campaigns.segmentation import rule_errors
from campaigns.selectors.segments import (
    product_suggestions, segment_customers, segment_explain, segment_rule_errors,
    segment_rule_warnings,
)
from tests.factories import CustomerFactory, OrderFactory

EVERYONE = {"alice", "bob", "carol", "dave", "erin", "frank", "gina"}
CATALOGUE = (  # sku, category, brand
    ("KNIFE-1", "Kitchen > Knives", "Fiskars"), ("PAN-1", "Kitchen", "Tefal"),
    ("WARE-1", "Kitchenware", "Ware Co"), ("RAKE-1", "Garden > Tools", "Fiskars"),
)


def buy(customer, lines, *, at, status=Order.Status.PLACED):
    """One order of `lines` (sku, quantity, unit price, refunded quantity) placed `at`."""
    order = OrderFactory(customer=customer, placed_at=at, status=status,
                         amount=sum((p or 0) * q for _, q, p, _ in lines))
    for sku, quantity, price, refunded in lines:
        OrderLine.objects.create(
            order=order, customer=customer, sku=sku, quantity=quantity,
            price=None if price is None else Decimal(price), refunded_quantity=refunded,
            placed_at=at, product=Product.objects.filter(sku=sku).first())


def view(customer, sku, *, at):
    event = Event.objects.create(customer=customer, type="product.viewed", occurred_at=at,
                                 event_id=f"view-{customer.pk}-{sku}-{at.timestamp()}")
    EventLine.objects.create(event=event, customer=customer, sku=sku, occurred_at=at,
                             product=Product.objects.filter(sku=sku).first())


@pytest.fixture
def shop(db, frozen_clock):
    now = frozen_clock.now

    def ago(**kw):
        return now - dt.timedelta(**kw)

    for sku, category, brand in CATALOGUE:
        Product.objects.create(sku=sku, name=sku.title(), category=category, brand=brand)
    people = {name: CustomerFactory(external_id=name) for name in sorted(EVERYONE)}
    # Alice: two knives lately, a pan without a price lately, a pan long ago.
    buy(people["alice"], [("KNIFE-1", 2, 100, 0)], at=ago(days=10))
    buy(people["alice"], [("PAN-1", 1, None, 0)], at=ago(days=10))
    buy(people["alice"], [("PAN-1", 1, 300, 0)], at=ago(days=100))
    # Bob: a "Kitchenware" item is not in "Kitchen"; he viewed it too.
    buy(people["bob"], [("WARE-1", 1, 50, 0)], at=ago(days=5))
    view(people["bob"], "WARE-1", at=ago(days=1))
    # Carol: three knives all refunded; two pans of which one refunded.
    buy(people["carol"], [("KNIFE-1", 3, 100, 3)], at=ago(days=5))
    buy(people["carol"], [("PAN-1", 2, 300, 1)], at=ago(days=20))
    # Dave: a product the catalogue does not have yet.
    buy(people["dave"], [("NEW-1", 1, 20, 0)], at=ago(days=3))
    # Erin: a knife in an order refunded as a whole.
    buy(people["erin"], [("KNIFE-1", 1, 100, 0)], at=ago(days=5), status=Order.Status.REFUNDED)
    # Frank: a knife exactly 90 days ago, five a second earlier.
    buy(people["frank"], [("KNIFE-1", 1, 100, 0)], at=ago(days=90))
    buy(people["frank"], [("KNIFE-1", 5, 100, 0)], at=ago(days=90, seconds=1))
    # Gina: viewed the knife three times lately and a pan long ago; bought nothing.
    for days in (1, 2, 3):
        view(people["gina"], "KNIFE-1", at=ago(days=days))
    view(people["gina"], "PAN-1", at=ago(days=40))
    return people


def matched(rule) -> set[str]:
    return set(segment_customers(rule).values_list("external_id", flat=True))


def bought(op, value=None, *, window=None, field="bought", **target):
    cond = {"field": field, **target, "op": op}
    if value is not None:
        cond["value"] = value
    if window:
        cond["window"] = {"last_days": window}
    return cond


@pytest.mark.parametrize("condition, expected", [
    # A category is a path: "Kitchen" holds "Kitchen > Knives", never "Kitchenware".
    (bought("did", category="Kitchen"), {"alice", "carol", "frank"}),
    (bought("did", category="Kitchenware"), {"bob"}),
    # Items, not orders; the window's first moment is in it, the one before is not.
    (bought(">=", 3, category="Kitchen", window=90), {"alice"}),
    (bought("=", 1, category="Kitchen > Knives", window=90), {"frank"}),
    (bought(">=", 1, category="Kitchen > Knives"), {"alice", "frank"}),
    (bought("between", [2, 6], category="Kitchen > Knives"), {"alice", "frank"}),
    # Did not buy, as an operator and as "at most 0".
    (bought("did_not", sku="KNIFE-1", window=90), EVERYONE - {"alice", "frank"}),
    (bought("<=", 0, category="Kitchen"), {"bob", "dave", "erin", "gina"}),
    (bought(">=", 2, brand="Fiskars"), {"alice", "frank"}),
    (bought("<", 2, brand="Fiskars", window=90), EVERYONE - {"alice"}),
    # A SKU the catalogue does not have yet still matches its lines.
    (bought("did", sku="NEW-1"), {"dave"}),
    (bought("did", sku="PAN-1", window=30), {"alice", "carol"}),
    # Viewed: product.viewed lines.
    (bought(">=", 3, field="viewed", sku="KNIFE-1", window=7), {"gina"}),
    (bought("did", field="viewed", category="Kitchen", window=30), {"gina"}),
    (bought("=", 4, field="viewed", category="Kitchen"), {"gina"}),
    (bought("did_not", field="viewed", brand="Fiskars"), EVERYONE - {"gina"}),
    # Spent: quantity (less refunds) × the line's price; lines without a price skipped.
    (bought(">=", 300, field="spent_on", category="Kitchen", window=90), {"carol"}),
    (bought(">=", 200, field="spent_on", category="Kitchen"), {"alice", "carol", "frank"}),
    (bought("<=", 100, field="spent_on", brand="Fiskars", window=90), EVERYONE - {"alice"}),
    (bought("between", [150, 250.5], field="spent_on", category="Kitchen", window=90),
     {"alice"}),
])
def test_each_product_condition_matches_exactly_the_right_customers(shop, condition, expected):
    assert matched(condition) == expected
    # and 'not' is the exact complement
    assert matched({"not": condition}) == EVERYONE - expected


def test_lines_count_for_a_category_once_their_product_arrives(shop):
    garden = bought("did", category="Garden")
    by_sku = bought("did", sku="NEW-1")
    assert matched(garden) == set()  # the rake was never bought

    # The product arrives: its sku matches before and after the line is linked.
    product = Product.objects.create(sku="NEW-1", name="Spade", category="Garden > Tools")
    assert matched(by_sku) == {"dave"}
    OrderLine.objects.filter(sku="NEW-1", product__isnull=True).update(product=product)
    assert matched(by_sku) == {"dave"}
    assert matched(garden) == {"dave"}


def test_the_window_follows_the_clock(shop, frozen_clock):
    rule = bought("=", 1, category="Kitchen > Knives", window=90)
    assert matched(rule) == {"frank"}
    frozen_clock.advance(seconds=1)
    assert matched(rule) == set()


def test_a_rule_with_product_conditions_is_one_sql_statement(shop, django_assert_num_queries):
    rule = {"all": [bought(">=", 1, category="Kitchen", window=90),
                    bought("did_not", field="viewed", sku="KNIFE-1"),
                    bought(">=", 100, field="spent_on", brand="Fiskars")]}
    customers = segment_customers(rule)
    with django_assert_num_queries(1):
        assert customers.count() == 2  # alice and frank


# --- validation ----------------------------------------------------------------------------

def test_an_unknown_category_is_refused_with_the_closest_one(shop):
    [message] = segment_rule_errors({"all": [bought("did", category="Kitchn > Knives")]})
    assert message == ("Condition 1: 'bought (items)': there is no category \"Kitchn > Knives\" "
                       "in the product catalogue; did you mean \"Kitchen > Knives\"?")
    [message] = segment_rule_errors(bought("did", category="kitchen>knives"))
    assert message.endswith("did you mean \"Kitchen > Knives\"?")


def test_a_category_is_known_through_the_paths_under_it(shop):
    assert segment_rule_errors(bought("did", category="Garden")) == []
    assert segment_rule_errors(bought("did", category=" Garden >Tools ")) == []


def test_an_unknown_brand_is_refused(shop):
    [message] = segment_rule_errors({"any": [bought("did", category="Kitchen"),
                                             bought("did", brand="Fiskar")]})
    assert message.startswith("Condition 2: 'bought (items)': there is no brand")
    assert "did you mean \"Fiskars\"?" in message


def test_an_unknown_sku_is_allowed_with_a_warning(shop):
    rule = {"all": [bought("did", sku="SOON-1"), bought("did", sku="KNIFE-1")]}
    assert segment_rule_errors(rule) == []
    assert segment_rule_warnings(rule) == [
        "Condition 1: 'bought (items)': the SKU \"SOON-1\" is not in the product catalogue "
        "yet; the rule counts it as soon as it arrives"]


def test_a_stored_rule_is_counted_without_the_catalogue_check(shop):
    # A category emptied since the segment was saved matches no one; it does not break.
    assert matched(bought("did", category="Gone")) == set()


@pytest.mark.parametrize("condition, expected", [
    ({"field": "bought", "op": "did"}, "needs exactly one of \"sku\", \"category\" or \"brand\""),
    (bought("did", sku="A", brand="B"), "needs exactly one of"),
    (bought("did", category="Kitchen >"), "has an empty part"),
    (bought("did", sku=""), "is not a text of 1 to 300 characters"),
    (bought(">=", 1.5, category="Kitchen"), "'bought (items)' is a whole number; 1.5 is not"),
    (bought(">=", -1, field="viewed", category="Kitchen"), "goes 0 or more"),
    (bought(">=", -5, field="spent_on", brand="X"), "goes 0 or more"),
    (bought("contains", "x", category="Kitchen"), "'contains' does not apply"),
    ({"field": "country", "op": "is", "value": "SE", "category": "Kitchen"},
     "'country' is not about products; 'category' does not apply"),
    ({"field": "bought", "category": "Kitchen", "op": "did", "window": {"last_days": 0}},
     "not a whole number of days"),
])
def test_each_bad_product_condition_gets_a_sentence(condition, expected):
    [message] = rule_errors({"all": [condition]})
    assert message.startswith("Condition 1")
    assert expected in message


# --- explanation and suggestions -------------------------------------------------------------

def test_the_explanation_says_what_the_customer_bought(shop):
    rule = {"all": [bought(">=", 2, category="Kitchen > Knives", window=90),
                    bought("did_not", field="viewed", brand="Fiskars"),
                    bought(">=", 100, field="spent_on", category="Kitchen", window=90)]}
    explanation = segment_explain(rule, shop["alice"])
    assert explanation.member
    _, _, knives, views, spent = explanation.lines
    assert knives.text == "bought at least 2 items in Kitchen > Knives in the last 90 days"
    assert knives.actual == "bought 2 items in Kitchen > Knives in the last 90 days"
    assert views.text == "did not view products of the brand Fiskars"
    assert views.actual == "viewed products of the brand Fiskars 0 times"
    assert spent.text == "spent at least 100.00 in Kitchen in the last 90 days"
    assert spent.actual == "spent 200.00 in Kitchen in the last 90 days"
    carol = segment_explain(rule, shop["carol"]).lines[2]
    assert carol.actual == "bought nothing in Kitchen > Knives in the last 90 days"


def test_the_explanation_agrees_with_membership_for_everyone(shop):
    rule = {"any": [bought("between", [1, 2], category="Kitchen"),
                    bought(">", 2, field="viewed", sku="KNIFE-1", window=7),
                    {"not": bought(">=", 10, field="spent_on", brand="Ware Co")}]}
    members = set(segment_customers(rule).values_list("pk", flat=True))
    for customer in Customer.objects.all():
        assert segment_explain(rule, customer).member == (customer.pk in members)


def test_suggestions_come_from_the_catalogue(shop):
    assert [s["value"] for s in product_suggestions("category", "kit")] == [
        "Kitchen", "Kitchen > Knives", "Kitchenware"]
    assert [s["value"] for s in product_suggestions("category", "gard")] == [
        "Garden", "Garden > Tools"]
    assert [s["value"] for s in product_suggestions("brand", "fis")] == ["Fiskars"]
    assert product_suggestions("sku", "knife") == [
        {"value": "KNIFE-1", "label": "KNIFE-1 — Knife-1"}]


def test_the_stored_members_follow_a_product_rule(shop, frozen_clock):
    from campaigns.models import Segment, SegmentMembership
    from campaigns.services.segments import segment_members_refresh

    segment = Segment.objects.create(name="Knife people", rule={"any": [
        bought(">=", 1, sku="KNIFE-1", window=90), bought("did", field="viewed", sku="KNIFE-1"),
        {"not": bought("<=", 100, field="spent_on", brand="Fiskars")}]})
    entered = segment_members_refresh(segment)
    names = {"alice", "frank", "gina"}
    assert {Customer.objects.get(pk=pk).external_id for pk in entered} == names
    assert segment.member_count == 3
    frozen_clock.advance(days=10)  # the views and alice's knives are older now; still in
    segment_members_refresh(segment)
    assert set(SegmentMembership.objects.filter(segment=segment).values_list(
        "customer__external_id", flat=True)) == names


def test_checking_a_rule_reads_the_catalogue_in_a_fixed_number_of_queries(
    shop, django_assert_num_queries
):
    def rule(n):
        return {"all": [bought("did", category=f"Kitchen{'ware' * (i % 2)}") for i in range(n)]
                + [bought("did", sku=f"S-{i}") for i in range(n)]
                + [bought("did", field="viewed", brand="Fiskars") for _ in range(n)]}

    with django_assert_num_queries(3):
        assert segment_rule_errors(rule(1)) == []
    with django_assert_num_queries(3):
        assert segment_rule_errors(rule(30)) == []
    with django_assert_num_queries(0):
        assert segment_rule_errors({"field": "country", "op": "is", "value": "SE"}) == []
