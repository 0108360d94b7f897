"""Referral codes: unguessable, one live per consenting customer, reused, revoked."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import ReferralCode
from campaigns.services.gdpr import customer_erase
from campaigns.services.referrals import (
    REFERRAL_ALPHABET, REFERRAL_CODE_RE, referral_code_clean, referral_code_new,
    referral_code_revoke, referral_codes_ensure, referral_landing, referral_url,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_new_codes_are_twelve_signs_without_look_alikes_and_never_repeat():
    codes = {referral_code_new() for _ in range(5000)}

    assert len(codes) == 5000
    assert all(REFERRAL_CODE_RE.fullmatch(code) for code in codes)
    assert not set("".join(codes)) & set("01ilo")
    assert set("".join(codes)) == set(REFERRAL_ALPHABET)


@pytest.mark.parametrize("posted, cleaned", [
    (" K7QXM2PA9TBC ", "k7qxm2pa9tbc"),
    ("k7qxm2pa9tb", None),  # one short
    ("k7qxm2pa9tbc0", None),
    ("k7qxm2pa9tb0", None),  # a look-alike sign
    ("k7qxm2pa\x009tb", None),
    ("k7qxm2pa9tbç", None),
    ("k" * 10_000, None),
    (None, None),
    (123456789012, None),
])
def test_a_posted_code_is_cleaned_or_refused(posted, cleaned):
    assert referral_code_clean(posted) == cleaned


def test_consenting_customers_get_a_code_in_one_insert_and_keep_it(frozen_clock):
    customers = [CustomerFactory(marketing_consent=True) for _ in range(5)]
    ids = [c.pk for c in customers]

    with CaptureQueriesContext(connection) as made:
        codes = referral_codes_ensure(ids, now=frozen_clock.now)
    with CaptureQueriesContext(connection) as reused:
        again = referral_codes_ensure(ids, now=frozen_clock.now)

    assert set(codes) == set(ids) and len(set(codes.values())) == 5
    assert again == codes
    assert len(made) == 3  # read, one INSERT, read back
    assert len(reused) == 1
    assert ReferralCode.objects.count() == 5


def test_no_code_without_marketing_consent_nor_after_erasure(frozen_clock):
    without = CustomerFactory(marketing_consent=False)
    erased = CustomerFactory(marketing_consent=True)
    referral_codes_ensure([erased.pk], now=frozen_clock.now)
    customer_erase(customer=erased, actor="test")

    codes = referral_codes_ensure([without.pk, erased.pk, 999_999], now=frozen_clock.now)

    assert codes == {}
    assert not ReferralCode.objects.exists()


def test_a_revoked_code_is_replaced_by_a_new_one_next_time(frozen_clock):
    customer = CustomerFactory(marketing_consent=True)
    first = referral_codes_ensure([customer.pk])[customer.pk]

    revoked = referral_code_revoke(customer_ids=[customer.pk], now=frozen_clock.now)
    again = referral_code_revoke(codes=[first], now=frozen_clock.now)
    second = referral_codes_ensure([customer.pk])[customer.pk]

    assert (revoked, again) == (1, 0)
    assert second != first
    assert ReferralCode.objects.get(code=first).revoked_at == frozen_clock.now
    assert ReferralCode.objects.get(code=second).revoked_at is None


def test_revoking_nothing_changes_nothing():
    assert referral_code_revoke(customer_ids=[], codes=[]) == 0


def test_the_link_and_the_landing_page(settings):
    settings.SITE_URL = "https://shop.example.com"

    assert referral_url("k7qxm2pa9tbc") == "https://shop.example.com/r/k7qxm2pa9tbc"
    assert referral_landing("k7qxm2pa9tbc", landing_url="https://shop.example.com/w?a=1&ref=x&b=") \
        == "https://shop.example.com/w?a=1&b=&ref=k7qxm2pa9tbc"
    assert referral_landing(None, landing_url="https://shop.example.com/") \
        == "https://shop.example.com/"
