"""New draft campaigns: from a starter, as a copy of another; and steps put in order."""
from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify
from django.utils.translation import gettext as _

from campaigns.exceptions import CampaignsError
from campaigns.models import (
    Campaign, JourneyStep, MessageTemplate, Purpose, StepVariant, TemplateTranslation, Topic,
)
from campaigns.services.demo import content_locales, content_read
from campaigns.starters import STARTERS


class UnknownStarterError(CampaignsError):
    pass


def _unique_value(model, field: str, base: str, *, max_length: int, sep: str = " ") -> str:
    """base, or base followed by 2, 3, … : the first value no row of model has yet."""
    taken = set(model.objects.filter(**{f"{field}__startswith": base[:max_length - 4]})
                .values_list(field, flat=True))
    candidate, number = base[:max_length], 2
    while candidate in taken:
        suffix = f"{sep}{number}"
        candidate = base[:max_length - len(suffix)] + suffix
        number += 1
    return candidate


def _campaign_names(base: str) -> tuple[str, str]:
    name = _unique_value(Campaign, "name", base, max_length=200)
    slug = _unique_value(Campaign, "slug", slugify(name) or "campaign", max_length=100, sep="-")
    return name, slug


def _template_make(message: dict) -> MessageTemplate:
    """A new template of the starter's message: its own, so editing it changes no other."""
    template = MessageTemplate.objects.create(
        name=_unique_value(MessageTemplate, "name", str(message["name"]), max_length=200),
        purpose=Purpose.MARKETING, topic=message.get("topic", Topic.MARKETING),
        default_locale="en",
    )
    if "content" in message:
        texts = {locale: content_read(name=message["content"], locale=locale)
                 for locale in content_locales(name=message["content"])}
    else:
        texts = message["texts"]
    TemplateTranslation.objects.bulk_create([
        TemplateTranslation(template=template, locale=locale, **parts)
        for locale, parts in texts.items()
    ])
    return template


def campaign_create_from_starter(*, key: str) -> Campaign:
    """A draft campaign with the starter's trigger, rules, steps and (new) templates.

    Raises UnknownStarterError for a key STARTERS does not have.
    """
    starter = STARTERS.get(key)
    if starter is None:
        raise UnknownStarterError(_("There is no starter called %(key)s.") % {"key": key})
    fields = dict(starter["campaign"])
    with transaction.atomic():
        name, slug = _campaign_names(str(fields.pop("name")))
        campaign = Campaign.objects.create(
            name=name, slug=slug, status=Campaign.Status.DRAFT,
            trigger_config=dict(fields.pop("trigger_config", {})),
            exit_event_types=list(fields.pop("exit_event_types", [])), **fields,
        )
        for position, spec in enumerate(starter["steps"]):
            spec = dict(spec)
            message = spec.pop("message", None)
            template = _template_make(message) if message else None
            JourneyStep.objects.create(campaign=campaign, position=position, template=template,
                                       **spec)
    return campaign


_NOT_COPIED = {"id", "name", "slug", "status", "created_at", "updated_at", "event_watermark",
               "event_ceiling", "planned_through", "exit_watermark"}


def campaign_duplicate(*, campaign: Campaign) -> Campaign:
    """A draft copy named "<name> (copy)", with its steps and A/B variants.

    The copy shares the original's templates and starts with no history: it plans from
    its own activation, like any new campaign.
    """
    fields = {f.name: getattr(campaign, f.name) for f in Campaign._meta.concrete_fields
              if f.name not in _NOT_COPIED}
    with transaction.atomic():
        name, slug = _campaign_names(_("%(name)s (copy)") % {"name": campaign.name})
        copy = Campaign.objects.create(name=name, slug=slug, status=Campaign.Status.DRAFT,
                                       **fields)
        for step in JourneyStep.objects.filter(campaign=campaign).prefetch_related("variants"):
            variants = list(step.variants.all())
            step.pk, step.campaign = None, copy
            step.save(force_insert=True)
            StepVariant.objects.bulk_create([
                StepVariant(step=step, name=v.name, template_id=v.template_id, weight=v.weight)
                for v in variants
            ])
    return copy


def campaign_steps_place(*, campaign: Campaign, steps: list[JourneyStep]) -> None:
    """Save the campaign's steps at positions 0, 1, 2 … in the order given.

    Steps of the campaign not in the list must have been deleted first. The stored steps
    move out of the way first, so the unique (campaign, position) holds at every write
    whatever the new order is.
    """
    with transaction.atomic():
        top = JourneyStep.objects.filter(campaign=campaign).aggregate(top=Max("position"))["top"]
        offset = max(top or 0, len(steps)) + 1
        existing = [s.pk for s in steps if s.pk is not None]
        for index, pk in enumerate(existing):
            JourneyStep.objects.filter(pk=pk).update(position=offset + index)
        for position, step in enumerate(steps):
            step.campaign, step.position = campaign, position
            step.save()
