"""Referral codes in the admin: found by their code, revoked by Admins only (on the codes'
page or the customers'), seen but never revoked by marketers."""
import pytest
from django.urls import reverse

from campaigns.models import ReferralCode
from campaigns.services.referrals import referral_codes_ensure
from campaigns.services.roles import ADMINS, MARKETERS
from tests.factories import CustomerFactory
from tests.helpers import client_for

pytestmark = pytest.mark.django_db
CODES = reverse("admin:campaigns_referralcode_changelist")
CUSTOMERS = reverse("admin:campaigns_customer_changelist")


@pytest.fixture
def codes(frozen_clock):
    customers = [CustomerFactory(marketing_consent=True, external_id=f"shop-{n}")
                 for n in range(3)]
    made = referral_codes_ensure([c.pk for c in customers], now=frozen_clock.now)
    return {c.external_id: (c, made[c.pk]) for c in customers}


def _actions(client, url) -> set[str]:
    form = client.get(url).context["action_form"]
    return {c[0] for c in form.fields["action"].choices} if form is not None else set()


def test_a_code_is_found_as_typed_or_by_the_customers_id(codes):
    admin = client_for(ADMINS, "boss")
    customer, code = codes["shop-1"]

    typed = admin.get(CODES, {"q": f"  {code.upper()} "})
    by_customer = admin.get(CODES, {"q": "shop-2"})
    nul = admin.get(CODES, {"q": "x\x00y"})
    long = admin.get(CODES, {"q": "ç" * 20_000})

    assert [r.code for r in typed.context["cl"].result_list] == [code]
    assert [r.code for r in by_customer.context["cl"].result_list] == [codes["shop-2"][1]]
    assert nul.status_code == 200  # Django's search form drops a NUL term
    assert long.status_code == 200 and not long.context["cl"].result_list


def test_an_admin_revokes_codes_and_the_customers_get_new_ones(codes, frozen_clock):
    admin = client_for(ADMINS, "boss")
    (first, code), (second, _) = codes["shop-0"], codes["shop-1"]

    on_codes = admin.post(CODES, {"action": "revoke", "_selected_action": [
        ReferralCode.objects.get(code=code).pk]})
    on_customers = admin.post(CUSTOMERS, {"action": "revoke_referral_code",
                                          "_selected_action": [second.pk]})

    assert (on_codes.status_code, on_customers.status_code) == (302, 302)
    assert ReferralCode.objects.filter(revoked_at=frozen_clock.now).count() == 2
    again = referral_codes_ensure([first.pk, second.pk])
    assert code not in again.values() and len(again) == 2


def test_a_marketer_sees_the_codes_but_cannot_revoke_one(codes):
    marketer = client_for(MARKETERS, "marketer")
    customer, code = codes["shop-0"]

    page = marketer.get(CODES)
    posted = marketer.post(CODES, {"action": "revoke", "_selected_action": [
        ReferralCode.objects.get(code=code).pk]})
    on_customers = marketer.post(CUSTOMERS, {"action": "revoke_referral_code",
                                             "_selected_action": [customer.pk]})

    assert page.status_code == 200
    assert "revoke" not in _actions(marketer, CODES)
    assert "revoke_referral_code" not in _actions(marketer, CUSTOMERS)
    assert posted.status_code in (200, 302, 403) and on_customers.status_code in (200, 302, 403)
    assert not ReferralCode.objects.filter(revoked_at__isnull=False).exists()


def test_codes_are_never_added_or_deleted_by_hand(codes):
    admin = client_for(ADMINS, "boss")
    pk = ReferralCode.objects.first().pk

    assert admin.get(reverse("admin:campaigns_referralcode_add")).status_code == 403
    assert admin.get(reverse("admin:campaigns_referralcode_delete", args=[pk])).status_code == 403
    assert "delete_selected" not in _actions(admin, CODES)
