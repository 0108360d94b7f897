"""The journey explanation's words: moments, events, topics, the consent gate's details."""
import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.utils import formats
from django.utils.translation import gettext as _

from campaigns.models import Topic


def when(moment: dt.datetime | None, zone: ZoneInfo) -> str:
    """e.g. "2026-03-03 09:00 Europe/Stockholm", the page's one way of writing a moment."""
    if moment is None:
        return "—"
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def day_words(day: dt.date) -> str:
    """e.g. "12 June 2026", in the active language."""
    return formats.date_format(day, "j F Y")


def event_words(event_type: str) -> str:
    """An event type as a noun phrase: "a purchase", "a sign-up", "a “review” event"."""
    known = {
        "purchase": _("a purchase"), "signup": _("a sign-up"), "refund": _("a refund"),
        "order_cancelled": _("a cancelled order"), "support_closed": _("a closed support case"),
        "checkout.started": _("a started checkout"), "cart.updated": _("a changed cart"),
        "product.viewed": _("a viewed product"),
        "product.reorder_due": _("a product due for reorder"),
        "survey.promoter": _("a promoter's survey answer (NPS 9-10)"),
        "survey.detractor": _("a detractor's survey answer (NPS 0-6, CSAT 1-2)"),
        "referral.joined": _("a referred friend joining"),
        "referral.rewarded": _("a referral reward"),
    }
    if event_type in known:
        return known[event_type]
    if event_type.startswith("lifecycle."):
        return _("becoming “%(stage)s” in the nightly scoring") % {
            "stage": event_type.split(".", 1)[1].replace("_", " ")}
    return _("a “%(type)s” event") % {"type": event_type}


def score_range_words(config: dict) -> str:
    """An event trigger's score range, e.g. "score 9 to 10", "score 3 or less"; "" for
    none (or settings that are not whole numbers, as a refused form may re-show)."""
    def whole(key):
        value = config.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    low, high = whole("min_score"), whole("max_score")
    if low is not None and high is not None:
        if low == high:
            return _("score %(score)d only") % {"score": low}
        return _("score %(low)d to %(high)d") % {"low": low, "high": high}
    if low is not None:
        return _("score %(low)d or more") % {"low": low}
    if high is not None:
        return _("score %(high)d or less") % {"high": high}
    return ""


def best_hour_words(step) -> str:
    """A send step's moment when it waits for the customer's best hour, e.g. "at the
    customer's best hour (else 10:00)"; "" for a step that sends when it is due."""
    if not getattr(step, "send_at_best_hour", False):
        return ""
    fallback = step.best_hour_fallback or dt.time(10)
    return _("at the customer's best hour (else %(time)s)") % {
        "time": fallback.strftime("%H:%M")}


def best_hour_value_words(hour: int | None) -> str:
    """A customer's learned best hour, e.g. "20:00–21:00 in their time zone"."""
    if hour is None:
        return _("not known yet (learned nightly from at least 3 purchases or email clicks "
                 "in the last year)")
    return _("%(start)s–%(end)s in their time zone, from their purchases and clicks") % {
        "start": f"{hour:02d}:00", "end": f"{(hour + 1) % 24:02d}:00"}


def topic_words(topic: str) -> str:
    return str(dict(Topic.choices).get(topic, topic))


# The legal gate's details (services.consent.legal_ground, and the log lines the sender
# writes from them) as sentences. Unknown details are shown as they are.
_DETAIL_RULES = [
    (r"marketing paused until (?P<until>[\d-]+ [\d:]+ UTC)",
     lambda m: _("The customer paused marketing emails until %(until)s.") % m),
    (r"subscription waiting for its double opt-in confirmation",
     lambda m: _("The customer has not yet confirmed their subscription (double opt-in).")),
    (r"no opt-in consent; the existing-customer exception is off for (?P<country>.+)",
     lambda m: _("The customer has not opted in to marketing, and the existing-customer "
                 "exception is not switched on for %(country)s.") % m),
    (r"no opt-in consent; the message is not about similar products",
     lambda m: _("The customer has not opted in to marketing, and this email is not about "
                 "products like the ones they bought, so the existing-customer exception "
                 "does not cover it.")),
    (r"no opt-in consent and no purchase",
     lambda m: _("The customer has not opted in to marketing and has not bought anything.")),
    (r"no opt-in consent; no opt-out was offered when the address was collected",
     lambda m: _("The customer has not opted in to marketing, and no opt-out was offered "
                 "when the shop collected the address.")),
    (r"no opt-in consent; last purchase over (?P<days>\d+) days ago",
     lambda m: _("The customer has not opted in to marketing, and their last purchase was "
                 "more than %(days)s days ago.") % m),
    (r"no opt-in consent; no active customer relationship under (?P<country>.+)'s rule",
     lambda m: _("The customer has not opted in to marketing and does not count as an "
                 "active customer under the rule for %(country)s.") % m),
    (r"withdrew consent / objected to marketing",
     lambda m: _("The customer withdrew their marketing consent.")),
    (r"unsubscribed from (?P<topic>\w+)",
     lambda m: _("The customer unsubscribed from “%(topic)s”.") % {
         "topic": topic_words(m["topic"])}),
    (r"recorded opt-in consent", lambda m: _("The customer opted in to marketing.")),
    (r"existing-customer exception \((?P<country>\w*)\)",
     lambda m: _("Sent under the existing-customer exception (%(country)s): no opt-in, but "
                 "a recent customer who was offered an opt-out.") % m),
    (r"transactional message",
     lambda m: _("A service message: it needs no marketing consent.")),
]
_AT_SEND_TIME = re.compile(r" at send time \((?P<topic>\w+)\)$")


def consent_detail_words(detail: str) -> str:
    """A consent detail such as "no opt-in consent; the message is not about similar
    products at send time (loyalty)" as a sentence; other details unchanged."""
    text = _AT_SEND_TIME.sub("", detail.strip())
    for pattern, words in _DETAIL_RULES:
        match = re.fullmatch(pattern, text)
        if match:
            return words(match.groupdict())
    return detail


def reason_words() -> dict[str, str]:
    # Fuller words than the message list's short labels, where a sentence has room.
    return {
        "frequency_cap": _("the daily or weekly cap of marketing emails was reached"),
        "min_gap": _("too soon after the previous email (the minimum gap)"),
        "quiet_hours": _("quiet hours in the customer's time zone"),
    }
