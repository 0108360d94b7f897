"""Every admin page a marketer can reach loads, with a constant number of queries per list."""
import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.services.demo import demo_load
from tests.admin.conftest import tick_and_send

MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label == "campaigns"),
    key=lambda model: model._meta.model_name,
)


def url(model, view: str, *args) -> str:
    return reverse(f"admin:campaigns_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.model_name)
def test_the_list_and_a_change_page_load_for_a_superuser(admin_client, shop, model):
    obj = model.objects.order_by("pk").first()
    assert obj is not None, f"the shop fixture has no {model.__name__} to show"

    # Followed: a one-row settings list (the referral programme) opens its row.
    listing = admin_client.get(url(model, "changelist"), follow=True)
    change = admin_client.get(url(model, "change", obj.pk))

    assert listing.status_code == 200
    assert change.status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.model_name)
def test_searching_a_list_page_loads(admin_client, shop, model):
    model_admin = admin.site._registry[model]
    if not model_admin.search_fields:
        pytest.skip("no search on this list")

    response = admin_client.get(url(model, "changelist"), {"q": "demo-c-0001"})

    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.model_name)
def test_the_add_page_loads_where_adding_is_allowed(admin_client, shop, rf, admin_user, model):
    request = rf.get("/")
    request.user = admin_user
    if not admin.site._registry[model].has_add_permission(request):
        pytest.skip("rows of this kind are not added by hand")

    response = admin_client.get(url(model, "add"))

    assert response.status_code == 200


LISTS = ["customer", "campaign", "message", "enrollment", "order", "event", "consentevent",
         "messagetemplate", "templatetranslation", "messageevent"]


@pytest.mark.parametrize("model_name", LISTS)
def test_a_list_page_costs_the_same_queries_for_more_rows(admin_client, shop, model_name):
    model = next(m for m in MODELS if m._meta.model_name == model_name)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url(model, "changelist")).status_code == 200
        return len(captured)

    before = queries()
    demo_load(customers=60)
    tick_and_send(shop.advance(minutes=10))
    after = queries()

    assert after == before
