"""The referral link /r/<code>: a live code's visit is counted and sent on with ?ref=;
any other answer has the same shape and counts nothing; visits are rate-limited."""
import logging

import pytest
from django.test import Client

from campaigns.models import ReferralClick, ReferralCode
from campaigns.services.referrals import referral_code_revoke, referral_codes_ensure
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
LANDING = "https://shop.example.com/welcome?utm_source=referral"


@pytest.fixture(autouse=True)
def _landing(settings):
    settings.REFERRAL_LANDING_URL = LANDING
    settings.REFERRAL_CLICKS_PER_MINUTE = 30


@pytest.fixture
def code(frozen_clock):
    customer = CustomerFactory(marketing_consent=True)
    return referral_codes_ensure([customer.pk], now=frozen_clock.now)[customer.pk]


def visit(path, address="203.0.113.7", method="get"):
    return getattr(Client(), method)(path, REMOTE_ADDR=address)


def test_a_live_code_counts_the_click_and_redirects_with_ref(code, frozen_clock):
    response = visit(f"/r/{code}")

    assert response.status_code == 302
    assert response["Location"] == f"{LANDING}&ref={code}"
    assert response["Cache-Control"] == "no-store"
    click = ReferralClick.objects.get()
    assert click.code.code == code and click.clicked_at == frozen_clock.now


def test_a_code_typed_in_capitals_counts_as_the_code(code):
    response = visit(f"/r/{code.upper()}")

    assert response["Location"] == f"{LANDING}&ref={code}"
    assert ReferralClick.objects.count() == 1


def test_unknown_and_revoked_codes_get_the_same_redirect_and_count_nothing(code, frozen_clock):
    referral_code_revoke(codes=[code], now=frozen_clock.now)
    unknown = "k7qxm2pa9tbc" if code != "k7qxm2pa9tbc" else "k7qxm2pa9tbd"

    revoked, other = visit(f"/r/{code}"), visit(f"/r/{unknown}")

    assert (revoked.status_code, other.status_code) == (302, 302)
    assert revoked["Location"] == f"{LANDING}&ref={code}"
    assert other["Location"] == f"{LANDING}&ref={unknown}"
    assert set(revoked.headers) == set(other.headers)
    assert not ReferralClick.objects.exists()


@pytest.mark.parametrize("path", [
    "/r/short", "/r/k7qxm2pa9tb0", "/r/k7qxm2pa%009tbc", "/r/%00", "/r/" + "k" * 20_000,
    "/r/k7qxm2pa9tbc/more", "/r/%C3%A7%E2%80%AE%F0%9F%98%80", "/r/", "/r/k7qx%0Am2pa9tbc",
    "/r/%ZZ", "/r/..%2F..%2Fadmin",
])
def test_malformed_input_redirects_to_the_landing_page_without_ref(path, code):
    response = visit(path)

    assert response.status_code == 302
    assert response["Location"] == LANDING
    assert not ReferralClick.objects.exists()


def test_the_landing_page_defaults_to_the_site(settings, code):
    settings.REFERRAL_LANDING_URL = ""

    response = visit(f"/r/{code}")

    assert response["Location"] == f"https://shop.example.com/?ref={code}"


def test_past_the_limit_per_address_the_visitor_is_sent_on_but_not_counted(
        settings, code, frozen_clock):
    settings.REFERRAL_CLICKS_PER_MINUTE = 3

    answers = [visit(f"/r/{code}") for _ in range(5)]
    elsewhere = visit(f"/r/{code}", address="198.51.100.9")
    frozen_clock.advance(minutes=1)
    next_minute = visit(f"/r/{code}")

    assert {(a.status_code, a["Location"]) for a in [*answers, elsewhere, next_minute]} == {
        (302, f"{LANDING}&ref={code}")}
    assert ReferralClick.objects.count() == 3 + 1 + 1


def test_head_is_not_counted_and_post_is_refused(code):
    head, post = visit(f"/r/{code}", method="head"), visit(f"/r/{code}", method="post")

    assert head.status_code == 302
    assert post.status_code == 405
    assert not ReferralClick.objects.exists()


def test_nothing_of_the_code_reaches_the_logs(code, caplog):
    with caplog.at_level(logging.DEBUG):
        visit(f"/r/{code}")
        visit("/r/%00")

    assert code not in caplog.text


def test_erasing_the_referrer_keeps_the_clicks_without_the_code(code, frozen_clock):
    from campaigns.services.gdpr import customer_erase

    visit(f"/r/{code}")
    customer_erase(customer=ReferralCode.objects.get(code=code).customer, actor="test")

    response = visit(f"/r/{code}")

    assert response["Location"] == f"{LANDING}&ref={code}"
    assert list(ReferralClick.objects.values_list("code", flat=True)) == [None]
