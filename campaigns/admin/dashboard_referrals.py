"""The dashboard's word-of-mouth section: the referral funnel, the referred share of new
customers, referred customers against the others; read from the nightly snapshots only."""
import datetime as dt

from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from campaigns.selectors.referrals import FUNNEL_STEPS, referral_months, referral_summary

# Label, one line for a marketer, how the value is shown.
CARDS = [
    ("referred_share", _("Referred share of new customers"),
     _("Of the customers who joined in the period, the share who came with a friend's "
       "referral code."), "percent"),
    ("signups", _("Friends who joined"),
     _("New customers counted for a referrer: a live code that was not their own."), "count"),
    ("first_orders", _("First orders of referred friends"),
     _("Referred friends whose first order was placed in the period."), "count"),
    ("promoters_referring", _("Promoters who referred a friend"),
     _("Of the customers who answered 9 or 10 to “Would you recommend us?” in the last "
       "month shown, how many have brought a friend."), "of_promoters"),
]
FUNNEL_WORDS = {
    "invites": _("Invites sent"),
    "clicks": _("Link clicks"),
    "signups": _("Friends who joined"),
    "first_orders": _("First orders"),
}
# The month-by-month table: column key, header, how the value is shown.
COLUMNS = [
    ("new_customers", _("New customers"), "count"),
    ("referred_share", _("Referred (%)"), "percent"),
    ("invites", _("Invites sent"), "count"),
    ("clicks", _("Link clicks"), "count"),
    ("signups", _("Friends who joined"), "count"),
    ("first_orders", _("First orders"), "count"),
    ("ignored_codes", _("Codes that did not count"), "count"),
    ("rewarded", _("Referrals rewarded"), "count"),
    ("referred_retention", _("Retention, referred (%)"), "percent"),
    ("others_retention", _("Retention, everyone else (%)"), "percent"),
    ("referred_repeat_rate", _("Repeat purchases, referred (%)"), "percent"),
    ("others_repeat_rate", _("Repeat purchases, everyone else (%)"), "percent"),
    ("referred_clv", _("Lifetime value, referred"), "money"),
    ("others_clv", _("Lifetime value, everyone else"), "money"),
    ("promoters", _("Promoters (9–10)"), "count"),
    ("promoters_referring", _("Promoters who referred a friend"), "count"),
]
CHART_LABELS = {
    "referred_share": _("Referred share of new customers (%)"),
    "referred_clv": _("Lifetime value, referred"),
    "others_clv": _("Lifetime value, everyone else"),
    "referred_retention": _("Retention, referred (%)"),
    "others_retention": _("Retention, everyone else (%)"),
    **FUNNEL_WORDS,
}


def _shown(value, fmt: str) -> str:
    from campaigns.admin.dashboard import figure_words

    if fmt == "count":
        return figure_words(value, "money") if value is not None else "—"
    return figure_words(value, fmt)


def referral_section(*, since: dt.datetime, until: dt.datetime) -> dict:
    """What the template and the charts need: cards, the funnel, the monthly table."""
    months = referral_months(since=since, until=until)
    total = referral_summary(months)
    cards = []
    for key, label, help_text, fmt in CARDS:
        if fmt == "of_promoters":
            shown = (_("%(referring)s of %(promoters)s") % {
                "referring": _shown(total["promoters_referring"], "count"),
                "promoters": _shown(total["promoters"], "count")}
                if total["promoters"] else "—")
        else:
            shown = _shown(total[key], fmt)
        cards.append({"key": key, "label": label, "help": help_text, "shown": shown})
    return {
        "months": months,
        "cards": cards,
        "funnel": [{"step": str(FUNNEL_WORDS[step]), "customers": total[step]}
                   for step in FUNNEL_STEPS],
        "headers": [_("Month"), *(label for _key, label, _fmt in COLUMNS)],
        "rows": [[date_format(month["month"], "YEAR_MONTH_FORMAT"),
                  *(_shown(month.get(key), fmt) for key, _label, fmt in COLUMNS)]
                 for month in months],
        "chart_labels": {key: str(label) for key, label in CHART_LABELS.items()},
    }
