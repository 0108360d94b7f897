"""Campaign status transitions: activate, pause and archive, each refusing illegal moves."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext, gettext_lazy

from campaigns import clock
from campaigns.exceptions import CampaignNotReadyError, CampaignTransitionError
from campaigns.models import Campaign, Event, JourneyStep, Purpose, SegmentMembership

Status = Campaign.Status

# The statuses each target status may be reached from. Archived is the end of the road:
# its history stays readable, and a new campaign is made to run it again.
_ALLOWED_FROM = {
    Status.ACTIVE: {Status.DRAFT, Status.PAUSED},
    Status.PAUSED: {Status.ACTIVE},
    Status.ARCHIVED: {Status.DRAFT, Status.ACTIVE, Status.PAUSED},
}

_REFUSALS = {
    Status.ACTIVE: gettext_lazy("an archived campaign cannot be activated again"),
    Status.PAUSED: gettext_lazy("only an active campaign can be paused"),
    Status.ARCHIVED: gettext_lazy("it is already archived"),
}


def campaign_activate(*, campaign: Campaign) -> bool:
    """Start (from draft) or resume (from paused) a campaign.

    Started from draft, it answers trigger events that reach us from now on (a late
    event that arrives now still counts from when it happened).
    Returns False when it is already active. Raises CampaignNotReadyError when its trigger
    or steps are incomplete and CampaignTransitionError from archived. Resuming sends
    nothing by itself: the sender re-checks every pending message's deadline first.
    """
    return _campaign_move(campaign=campaign, to=Status.ACTIVE)


def campaign_pause(*, campaign: Campaign) -> bool:
    """Stop an active campaign's sends at once. Returns False when it is already paused.

    Only the status changes: the sender refuses messages of a campaign that is not active
    and leaves them pending, so nothing is lost and nothing is marked finished here.
    """
    return _campaign_move(campaign=campaign, to=Status.PAUSED)


def campaign_archive(*, campaign: Campaign) -> bool:
    """Retire a campaign for good. Returns False when it is already archived."""
    return _campaign_move(campaign=campaign, to=Status.ARCHIVED)


def _campaign_move(*, campaign: Campaign, to: str) -> bool:
    with transaction.atomic():
        # The row lock makes two concurrent transitions of one campaign take turns.
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if current.status == to:
            campaign.status = to
            return False
        if current.status not in _ALLOWED_FROM[to]:
            raise CampaignTransitionError(
                gettext("%(name)s is %(status)s: %(refusal)s.") % {
                    "name": current.name, "status": str(current.get_status_display()).lower(),
                    "refusal": _REFUSALS[to]},
                campaign_id=current.pk, from_status=current.status, to_status=to,
            )
        fields = ["status"]
        if to == Status.ACTIVE:
            _campaign_check_ready(campaign=current)
            if current.status == Status.DRAFT:
                # A new campaign answers triggers that reach us from now on; the shop's
                # history before it started does not flood customers with stale mail.
                # (Resuming a paused one keeps its place: events during the pause are
                # planned, and those past their deadline expire instead of sending.)
                # Likewise, a segment-entry campaign starts with the entries after now:
                # the segment's current members are not "entering" it.
                source = (SegmentMembership if current.trigger == Campaign.Trigger.SEGMENT_ENTRY
                          else Event)
                current.event_watermark = current.event_ceiling = (
                    source.objects.aggregate(last=Max("id"))["last"] or 0
                )
                current.planned_through = clock.now()
                fields += ["event_watermark", "event_ceiling", "planned_through"]
        current.status = to
        current.save(update_fields=fields)
    campaign.status, campaign.updated_at = current.status, current.updated_at
    return True


def _campaign_check_ready(*, campaign: Campaign) -> None:
    """The model's own rules, plus what a running journey needs: steps and content."""
    problems = []
    try:
        campaign.clean()
    except ValidationError as error:
        problems.extend(error.messages)
    steps = list(JourneyStep.objects.filter(campaign=campaign).select_related("template")
                 .prefetch_related("variants__template"))
    if not steps:
        problems.append(gettext("It has no steps."))
    for step in steps:
        try:
            step.clean()
        except ValidationError as error:
            problems.extend(gettext("Step %(position)s: %(problem)s") % {
                "position": step.position, "problem": m} for m in error.messages)
        # Every template a step can send, its A/B variants' included, must be classified.
        for candidate in [step.template, *(v.template for v in step.variants.all())]:
            if candidate is not None and candidate.purpose not in Purpose.values:
                problems.append(gettext(
                    "Step %(position)s: template %(template)s is not classified as marketing "
                    "or transactional.") % {"position": step.position, "template": candidate.name})
        template = step.template
        if template is not None and not template.translations.filter(
            locale=template.default_locale
        ).exists():
            problems.append(gettext(
                "Step %(position)s: template %(template)s has no translation in its default "
                "locale (%(locale)s).") % {"position": step.position, "template": template.name,
                                            "locale": template.default_locale})
    if problems:
        raise CampaignNotReadyError(
            gettext("%(name)s cannot be activated yet: %(problems)s") % {
                "name": campaign.name, "problems": " ".join(problems)},
            campaign_id=campaign.pk, from_status=campaign.status, to_status=Status.ACTIVE,
        )
