"""How many customers a campaign would take in at once when it is activated, and why.

Mirrors the planner (services.planning) from the place campaign_activate leaves the
campaign at: a draft starts with what happens from now on, a paused campaign catches up
on what happened during the pause. A schedule's first wave is its next run. A test
activates and plans each case and compares, so the two cannot drift apart unnoticed.
"""
import calendar
import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.models import Campaign, Customer, Event, SegmentMembership
from campaigns.services.planning import events_in_score_range, schedule_occurrences


@dataclass(frozen=True)
class Reach:
    count: int
    why: str  # one sentence for the marketer


def _since(campaign: Campaign, now: dt.datetime) -> dt.datetime:
    # campaign_activate sets planned_through to now for a draft; a paused one keeps its own.
    if campaign.status == Campaign.Status.PAUSED and campaign.planned_through:
        return campaign.planned_through
    return now


def _inactivity(campaign: Campaign, now: dt.datetime) -> Reach:
    days = int(campaign.trigger_config.get("days", 90))
    lapse = dt.timedelta(days=days)
    since = _since(campaign, now)
    count = Customer.objects.filter(
        last_order_at__gt=since - lapse, last_order_at__lte=now - lapse, erased_at__isnull=True,
    ).count()
    if since < now:
        why = ngettext(
            "%(count)d customer reached %(days)d days without an order while the campaign was "
            "paused and would enter it now.",
            "%(count)d customers reached %(days)d days without an order while the campaign was "
            "paused and would enter it now.", count) % {"count": count, "days": days}
    else:
        why = ngettext(
            "Only customers who reach %(days)d day without an order from now on enter.",
            "Only customers who reach %(days)d days without an order from now on enter.",
            days) % {"days": days}
    return Reach(count, why)


def _segment_entry(campaign: Campaign, now: dt.datetime) -> Reach:
    segment_id = campaign.trigger_segment_id()
    if campaign.status != Campaign.Status.PAUSED or segment_id is None:
        return Reach(0, _("The segment's current members do not enter: only customers who "
                          "enter the segment from now on."))
    count = SegmentMembership.objects.filter(
        segment_id=segment_id, id__gt=campaign.event_watermark, entered_at__lte=now,
        customer__erased_at__isnull=True,
    ).count()
    return Reach(count, ngettext(
        "%(count)d customer entered the segment while the campaign was paused and would "
        "enter it now.",
        "%(count)d customers entered the segment while the campaign was paused and would "
        "enter it now.", count) % {"count": count})


def _audience(campaign: Campaign):
    audience = Customer.objects.filter(erased_at__isnull=True)
    if "segment" in campaign.trigger_config:
        audience = audience.filter(segment_memberships__segment_id=campaign.trigger_segment_id())
    return audience


def _schedule(campaign: Campaign, now: dt.datetime) -> Reach:
    share = int(campaign.trigger_config.get("share", 100))
    size = _audience(campaign).count()
    per_run = size * share // 100
    due = schedule_occurrences(campaign, after=_since(campaign, now), until=now)
    if due:
        count = per_run * len(due)
        return Reach(count, ngettext(
            "%(runs)d scheduled run fell in the pause; on resuming it sends to about "
            "%(count)d customers at once.",
            "%(runs)d scheduled runs fell in the pause; on resuming they send to about "
            "%(count)d customers at once.", len(due)) % {"runs": len(due), "count": count})
    upcoming = schedule_occurrences(
        campaign, after=now, until=now + dt.timedelta(days=int(campaign.trigger_config["every_days"])))
    if not upcoming:
        upcoming = [dt.datetime.fromisoformat(campaign.trigger_config["first_run"])]
    return Reach(per_run, ngettext(
        "At its next run, %(when)s, about %(count)d customer enters at once.",
        "At its next run, %(when)s, about %(count)d customers enter at once.", per_run,
    ) % {"when": date_format(localtime(upcoming[0]), "DATETIME_FORMAT"), "count": per_run})


def _anniversaries(attribute: str, day: dt.date):
    month_days = [f"-{day:%m-%d}"]
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        month_days.append("-02-29")
    matches = Q()
    for month_day in month_days:
        matches |= Q(**{f"attributes__{attribute}__endswith": month_day})
    return Customer.objects.filter(matches, erased_at__isnull=True)


def _date_attribute(campaign: Campaign, now: dt.datetime) -> Reach:
    attribute = campaign.trigger_config.get("attribute", "birthday")
    today = now.astimezone(dt.timezone.utc).date()
    since = _since(campaign, now)
    first_day = since.astimezone(dt.timezone.utc).date() + dt.timedelta(days=1)
    if first_day <= today:
        count = sum(_anniversaries(attribute, first_day + dt.timedelta(days=n)).count()
                    for n in range((today - first_day).days + 1))
        return Reach(count, ngettext(
            "%(count)d customer had the anniversary of %(attribute)s while the campaign was "
            "paused and would enter it now.",
            "%(count)d customers had the anniversary of %(attribute)s while the campaign was "
            "paused and would enter it now.", count) % {"count": count, "attribute": attribute})
    count = _anniversaries(attribute, first_day).count()
    return Reach(count, ngettext(
        "Tomorrow %(count)d customer has the anniversary of %(attribute)s and enters; "
        "today's do not.",
        "Tomorrow %(count)d customers have the anniversary of %(attribute)s and enter; "
        "today's do not.", count) % {"count": count, "attribute": attribute})


def campaign_reach_at_once(*, campaign: Campaign, now: dt.datetime) -> Reach:
    """The first wave of entrants if the campaign were activated (or resumed) now."""
    if campaign.trigger == Campaign.Trigger.INACTIVITY:
        return _inactivity(campaign, now)
    if campaign.trigger == Campaign.Trigger.SEGMENT_ENTRY:
        return _segment_entry(campaign, now)
    if campaign.trigger == Campaign.Trigger.SCHEDULE:
        return _schedule(campaign, now)
    if campaign.trigger == Campaign.Trigger.DATE_ATTRIBUTE:
        return _date_attribute(campaign, now)
    if campaign.status == Campaign.Status.PAUSED and campaign.trigger_event_type:
        # Events during the pause are planned on resume (those past the deadline expire).
        config = campaign.trigger_config if isinstance(campaign.trigger_config, dict) else {}
        count = events_in_score_range(Event.objects.filter(
            type=campaign.trigger_event_type, id__gt=campaign.event_watermark,
            occurred_at__lte=now,
        ), config).values("customer_id").distinct().count()
        return Reach(count, ngettext(
            "Up to %(count)d customer had a %(type)s event while the campaign was paused and "
            "would enter it now.",
            "Up to %(count)d customers had a %(type)s event while the campaign was paused and "
            "would enter it now.", count) % {"count": count, "type": campaign.trigger_event_type})
    return Reach(0, _("Only events that happen from now on start it."))
