"""Word of mouth in figures: exact numbers on a small shop, the nightly snapshot equal to the
live computation, and the same figures from `manage.py metrics --json`."""
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from campaigns.models import Message, MetricSnapshot, Referral, ReferralClick, ReferralCode, SurveyResponse
from campaigns.selectors import metrics
from campaigns.selectors.referrals import (
    REFERRAL_FIGURES, referral_figures, referral_months, referral_summary,
)
from campaigns.services.snapshots import metric_snapshots_build
from tests.factories import CustomerFactory, OrderFactory, SentMessageFactory

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the frozen clock
FEB, MAR = dt.datetime(2026, 2, 1, tzinfo=UTC), dt.datetime(2026, 3, 1, tzinfo=UTC)


def at(y, m, d, h=12):
    return dt.datetime(y, m, d, h, tzinfo=UTC)


def customer(created, **kwargs):
    return CustomerFactory(created_at=created, **kwargs)


def order(who, placed, amount, status="placed"):
    return OrderFactory(customer=who, placed_at=placed, amount=Decimal(amount), status=status)


def referral(friend, referrer, when, **kwargs):
    return Referral.objects.create(referred=friend, referrer=referrer, referred_at=when,
                                   code=kwargs.pop("code", "ABCDEFGHJK"), source="api",
                                   status=kwargs.pop("status", Referral.Status.COUNTED), **kwargs)


def nps(who, score, when):
    message = SentMessageFactory(enrollment__customer=who, sent_at=when - dt.timedelta(days=1))
    SurveyResponse.objects.create(message=message, customer=who, kind="nps", score=score,
                                  answered_at=when)


@pytest.fixture
def shop(frozen_clock):
    """February 2026 in a small shop. Old customers Ann (refers friends, answers NPS 10),
    Bo (NPS 9, refers no one), Cy (NPS 8; last order a year ago). Friends Ann referred:
    Dee (December), Eve (January, first order in February), Fay and Gus (February, Fay
    orders). Hal arrived with an unknown code (ignored), Ida without one."""
    old = at(2025, 6, 1)
    ann, bo, cy = customer(old), customer(old), customer(old)
    order(ann, at(2025, 7, 1), "100"), order(ann, at(2026, 2, 15), "200")
    order(bo, at(2025, 8, 1), "300")
    order(cy, at(2025, 2, 15), "40")
    dee, eve = customer(at(2025, 12, 1)), customer(at(2026, 1, 15))
    fay, gus, hal, ida = (customer(at(2026, 2, d)) for d in (5, 6, 7, 8))
    order(dee, at(2025, 12, 10), "120")
    order(eve, at(2026, 2, 3), "150"), order(eve, at(2026, 2, 20), "50")
    order(fay, at(2026, 2, 10), "80")
    order(ida, at(2026, 2, 12), "60"), order(ida, at(2026, 2, 13), "999", status="refunded")
    referral(dee, ann, at(2025, 12, 1))
    referral(eve, ann, at(2026, 1, 15), first_order_at=at(2026, 2, 3),
             reward=Referral.Reward.GRANTED, rewarded_at=at(2026, 2, 5), referrer_points=500,
             friend_points=250)
    referral(fay, ann, at(2026, 2, 5), first_order_at=at(2026, 2, 10))
    referral(gus, ann, at(2026, 2, 6))
    referral(hal, None, at(2026, 2, 7), code="nope", status=Referral.Status.IGNORED,
             reason=Referral.Reason.UNKNOWN)
    code = ReferralCode.objects.create(customer=ann, code="ABCDEFGHJK", created_at=at(2025, 11, 1))
    for when in (at(2026, 1, 10), at(2026, 2, 1), at(2026, 2, 4), at(2026, 2, 5), at(2026, 2, 6)):
        ReferralClick.objects.create(code=code, clicked_at=when)
    ReferralClick.objects.create(code=None, clicked_at=at(2026, 2, 9))  # its code was erased
    for when, state in ((at(2026, 1, 20), "sent"), (at(2026, 2, 2), "sent"),
                        (at(2026, 2, 3), "sent"), (at(2026, 2, 4), "unknown"),
                        (at(2026, 2, 5), "skipped")):
        SentMessageFactory(enrollment__customer=ann, sent_at=when, state=state,
                           referral_invite=True)
    SentMessageFactory(enrollment__customer=bo, sent_at=at(2026, 2, 2))  # not an invite
    nps(ann, 10, at(2026, 2, 20)), nps(bo, 9, at(2026, 2, 21)), nps(cy, 8, at(2026, 2, 22))
    nps(cy, 9, at(2026, 1, 22))
    return {"ann": ann, "dee": dee}


def test_february_in_exact_numbers(shop):
    figures = referral_figures(FEB, MAR)

    assert figures == {
        "new_customers": 4, "signups": 2, "referred_share": 50.0, "ignored_codes": 1,
        "invites": 3, "clicks": 5, "first_orders": 2, "rewarded": 1, "points_granted": 750,
        # Others: Ann, Bo, Cy bought in the year before February, Ann, Bo and Ida (new) in
        # the year before March: (3 - 1) / 3. Referred: Dee before, Dee, Eve, Fay after,
        # Eve and Fay new: (3 - 2) / 1.
        "referred_retention": 100.0, "others_retention": pytest.approx(200 / 3),
        "referred_repeat_rate": pytest.approx(100 / 3), "others_repeat_rate": 25.0,
        "referred_clv": pytest.approx(400 / 3), "others_clv": 175.0,
        "promoters": 2, "promoters_referring": 1, "promoters_referring_share": 50.0,
    }
    assert tuple(figures) == REFERRAL_FIGURES


def test_everyone_else_is_measured_exactly_as_the_shops_health(shop):
    Referral.objects.all().delete()

    figures = referral_figures(FEB, MAR)

    assert figures["others_retention"] == metrics.retention(FEB, MAR)["retention_rate"]
    assert figures["others_repeat_rate"] == metrics.repeat_purchase_rate(MAR)
    assert figures["others_clv"] == metrics.clv(MAR)["clv"]
    assert figures["referred_retention"] is None and figures["referred_clv"] is None


def test_an_empty_period_has_no_shares_rather_than_a_division_by_zero(db):
    figures = referral_figures(FEB, MAR)

    assert figures["referred_share"] is None and figures["promoters_referring_share"] is None
    assert figures["signups"] == figures["invites"] == figures["clicks"] == 0


def test_the_nightly_snapshot_of_each_month_is_the_live_computation(shop):
    metric_snapshots_build(now=NOW)

    months = referral_months(since=at(2025, 12, 1, 0), until=at(2026, 3, 3, 0))

    assert [m["month"] for m in months] == [dt.date(2025, 12, 1), dt.date(2026, 1, 1),
                                            dt.date(2026, 2, 1), dt.date(2026, 3, 1)]
    for month, end in zip(months, (at(2026, 1, 1, 0), FEB, MAR, at(2026, 3, 2, 0))):
        start = dt.datetime.combine(month["month"], dt.time(), tzinfo=UTC)
        assert month == {"month": month["month"], **referral_figures(start, end)}
    summary = referral_summary(months)
    assert (summary["invites"], summary["clicks"], summary["signups"], summary["first_orders"]) == (4, 6, 4, 2)
    assert summary["last_month"] == dt.date(2026, 3, 1)


def test_a_rebuild_replaces_the_open_months_rows(shop, frozen_clock):
    metric_snapshots_build(now=NOW)
    rows = MetricSnapshot.objects.filter(kind=MetricSnapshot.Kind.REFERRAL).count()
    referral(customer(at(2026, 3, 1, 8)), shop["ann"], at(2026, 3, 1, 8))

    metric_snapshots_build(now=NOW)

    march = referral_months(since=MAR, until=at(2026, 4, 1, 0))[0]
    assert march["signups"] == 1 and march["new_customers"] == 1
    assert MetricSnapshot.objects.filter(kind=MetricSnapshot.Kind.REFERRAL).count() == rows


def test_metrics_json_holds_the_same_figures_under_referrals(shop):
    out = io.StringIO()
    call_command("metrics", "--from", "2026-02-01", "--to", "2026-03-01", "--json", stdout=out)

    printed = json.loads(out.getvalue())["referrals"]

    assert set(printed) == set(REFERRAL_FIGURES)
    assert printed == pytest.approx(referral_figures(FEB, MAR))
    assert printed["referred_share"] == 50.0 and printed["promoters_referring"] == 1


def test_the_metrics_table_says_it_in_lines(shop):
    out = io.StringIO()
    call_command("metrics", "--from", "2026-02-01", "--to", "2026-03-01", stdout=out)

    text = out.getvalue()
    assert "Referred share" in text and "50.0 %" in text and "1 of 2" in text


def test_an_invite_counts_once_handed_to_the_provider(shop):
    Message.objects.filter(referral_invite=True, state="skipped").update(state="sent")

    assert referral_figures(FEB, MAR)["invites"] == 4
