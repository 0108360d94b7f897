"""The product catalogue in the admin: the list, its search and filters, the edit form with a
name per language, the lines on an order's and an event's page, and who may do what."""
import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.admin_site import group_of
from campaigns.models import EventLine, OrderLine, Product
from campaigns.services.roles import MARKETERS
from tests.admin.test_roles import client_for
from tests.factories import CustomerFactory, EventFactory, OrderFactory

pytestmark = pytest.mark.django_db
LIST = reverse("admin:campaigns_product_changelist")
UTC = dt.timezone.utc


def change_url(product) -> str:
    return reverse("admin:campaigns_product_change", args=[product.pk])


def text_of(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ",
                                                   response.content.decode())))


@pytest.fixture
def knife():
    return Product.objects.create(
        sku="KN-1", name="Chef's knife", names={"sv": "Kockkniv", "de": "Kochmesser"},
        image_url="https://cdn.example.com/kn-1.jpg", price=Decimal("899.00"), currency="SEK",
        category="Kitchen > Knives", brand="Morakniv", reorder_days=None,
        learned_reorder_days=200)


@pytest.fixture
def catalogue(knife):
    Product.objects.create(sku="TEA-1", name="Green tea", category="Pantry > Tea",
                           brand="Teahouse", in_stock=False, reorder_days=30,
                           learned_reorder_days=28, image_url="ftp://files.example.com/t.jpg")
    Product.objects.create(sku="PAN-1", name="Frying pan", category="Kitchen",
                           brand="Skeppshult")
    return knife


def test_the_list_shows_thumbnails_prices_stock_and_reorder_intervals(admin_client, catalogue):
    response = admin_client.get(LIST)
    page = response.content.decode()
    text = text_of(response)

    assert response.status_code == 200
    assert '<img src="https://cdn.example.com/kn-1.jpg"' in page
    assert "ftp://files.example.com" not in page  # only http(s) images are shown
    assert "899.00 SEK" in text
    assert "200 days (learned)" in text and "30 days (learned: 28 days)" in text
    assert "Kitchen > Knives" in text and "Morakniv" in text


@pytest.mark.parametrize(("query", "shown", "hidden"), [
    ({"q": "TEA-1"}, "Green tea", "Frying pan"),
    ({"q": "morakniv"}, "Chef's knife", "Green tea"),
    ({"top_category": "Kitchen"}, "Frying pan", "Green tea"),
    ({"brand": "Teahouse"}, "Green tea", "Frying pan"),
    ({"in_stock__exact": "0"}, "Green tea", "Chef's knife"),
])
def test_search_and_filters_find_the_right_products(admin_client, catalogue, query, shown,
                                                    hidden):
    text = text_of(admin_client.get(LIST, query))

    assert shown in text and hidden not in text


def test_the_category_filter_lists_top_levels_and_takes_what_is_under_them(admin_client,
                                                                           catalogue):
    text = text_of(admin_client.get(LIST, {"top_category": "Kitchen"}))

    assert "Chef's knife" in text and "Frying pan" in text
    assert "Pantry" in text_of(admin_client.get(LIST))


def _form_data(product, **changes) -> dict:
    data = {"name": product.name, "name_en": "", "name_sv": "", "name_nb": "",
            "url": "", "image_url": product.image_url, "price": str(product.price or ""),
            "currency": product.currency, "in_stock": "on", "category": product.category,
            "brand": product.brand, "attributes": "{}", "reorder_days": ""}
    data.update(changes)
    return data


def test_names_per_language_are_separate_fields_and_other_languages_are_kept(admin_client,
                                                                            knife):
    page = admin_client.get(change_url(knife)).content.decode()
    assert 'name="name_sv"' in page and 'value="Kockkniv"' in page

    response = admin_client.post(change_url(knife), _form_data(
        knife, name_sv="Kockkniv", name_nb="Kokkekniv", reorder_days="90"))

    assert response.status_code == 302
    knife.refresh_from_db()
    assert knife.names == {"sv": "Kockkniv", "nb": "Kokkekniv", "de": "Kochmesser"}
    assert (knife.reorder_days, knife.learned_reorder_days, knife.sku) == (90, 200, "KN-1")


def test_an_image_url_that_is_not_http_is_refused_on_its_field(admin_client, knife):
    response = admin_client.post(change_url(knife), _form_data(
        knife, image_url="javascript:alert(1)"))

    assert response.status_code == 200
    assert "image_url" in response.context["adminform"].form.errors
    knife.refresh_from_db()
    assert knife.image_url == "https://cdn.example.com/kn-1.jpg"


def test_the_sku_and_the_learned_interval_are_read_only_and_products_are_not_added_by_hand(
        admin_client, knife):
    form = admin_client.get(change_url(knife)).context["adminform"].form

    assert "sku" not in form.fields and "learned_reorder_days" not in form.fields
    assert admin_client.get(reverse("admin:campaigns_product_add")).status_code == 403


def test_an_orders_and_an_events_page_show_their_lines(admin_client, knife):
    customer = CustomerFactory()
    order = OrderFactory(customer=customer)
    OrderLine.objects.create(order=order, customer=customer, sku="KN-1", product=knife,
                             quantity=2, price=Decimal("899.00"), placed_at=order.placed_at)
    OrderLine.objects.create(order=order, customer=customer, sku="UNKNOWN-9", quantity=1,
                             placed_at=order.placed_at)
    event = EventFactory(customer=customer, type="checkout.started",
                         occurred_at=dt.datetime(2026, 3, 1, tzinfo=UTC))
    EventLine.objects.create(event=event, customer=customer, sku="KN-1", product=knife,
                             occurred_at=event.occurred_at)

    order_page = text_of(admin_client.get(
        reverse("admin:campaigns_order_change", args=[order.pk])))
    event_page = text_of(admin_client.get(
        reverse("admin:campaigns_event_change", args=[event.pk])))

    assert "Chef's knife" in order_page and "UNKNOWN-9" in order_page
    assert "not in the catalogue (yet)" in order_page
    assert "Chef's knife" in event_page


def test_a_marketer_views_and_changes_products_but_does_not_add_or_delete_them(knife):
    marketer = client_for(MARKETERS, "marketer")

    assert marketer.get(LIST).status_code == 200
    response = marketer.post(change_url(knife), _form_data(knife, name="Chef's knife 21 cm"))
    assert response.status_code == 302
    assert Product.objects.get(pk=knife.pk).name == "Chef's knife 21 cm"
    delete = reverse("admin:campaigns_product_delete", args=[knife.pk])
    assert marketer.post(delete, {"post": "yes"}).status_code == 403
    assert Product.objects.filter(pk=knife.pk).exists()


def test_products_are_in_the_content_group_of_the_home():
    assert group_of("campaigns.Product").key == "content"
