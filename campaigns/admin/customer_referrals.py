"""The customer page's referral section: who referred this customer, whom they referred,
their rewards, their codes and the clicks on them. A fixed number of queries, capped lists.

A referral whose other side was erased has no link to that person any more (erasure sets
`referrer` to null): it shows as "a customer whose data was erased", never a name.
"""
from zoneinfo import ZoneInfo

from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext

from campaigns.models import Coupon, Customer, PointsEntry, Referral, ReferralCode

from .customer_page import SECTION_LIMIT, _table
from .deliveries import admin_link, local_time


def _person(customer: Customer | None) -> str:
    if customer is None or customer.erased_at:
        return gettext("a customer whose data was erased")
    return admin_link(customer)


def _reward(referral: Referral) -> str:
    words = referral.get_reward_display()
    if referral.reward == Referral.Reward.GRANTED:
        return gettext("%(state)s: %(referrer)d points to the referrer, %(friend)d to the friend") % {
            "state": words, "referrer": referral.referrer_points, "friend": referral.friend_points}
    return words


def referred_by_html(customer: Customer, zone: ZoneInfo) -> str:
    referral = (Referral.objects.filter(referred=customer).select_related("referrer").first())
    if referral is None:
        return format_html("<p>{}</p>", gettext(
            "No one: the customer did not arrive with a referral code."))
    when = local_time(referral.referred_at, zone)
    if referral.status == Referral.Status.IGNORED:
        return format_html("<p>{}</p>", gettext(
            "No one: the customer arrived with the code “%(code)s” (%(when)s, via %(source)s), "
            "which did not count: %(reason)s.") % {
            "code": referral.code, "when": when, "source": referral.source,
            "reason": referral.get_reason_display()})
    return format_html(
        "<p>{}</p><p>{}</p>",
        format_html(gettext("Referred by {} on {} (via {})."), _person(referral.referrer), when,
                    referral.source),
        gettext("Reward: %(reward)s.") % {"reward": _reward(referral)})


def referred_friends_html(customer: Customer, zone: ZoneInfo) -> str:
    friends = list(Referral.objects.filter(referrer=customer).select_related("referred")
                   .order_by("-referred_at", "-id")[:SECTION_LIMIT + 1])
    if not friends:
        return format_html("<p>{}</p>", gettext("No friends referred yet."))
    total = (len(friends) if len(friends) <= SECTION_LIMIT
             else Referral.objects.filter(referrer=customer).count())
    note = ngettext("%(count)d friend joined with this customer's code.",
                    "%(count)d friends joined with this customer's code.", total) % {"count": total}
    if total > SECTION_LIMIT:
        note += " " + gettext("Showing the latest %(count)d.") % {"count": SECTION_LIMIT}
    rows = [(local_time(r.referred_at, zone), _person(r.referred), local_time(r.first_order_at, zone),
             _reward(r)) for r in friends[:SECTION_LIMIT]]
    return format_html("<p>{}</p>{}", note, _table(
        [gettext("joined"), gettext("friend"), gettext("first order"), gettext("reward")], rows))


def referral_rewards_html(customer: Customer, zone: ZoneInfo) -> str:
    points = list(PointsEntry.objects.filter(customer=customer, referral__isnull=False)
                  .order_by("-created_at", "-id")[:SECTION_LIMIT])
    coupons = list(Coupon.objects.filter(customer=customer, referral__isnull=False)
                   .order_by("-issued_at", "-id")[:SECTION_LIMIT])
    if not points and not coupons:
        return format_html("<p>{}</p>", gettext("No referral rewards."))
    rows = [(local_time(e.created_at, zone), gettext("%(delta)+d points") % {"delta": e.delta},
             e.get_kind_display()) for e in points]
    rows += [(local_time(c.issued_at, zone), gettext("coupon %(code)s") % {"code": c.code},
              gettext("used") if c.redeemed_at else
              gettext("valid until %(when)s") % {"when": local_time(c.expires_at, zone)})
             for c in coupons]
    rows.sort(key=lambda row: row[0], reverse=True)
    return _table([gettext("when"), gettext("reward"), gettext("what")], rows)


def referral_codes_html(customer: Customer, zone: ZoneInfo) -> str:
    codes = list(ReferralCode.objects.filter(customer=customer).annotate(n=Count("clicks"))
                 .order_by("-created_at", "-id")[:SECTION_LIMIT])
    if not codes:
        return format_html("<p>{}</p>", gettext(
            "No referral code yet: one is made with the first email that carries it."))
    rows = [(c.code, local_time(c.created_at, zone),
             gettext("revoked %(when)s") % {"when": local_time(c.revoked_at, zone)}
             if c.revoked_at else gettext("live"), c.n) for c in codes]
    return _table([gettext("code"), gettext("made"), gettext("state"), gettext("link clicks")], rows)


def referrals_html(customer: Customer, zone: ZoneInfo) -> str:
    """The whole section: four short parts, each one or two queries."""
    parts = [
        (gettext("Who referred this customer"), referred_by_html(customer, zone)),
        (gettext("Friends this customer referred"), referred_friends_html(customer, zone)),
        (gettext("Referral rewards"), referral_rewards_html(customer, zone)),
        (gettext("Referral codes and link clicks"), referral_codes_html(customer, zone)),
    ]
    link = format_html('<p><a href="{}?{}">{}</a></p>',
                       reverse("admin:campaigns_referral_changelist"),
                       f"referrer__id__exact={customer.pk}",
                       gettext("Every referral this customer made"))
    return format_html("{}{}", format_html_join("", "<h4>{}</h4>{}", parts), link)
