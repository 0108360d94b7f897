"""The referral programme's admin: one row, edited in place by a marketer, with clear
messages for rules that cannot work."""
import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from campaigns.models import ReferralProgram
from campaigns.services.roles import MARKETERS

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:campaigns_referralprogram_changelist")


@pytest.fixture
def marketer():
    user = User.objects.create_user("marketer", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=MARKETERS))
    client = Client()
    client.force_login(user)
    return client


def form(**changes):
    data = {"active": "on", "reward_kind": "points", "referrer_points": "500",
            "friend_points": "250", "coupon_valid_days": "60", "refund_window_days": "0",
            "monthly_limit_per_referrer": "10"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_list_opens_the_one_row_and_a_marketer_changes_it(marketer):
    program = ReferralProgram.objects.create()

    response = marketer.get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:campaigns_referralprogram_change",
                                           args=[program.pk])

    response = marketer.post(response["Location"], form(friend_points="300",
                                                         refund_window_days="14"))
    assert response.status_code == 302
    program.refresh_from_db()
    assert (program.friend_points, program.refund_window_days) == (300, 14)


def test_with_no_row_yet_the_list_leads_to_adding_it_and_then_no_second(marketer):
    assert marketer.get(CHANGELIST)["Location"] == reverse("admin:campaigns_referralprogram_add")
    assert marketer.post(reverse("admin:campaigns_referralprogram_add"), form()).status_code == 302

    assert marketer.get(reverse("admin:campaigns_referralprogram_add")).status_code == 403
    program = ReferralProgram.objects.get()
    assert marketer.post(reverse("admin:campaigns_referralprogram_delete",
                                 args=[program.pk]), {"post": "yes"}).status_code == 403


@pytest.mark.parametrize("changes, field, words", [
    ({"referrer_points": "0", "friend_points": "0"}, "referrer_points", "at least one side"),
    ({"hold_until_window_passes": "on"}, "hold_until_window_passes", "refund window"),
    ({"reward_kind": "coupon", "coupon_valid_days": "0"}, "coupon_valid_days", "valid for"),
    ({"refund_window_days": "9999"}, "refund_window_days", "At most 365"),
    ({"friend_points": "-5"}, "friend_points", ""),
    ({"monthly_limit_per_referrer": "abc"}, "monthly_limit_per_referrer", ""),
])
def test_rules_that_cannot_work_are_refused_naming_the_field(marketer, changes, field, words):
    program = ReferralProgram.objects.create()

    response = marketer.post(reverse("admin:campaigns_referralprogram_change",
                                     args=[program.pk]), form(**changes))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors and words in " ".join(errors[field])
    program.refresh_from_db()
    assert program.referrer_points == 500 and program.refund_window_days == 0


def test_the_programme_sits_in_the_loyalty_group():
    from campaigns.admin_site import group_of

    assert group_of("campaigns.ReferralProgram").key == "loyalty"


def test_a_change_is_audited_with_who_made_it(marketer):
    program = ReferralProgram.objects.create()

    marketer.post(reverse("admin:campaigns_referralprogram_change", args=[program.pk]),
                  form(referrer_points="800"))

    latest = program.history.latest()
    assert (latest.history_type, latest.referrer_points) == ("~", 800)
    assert latest.history_user.username == "marketer"
    assert marketer.get(reverse("admin:campaigns_referralprogram_history",
                                args=[program.pk])).status_code == 200
