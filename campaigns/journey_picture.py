"""A campaign in words and as a picture: its trigger, durations, steps and the caps on it.

Pure presentation on loaded rows: the admin's list, page and confirmation all say a
campaign the same way, and the picture is plain data a template draws (no JS library).
"""
import datetime as dt
from dataclasses import dataclass, field

from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.models import Campaign, JourneyStep
from campaigns.selectors.journey_words import best_hour_words, event_words, score_range_words


def duration_in_words(value: dt.timedelta | None) -> str:
    """"5 days", "2 days 3 hours", "45 minutes"; empty for no duration."""
    if value is None:
        return ""
    minutes_total = int(value.total_seconds()) // 60
    days, rest = divmod(minutes_total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(count)d day", "%(count)d days", days) % {"count": days})
    if hours:
        parts.append(ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours})
    if minutes:
        parts.append(ngettext("%(count)d minute", "%(count)d minutes", minutes)
                     % {"count": minutes})
    return " ".join(parts) or _("no time at all")


def segment_label(ref, names: dict) -> str:
    """A segment named by a trigger (by id or by name), as the marketer knows it."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        return names.get(ref, _("a deleted segment"))
    return str(ref)


def _whole(value, default: int = 0) -> int:
    # The page re-shows a refused form's settings, which may be missing or not numbers.
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def trigger_in_words(campaign: Campaign, segment_names: dict | None = None) -> str:
    """"No order for 90 days", "Event: purchase (3rd order only)", "Birthday", …"""
    config = campaign.trigger_config if isinstance(campaign.trigger_config, dict) else {}
    names = segment_names or {}
    trigger = campaign.trigger
    if trigger == Campaign.Trigger.EVENT:
        if not campaign.trigger_event_type:
            return _("Event: not chosen yet")
        nth = config.get("nth_order")
        if isinstance(nth, int) and nth > 0:
            # "order number 3", not "3rd": one sentence every language can translate.
            return _("Event: %(type)s (the customer's order number %(nth)d only)") % {
                "type": campaign.trigger_event_type, "nth": nth}
        scores = score_range_words(config)
        if scores:
            return _("Event: %(type)s (%(scores)s)") % {
                "type": campaign.trigger_event_type, "scores": scores}
        return _("Event: %(type)s") % {"type": campaign.trigger_event_type}
    if trigger == Campaign.Trigger.INACTIVITY:
        days = _whole(config.get("days", 90))
        return ngettext("No order for %(count)d day", "No order for %(count)d days", days) % {
            "count": days}
    if trigger == Campaign.Trigger.DATE_ATTRIBUTE:
        attribute = config.get("attribute") or "birthday"
        if attribute == "birthday":
            return _("Birthday")
        return _("Anniversary of %(attribute)s") % {"attribute": attribute}
    if trigger == Campaign.Trigger.SEGMENT_ENTRY:
        return _("Enters the segment %(segment)s") % {
            "segment": segment_label(config.get("segment"), names)}
    if trigger == Campaign.Trigger.SCHEDULE:
        every = _whole(config.get("every_days"))
        first = parse_datetime(config["first_run"]) if isinstance(config.get("first_run"), str) else None
        when = date_format(localtime(first), "DATETIME_FORMAT") if first and first.tzinfo else "?"
        audience = (_("everyone") if "segment" not in config
                    else _("the segment %(segment)s") % {
                        "segment": segment_label(config.get("segment"), names)})
        share = _whole(config.get("share"), 100)
        if share < 100:
            audience = _("%(share)d %% of %(audience)s") % {"share": share, "audience": audience}
        return ngettext(
            "Every %(count)d day from %(first)s, to %(audience)s",
            "Every %(count)d days from %(first)s, to %(audience)s", every,
        ) % {"count": every, "first": when, "audience": audience}
    return campaign.get_trigger_display()


@dataclass
class Box:
    """One box of the journey picture."""

    kind: str  # trigger, holdout, wait, send, reward, coupon, exit, end
    title: str
    detail: str = ""
    variants: list[str] = field(default_factory=list)
    # A send step's template: the picture links to it, so the email is one click away
    # (the step's own pencil opens a popup window).
    template_id: int | None = None


def step_in_words(step: JourneyStep) -> Box:
    if step.kind == JourneyStep.Kind.WAIT:
        parts = []
        if step.wait_duration:
            parts.append(duration_in_words(step.wait_duration))
        if step.wait_until_local_time:
            parts.append(_("until %(time)s in the customer's time zone") % {
                "time": step.wait_until_local_time.strftime("%H:%M")})
        return Box("wait", _("Wait"), _(", then ").join(parts) if parts else _("not set yet"))
    if step.kind == JourneyStep.Kind.SEND:
        variants = [
            _("%(name)s: %(template)s (weight %(weight)d)") % {
                "name": v.name, "template": v.template.name, "weight": v.weight}
            for v in step.variants.all()
        ]
        template = step.template.name if step.template_id else _("no template chosen yet")
        title = _("Send an email")
        if step.send_at_best_hour:
            title = _("Send an email %(when)s") % {"when": best_hour_words(step)}
        return Box("send", title, template, variants, step.template_id)
    if step.kind == JourneyStep.Kind.REWARD:
        points = step.reward_points or 0
        return Box("reward", _("Grant loyalty points"),
                   ngettext("%(count)d point", "%(count)d points", points) % {"count": points})
    if step.kind == JourneyStep.Kind.COUPON:
        days = step.coupon_valid_days or 0
        return Box("coupon", _("Issue a coupon code"),
                   ngettext("valid %(count)d day", "valid %(count)d days", days) % {"count": days})
    return Box(step.kind, step.get_kind_display())


def journey_boxes(campaign: Campaign, steps: list[JourneyStep],
                  segment_names: dict | None = None) -> list[Box]:
    """The journey from its trigger through its steps to its exits, top to bottom."""
    boxes = [Box("trigger", _("Starts when"), trigger_in_words(campaign, segment_names))]
    if campaign.holdout_percent:
        boxes.append(Box("holdout", _("Holdout"), _(
            "%(share)d %% of those who enter get nothing, to measure the lift") % {
            "share": campaign.holdout_percent}))
    boxes += [step_in_words(step) for step in steps]
    stored = campaign.exit_event_types if isinstance(campaign.exit_event_types, list) else []
    exits = [str(event_words(e)) for e in stored if isinstance(e, str)]
    config = campaign.trigger_config if isinstance(campaign.trigger_config, dict) else {}
    if config.get("exit_on_purchase_of_items") is True:
        exits.append(str(_("the customer buys a product of the trigger")))
    if exits:
        boxes.append(Box("exit", _("Leaves early when"), ", ".join(exits)))
    boxes.append(Box("end", _("Journey ends")))
    return boxes
