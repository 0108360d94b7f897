"""The audit trail: which models keep a history of every change (who, when, before, after).

django-simple-history keeps one full copy of the row per change in a "historical" table
next to each audited model. A full copy (not only a diff) is what lets the campaign page
show a message exactly as it was sent: the template's text as it stood at the send
(`selectors.campaign_results.message_as_sent`).

To audit another model (e.g. the shared email layout), add one `Audited(...)` line to
AUDITED below and run `python manage.py makemigrations campaigns` for its history table.
Its admin page's "History" button then shows the changes, with no admin change
(templates/admin/campaigns/object_history.html).

Message, MessageLog and the other outbox rows are never audited: the send path must not
write a history row per email.
"""
from dataclasses import dataclass, field

from django.db.models.expressions import Combinable
from django.dispatch import receiver
from simple_history import register
from simple_history.signals import pre_create_historical_record

from campaigns import clock
from campaigns.models import (
    Campaign, EmailLayout, FrequencyPolicy, JourneyStep, MessageTemplate, ReferralProgram,
    StepVariant, TemplateTranslation,
)


@dataclass(frozen=True)
class Audited:
    model: type
    # The field naming the row it belongs to: its changes are shown on that row's page
    # too (a step's on its campaign's, a translation's on its template's).
    parent: str | None = None
    # Bookkeeping the planner moves every tick or that says nothing to a marketer.
    exclude: tuple[str, ...] = field(default=())


AUDITED = [
    Audited(Campaign, exclude=("updated_at", "event_watermark", "event_ceiling",
                               "planned_through", "exit_watermark")),
    Audited(JourneyStep, parent="campaign"),
    Audited(StepVariant, parent="step"),
    Audited(MessageTemplate, exclude=("updated_at",)),
    Audited(TemplateTranslation, parent="template", exclude=("updated_at",)),
    Audited(FrequencyPolicy),
    Audited(EmailLayout, exclude=("updated_at",)),
    # Who changed the rewards, and when: a reward granted is read against the rules then.
    Audited(ReferralProgram, exclude=("updated_at",)),
]


def audited(model) -> Audited | None:
    return next((a for a in AUDITED if a.model is model), None)


def audit_register() -> None:
    """Attach a history to every audited model (once, when the models load)."""
    for entry in AUDITED:
        if hasattr(entry.model, "history"):
            continue
        # History survives the row: deleting a campaign keeps its audit trail.
        register(entry.model, app="campaigns", excluded_fields=list(entry.exclude),
                 cascade_delete_history=False, user_related_name="+")


@receiver(pre_create_historical_record, dispatch_uid="campaigns.audit.stamp")
def _stamp(sender, instance, history_instance, **kwargs):
    """Every history row is dated by the one clock (the simulator and the tests move it),
    and holds values, not the database expressions a save may carry (a template's
    version is bumped with F("version") + 1): those are read back from the saved row."""
    history_instance.history_date = clock.now()
    pending = [f.attname for f in history_instance._meta.concrete_fields
               if isinstance(getattr(history_instance, f.attname, None), Combinable)]
    if pending:
        values = type(instance)._default_manager.filter(pk=instance.pk).values(*pending).get()
        for name, value in values.items():
            setattr(history_instance, name, value)
