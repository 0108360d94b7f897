"""Segment admin with product conditions: catalogue checks at save and in the live count,
and the product picker's suggestions."""
import json

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from campaigns.models import Product, Segment

ADD = reverse("admin:campaigns_segment_add")
PREVIEW = reverse("admin:campaigns_segment_preview")
PRODUCTS = reverse("admin:campaigns_segment_products")


@pytest.fixture
def catalogue(db):
    Product.objects.create(sku="KNIFE-1", name="Chef's knife", category="Kitchen > Knives",
                           brand="Fiskars")
    Product.objects.create(sku="MUG-1", name="Mug", category="Kitchenware", brand="Iittala")


def preview(client, rule):
    return client.post(PREVIEW, json.dumps({"rule": rule}), content_type="application/json")


def test_the_live_count_warns_of_a_sku_not_in_the_catalogue_yet(admin_client, catalogue):
    data = preview(admin_client, {"field": "bought", "sku": "SOON-1", "op": "did"}).json()
    assert data["count"] == 0
    assert data["warnings"] == [
        "The rule: 'bought (items)': the SKU \"SOON-1\" is not in the product catalogue "
        "yet; the rule counts it as soon as it arrives"]
    known = preview(admin_client, {"field": "bought", "sku": "KNIFE-1", "op": "did"}).json()
    assert known["warnings"] == []


def test_the_live_count_names_an_unknown_category(admin_client, catalogue):
    data = preview(admin_client, {"all": [
        {"field": "viewed", "category": "Kitchen > Knifes", "op": ">=", "value": 2}]}).json()
    assert data == {"errors": [
        "Condition 1: 'viewed (times)': there is no category \"Kitchen > Knifes\" in the "
        "product catalogue; did you mean \"Kitchen > Knives\"?"]}


def test_saving_refuses_an_unknown_brand_and_keeps_an_unknown_sku_with_a_warning(
    admin_client, catalogue
):
    rule = {"field": "spent_on", "brand": "Fiskar", "op": ">=", "value": 100}
    response = admin_client.post(ADD, {"name": "Fans", "rule": json.dumps(rule)})
    assert response.status_code == 200
    assert "there is no brand &quot;Fiskar&quot;" in response.content.decode()
    assert not Segment.objects.exists()

    rule = {"field": "bought", "sku": "SOON-1", "op": "did_not", "window": {"last_days": 30}}
    response = admin_client.post(ADD, {"name": "Not yet", "rule": json.dumps(rule)})
    assert response.status_code == 302
    assert Segment.objects.get().rule == rule
    warnings = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert len(warnings) == 1 and "not in the product catalogue yet" in warnings[0]


def test_the_builder_gets_the_product_conditions_and_the_picker_address(admin_client, db):
    page = admin_client.get(ADD).content.decode()
    start = page.index('id="segment-catalogue"')
    data = json.loads(page[page.index(">", start) + 1:page.index("</script>", start)])
    bought = next(f for f in data["fields"] if f["key"] == "bought")
    assert bought["product"] and bought["window"] and bought["unit"] == "items"
    assert bought["op_labels"][">="] == "at least"
    assert [k for k, _ in data["product_targets"]] == ["category", "brand", "sku"]
    assert f'data-suggest-url="{PRODUCTS}"' in page


def test_the_picker_suggests_categories_brands_and_skus(admin_client, catalogue):
    def values(kind, text):
        response = admin_client.get(PRODUCTS, {"kind": kind, "q": text})
        return [s["value"] for s in response.json()["suggestions"]]

    assert values("category", "kitch") == ["Kitchen", "Kitchen > Knives", "Kitchenware"]
    assert values("brand", "") == ["Fiskars", "Iittala"]
    assert values("sku", "chef") == ["KNIFE-1"]
    assert admin_client.get(PRODUCTS, {"kind": "colour"}).status_code == 400


def test_the_picker_is_for_staff_who_may_see_segments(db, django_user_model, catalogue):
    client = Client()
    assert client.get(PRODUCTS, {"kind": "sku"}).status_code == 302
    staff = django_user_model.objects.create_user("intern", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(PRODUCTS, {"kind": "sku"}).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_segment"))
    assert client.get(PRODUCTS, {"kind": "sku"}).json()["suggestions"][0]["value"] == "KNIFE-1"
