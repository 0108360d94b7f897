"""Coupons issued by a journey step, shown to the template, and the "your points" block."""
import datetime as dt

import pytest
from django.core import mail

from campaigns import templating
from campaigns.loyalty import loyalty_block
from campaigns.models import Coupon, Tier
from campaigns.services.coupons import ALPHABET, coupon_code_new
from campaigns.services.loyalty import points_add
from tests.services.test_journey_engine import (
    customer_with_consent, journey, purchase, run_tick,
)

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc

BODY = ("Code {{ reward.coupon_code }} until {{ reward.coupon_expires }}. "
        "{{ loyalty.balance }} points, {{ loyalty.tier }}, "
        "{{ loyalty.points_to_next_tier }} to {{ loyalty.next_tier }}.")


def coupon_journey(**extra):
    from tests.factories import TemplateTranslationFactory

    template = TemplateTranslationFactory(subject="A gift", text_body=BODY,
                                          html_body=f"<p>{BODY}</p>").template
    return journey({"kind": "coupon", "coupon_valid_days": 30},
                   {"kind": "send", "template": template}, **extra)


def test_a_coupon_step_issues_one_code_the_email_shows_with_the_points_block(frozen_clock):
    for name, threshold in (("bronze", 0), ("silver", 1000), ("gold", 5000)):
        Tier.objects.create(name=name, threshold=threshold)
    campaign = coupon_journey()
    customer = customer_with_consent(locale="en")
    points_add(customer_id=customer.pk, delta=1250, kind="bonus", reason="test",
               now=frozen_clock.now)
    purchase(customer, frozen_clock.now)

    run_tick(frozen_clock.now)
    run_tick(frozen_clock.advance(minutes=1))  # a later tick issues nothing more

    coupon = Coupon.objects.get()
    assert (coupon.customer, coupon.campaign) == (customer, campaign)
    assert coupon.expires_at == dt.datetime(2026, 4, 1, 9, tzinfo=UTC)
    [email] = mail.outbox
    assert email.body.startswith(
        f"Code {coupon.code} until 2026-04-01. 1250 points, silver, 3750 to gold.")


def test_the_holdout_group_gets_no_coupon(frozen_clock):
    coupon_journey(holdout_percent=100)
    purchase(customer_with_consent(), frozen_clock.now)

    run_tick(frozen_clock.now)

    assert not Coupon.objects.exists()


def test_codes_are_unique_shaped_and_unambiguous():
    codes = {coupon_code_new() for _ in range(500)}

    assert len(codes) == 500
    for code in codes:
        assert len(code) == 12 and code[4] == code[9] == "-"
        assert set(code.replace("-", "")) <= set(ALPHABET)
        assert not set(code) & set("01OIL")


def test_the_points_block_names_the_next_tier_and_the_points_to_it():
    tiers = [("gold", 5000), ("bronze", 0), ("silver", 1000)]

    block = loyalty_block(balance=300, tier="silver", tier_points=1400, tiers=tiers)
    top = loyalty_block(balance=9000, tier="gold", tier_points=6000, tiers=tiers)
    none = loyalty_block(balance=0, tier="", tier_points=0, tiers=[])

    assert (block["next_tier"], block["points_to_next_tier"], block["balance"]) == (
        "gold", 3600, 300)
    assert (top["next_tier"], top["points_to_next_tier"]) == (None, None)
    assert (none["tier"], none["next_tier"]) == ("", None)


def test_a_template_using_the_block_and_the_coupon_validates_against_the_sample():
    templating.template_validate(subject="Hi", html_body=f"<p>{BODY}</p>", text_body=BODY)

    assert set(templating.SAMPLE_CONTEXT["loyalty"]) >= {
        "balance", "tier", "next_tier", "points_to_next_tier"}
