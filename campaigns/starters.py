"""Campaign starters: ready-made journeys a marketer begins from, as data.

Each starter is a campaign's fields plus its steps; a step that sends names its message
by a content folder under campaigns/content/ (the demo's own texts) or carries its texts
here, in the shipped languages. services.campaign_drafts turns one into a draft.
"""
import datetime as dt

from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, JourneyStep, Topic
from campaigns.services.referral_rewards import REWARDED_EVENT
from campaigns.services.surveys import DETRACTOR_EVENT, PROMOTER_EVENT

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
# The shop's journeys about products (issue 15), with their default priorities among the
# others (welcome 100, survey 80, birthday 70, bonus 60, at risk 45, win-back 40): a cart
# left behind is the strongest intent and goes before a birthday; a reorder reminder is a
# service the customer expects and goes before the bonus's story; a viewed product is the
# weakest signal of the three but fresher than a lapse, so it just beats the win-back.
ABANDONED_CART_PRIORITY = 75
REORDER_PRIORITY = 55
BROWSE_PRIORITY = 42
# Word of mouth (issue 16). A detractor's follow-up is the service team answering an
# unhappy customer: it goes before everything but the welcome. A referral reward tells
# the customer of points just granted, news they wait for: just after it. The invitation
# to refer a friend is an ask: after a birthday, before the bonus's story.
DETRACTOR_FOLLOWUP_PRIORITY = 90
REFERRAL_REWARD_PRIORITY = 85
PROMOTER_INVITE_PRIORITY = 65

_BUTTON = ('<p style="margin:24px 0;text-align:center;"><a href="{{ site_url }}" '
           'style="display:inline-block;padding:12px 24px;background-color:#2f4f4f;'
           'color:#ffffff;text-decoration:none;border-radius:4px;">%s</a></p>')


def _html(greeting: str, body: str, button: str) -> str:
    return (
        '<div style="max-width:600px;margin:0 auto;padding:24px 16px;font-family:Georgia,'
        'serif;font-size:17px;line-height:1.6;color:#2b2b2b;">'
        f"<p>{greeting}</p><p>{body}</p>{_BUTTON % button}</div>"
    )


# Messages no demo folder has, in the shipped languages (the footer is added on send).
_BIRTHDAY = {
    "en": {
        "subject": "Happy birthday{% if customer.first_name %}, {{ customer.first_name }}{% endif %}!",
        "greeting": 'Happy birthday, {{ customer.first_name or "friend" }}!',
        "body": "To celebrate, here is a gift from us: the code {{ reward.coupon_code }} gives "
                "you 15 % off, valid until {{ reward.coupon_expires }}.",
        "button": "Treat yourself",
    },
    "sv": {
        "subject": "Grattis på födelsedagen{% if customer.first_name %}, {{ customer.first_name }}{% endif %}!",
        "greeting": 'Grattis på födelsedagen, {{ customer.first_name or "du" }}!',
        "body": "Vi firar med en present: koden {{ reward.coupon_code }} ger dig 15 % rabatt "
                "och gäller till och med {{ reward.coupon_expires }}.",
        "button": "Unna dig något",
    },
    "nb": {
        "subject": "Gratulerer med dagen{% if customer.first_name %}, {{ customer.first_name }}{% endif %}!",
        "greeting": 'Gratulerer med dagen, {{ customer.first_name or "du" }}!',
        "body": "Vi feirer med en gave: koden {{ reward.coupon_code }} gir deg 15 % rabatt og "
                "gjelder til og med {{ reward.coupon_expires }}.",
        "button": "Unn deg noe",
    },
}
_AT_RISK = {
    "en": {
        "subject": "We have something new for you{% if customer.first_name %}, {{ customer.first_name }}{% endif %}",
        "greeting": 'Hi {{ customer.first_name or "there" }},',
        "body": "It has been a while since your last visit, and a lot has arrived in the "
                "shop since. Come and have a look: we think you will find a favourite.",
        "button": "See what is new",
    },
    "sv": {
        "subject": "Vi har något nytt till dig{% if customer.first_name %}, {{ customer.first_name }}{% endif %}",
        "greeting": 'Hej {{ customer.first_name or "du" }}!',
        "body": "Det var ett tag sedan du var här, och mycket nytt har kommit in sedan dess. "
                "Titta gärna in: vi tror att du hittar en ny favorit.",
        "button": "Se nyheterna",
    },
    "nb": {
        "subject": "Vi har noe nytt til deg{% if customer.first_name %}, {{ customer.first_name }}{% endif %}",
        "greeting": 'Hei {{ customer.first_name or "du" }}!',
        "body": "Det er en stund siden du var innom, og mye nytt har kommet inn siden. Ta en "
                "titt: vi tror du finner en ny favoritt.",
        "button": "Se nyhetene",
    },
}


def _texts(parts: dict) -> dict:
    """Subject, HTML and text of an inline message, per locale."""
    return {
        locale: {
            "subject": p["subject"],
            "html_body": _html(p["greeting"], p["body"], p["button"]),
            "text_body": f"{p['greeting']}\n\n{p['body']}\n\n{{{{ site_url }}}}\n",
        }
        for locale, p in parts.items()
    }


# Each step: its JourneyStep fields, and for a send step "message": a template's name,
# topic and either "content" (a folder of campaigns/content/) or "texts" (per locale).
STARTERS = {
    "welcome": {
        "title": _("Welcome"),
        "summary": _("Greets every new customer right after they sign up."),
        "campaign": {"name": _("Welcome"), "trigger": Campaign.Trigger.EVENT,
                     "trigger_event_type": "signup", "entry_key": Campaign.EntryKey.CUSTOMER,
                     "priority": 100, "deadline": DAY},
        "steps": [{"kind": JourneyStep.Kind.SEND,
                   "message": {"name": _("Welcome"), "content": "welcome"}}],
    },
    "survey": {
        "title": _("Post-purchase survey"),
        "summary": _("Asks how it went three days after each order; a refund or "
                     "cancellation of that order ends it."),
        "campaign": {"name": _("Post-purchase survey"), "trigger": Campaign.Trigger.EVENT,
                     "trigger_event_type": "purchase", "entry_key": Campaign.EntryKey.ORDER,
                     "priority": 80, "reentry_cooldown": 30 * DAY, "deadline": 5 * DAY,
                     "exit_event_types": ["refund", "order_cancelled"]},
        "steps": [
            {"kind": JourneyStep.Kind.WAIT, "wait_duration": 3 * DAY},
            {"kind": JourneyStep.Kind.SEND, "message": {
                "name": _("Post-purchase survey"), "content": "survey", "topic": Topic.SURVEYS}},
        ],
    },
    "bonus": {
        "title": _("Surprise loyalty bonus"),
        "summary": _("Gives 500 bonus points on the customer's third order and tells them."),
        "campaign": {"name": _("Surprise bonus"), "trigger": Campaign.Trigger.EVENT,
                     "trigger_event_type": "purchase", "trigger_config": {"nth_order": 3},
                     "entry_key": Campaign.EntryKey.ORDER, "priority": 60,
                     "reentry_cooldown": 90 * DAY, "deadline": 3 * DAY},
        "steps": [
            {"kind": JourneyStep.Kind.REWARD, "reward_points": 500},
            {"kind": JourneyStep.Kind.SEND, "message": {
                "name": _("Surprise bonus"), "content": "bonus", "topic": Topic.LOYALTY}},
        ],
    },
    "winback": {
        "title": _("Win-back"),
        "summary": _("Brings back customers with no order for 90 days: an offer, and a "
                     "reminder two weeks later. A new order ends it."),
        "campaign": {"name": _("Win-back"), "trigger": Campaign.Trigger.INACTIVITY,
                     "trigger_config": {"days": 90}, "entry_key": Campaign.EntryKey.EVENT,
                     "priority": 40, "deadline": 21 * DAY, "exit_event_types": ["purchase"]},
        "steps": [
            {"kind": JourneyStep.Kind.SEND, "message": {
                "name": _("Win-back offer"), "content": "winback", "topic": Topic.OFFERS}},
            {"kind": JourneyStep.Kind.WAIT, "wait_duration": 14 * DAY},
            {"kind": JourneyStep.Kind.SEND, "message": {
                "name": _("Win-back reminder"), "content": "winback_reminder",
                "topic": Topic.OFFERS}},
        ],
    },
    "birthday": {
        "title": _("Birthday"),
        "summary": _("A birthday coupon at 09:00 in the customer's time zone, from the "
                     "customer's birthday attribute."),
        "campaign": {"name": _("Birthday"), "trigger": Campaign.Trigger.DATE_ATTRIBUTE,
                     "trigger_config": {"attribute": "birthday"},
                     "entry_key": Campaign.EntryKey.CUSTOMER, "priority": 70,
                     "deadline": 2 * DAY},
        "steps": [
            {"kind": JourneyStep.Kind.WAIT, "wait_until_local_time": dt.time(9, 0)},
            {"kind": JourneyStep.Kind.COUPON, "coupon_valid_days": 30},
            {"kind": JourneyStep.Kind.SEND, "message": {
                "name": _("Birthday greeting"), "texts": _texts(_BIRTHDAY)}},
        ],
    },
    "at_risk": {
        "title": _("Became at risk"),
        "summary": _("Reaches out when the nightly scoring sees a customer become at risk "
                     "of leaving; an order ends it."),
        "campaign": {"name": _("Became at risk"), "trigger": Campaign.Trigger.EVENT,
                     "trigger_event_type": "lifecycle.at_risk",
                     "entry_key": Campaign.EntryKey.EVENT, "priority": 45,
                     "reentry_cooldown": 90 * DAY, "deadline": 3 * DAY,
                     "exit_event_types": ["purchase"]},
        "steps": [{"kind": JourneyStep.Kind.SEND, "message": {
            "name": _("We miss you"), "texts": _texts(_AT_RISK), "topic": Topic.OFFERS}}],
    },
    "abandoned_cart": {
        "title": _("Abandoned cart"),
        "summary": _("An hour after a cart is left, an email with its items; a reminder a "
                     "day later. Buying them ends it, and a newer cart replaces the older."),
        "campaign": {"name": _("Abandoned cart"), "trigger": Campaign.Trigger.EVENT,
                     "trigger_event_type": "checkout.started",
                     "entry_key": Campaign.EntryKey.EVENT,
                     "trigger_config": {"exit_on_purchase_of_items": True},
                     # A newer cart ends the older one's journey: never two carts at once.
                     # Only the trigger's own type: a cart.updated right after a
                     # checkout.started would otherwise end the journey with no newer one.
                     "exit_event_types": ["checkout.started"],
                     "priority": ABANDONED_CART_PRIORITY, "deadline": 2 * DAY},
        "steps": [
            {"kind": JourneyStep.Kind.WAIT, "wait_duration": HOUR},
            {"kind": JourneyStep.Kind.SEND, "message": {
                "name": _("Abandoned cart"), "content": "abandoned_cart"}},
            {"kind": JourneyStep.Kind.WAIT, "wait_duration": DAY},
            {"kind": JourneyStep.Kind.SEND, "message": {
                "name": _("Abandoned cart reminder"), "content": "abandoned_cart_reminder"}},
        ],
    },
    "browse_abandonment": {
        "title": _("Browse abandonment"),
        "summary": _("A day after a customer looked at a product without buying it, one "
                     "email about it; at most one a week per customer."),
        "campaign": {"name": _("Browse abandonment"), "trigger": Campaign.Trigger.EVENT,
                     "trigger_event_type": "product.viewed",
                     "entry_key": Campaign.EntryKey.EVENT,
                     "trigger_config": {"exit_on_purchase_of_items": True},
                     "reentry_cooldown": 7 * DAY,
                     "priority": BROWSE_PRIORITY, "deadline": 2 * DAY},
        "steps": [
            {"kind": JourneyStep.Kind.WAIT, "wait_duration": DAY},
            {"kind": JourneyStep.Kind.SEND, "message": {
                "name": _("Browse abandonment"), "content": "browse_abandonment"}},
        ],
    },
    "reorder": {
        "title": _("Time to reorder"),
        "summary": _("Reminds a customer when a product they buy again and again is "
                     "probably running out: after its reorder interval, set on the product "
                     "or learned from the shop's orders. Buying it ends it."),
        "campaign": {"name": _("Time to reorder"), "trigger": Campaign.Trigger.EVENT,
                     "trigger_event_type": "product.reorder_due",
                     "entry_key": Campaign.EntryKey.EVENT,
                     "trigger_config": {"exit_on_purchase_of_items": True},
                     "priority": REORDER_PRIORITY, "deadline": 3 * DAY},
        "steps": [
            {"kind": JourneyStep.Kind.SEND, "message": {
                "name": _("Time to reorder"), "content": "reorder"}},
        ],
    },
    "promoter_invite": {
        "title": _("Promoter: invite a friend"),
        "summary": _("Thanks a customer who answered the survey with 9 or 10 and gives "
                     "them their personal referral link to share; at most once in 90 days."),
        "campaign": {"name": _("Promoter: invite a friend"), "trigger": Campaign.Trigger.EVENT,
                     "trigger_event_type": PROMOTER_EVENT, "entry_key": Campaign.EntryKey.EVENT,
                     "reentry_cooldown": 90 * DAY, "priority": PROMOTER_INVITE_PRIORITY,
                     "deadline": 3 * DAY},
        "steps": [{"kind": JourneyStep.Kind.SEND, "message": {
            "name": _("Promoter: invite a friend"), "content": "promoter_invite"}}],
    },
    "referral_reward": {
        "title": _("Referral reward"),
        "summary": _("Tells both sides of a referral of their reward when the friend's "
                     "first order is placed: the referrer that their friend joined, the "
                     "friend their welcome gift."),
        "campaign": {"name": _("Referral reward"), "trigger": Campaign.Trigger.EVENT,
                     "trigger_event_type": REWARDED_EVENT,
                     "entry_key": Campaign.EntryKey.EVENT,
                     "priority": REFERRAL_REWARD_PRIORITY, "deadline": 3 * DAY},
        "steps": [{"kind": JourneyStep.Kind.SEND, "message": {
            "name": _("Referral reward"), "content": "referral_reward",
            "topic": Topic.LOYALTY}}],
    },
    "detractor_followup": {
        "title": _("Detractor follow-up"),
        "summary": _("Apologises to a customer who answered the survey unhappily (NPS 0-6, "
                     "CSAT 1-2) and offers contact with the service team; no offers, no "
                     "referral link. At most once in 30 days."),
        "campaign": {"name": _("Detractor follow-up"), "trigger": Campaign.Trigger.EVENT,
                     "trigger_event_type": DETRACTOR_EVENT, "entry_key": Campaign.EntryKey.EVENT,
                     "reentry_cooldown": 30 * DAY, "priority": DETRACTOR_FOLLOWUP_PRIORITY,
                     "deadline": 2 * DAY},
        "steps": [{"kind": JourneyStep.Kind.SEND, "message": {
            "name": _("Detractor follow-up"), "content": "detractor_followup",
            "topic": Topic.SURVEYS}}],
    },
    "blank": {
        "title": _("Blank"),
        "summary": _("An empty campaign: choose its trigger and add its steps yourself."),
        "campaign": {"name": _("New campaign"), "trigger": Campaign.Trigger.EVENT,
                     "trigger_event_type": ""},
        "steps": [],
    },
}
