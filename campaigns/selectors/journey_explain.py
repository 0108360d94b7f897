"""Why one customer did or did not get each live campaign's messages, in words.

`customer_journeys_explain` reads a fixed number of queries (JOURNEY_EXPLAIN_QUERIES at
most) whatever the number of campaigns, entries or messages: every input is loaded once
for the customer and each campaign is then explained from those tuples in Python.
"""
import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.models import (
    Campaign, ConsentEvent, Customer, Enrollment, Event, JourneyStep, Message, Purpose,
    Segment, SegmentMembership, Subscription, Suppression, Topic,
)
from campaigns.services.consent import country_policies_current, email_hash, legal_ground
from campaigns.services.planning import EventScore, schedule_occurrences, weighted_draw
from campaigns.services.subscriptions import subscription_pending_customers

from .journey_words import (
    consent_detail_words, day_words, event_words, reason_words, score_range_words, when,
)

# The most queries one explanation reads (tests hold it): campaigns, their steps, the
# entries, the latest entries' messages and their logs, segments and memberships, the
# trigger and exit events, subscriptions, suppression, a pending double opt-in, country
# policies and the latest marketing opt-in.
JOURNEY_EXPLAIN_QUERIES = 14
# Entries and events read per customer: enough for any page, bounded for a bot-like one.
ENTRY_LIMIT = 1000
EVENT_LIMIT = 500
SHOWN_STATUSES = (Campaign.Status.ACTIVE, Campaign.Status.PAUSED)


@dataclasses.dataclass
class JourneyExplanation:
    """One campaign for one customer: a headline, then the details, all in words."""

    campaign: Campaign
    paused: bool
    # sent, waiting, not_sent, in_journey, left, completed, will_enter, not_in
    outcome: str
    headline: str
    details: list[str] = dataclasses.field(default_factory=list)
    # A segment whose explanation ("why is / isn't this customer in it") helps here.
    segment_id: int | None = None
    segment_name: str = ""
    segment_member: bool = False


@dataclasses.dataclass
class _Facts:
    """Everything about the customer the explanations read, loaded once."""

    customer: Customer
    now: dt.datetime
    zone: ZoneInfo
    entries: dict  # campaign id -> that campaign's entries, newest first
    messages: dict  # enrollment id -> messages by step position
    memberships: dict  # segment id -> SegmentMembership
    segments: dict  # id -> name, and name -> id (a trigger names one either way)
    events: list  # (id, type, occurred_at) of trigger and exit types, newest first
    subscriptions: dict
    suppressed: bool
    pending: bool
    policies: dict
    opted_in_at: dt.datetime | None


def _facts_load(customer: Customer, campaigns: list[Campaign], *, now, zone) -> _Facts:
    ids = [c.pk for c in campaigns]
    entries: dict[int, list[Enrollment]] = {}
    for entry in (Enrollment.objects.filter(customer=customer, campaign_id__in=ids)
                  .order_by("-triggered_at", "-id")[:ENTRY_LIMIT]):
        entries.setdefault(entry.campaign_id, []).append(entry)
    latest = [rows[0].pk for rows in entries.values()]
    messages: dict[int, list[Message]] = {}
    if latest:
        for message in (Message.objects.filter(enrollment_id__in=latest)
                        .select_related("step").prefetch_related("log")
                        .order_by("step__position", "id")):
            messages.setdefault(message.enrollment_id, []).append(message)
    refs = [c.trigger_config.get("segment") for c in campaigns
            if isinstance(c.trigger_config, dict) and c.trigger_config.get("segment") is not None]
    segments: dict = {}
    if refs:
        by_id = [r for r in refs if isinstance(r, int) and not isinstance(r, bool)]
        by_name = [r for r in refs if isinstance(r, str)]
        for pk, name in Segment.objects.filter(Q(pk__in=by_id) | Q(name__in=by_name)).values_list(
                "pk", "name"):
            segments[pk], segments[name] = name, pk
    memberships = {m.segment_id: m for m in SegmentMembership.objects.filter(customer=customer)}
    types = {c.trigger_event_type for c in campaigns if c.trigger == Campaign.Trigger.EVENT}
    for campaign in campaigns:
        types.update(t for t in (campaign.exit_event_types or []) if isinstance(t, str))
    # With each event's score, for triggers with a score range (None: not a number).
    events = list(Event.objects.filter(customer=customer, type__in=types)
                  .annotate(score=EventScore("properties"))
                  .order_by("-occurred_at", "-id").values_list("id", "type", "occurred_at", "score")
                  [:EVENT_LIMIT]) if types else []
    subscriptions = dict(Subscription.objects.filter(customer=customer)
                         .values_list("topic", "subscribed"))
    suppressed = bool(customer.email) and Suppression.objects.filter(
        email_hash=email_hash(customer.email)).exists()
    opted_in_at = (ConsentEvent.objects.filter(customer=customer, topic=Topic.MARKETING,
                                               granted=True)
                   .order_by("-occurred_at").values_list("occurred_at", flat=True).first())
    return _Facts(
        customer=customer, now=now, zone=zone, entries=entries, messages=messages,
        memberships=memberships, segments=segments, events=events,
        subscriptions=subscriptions, suppressed=suppressed,
        pending=bool(subscription_pending_customers(customer_ids=[customer.pk], now=now)),
        policies=country_policies_current(), opted_in_at=opted_in_at,
    )


def customer_journeys_explain(*, customer: Customer, now: dt.datetime,
                              zone: ZoneInfo) -> list[JourneyExplanation]:
    """Every active or paused campaign, highest priority first, explained for `customer`."""
    campaigns = list(Campaign.objects.filter(status__in=SHOWN_STATUSES).prefetch_related(
        Prefetch("steps", queryset=JourneyStep.objects.select_related("template")
                 .order_by("position"))))
    if not campaigns:
        return []
    facts = _facts_load(customer, campaigns, now=now, zone=zone)
    return [_explain_safely(campaign, facts) for campaign in campaigns]


def _explain_safely(campaign: Campaign, facts: _Facts) -> JourneyExplanation:
    # Settings stored around the form (a script, an old row) must not break the page.
    try:
        return _explain(campaign, facts)
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        return JourneyExplanation(
            campaign, campaign.status == Campaign.Status.PAUSED, "not_in",
            _("Cannot be worked out: the campaign's trigger settings are incomplete or not "
              "valid; open the campaign to correct them."))


def _explain(campaign: Campaign, facts: _Facts) -> JourneyExplanation:
    paused = campaign.status == Campaign.Status.PAUSED
    entries = facts.entries.get(campaign.pk, [])
    if entries:
        result = _entered(campaign, entries, facts)
    else:
        result = _not_entered(campaign, facts)
    result.paused = paused
    result.segment_member = result.segment_id in facts.memberships
    if paused and result.outcome in ("waiting", "in_journey", "will_enter"):
        result.details.append(_("The campaign is paused: nothing goes out and nobody new "
                                "enters until it is resumed."))
    gate = _gate_words(campaign, facts)
    if gate and result.outcome in ("will_enter", "in_journey", "waiting", "not_in"):
        result.details.append(gate)
    return result


# ---------------------------------------------------------------- customers who entered


def _entered(campaign: Campaign, entries: list[Enrollment], facts: _Facts) -> JourneyExplanation:
    entry = entries[0]
    zone = facts.zone
    lines = [_message_words(m, campaign, facts) for m in facts.messages.get(entry.pk, [])]
    details = [text for _, text in lines]
    if entry.is_holdout:
        outcome, headline = "not_sent", _(
            "In the holdout group since %(when)s: gets nothing, on purpose, so the campaign's "
            "effect can be measured.") % {"when": when(entry.enrolled_at, zone)}
        details = []
    elif entry.state == Enrollment.State.EXITED:
        outcome, headline = "left", _left_words(campaign, entry, facts)
    elif entry.state == Enrollment.State.ACTIVE:
        outcome, headline = _active_words(campaign, entry, lines, facts)
    elif lines:
        # Finished: the last message says best what the customer got.
        outcome, headline = lines[-1]
        details = details[:-1] + [_("Went through the whole journey; finished %(when)s.") % {
            "when": when(entry.finished_at, zone)}]
    else:
        outcome, headline = "completed", _(
            "Went through the whole journey; finished %(when)s.") % {
            "when": when(entry.finished_at, zone)}
    if headline in details:
        details.remove(headline)
    if len(entries) > 1:
        details.append(ngettext(
            "Entered %(count)d time in all; the latest entry is shown.",
            "Entered %(count)d times in all; the latest entry is shown.", len(entries),
        ) % {"count": len(entries)})
    if entry.state != Enrollment.State.ACTIVE:
        again = _next_entry_words(campaign, entry, facts)
        if again:
            details.append(again)
    return JourneyExplanation(campaign, False, outcome, headline, details)


def _next_entry_words(campaign: Campaign, entry: Enrollment, facts: _Facts) -> str:
    """Whether a customer whose entry has ended can enter again, and when, or ''."""
    if campaign.trigger == Campaign.Trigger.EVENT:
        # Only event triggers read the campaign's entry key (services.planning).
        if campaign.entry_key == Campaign.EntryKey.CUSTOMER:
            return _("This campaign takes each customer once, so they will not enter again.")
        return ""
    if campaign.trigger == Campaign.Trigger.INACTIVITY:
        last = facts.customer.last_order_at
        if last is None or entry.entry_key == f"lapse:{last:%Y%m%dT%H%M%S.%f}":
            return _("They enter again after their next order and another %(days)d days "
                     "without one.") % {"days": int(campaign.trigger_config.get("days", 90))}
    if campaign.trigger == Campaign.Trigger.SEGMENT_ENTRY:
        return _("They enter again when they leave the segment and join it anew.")
    following = _not_entered(campaign, facts)
    if following.outcome == "will_enter":
        return _("Next time: %(words)s") % {"words": following.headline}
    return ""


def _active_words(campaign, entry, lines, facts) -> tuple[str, str]:
    zone = facts.zone
    waiting = [text for outcome, text in lines if outcome == "waiting"]
    if waiting:
        return "waiting", waiting[-1]
    step = next((s for s in campaign.steps.all() if s.position == entry.step_position), None)
    if step is None and lines:
        # Past the last step: the journey ends at the next tick; its last message says it.
        return lines[-1]
    if step is None or entry.next_action_at is None:
        return "in_journey", _("In the journey since %(when)s.") % {
            "when": when(entry.enrolled_at, zone)}
    return "in_journey", _("In the journey since %(entered)s; next step (%(step)s) on "
                           "%(when)s.") % {
        "entered": when(entry.enrolled_at, zone), "step": step.get_kind_display().lower(),
        "when": when(entry.next_action_at, zone)}


def _left_words(campaign, entry, facts) -> str:
    zone = facts.zone
    if entry.exit_reason == "exit_event":
        exits = set(campaign.exit_event_types or [])
        leaving = [(t, at) for _, t, at, _score in facts.events if t in exits
                   and entry.triggered_at < at <= (entry.finished_at or facts.now)]
        if leaving:
            event_type, at = min(leaving, key=lambda row: row[1])
            return _("Left the journey after %(event)s on %(when)s.") % {
                "event": event_words(event_type), "when": when(at, zone)}
    from campaigns.admin.deliveries import REASON_WORDS  # the shared words, one place

    reason = REASON_WORDS.get(entry.exit_reason, entry.exit_reason.replace("_", " "))
    return _("Left the journey on %(when)s: %(reason)s.") % {
        "when": when(entry.finished_at, zone), "reason": reason}


def _ground_words(message: Message, facts: _Facts) -> str:
    if message.reason == "consent":
        if facts.opted_in_at is not None and facts.opted_in_at <= (message.sent_at or facts.now):
            return _("consent: opted in on %(day)s") % {
                "day": day_words(facts.opted_in_at.astimezone(facts.zone).date())}
        return _("consent: opted in to marketing")
    if message.reason == "existing_customer":
        return _("the existing-customer exception")
    if message.reason == "transactional":
        return _("a service message, no consent needed")
    return ""


def _message_words(message: Message, campaign: Campaign, facts: _Facts) -> tuple[str, str]:
    """(outcome, sentence) for one message of the customer's latest entry."""
    from campaigns.admin.deliveries import REASON_WORDS

    zone = facts.zone
    name = (message.step.template.name if message.step.template_id and message.step.template
            else str(message.step))
    reason = str(reason_words().get(message.reason)
                 or REASON_WORDS.get(message.reason, message.reason.replace("_", " ")))
    last = list(message.log.all())[-1:] if message.state != Message.State.SENT else []
    detail = consent_detail_words(last[0].detail) if last and last[0].detail else ""
    if message.state == Message.State.SENT:
        ground = _ground_words(message, facts)
        if ground:
            return "sent", _("“%(name)s”: sent on %(when)s (%(ground)s).") % {
                "name": name, "when": when(message.sent_at, zone), "ground": ground}
        return "sent", _("“%(name)s”: sent on %(when)s.") % {
            "name": name, "when": when(message.sent_at, zone)}
    if message.state == Message.State.PENDING:
        if message.reason:
            return "waiting", _("“%(name)s”: waiting, due %(when)s (held back: %(reason)s).") % {
                "name": name, "when": when(message.due_at, zone), "reason": reason}
        return "waiting", _("“%(name)s”: waiting, due %(when)s.") % {
            "name": name, "when": when(message.due_at, zone)}
    if message.state in (Message.State.CLAIMED, Message.State.SENDING):
        return "waiting", _("“%(name)s”: being sent now.") % {"name": name}
    if message.state == Message.State.UNKNOWN:
        return "not_sent", _("“%(name)s”: the hand-over to the email provider broke off "
                             "(%(reason)s); it may or may not have arrived and is not sent "
                             "again.") % {"name": name, "reason": reason}
    template = {
        Message.State.SKIPPED: _("“%(name)s”: not sent: %(reason)s."),
        Message.State.EXPIRED: _("“%(name)s”: not sent, its time ran out: %(reason)s."),
        Message.State.FAILED: _("“%(name)s”: failed: %(reason)s."),
    }[message.state]
    text = template % {"name": name, "reason": reason}
    if detail and detail != last[0].detail:  # a consent detail, now a sentence
        text = f"{text} {detail}"
    return "not_sent", text


# ------------------------------------------------------------ customers who did not enter


def _not_entered(campaign: Campaign, facts: _Facts) -> JourneyExplanation:
    customer, now, zone = facts.customer, facts.now, facts.zone
    if customer.erased_at is not None:
        return _not_in(campaign, _("Not in the audience: the customer's data was erased."))
    if campaign.active_until and now >= campaign.active_until:
        return _not_in(campaign, _("Not in the audience: the campaign ended on %(when)s.") % {
            "when": when(campaign.active_until, zone)})
    explain = {
        Campaign.Trigger.EVENT: _why_not_event,
        Campaign.Trigger.INACTIVITY: _why_not_inactivity,
        Campaign.Trigger.SEGMENT_ENTRY: _why_not_segment_entry,
        Campaign.Trigger.SCHEDULE: _why_not_schedule,
        Campaign.Trigger.DATE_ATTRIBUTE: _why_not_date,
    }.get(campaign.trigger)
    if explain is None:
        return _not_in(campaign, _("Not in the audience."))
    result = explain(campaign, facts)
    if campaign.active_from and now < campaign.active_from:
        result.details.append(_("The campaign starts on %(when)s.") % {
            "when": when(campaign.active_from, zone)})
    return result


def _not_in(campaign, headline, **extra) -> JourneyExplanation:
    return JourneyExplanation(campaign, False, "not_in", headline, **extra)


def _will_enter(campaign, headline, **extra) -> JourneyExplanation:
    return JourneyExplanation(campaign, False, "will_enter", headline, **extra)


def _why_not_event(campaign: Campaign, facts: _Facts) -> JourneyExplanation:
    customer, zone = facts.customer, facts.zone
    event_type = campaign.trigger_event_type
    nth = campaign.trigger_config.get("nth_order") if isinstance(campaign.trigger_config, dict) else None
    if nth:
        if customer.order_count < nth:
            return _not_in(campaign, ngettext(
                "Not in the audience yet: enters with their order number %(nth)d; %(count)d "
                "order so far.",
                "Not in the audience yet: enters with their order number %(nth)d; %(count)d "
                "orders so far.", customer.order_count,
            ) % {"nth": nth, "count": customer.order_count})
        return _not_in(campaign, _(
            "Not in the audience: their order number %(nth)d was placed before the campaign "
            "was switched on.") % {"nth": nth})
    config = campaign.trigger_config if isinstance(campaign.trigger_config, dict) else {}
    scores = score_range_words(config)
    latest = next(((pk, at) for pk, t, at, score in facts.events
                   if t == event_type and _score_in_range(score, config)), None)
    if latest is None and scores and any(t == event_type for _, t, _at, _s in facts.events):
        return _not_in(campaign, _("Not in the audience: it starts with %(event)s, "
                                   "%(scores)s; theirs so far had other scores.") % {
            "event": event_words(event_type), "scores": scores})
    if latest is None:
        if event_type == "purchase":
            return _not_in(campaign, _("Not in the audience: no order yet."))
        if event_type == "signup":
            return _not_in(campaign, _("Not in the audience: no sign-up recorded."))
        return _not_in(campaign, _("Not in the audience: nothing recorded yet that starts it "
                                   "(it starts with %(event)s).") % {
            "event": event_words(event_type)})
    pk, at = latest
    if at > facts.now:
        return _will_enter(campaign, _("Enters on %(when)s, when %(event)s is due.") % {
            "when": when(at, zone), "event": event_words(event_type)})
    if pk > campaign.event_ceiling:
        return _will_enter(campaign, _(
            "Enters at the next planning run (within a minute): %(event)s on %(when)s.") % {
            "event": event_words(event_type), "when": when(at, zone)})
    return _not_in(campaign, _(
        "Not in the audience: their latest %(event)s, on %(when)s, came before the campaign "
        "was switched on; the campaign reacts to new ones only.") % {
        "event": event_words(event_type), "when": when(at, zone)})


def _score_in_range(score, config: dict) -> bool:
    """As the planner reads a trigger's "min_score" / "max_score" (services.planning)."""
    low, high = config.get("min_score"), config.get("max_score")
    if low is None and high is None:
        return True
    if score is None:
        return False
    return (low is None or score >= low) and (high is None or score <= high)


def _why_not_inactivity(campaign: Campaign, facts: _Facts) -> JourneyExplanation:
    customer, now, zone = facts.customer, facts.now, facts.zone
    days = int(campaign.trigger_config.get("days", 90))
    if customer.last_order_at is None:
        return _not_in(campaign, _("Not in the audience: no order yet (it is for customers "
                                   "who stop ordering)."))
    since = (now - customer.last_order_at).days
    lapse_at = customer.last_order_at + dt.timedelta(days=days)
    if lapse_at > now:
        return _will_enter(campaign, ngettext(
            "Would enter after %(days)d days without an order, on %(when)s: last order "
            "%(since)d day ago.",
            "Would enter after %(days)d days without an order, on %(when)s: last order "
            "%(since)d days ago.", since,
        ) % {"days": days, "since": since, "when": when(lapse_at, zone)})
    if campaign.planned_through is None or lapse_at > campaign.planned_through:
        return _will_enter(campaign, _(
            "Enters at the next planning run: no order for %(since)d days (the campaign "
            "waits for %(days)d).") % {"since": since, "days": days})
    return _not_in(campaign, _(
        "Not in the audience: they reached %(days)d days without an order on %(when)s, "
        "before the campaign was switched on; they enter after their next order and "
        "another %(days)d quiet days.") % {"days": days, "when": when(lapse_at, zone)})


def _segment_of(campaign: Campaign, facts: _Facts) -> tuple[int | None, str]:
    ref = campaign.trigger_config.get("segment") if isinstance(campaign.trigger_config, dict) else None
    if isinstance(ref, str):
        return facts.segments.get(ref), ref
    if isinstance(ref, int) and not isinstance(ref, bool):
        return (ref, facts.segments[ref]) if ref in facts.segments else (None, str(ref))
    return None, ""


def _why_not_segment_entry(campaign: Campaign, facts: _Facts) -> JourneyExplanation:
    segment_id, name = _segment_of(campaign, facts)
    if segment_id is None:
        return _not_in(campaign, _("Nobody enters: the segment “%(name)s” that starts it no "
                                   "longer exists.") % {"name": name})
    membership = facts.memberships.get(segment_id)
    if membership is None:
        return _not_in(campaign, _("Not in the audience: not a member of the segment "
                                   "“%(name)s”.") % {"name": name},
                       segment_id=segment_id, segment_name=name)
    if membership.pk > campaign.event_watermark:
        return _will_enter(campaign, _(
            "Enters at the next planning run: joined the segment “%(name)s” on %(when)s.") % {
            "name": name, "when": when(membership.entered_at, facts.zone)},
            segment_id=segment_id, segment_name=name)
    return _not_in(campaign, _(
        "Not in the audience: joined the segment “%(name)s” on %(when)s, before the campaign "
        "was switched on; it starts for customers who join from then on.") % {
        "name": name, "when": when(membership.entered_at, facts.zone)},
        segment_id=segment_id, segment_name=name)


def _why_not_schedule(campaign: Campaign, facts: _Facts) -> JourneyExplanation:
    config, now, zone = campaign.trigger_config, facts.now, facts.zone
    extra = {}
    if "segment" in config:
        segment_id, name = _segment_of(campaign, facts)
        extra = {"segment_id": segment_id, "segment_name": name}
        if segment_id is None or segment_id not in facts.memberships:
            return _not_in(campaign, _("Not in the audience: not a member of the segment "
                                       "“%(name)s”.") % {"name": name}, **extra)
    try:
        every = dt.timedelta(days=int(config["every_days"]))
        upcoming = schedule_occurrences(campaign, after=now, until=now + every)
        past = schedule_occurrences(campaign, after=now - every, until=now)
    except (KeyError, TypeError, ValueError):
        return _not_in(campaign, _("Nobody enters: the schedule's settings are incomplete."))
    share = int(config.get("share", 100))
    if past and share < 100 and weighted_draw(
            salt=f"draw:{campaign.pk}:run:{past[-1]:%Y%m%dT%H%M}", customer_id=facts.customer.pk,
            weights=[share, 100 - share]) != 0:
        headline = _("Not drawn on the last run (%(when)s): each run picks %(share)d %% of the "
                     "audience at random.") % {"when": when(past[-1], zone), "share": share}
        result = _not_in(campaign, headline, **extra)
    elif past and (campaign.planned_through or now) >= past[-1]:
        result = _not_in(campaign, _("Not in the audience on the last run (%(when)s): they "
                                     "were not a customer or not in the audience then.") % {
            "when": when(past[-1], zone)}, **extra)
    else:
        result = _will_enter(campaign, _("In the audience of the next run."), **extra)
    if upcoming:
        result.details.append(_("Next run: %(when)s.") % {"when": when(upcoming[0], zone)})
    return result


def next_anniversary(value, today: dt.date) -> dt.date | None:
    """The next day on or after `today` with the month and day of `value` ("1984-10-21")."""
    try:
        born = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
    for year in (today.year, today.year + 1):
        try:
            day = born.replace(year=year)
        except ValueError:  # 29 February, kept on 28 February in other years
            day = dt.date(year, 2, 28)
        if day >= today:
            return day
    return None


def _why_not_date(campaign: Campaign, facts: _Facts) -> JourneyExplanation:
    attribute = campaign.trigger_config.get("attribute", "birthday")
    value = (facts.customer.attributes or {}).get(attribute)
    label = attribute.replace("_", " ")
    if not value:
        return _not_in(campaign, _("Not in the audience: no %(attribute)s recorded.") % {
            "attribute": label})
    today = facts.now.astimezone(dt.timezone.utc).date()
    planned_day = campaign.planned_through.astimezone(dt.timezone.utc).date() \
        if campaign.planned_through else None
    if planned_day is not None and planned_day >= today:
        today += dt.timedelta(days=1)  # today's run is done
    day = next_anniversary(value, today)
    if day is None:
        return _not_in(campaign, _("Not in the audience: the %(attribute)s “%(value)s” is not "
                                   "a date.") % {"attribute": label, "value": value})
    return _will_enter(campaign, _("Enters on %(day)s (%(attribute)s).") % {
        "day": day_words(day), "attribute": label})


# ------------------------------------------------------------------------ the send gate


def _gate_words(campaign: Campaign, facts: _Facts) -> str:
    """Why the campaign's emails would not reach this customer now, or ''."""
    customer = facts.customer
    sends = [s for s in campaign.steps.all() if s.kind == JourneyStep.Kind.SEND and s.template]
    if not sends:
        return ""
    if customer.erased_at is not None or not customer.email:
        return _("Its emails would not go out: the customer's data was erased.")
    if facts.suppressed:
        return _("Its emails would not go out: the address is on the suppression list "
                 "(bounced, complained or erased).")
    template = sends[0].template
    if template.purpose != Purpose.MARKETING:
        return ""
    ground = legal_ground(
        customer=customer, topic=template.topic, similar_products=template.similar_products,
        subscriptions=facts.subscriptions, policies=facts.policies, pending=facts.pending,
        now=facts.now)
    if ground:
        return ""
    return _("Its marketing emails would not go out now: %(why)s") % {
        "why": consent_detail_words(ground.detail)}
