"""The send path's per-process catalogue cache (selectors/catalogue.py): every write to the
catalogue or to the recommendation lists is seen by the next batch, however it is made."""
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection, transaction

from campaigns.models import DataVersion, EventLine, Message, Product, TemplateTranslation
from campaigns.selectors.catalogue import catalogue_cache_clear, catalogue_snapshot
from campaigns.selectors.recommendations import recommendations_load
from campaigns.services.products import products_upsert
from campaigns.services.recommendations import recommendations_compute
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.factories import (
    CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory, TemplateTranslationFactory,
)
from tests.helpers import consenting_customer
from tests.recommendation_data import NOW, buy, product

pytestmark = pytest.mark.django_db


def _tokens() -> dict:
    return dict(DataVersion.objects.values_list("name", "token"))


def _pick(customer, *, n=4) -> list[str]:
    loaded = recommendations_load(customers={customer.pk: "en"}, now=NOW)
    return [f"{i['sku']}:{i['name']}:{i['price']}" for i in loaded.pick(customer_id=customer.pk, n=n)]


@pytest.fixture
def shop():
    """Knife buyers also buy boards and whetstones."""
    p = {sku: product(sku, "Kitchen", price=Decimal("10.00")) for sku in
         ("knife", "board", "whetstone")}
    for _ in range(3):
        buy(CustomerFactory(), p["knife"], p["board"], p["whetstone"], days_ago=30)
    recommendations_compute(now=NOW)
    return p


@pytest.mark.parametrize("write", [
    "save", "queryset_update", "bulk_update", "upsert", "raw_sql", "delete", "create"])
def test_every_write_to_the_catalogue_gives_it_a_new_token(shop, write):
    before = _tokens()
    board = shop["board"]
    if write == "save":
        board.price = Decimal("11.00")
        board.save()
    elif write == "queryset_update":
        Product.objects.filter(pk=board.pk).update(in_stock=False)
    elif write == "bulk_update":
        board.name = "Board 2"
        Product.objects.bulk_update([board], ["name"])
    elif write == "upsert":
        products_upsert(products=[{"sku": "board", "price": "12.00"}])
    elif write == "raw_sql":
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {Product._meta.db_table} SET name = 'x' WHERE id = %s",
                           [board.pk])
    elif write == "delete":
        Product.objects.filter(pk=board.pk).delete()
    elif write == "create":
        product("apron")
    after = _tokens()
    assert after[DataVersion.CATALOGUE] != before[DataVersion.CATALOGUE]


def test_a_recompute_gives_the_lists_a_new_token_and_leaves_the_catalogues(shop):
    before = _tokens()
    recommendations_compute(now=NOW)
    after = _tokens()
    assert after[DataVersion.LISTS] != before[DataVersion.LISTS]
    assert after[DataVersion.CATALOGUE] == before[DataVersion.CATALOGUE]


def test_a_product_changed_between_two_batches_shows_its_new_values(shop):
    customer = CustomerFactory()
    buy(customer, shop["knife"], days_ago=200)
    assert _pick(customer, n=2) == ["board:Board:10.00", "whetstone:Whetstone:10.00"]

    # The same instant (a frozen clock): the token, not a timestamp, tells.
    Product.objects.filter(pk=shop["board"].pk).update(name="Oak board", price=Decimal("12.50"))
    assert _pick(customer, n=2) == ["board:Oak board:12.50", "whetstone:Whetstone:10.00"]

    Product.objects.filter(pk=shop["board"].pk).update(in_stock=False)
    assert _pick(customer, n=2) == ["whetstone:Whetstone:10.00", "knife:Knife:10.00"]


def test_out_of_stock_is_never_recommended_even_when_cached(shop):
    customer = CustomerFactory()
    buy(customer, shop["knife"], days_ago=200)
    _pick(customer)  # the board is cached in stock
    products_upsert(products=[{"sku": "board", "in_stock": False}])
    for strategy in (None, "bought_together", "category", "top"):
        loaded = recommendations_load(customers={customer.pk: "en"}, now=NOW)
        assert "board" not in [i["sku"] for i in loaded.pick(customer_id=customer.pk, n=12,
                                                              strategy=strategy)]


def test_a_recompute_between_two_batches_is_seen(shop):
    customer = CustomerFactory()
    buy(customer, shop["knife"], days_ago=200)
    assert [x.split(":")[0] for x in _pick(customer, n=1)] == ["board"]
    apron = product("apron", "Home")
    for _ in range(6):
        buy(CustomerFactory(), shop["knife"], apron, days_ago=10)
    recommendations_compute(now=NOW)
    assert [x.split(":")[0] for x in _pick(customer, n=1)] == ["apron"]


def test_a_rolled_back_write_leaves_no_stale_product_behind(shop):
    customer = CustomerFactory()
    buy(customer, shop["knife"], days_ago=200)
    _pick(customer)
    with transaction.atomic():
        Product.objects.filter(pk=shop["board"].pk).update(name="Never committed")
        assert _pick(customer)[0] == "board:Never committed:10.00"  # cached in the transaction
        transaction.set_rollback(True)
    assert _pick(customer)[0] == "board:Board:10.00"


def test_without_a_version_row_nothing_is_trusted(shop):
    customer = CustomerFactory()
    buy(customer, shop["knife"], days_ago=200)
    _pick(customer)
    DataVersion.objects.all().delete()
    with connection.cursor() as cursor:  # a write that no trigger could record
        cursor.execute(f"UPDATE {Product._meta.db_table} SET name = 'x' WHERE id = %s",
                       [shop["board"].pk])
    DataVersion.objects.all().delete()
    assert _pick(customer)[0] == "board:x:10.00"


def test_a_batch_that_shows_no_product_reads_no_token(shop):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        catalogue_snapshot()
    assert len(queries) == 0


def test_the_cache_keeps_at_most_its_size_and_a_batch_keeps_what_it_read(shop, settings):
    settings.CATALOGUE_CACHE_PRODUCTS = 2
    catalogue_cache_clear()
    snapshot = catalogue_snapshot()
    ids = [p.pk for p in shop.values()]
    assert sorted(snapshot.records(ids)) == sorted(ids)
    from campaigns.selectors.catalogue import _PROCESS

    assert len(_PROCESS.records) == 2
    assert snapshot.item(ids[0], ("en",))["sku"] == "knife"


CART = "{% for i in event.items %}[{{ i.name }} {{ i.price }} {{ i.in_stock }}]{% endfor %}"


def test_cart_items_show_a_product_changed_between_two_send_batches(frozen_clock, policy):
    knife = Product.objects.create(sku="knife", name="Knife", names={"sv": "Kniv"},
                                   price=Decimal("100.00"), currency="SEK")
    translation = TemplateTranslationFactory(locale="sv", subject="Hej", html_body="<p>x</p>",
                                             text_body=CART)
    campaign = CampaignFactory(trigger_event_type="checkout.started")
    JourneyStepFactory(campaign=campaign, template=translation.template)

    def send_cart() -> str:
        customer = consenting_customer(locale="sv")
        cart = EventFactory(customer=customer, type="checkout.started",
                            occurred_at=frozen_clock.now)
        EventLine.objects.create(event=cart, customer=customer, sku="knife", product=knife,
                                 quantity=1, price=None, occurred_at=frozen_clock.now)
        scheduler_tick(now=frozen_clock.now)
        mail.outbox.clear()
        report = messages_send_due(now=frozen_clock.now, in_flight=1)
        assert report.sent == 1
        return mail.outbox[0].body

    assert "[Kniv 100.00 True]" in send_cart()
    Product.objects.filter(pk=knife.pk).update(names={"sv": "Kockkniv"}, price=Decimal("80.00"),
                                               in_stock=False)
    assert "[Kockkniv 80.00 False]" in send_cart()


def test_recommendations_in_sent_emails_follow_the_catalogue(frozen_clock, shop, welcome, policy):
    recs = "{% for p in recommendations(2) %}[{{ p.name }} {{ p.price }}]{% endfor %}"
    TemplateTranslation.objects.filter(template__name="Welcome").update(
        html_body=f"<p>{recs}</p>", text_body=recs)

    def send() -> str:
        customer = consenting_customer(locale="en")
        buy(customer, shop["knife"], days_ago=200)
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
        scheduler_tick(now=frozen_clock.now)
        mail.outbox.clear()
        messages_send_due(now=frozen_clock.now, in_flight=1)
        assert Message.objects.get(customer=customer).state == Message.State.SENT
        return mail.outbox[0].body

    assert "[Board 10.00][Whetstone 10.00]" in send()
    products_upsert(products=[{"sku": "board", "in_stock": False},
                              {"sku": "whetstone", "name": "Stone", "price": "9.00"}])
    assert "[Stone 9.00]" in send() and "Board" not in mail.outbox[0].body


def test_triggers_a_rebuilt_table_lost_on_sqlite_are_made_again_after_migrate(shop):
    from campaigns.services.data_versions import data_version_triggers_ensure

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL alters tables in place and keeps their triggers")
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER campaigns_product_version_update")
    data_version_triggers_ensure()
    before = _tokens()
    Product.objects.filter(pk=shop["board"].pk).update(name="x")
    assert _tokens()[DataVersion.CATALOGUE] != before[DataVersion.CATALOGUE]
