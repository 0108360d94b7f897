"""The Marketers and Admins roles, enforced by the server: every forbidden page and action
is refused to a marketer, whatever is typed or posted, and open to an admin."""
import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.urls import reverse

from campaigns.models import (
    ApiKey, AttributeDefinition, Customer, ErasureRequest, PrivacyRequest, Suppression,
)
from campaigns.services.api_keys import api_key_create
from campaigns.services.roles import ADMINS, MARKETERS, roles_ensure
from tests.factories import CustomerFactory
from tests.helpers import client_for

pytestmark = pytest.mark.django_db
CUSTOMERS = reverse("admin:campaigns_customer_changelist")


@pytest.fixture
def marketer():
    return client_for(MARKETERS, "marketer")


@pytest.fixture
def admin():
    return client_for(ADMINS, "boss")


@pytest.fixture
def rows():
    """One row of each thing a marketer may not open."""
    api_key_create(name="Shop")
    customer = CustomerFactory(email="maja@example.se")
    PrivacyRequest.objects.create(kind="export", customer_id=customer.pk, actor="command")
    ErasureRequest.objects.create(customer=customer)
    AttributeDefinition.objects.create(key="shoe_size", label="Shoe size", type="number")
    return customer


def forbidden_pages():
    """(method, url, data) a marketer is refused with 403: API keys, users and groups, the
    privacy audit trail, erasure requests; changing attributes."""
    key = ApiKey.objects.get()
    user = User.objects.get(username="marketer")
    group = Group.objects.get(name=MARKETERS)
    attribute = AttributeDefinition.objects.get()
    privacy = PrivacyRequest.objects.get()
    erasure = ErasureRequest.objects.get()
    return [
        ("get", reverse("admin:campaigns_apikey_changelist"), None),
        ("get", reverse("admin:campaigns_apikey_add"), None),
        ("post", reverse("admin:campaigns_apikey_add"), {"name": "Stolen"}),
        ("get", reverse("admin:campaigns_apikey_change", args=[key.pk]), None),
        ("post", reverse("admin:campaigns_apikey_changelist"),
         {"action": "revoke_selected", "_selected_action": [key.pk]}),
        ("get", reverse("admin:auth_user_changelist"), None),
        ("get", reverse("admin:auth_user_add"), None),
        ("post", reverse("admin:auth_user_add"),
         {"username": "mole", "password1": "x-Long-pass-1", "password2": "x-Long-pass-1"}),
        ("get", reverse("admin:auth_user_change", args=[user.pk]), None),
        ("post", reverse("admin:auth_user_change", args=[user.pk]),
         {"username": "marketer", "is_superuser": "on", "is_staff": "on", "is_active": "on"}),
        ("get", reverse("admin:auth_group_changelist"), None),
        ("post", reverse("admin:auth_group_change", args=[group.pk]),
         {"name": MARKETERS, "permissions": list(Permission.objects.values_list("pk", flat=True))}),
        ("get", reverse("admin:campaigns_privacyrequest_changelist"), None),
        ("get", reverse("admin:campaigns_privacyrequest_change", args=[privacy.pk]), None),
        ("get", reverse("admin:campaigns_erasurerequest_changelist"), None),
        ("post", reverse("admin:campaigns_erasurerequest_changelist"),
         {"action": "mark_handled", "_selected_action": [erasure.pk]}),
        ("get", reverse("admin:campaigns_attributedefinition_add"), None),
        ("post", reverse("admin:campaigns_attributedefinition_add"),
         {"key": "mole", "label": "Mole", "type": "text"}),
        ("post", reverse("admin:campaigns_attributedefinition_change", args=[attribute.pk]),
         {"key": "shoe_size", "label": "Changed", "type": "text"}),
        ("get", reverse("admin:campaigns_countrypolicy_add"), None),
    ]


def test_a_marketer_is_refused_every_forbidden_page_and_post_and_nothing_changes(rows, marketer):
    for method, url, data in forbidden_pages():
        response = getattr(marketer, method)(url, data or {})
        assert response.status_code == 403, (method, url, response.status_code)

    assert ApiKey.objects.get().revoked_at is None and ApiKey.objects.count() == 1
    assert not User.objects.filter(username="mole").exists()
    assert not User.objects.get(username="marketer").is_superuser
    assert not Group.objects.get(name=MARKETERS).permissions.filter(
        codename__in=["view_apikey", "erase_customer"]).exists()
    assert ErasureRequest.objects.get().handled_at is None
    assert AttributeDefinition.objects.get().label == "Shoe size"


def test_an_admin_opens_the_same_pages(rows, admin):
    User.objects.create_user("marketer", is_staff=True)
    for method, url, _ in forbidden_pages():
        if method == "get":
            assert admin.get(url).status_code == 200, url


def test_a_marketer_does_the_marketers_work(rows, marketer):
    for name in ("campaigns_customer_changelist", "campaigns_segment_changelist",
                 "campaigns_segment_add", "campaigns_campaign_changelist",
                 "campaigns_campaign_add", "campaigns_messagetemplate_changelist",
                 "campaigns_messagetemplate_add", "campaigns_dashboard_changelist",
                 "campaigns_frequencypolicy_changelist", "campaigns_coupon_changelist",
                 "campaigns_surveyresponse_changelist", "campaigns_deliverability_changelist",
                 "campaigns_attributedefinition_changelist"):
        assert marketer.get(reverse(f"admin:{name}")).status_code == 200, name
    assert marketer.get(reverse("admin:campaigns_customer_change", args=[rows.pk])).status_code == 200


def _actions(client) -> set[str]:
    return {c[0] for c in client.get(CUSTOMERS).context["action_form"].fields["action"].choices}


def test_export_and_erase_are_not_offered_to_a_marketer_and_refused_when_posted(rows, marketer):
    export = marketer.post(CUSTOMERS, {"action": "export_personal_data",
                                       "_selected_action": [rows.pk]})
    erase = marketer.post(CUSTOMERS, {"action": "erase_personal_data",
                                      "_selected_action": [rows.pk], "post": "yes"})

    assert not {"export_personal_data", "erase_personal_data"} & _actions(marketer)
    assert "withdraw_marketing_consent" in _actions(marketer)
    assert "attachment" not in export.get("Content-Disposition", "")
    assert b"maja@example.se" not in export.content
    assert erase.status_code == 302
    rows.refresh_from_db()
    assert rows.erased_at is None and not Suppression.objects.exists()
    assert PrivacyRequest.objects.count() == 1  # the one the fixture made


def test_an_admin_exports_and_erases(rows, admin):
    assert {"export_personal_data", "erase_personal_data"} <= _actions(admin)

    export = admin.post(CUSTOMERS, {"action": "export_personal_data", "_selected_action": [rows.pk]})
    admin.post(CUSTOMERS, {"action": "erase_personal_data", "_selected_action": [rows.pk],
                           "post": "yes"})

    assert export["Content-Disposition"] == f'attachment; filename="customer-{rows.pk}.json"'
    assert Customer.objects.get(pk=rows.pk).erased_at is not None


def test_the_marketer_home_has_no_api_keys_or_users(rows, marketer, admin):
    def models_on_home(client):
        return {m["object_name"] for app in client.get(reverse("admin:index")).context["app_list"]
                for m in app["models"]}

    assert {"ApiKey", "User", "Group", "PrivacyRequest"}.isdisjoint(models_on_home(marketer))
    assert {"Customer", "Campaign", "Segment", "MessageTemplate"} <= models_on_home(marketer)
    assert {"ApiKey", "User", "Group", "PrivacyRequest"} <= models_on_home(admin)


def test_roles_are_reset_to_their_definition_by_every_run():
    marketers = Group.objects.get(name=MARKETERS)
    marketers.permissions.add(Permission.objects.get(codename="view_apikey"))
    Group.objects.get(name=ADMINS).delete()

    first = roles_ensure()
    second = roles_ensure()

    assert first == second
    assert not marketers.permissions.filter(codename="view_apikey").exists()
    assert Group.objects.get(name=ADMINS).permissions.count() == Permission.objects.count()
    assert marketers.permissions.filter(codename="change_campaign").exists()
    assert not marketers.permissions.filter(content_type__app_label="auth").exists()


def test_migrate_makes_the_roles():
    Group.objects.all().delete()

    call_command("migrate", verbosity=0)

    assert set(Group.objects.values_list("name", flat=True)) >= {MARKETERS, ADMINS}


def test_the_demo_marketer_is_made_in_debug_only(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("ensure_roles", "--demo-marketer", verbosity=0)
    assert not User.objects.filter(username="marketer").exists()

    settings.DEBUG = True
    call_command("ensure_roles", "--demo-marketer", verbosity=0)
    call_command("ensure_roles", "--demo-marketer", verbosity=0)

    user = User.objects.get(username="marketer")
    assert user.is_staff and not user.is_superuser and user.check_password("marketer")
    assert list(user.groups.values_list("name", flat=True)) == [MARKETERS]
    assert not user.has_perm("campaigns.view_apikey") and user.has_perm("campaigns.change_campaign")
