"""The campaign page's forms: the trigger's settings, exits and durations as plain fields,
and steps with their A/B variants, each stored in the shapes the planner reads."""
import datetime as dt
import re

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.timezone import get_current_timezone_name, localtime
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from campaigns.models import (
    AttributeDefinition, Campaign, JourneyStep, MessageTemplate, Segment, StepVariant,
)

from .forms import KNOWN_EVENT_TYPES, EventTypeInput

_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
MAX_DAYS = 3650
VARIANT_SLOTS = 3


class DaysHoursWidget(forms.MultiWidget):
    """Two small number boxes, "[5] days [3] hours", that fit a phone."""

    def __init__(self, attrs=None):
        super().__init__([
            forms.NumberInput(attrs={"min": 0, "max": MAX_DAYS, "class": "cp-days"}),
            forms.NumberInput(attrs={"min": 0, "max": 23, "class": "cp-hours"}),
        ], attrs)

    def decompress(self, value):
        if isinstance(value, dt.timedelta):
            return [value.days, value.seconds // 3600]
        return [None, None]

    def render(self, name, value, attrs=None, renderer=None):
        if not isinstance(value, (list, tuple)):
            value = self.decompress(value)
        attrs = self.build_attrs(self.attrs, attrs)
        base_id = attrs.pop("id", None) or f"id_{name}"
        parts = []
        for index, (widget, label) in enumerate(zip(self.widgets, (_("days"), _("hours")))):
            box = widget.render(f"{name}_{index}", value[index] if index < len(value) else None,
                                {**attrs, "id": f"{base_id}_{index}"}, renderer)
            parts.append((box, label))
        return format_html('<span class="cp-duration">{}</span>', format_html_join(
            "", '<label class="cp-duration-part">{} {}</label>', parts))


class DaysHoursField(forms.MultiValueField):
    """A duration typed as days and hours; empty means none, zero is refused."""

    widget = DaysHoursWidget

    def __init__(self, **kwargs):
        kwargs.pop("max_length", None)
        kwargs.setdefault("required", False)
        super().__init__(fields=[
            forms.IntegerField(min_value=0, max_value=MAX_DAYS, required=False),
            forms.IntegerField(min_value=0, max_value=23, required=False),
        ], require_all_fields=False, **kwargs)

    def compress(self, data_list):
        if not data_list or all(v in (None, "") for v in data_list):
            return None
        days, hours = (v or 0 for v in data_list)
        if days == 0 and hours == 0:
            raise ValidationError(
                _("Give at least one hour, or leave both boxes empty for none."), code="zero")
        return dt.timedelta(days=days, hours=hours)


def _event_types_field(**kwargs):
    return forms.MultipleChoiceField(
        choices=[(value, format_lazy("{} ({})", value, words)) for value, words in KNOWN_EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple(attrs={"class": "cp-exit-events"}), **kwargs)


def _check_event_type(value: str) -> str:
    if not _EVENT_TYPE.match(value):
        raise ValidationError(
            _("“%(value)s” is not an event type: use letters, digits, dots, dashes and "
              "underscores, at most 64 characters, e.g. purchase or lifecycle.at_risk."),
            params={"value": value[:80]}, code="event_type")
    return value


class CampaignForm(forms.ModelForm):
    """The trigger's settings as fields shown for their trigger only (campaign_page.js).

    Each trigger's fields become trigger_config in the planner's shape; a field of another
    trigger is ignored, so switching triggers leaves nothing stale behind.
    """

    nth_order = forms.IntegerField(
        label=_("Only the customer's order number"), required=False, min_value=1,
        max_value=1000,
        help_text=_("For purchase events: e.g. 3 lets only each customer's 3rd order in. "
                    "Leave empty for every order."))
    exit_on_purchase_of_items = forms.BooleanField(
        label=_("Ends when the customer buys the products of the trigger"), required=False,
        help_text=_("For events with products (a cart, a viewed product, a product due "
                    "for reorder): buying any of them after the start ends the journey."))
    min_score = forms.IntegerField(
        label=_("Lowest score"), required=False, min_value=-1_000_000, max_value=1_000_000,
        help_text=_("For events with a score (survey.promoter, survey.detractor): only "
                    "scores at or above this start the journey. Leave empty for any."))
    max_score = forms.IntegerField(
        label=_("Highest score"), required=False, min_value=-1_000_000, max_value=1_000_000,
        help_text=_("Only scores at or below this start the journey, e.g. 0 to 3 for the "
                    "unhappiest detractors. Leave empty for any."))
    inactivity_days = forms.IntegerField(
        label=_("Days without an order"), required=False, min_value=1, max_value=MAX_DAYS,
        help_text=_("A customer enters once this many days have passed since their last "
                    "order, and again only after a new order and a new lapse."))
    date_attribute = forms.CharField(
        label=_("Date attribute"), required=False, max_length=64,
        help_text=_("The customer attribute holding a date, e.g. birthday. Customers enter "
                    "on its anniversary each year, at 00:00 UTC: add a “wait until” step to "
                    "choose the hour."))
    trigger_segment = forms.ModelChoiceField(
        label=_("Segment"), queryset=Segment.objects.order_by("name"), required=False,
        help_text=_("Entering a segment: customers who enter this segment. On a schedule: "
                    "only its members (leave empty for every customer)."))
    first_run = forms.DateTimeField(
        label=_("First run"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])
    every_days = forms.IntegerField(
        label=_("Repeat every (days)"), required=False, min_value=1, max_value=MAX_DAYS)
    share = forms.IntegerField(
        label=_("Share of the audience (%)"), required=False, min_value=1, max_value=100,
        help_text=_("A random share drawn anew at each run, e.g. 10 for a surprise for one "
                    "customer in ten. Leave empty for everyone."))
    exit_events = _event_types_field(
        label=_("Leave the journey when"), required=False,
        help_text=_("Any of these events after the start ends the journey early."))
    exit_events_other = forms.CharField(
        label=_("Other exit events"), required=False, max_length=500,
        help_text=_("Event types the list does not have, separated by commas."))
    deadline = DaysHoursField(
        label=_("Deadline"),
        help_text=_("Send within this time of the start or record the message as expired. "
                    "Leave empty for no deadline."))
    reentry_cooldown = DaysHoursField(
        label=_("Re-entry cooldown"),
        help_text=_("The least time between two entries of the same customer."))

    # The fields each trigger reads; the page shows only these for it.
    TRIGGER_FIELDS = {
        Campaign.Trigger.EVENT: ["trigger_event_type", "nth_order", "exit_on_purchase_of_items",
                                 "min_score", "max_score"],
        Campaign.Trigger.INACTIVITY: ["inactivity_days"],
        Campaign.Trigger.DATE_ATTRIBUTE: ["date_attribute"],
        Campaign.Trigger.SEGMENT_ENTRY: ["trigger_segment"],
        Campaign.Trigger.SCHEDULE: ["first_run", "every_days", "trigger_segment", "share"],
    }

    class Meta:
        model = Campaign
        fields = ["name", "slug", "trigger", "trigger_event_type", "entry_key", "priority",
                  "deadline", "reentry_cooldown", "exempt_from_caps", "holdout_percent",
                  "active_from", "active_until"]
        widgets = {"trigger_event_type": EventTypeInput(attrs={"size": 30})}
        labels = {"trigger_event_type": _("Event type")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["first_run"].help_text = _(
            "Date and time of the first run, in the shop's time zone (%(zone)s).") % {
            "zone": get_current_timezone_name()}
        if "trigger_event_type" in self.fields:
            self.fields["trigger_event_type"].help_text = _(
                "What the customer does, e.g. signup, purchase, or lifecycle.at_risk when "
                "the nightly scoring finds them at risk of leaving.")
        attributes = list(AttributeDefinition.objects.filter(
            type=AttributeDefinition.Type.DATE).values_list("key", flat=True)[:50])
        self.fields["date_attribute"].widget = forms.TextInput(attrs={
            "list": "cp-date-attributes", "data-suggestions": ",".join(attributes or ["birthday"])})
        if self.instance.pk is not None:
            self._initial_from_instance(self.instance)
        else:
            self.initial.setdefault("inactivity_days", 90)
            self.initial.setdefault("date_attribute", "birthday")

    def _initial_from_instance(self, campaign: Campaign) -> None:
        config = campaign.trigger_config if isinstance(campaign.trigger_config, dict) else {}
        first_run = config.get("first_run")
        parsed = parse_datetime(first_run) if isinstance(first_run, str) else None
        known = {value for value, _words in KNOWN_EVENT_TYPES}
        exits = [e for e in campaign.exit_event_types or [] if isinstance(e, str)] \
            if isinstance(campaign.exit_event_types, list) else []
        self.initial.update({
            "nth_order": config.get("nth_order"),
            "exit_on_purchase_of_items": config.get("exit_on_purchase_of_items") is True,
            "min_score": config.get("min_score"),
            "max_score": config.get("max_score"),
            "inactivity_days": config.get("days", 90),
            "date_attribute": config.get("attribute", "birthday"),
            "trigger_segment": campaign.trigger_segment_id() if config else None,
            "first_run": localtime(parsed) if parsed and parsed.tzinfo else None,
            "every_days": config.get("every_days"),
            "share": config.get("share"),
            "exit_events": [e for e in exits if e in known],
            "exit_events_other": ", ".join(e for e in exits if e not in known),
        })

    def clean_trigger_event_type(self):
        value = (self.cleaned_data.get("trigger_event_type") or "").strip()
        return _check_event_type(value) if value else value

    def clean_date_attribute(self):
        value = (self.cleaned_data.get("date_attribute") or "").strip()
        if value and not re.match(r"^[A-Za-z0-9_\-]{1,64}$", value):
            raise ValidationError(_("Name the attribute as the shop sends it, e.g. birthday "
                                    "(letters, digits, dashes and underscores)."))
        return value

    def clean_exit_events_other(self):
        raw = self.cleaned_data.get("exit_events_other") or ""
        return [_check_event_type(part.strip()) for part in raw.split(",") if part.strip()]

    def clean(self):
        cleaned = super().clean()
        trigger = cleaned.get("trigger")
        config = {}
        need = _("This trigger needs it.")

        def require(name):
            if cleaned.get(name) in (None, "") and name not in self.errors:
                self.add_error(name, need)
            return cleaned.get(name)

        if trigger == Campaign.Trigger.EVENT:
            require("trigger_event_type")
            if cleaned.get("nth_order"):
                config["nth_order"] = cleaned["nth_order"]
            if cleaned.get("exit_on_purchase_of_items"):
                config["exit_on_purchase_of_items"] = True
            low, high = cleaned.get("min_score"), cleaned.get("max_score")
            if low is not None and high is not None and low > high:
                self.add_error("max_score", _("The highest score is below the lowest: no "
                                              "event would start the journey."))
            else:
                config.update({key: value for key, value in
                               (("min_score", low), ("max_score", high)) if value is not None})
        elif trigger == Campaign.Trigger.INACTIVITY:
            config["days"] = require("inactivity_days")
        elif trigger == Campaign.Trigger.DATE_ATTRIBUTE:
            config["attribute"] = require("date_attribute")
        elif trigger == Campaign.Trigger.SEGMENT_ENTRY:
            segment = require("trigger_segment")
            config["segment"] = segment.pk if segment else None
        elif trigger == Campaign.Trigger.SCHEDULE:
            first_run, every = require("first_run"), require("every_days")
            config["first_run"] = first_run.isoformat() if first_run else None
            config["every_days"] = every
            if cleaned.get("trigger_segment"):
                config["segment"] = cleaned["trigger_segment"].pk
            if cleaned.get("share") and cleaned["share"] < 100:
                config["share"] = cleaned["share"]
        if trigger != Campaign.Trigger.EVENT:
            # The event type belongs to event triggers only; the list would show it.
            cleaned["trigger_event_type"] = ""
        exits = list(dict.fromkeys([*cleaned.get("exit_events", []),
                                    *cleaned.get("exit_events_other", [])]))
        # Set even when a field is wrong: the model's checks then see this trigger's
        # settings, not the ones of the trigger it had before.
        self.instance.trigger_config = config
        self.instance.exit_event_types = exits
        return cleaned

    def _config_field(self) -> str:
        fields = self.TRIGGER_FIELDS.get(self.cleaned_data.get("trigger"), [])
        return fields[0] if fields else NON_FIELD_ERRORS

    def add_error(self, field, error):
        # The model's own checks speak of trigger_config and exit_event_types, which the
        # page shows as other fields: put their words on the field the marketer sees.
        if field is None and isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            remap = {"trigger_config": self._config_field(), "exit_event_types": "exit_events"}
            errors = {}
            for name, messages in error.error_dict.items():
                target = remap.get(name, name)
                if target in self.errors:
                    continue  # the form has already said what is wrong with it
                errors.setdefault(target, []).extend(messages)
            if not errors:
                return
            error = ValidationError(errors)
        super().add_error(field, error)


class JourneyStepForm(forms.ModelForm):
    """One step, its fields by kind (campaign_page.js hides the others) and its variants."""

    wait_duration = DaysHoursField(label=_("Wait for"))

    class Meta:
        model = JourneyStep
        fields = ["position", "kind", "template", "wait_duration", "wait_until_local_time",
                  "on_blocked", "send_at_best_hour", "best_hour_fallback", "reward_points",
                  "coupon_valid_days"]
        widgets = {
            "position": forms.HiddenInput(attrs={"class": "cp-position"}),
            "kind": forms.Select(attrs={"class": "cp-kind"}),
            "wait_until_local_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "best_hour_fallback": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        labels = {"wait_until_local_time": _("Then wait until (customer's time)")}

    # Which fields each kind uses; the others are emptied on save.
    KIND_FIELDS = {
        JourneyStep.Kind.WAIT: {"wait_duration", "wait_until_local_time"},
        JourneyStep.Kind.SEND: {"template", "on_blocked", "send_at_best_hour",
                                "best_hour_fallback"},
        JourneyStep.Kind.REWARD: {"reward_points"},
        JourneyStep.Kind.COUPON: {"coupon_valid_days"},
    }
    _OPTIONAL = {"wait_duration", "wait_until_local_time", "template", "reward_points",
                 "coupon_valid_days"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["position"].required = False
        # Only a send step reads it; the others keep the model's default.
        self.fields["on_blocked"].required = False
        self.fields["best_hour_fallback"].required = False
        self.variants = list(self.instance.variants.select_related("template")) \
            if self.instance.pk else []
        for index, variant in enumerate(self.variants[:VARIANT_SLOTS], start=1):
            self.initial.update({f"variant_{index}_name": variant.name,
                                 f"variant_{index}_template": variant.template_id,
                                 f"variant_{index}_weight": variant.weight})

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        cleaned["on_blocked"] = cleaned.get("on_blocked") or JourneyStep.OnBlocked.WAIT
        if kind != JourneyStep.Kind.SEND:
            cleaned["send_at_best_hour"] = False
        cleaned["best_hour_fallback"] = (cleaned.get("best_hour_fallback")
                                         or JourneyStep._meta.get_field(
                                             "best_hour_fallback").get_default())
        used = self.KIND_FIELDS.get(kind, set())
        for name in self._OPTIONAL - used:
            cleaned[name] = None
            self.errors.pop(name, None)
        if kind == JourneyStep.Kind.WAIT and not (
            cleaned.get("wait_duration") or cleaned.get("wait_until_local_time")
        ) and "wait_duration" not in self.errors:
            self.add_error("wait_duration", _("A wait step needs a time to wait or a time of "
                                              "day to wait until."))
        if kind == JourneyStep.Kind.SEND and not cleaned.get("template"):
            self.add_error("template", _("A send step needs a template."))
        if kind == JourneyStep.Kind.REWARD and not cleaned.get("reward_points"):
            self.add_error("reward_points", _("Give the number of points, above 0."))
        if kind == JourneyStep.Kind.COUPON and not cleaned.get("coupon_valid_days"):
            self.add_error("coupon_valid_days", _("Give the days the code stays valid, "
                                                  "above 0."))
        self._clean_variants(cleaned, kind)
        return cleaned

    def _clean_variants(self, cleaned, kind) -> None:
        wanted, names = [], set()
        for index in range(1, VARIANT_SLOTS + 1):
            name = (cleaned.get(f"variant_{index}_name") or "").strip()
            template = cleaned.get(f"variant_{index}_template")
            weight = cleaned.get(f"variant_{index}_weight") or 1
            if kind != JourneyStep.Kind.SEND or not (name or template):
                continue
            if not template:
                self.add_error(f"variant_{index}_template", _("Choose the variant's template."))
            elif not name:
                self.add_error(f"variant_{index}_name", _("Name the variant, e.g. A or B."))
            elif name in names:
                self.add_error(f"variant_{index}_name", _("Two variants have this name."))
            else:
                names.add(name)
                wanted.append((name, template, weight))
        kept = {name for name, _t, _w in wanted}
        for variant in self.variants:
            if variant.name not in kept and variant.messages.exists():
                self.add_error(None, _(
                    "Variant %(name)s has sent messages and cannot be removed: its results "
                    "would lose their name.") % {"name": variant.name})
        self.wanted_variants = wanted

    def add_error(self, field, error):
        # The model's "needs a duration" check repeats the form's, field-less: say it once.
        if field is None and isinstance(error, ValidationError) and "wait_duration" in self.errors:
            return
        super().add_error(field, error)

    def variants_save(self) -> None:
        """Make the step's variants the ones in its slots (after the step is saved)."""
        step = self.instance
        wanted = getattr(self, "wanted_variants", [])
        kept = {name for name, _t, _w in wanted}
        StepVariant.objects.filter(step=step).exclude(name__in=kept).delete()
        for name, template, weight in wanted:
            StepVariant.objects.update_or_create(
                step=step, name=name, defaults={"template": template, "weight": weight})


def _variant_fields(index: int) -> dict:
    return {
        f"variant_{index}_name": forms.CharField(
            label=_("Variant name"), required=False, max_length=50),
        f"variant_{index}_template": forms.ModelChoiceField(
            label=_("Template"), required=False,
            queryset=MessageTemplate.objects.order_by("name")),
        f"variant_{index}_weight": forms.IntegerField(
            label=_("Weight"), required=False, min_value=1, max_value=1000),
    }


# Declared after the class so the slots are numbered from one constant; the admin's
# form factory reads declared_fields, the form itself base_fields.
for _index in range(1, VARIANT_SLOTS + 1):
    for _name, _field in _variant_fields(_index).items():
        JourneyStepForm.base_fields[_name] = JourneyStepForm.declared_fields[_name] = _field


class JourneyStepFormSet(BaseInlineFormSet):
    """The steps in the order the page shows them."""

    def ordered_forms(self) -> list:
        """Kept forms in the order the page shows them (the hidden positions)."""
        kept = [f for f in self.forms if f not in self.deleted_forms and (
            f.instance.pk is not None or f.has_changed())]
        ranked = sorted(enumerate(kept), key=lambda pair: (
            pair[1].cleaned_data.get("position") is None,
            pair[1].cleaned_data.get("position") or 0, pair[0]))
        return [form for _index, form in ranked]
