"""The customer list's export and erase actions: for the Admins only (campaigns.export_customer
and campaigns.erase_customer), erase confirmed first."""
import json

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from campaigns.models import Customer, PrivacyRequest, Suppression
from campaigns.services.consent import email_hash
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
LIST = reverse("admin:campaigns_customer_changelist")


def staff_client(*, groups=(), superuser=False) -> Client:
    user = User.objects.create_user("staff", password="pw", is_staff=True,
                                    is_superuser=superuser)
    # The model's own four: exporting and erasing take permissions of their own, the Admins'.
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="campaigns", content_type__model="customer",
        codename__in=["view_customer", "add_customer", "change_customer", "delete_customer"]))
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    client = Client()
    client.force_login(user)
    return client


def action(client, name, customers, **extra):
    return client.post(LIST, {"action": name, "_selected_action": [c.pk for c in customers],
                              **extra})


@pytest.fixture
def customer():
    return CustomerFactory(email="maja@example.se", first_name="Maja")


@pytest.mark.parametrize("who", [{"groups": ["Admins"]}, {"superuser": True}])
def test_admins_see_both_actions(customer, who):
    choices = staff_client(**who).get(LIST).context["action_form"].fields["action"].choices

    assert {"export_personal_data", "erase_personal_data"} <= {c[0] for c in choices}


def test_a_marketer_with_every_customer_permission_sees_neither_and_cannot_post_them(customer):
    client = staff_client(groups=["Marketers"])

    choices = {c[0] for c in client.get(LIST).context["action_form"].fields["action"].choices}
    response = action(client, "erase_personal_data", [customer], post="yes")

    assert not {"export_personal_data", "erase_personal_data"} & choices
    customer.refresh_from_db()
    assert customer.erased_at is None and response.status_code in (200, 302)
    assert not PrivacyRequest.objects.exists()


def test_export_downloads_the_json_and_records_who(customer):
    response = action(staff_client(groups=["Admins"]), "export_personal_data", [customer])

    assert response["Content-Disposition"] == f'attachment; filename="customer-{customer.pk}.json"'
    assert json.loads(response.content)["customer"]["email"] == "maja@example.se"
    assert PrivacyRequest.objects.get().actor == "admin:staff"


def test_export_of_several_is_a_list_of_documents(customer):
    other = CustomerFactory()

    response = action(staff_client(groups=["Admins"]), "export_personal_data", [customer, other])

    assert [d["customer"]["id"] for d in json.loads(response.content)] == [customer.pk, other.pk]


def test_erase_shows_a_confirmation_page_that_changes_nothing(customer):
    response = action(staff_client(groups=["Admins"]), "erase_personal_data", [customer])

    assert response.status_code == 200
    assert "cannot be undone" in response.content.decode()
    customer.refresh_from_db()
    assert customer.erased_at is None and not Suppression.objects.exists()


def test_confirming_erases_and_audits(customer):
    client = staff_client(groups=["Admins"])

    response = action(client, "erase_personal_data", [customer], post="yes")

    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.email, customer.first_name) == ("", "")
    assert Suppression.objects.get().email_hash == email_hash("maja@example.se")
    assert PrivacyRequest.objects.get().actor == "admin:staff"
    # A second confirmation of the same row changes nothing more.
    action(client, "erase_personal_data", [Customer.objects.get()], post="yes")
    assert PrivacyRequest.objects.count() == 1
