"""The template editor and preview for product lists, orders and content by segment."""
import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.models import EventLine, Product, Segment, SegmentMembership
from tests.factories import CustomerFactory, EventFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db

PREVIEW = "admin:campaigns_messagetemplate_preview"
CART = ("{% for item in event.items %}<p><img src=\"{{ item.image_url }}\">{{ item.name }} "
        "{{ item.price }} [{{ item.attributes.color | default('–') }}]</p>{% endfor %}"
        "{% for order in orders %}<p>{{ order.external_id }}</p>{% endfor %}")


def preview(client, html: str, text: str = "Hej", **changes) -> dict:
    response = client.post(reverse(PREVIEW), {
        "subject": "Din varukorg", "purpose": "transactional", "locale": "sv",
        "html_body": html, "text_body": text, "layout": "", "customer": "", **changes})
    assert response.status_code == 200, response.content
    return response.json()


def test_the_sample_customer_has_a_cart_and_two_orders_to_preview_with(admin_client):
    body = preview(admin_client, CART)

    assert body["problems"] == {"subject": [], "html": [], "text": []}
    assert "Kockkniv 20 cm 895.00 [black]" in body["html"]
    assert "Brynsten 249.00 [–]" in body["html"]
    assert "campaigns/sample_product.svg" in body["html"]  # a local placeholder picture
    assert body["html"].count("<p>o-") == 2
    assert body["versions"] == []


def test_the_preview_says_which_products_lack_an_attribute_the_template_reads(admin_client):
    body = preview(admin_client, CART)

    assert body["notes"] == ["“attributes.color” is missing on 1 of 2 products; the default "
                             "is shown (nothing, when the template gives none)."]


def test_a_draft_with_content_by_segment_previews_both_versions(admin_client):
    Segment.objects.create(name="VIP", rule={})

    body = preview(admin_client, '{% if in_segment("VIP") %}<p>VIP price</p>{% else %}'
                                 "<p>Join the club</p>{% endif %}")

    labels = [version["label"] for version in body["versions"]]
    assert labels == ["Member of “VIP”", "Not a member of “VIP”"]
    member, other = body["versions"]
    assert "VIP price" in member["html"] and "Join the club" not in member["html"]
    assert "Join the club" in other["html"] and "VIP price" not in other["html"]
    assert member["shown"] and body["html"] == member["html"]
    assert body["notes"] == []


def test_a_segment_that_does_not_exist_is_named_in_the_preview(admin_client):
    body = preview(admin_client, '<p>x</p>\n{% if in_segment("VIP") %}VIP{% endif %}')

    assert body["notes"] == ["HTML, line 2: no segment called “VIP”, so in_segment(“VIP”) is "
                             "always false. Check its name on the Segments page."]
    assert body["html"]  # still previewed


def test_a_segment_named_by_a_variable_is_a_problem(admin_client):
    body = preview(admin_client, "{% if in_segment(customer.locale) %}x{% endif %}")

    assert body["problems"]["html"] == [
        "Line 1: write the segment's name in quotes, e.g. in_segment(\"VIP\"): the email can "
        "only check segments it names."]


def test_a_real_customers_preview_shows_their_latest_cart_and_their_segments(admin_client):
    customer = CustomerFactory(first_name="Nils", locale="sv")
    knife = Product.objects.create(sku="knife", name="Chef's knife", names={"sv": "Kockkniv"},
                                   price=Decimal("895.00"), currency="SEK")
    at = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
    for offset, sku in ((0, "knife"), (-1, "older")):
        cart = EventFactory(customer=customer, type="cart.updated",
                            occurred_at=at + dt.timedelta(days=offset))
        EventLine.objects.create(event=cart, customer=customer, sku=sku,
                                 product=knife if sku == "knife" else None, quantity=1,
                                 occurred_at=cart.occurred_at)
    vip = Segment.objects.create(name="VIP", rule={})
    SegmentMembership.objects.create(segment=vip, customer=customer)

    body = preview(admin_client, CART + '{% if in_segment("VIP") %}<p>VIP</p>{% endif %}',
                   customer=str(customer.pk))

    assert "Kockkniv 895.00 [–]" in body["html"] and "older" not in body["html"]
    assert "<p>o-" not in body["html"]  # no orders
    own, member, other = body["versions"]
    assert own["label"] == "As this customer gets it" and own["shown"] and own["detail"] == "VIP"
    assert "<p>VIP</p>" in own["html"] and "<p>VIP</p>" not in other["html"]


def test_the_editor_lists_items_orders_segments_and_recommendations(admin_client):
    template = MessageTemplateFactory()

    page = admin_client.get(reverse("admin:campaigns_messagetemplate_change",
                                    args=[template.pk])).content.decode()

    for name in ("event.items", "orders", "in_segment(", "recommendations(4)", "line_total",
                 'id="te-versions"', 'id="te-notes"'):
        assert name in page
