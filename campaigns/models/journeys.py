"""Campaigns (journeys): a trigger, steps and the rules that govern them."""
import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from .base import TimestampedModel
from .content import MessageTemplate
from .segments import Segment

# Event triggers: only events whose properties' "score" lies in this range start the
# journey (services.planning reads it in SQL; a score that is not a number never matches).
SCORE_KEYS = ("min_score", "max_score")
SCORE_LIMIT = 1_000_000


class Campaign(TimestampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        ARCHIVED = "archived", _("Archived")

    class Trigger(models.TextChoices):
        EVENT = "event", _("An event happens")
        INACTIVITY = "inactivity", _("No order for N days")
        SEGMENT_ENTRY = "segment_entry", _("Entering a segment")
        SCHEDULE = "schedule", _("On a schedule")
        DATE_ATTRIBUTE = "date_attribute", _("A date attribute (e.g. birthday)")

    class EntryKey(models.TextChoices):
        CUSTOMER = "customer", _("Once per customer")
        EVENT = "event", _("Once per trigger event")
        ORDER = "order", _("Once per order")

    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    trigger = models.CharField(_("trigger"), max_length=32, choices=Trigger.choices, default=Trigger.EVENT)
    trigger_event_type = models.CharField(
        _("trigger event type"), max_length=64, blank=True,
        help_text=_("For event triggers: the event type, e.g. signup.")
    )
    trigger_config = models.JSONField(
        _("trigger settings"), default=dict, blank=True,
        help_text=_("Trigger settings, e.g. {\"days\": 90} for inactivity.")
    )
    entry_key = models.CharField(
        _("entry"), max_length=16, choices=EntryKey.choices, default=EntryKey.CUSTOMER,
        help_text=_("What makes an entry unique: a customer enters once per key."),
    )
    exit_event_types = models.JSONField(
        _("exit events"), default=list, blank=True,
        help_text=_("Event types that end the journey, e.g. [\"purchase\"].")
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=50,
        help_text=_("Higher goes first when messages compete for a customer.")
    )
    deadline = models.DurationField(
        _("deadline"), null=True, blank=True,
        help_text=_("Send within this time of the trigger or record the message as expired."),
    )
    reentry_cooldown = models.DurationField(_("re-entry cooldown"), null=True, blank=True)
    exempt_from_caps = models.BooleanField(
        _("exempt from caps"), default=False,
        help_text=_("For messages the customer asked for: not counted or capped.")
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout percent"), default=0,
        help_text=_("Share of entrants (0-100) who receive nothing, to measure lift.")
    )
    active_from = models.DateTimeField(_("active from"), null=True, blank=True)
    active_until = models.DateTimeField(_("active until"), null=True, blank=True)
    # The planner's position in the event table: events with a larger id are still new.
    # The watermark trails the highest id seen by the previous tick (the ceiling), so an
    # event whose transaction committed after a larger id was read is still found.
    event_watermark = models.BigIntegerField(default=0, editable=False)
    event_ceiling = models.BigIntegerField(default=0, editable=False)
    # For inactivity triggers: customers who lapsed up to this moment have been planned.
    planned_through = models.DateTimeField(null=True, blank=True, editable=False)
    # The exit check's position (services/exits.py): when it last ran and last swept all
    # active enrollments, and the largest ids of events, order lines and enrollments at
    # its recent checks ({"checked_at", "swept_at", "marks": [{"at", "event", "line",
    # "enrollment"}]}). Empty: the next check is a full one.
    exit_watermark = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["-priority", "name"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self):
        return self.name

    def clean(self):
        if self.trigger == self.Trigger.EVENT and not self.trigger_event_type:
            raise ValidationError({"trigger_event_type": _("An event trigger needs an event type.")})
        self._clean_trigger_config()
        if not 0 <= self.holdout_percent <= 100:
            raise ValidationError({"holdout_percent": _("Give a share between 0 and 100.")})

    def _clean_trigger_config(self):
        """Each trigger's settings, checked so a typo is refused at save time."""
        config = self.trigger_config if isinstance(self.trigger_config, dict) else None
        if config is None:
            raise ValidationError({"trigger_config": _("Give the settings as a JSON object, e.g. {}.")})

        def positive_int(key, example):
            value = config.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValidationError({"trigger_config": _(
                    "This trigger needs \"%(key)s\" as a whole number above 0, e.g. %(example)s."
                ) % {"key": key, "example": example}})

        if self.trigger == self.Trigger.INACTIVITY:
            positive_int("days", '{"days": 90}')
        elif self.trigger == self.Trigger.SCHEDULE:
            positive_int("every_days", '{"first_run": "2026-04-01T09:00:00+02:00", "every_days": 91}')
            first_run = config.get("first_run")
            try:
                parsed = parse_datetime(first_run) if isinstance(first_run, str) else None
            except ValueError:
                parsed = None
            if parsed is None or parsed.tzinfo is None:
                raise ValidationError({"trigger_config": _(
                    "A schedule needs \"first_run\": a date and time with its zone, e.g. "
                    "\"2026-04-01T09:00:00+02:00\".")})
            self._clean_segment(config, required=False)
            share = config.get("share", 100)
            if not isinstance(share, int) or isinstance(share, bool) or not 1 <= share <= 100:
                raise ValidationError({"trigger_config": _(
                    '"share" is the percentage of the audience drawn on each run, a whole '
                    'number from 1 to 100, e.g. {"segment": "Loyal customers", "share": 10}.')})
        elif self.trigger == self.Trigger.SEGMENT_ENTRY:
            self._clean_segment(config, required=True)
        elif self.trigger == self.Trigger.EVENT and "nth_order" in config:
            positive_int("nth_order", '{"nth_order": 3}')
        elif self.trigger == self.Trigger.DATE_ATTRIBUTE and not isinstance(
            config.get("attribute", "birthday"), str
        ):
            raise ValidationError({"trigger_config": _(
                'Name the date attribute, e.g. {"attribute": "birthday"}.')})
        self._clean_exit_on_purchase(config)
        self._clean_score_range(config)

    def _clean_score_range(self, config: dict) -> None:
        """"min_score" / "max_score": only events whose properties hold a score in the
        range start the journey (e.g. survey.promoter with NPS 10 only). Whole numbers,
        for event triggers, the least no greater than the most."""
        given = [key for key in SCORE_KEYS if key in config]
        if not given:
            return
        if self.trigger != self.Trigger.EVENT:
            raise ValidationError({"trigger_config": _(
                "A score range needs an event trigger whose events carry a score, e.g. "
                "survey.promoter or survey.detractor.")})
        for key in given:
            value = config[key]
            if not isinstance(value, int) or isinstance(value, bool) or not (
                    -SCORE_LIMIT <= value <= SCORE_LIMIT):
                raise ValidationError({"trigger_config": _(
                    "\"%(key)s\" is a whole number, e.g. {\"min_score\": 9, "
                    "\"max_score\": 10}.") % {"key": key}})
        low, high = config.get("min_score"), config.get("max_score")
        if low is not None and high is not None and low > high:
            raise ValidationError({"trigger_config": _(
                "The lowest score (%(low)d) is above the highest (%(high)d): no event "
                "would start the journey.") % {"low": low, "high": high}})

    def _clean_exit_on_purchase(self, config: dict) -> None:
        """"exit_on_purchase_of_items": the journey ends when the customer buys a product
        of the trigger event's lines, so it needs an event trigger and a true or false."""
        if "exit_on_purchase_of_items" not in config:
            return
        if not isinstance(config["exit_on_purchase_of_items"], bool):
            raise ValidationError({"trigger_config": _(
                '"exit_on_purchase_of_items" is true or false, e.g. '
                '{"exit_on_purchase_of_items": true}.')})
        if config["exit_on_purchase_of_items"] and self.trigger != self.Trigger.EVENT:
            raise ValidationError({"trigger_config": _(
                "Ending the journey when the customer buys the products of the trigger "
                "needs an event trigger whose event has products (e.g. checkout.started).")})

    @staticmethod
    def _clean_segment(config: dict, *, required: bool) -> None:
        if "segment" not in config and not required:
            return
        ref = config.get("segment")
        if isinstance(ref, bool) or not isinstance(ref, (int, str)) or not (
            Segment.objects.filter(pk=ref).exists() if isinstance(ref, int)
            else Segment.objects.filter(name=ref).exists()
        ):
            names = ", ".join(f'"{n}"' for n in Segment.objects.values_list("name", flat=True)[:10])
            raise ValidationError({"trigger_config": (
                _('Name an existing segment, e.g. {"segment": "Loyal customers"} (or its id). '
                  'Segments: %(names)s.') % {"names": names} if names else
                _('Name an existing segment, e.g. {"segment": "Loyal customers"} (or its id). '
                  'There are no segments yet: make one first.'))})

    def trigger_segment_id(self) -> int | None:
        """The segment named by the trigger settings (by id or by name), if any."""
        ref = (self.trigger_config or {}).get("segment")
        if isinstance(ref, bool) or ref is None:
            return None
        lookup = {"pk": ref} if isinstance(ref, int) else {"name": ref}
        return Segment.objects.filter(**lookup).values_list("pk", flat=True).first()


class JourneyStep(models.Model):
    class Kind(models.TextChoices):
        WAIT = "wait", _("Wait")
        SEND = "send", _("Send an email")
        REWARD = "reward", _("Grant loyalty points")
        COUPON = "coupon", _("Issue a coupon code")

    class OnBlocked(models.TextChoices):
        WAIT = "wait", _("Wait until caps and quiet hours allow it")
        NEXT = "next", _("Skip it and move on to the next step")
        DROP = "drop", _("Drop it and end the journey")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps",
                                 verbose_name=_("campaign"))
    position = models.PositiveSmallIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    wait_duration = models.DurationField(_("wait duration"), null=True, blank=True)
    wait_until_local_time = models.TimeField(
        _("wait until local time"), null=True, blank=True,
        help_text=_("Wait until this time of day in the customer's zone."),
    )
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="steps",
        verbose_name=_("template"),
    )
    on_blocked = models.CharField(
        _("on blocked"), max_length=8, choices=OnBlocked.choices, default=OnBlocked.WAIT,
        help_text=_("What happens when frequency caps or quiet hours block this message."),
    )
    # Send steps: due at the customer's best local hour (Customer.best_hour), else at the
    # fallback time, at or after the moment the message would have been due.
    send_at_best_hour = models.BooleanField(
        _("at the customer's best hour"), default=False,
        help_text=_("Send at the hour the customer usually buys or clicks, in their time "
                    "zone."),
    )
    best_hour_fallback = models.TimeField(
        _("else at (customer's time)"), default=dt.time(10, 0),
        help_text=_("The campaign's hour when there is too little data about the customer."),
    )
    reward_points = models.PositiveIntegerField(
        _("reward points"), null=True, blank=True,
        help_text=_("For reward steps: points added to the ledger.")
    )
    coupon_valid_days = models.PositiveSmallIntegerField(
        _("coupon valid days"), null=True, blank=True,
        help_text=_("For coupon steps: days the code stays valid.")
    )

    class Meta:
        ordering = ["campaign", "position"]
        verbose_name = _("journey step")
        verbose_name_plural = _("journey steps")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "position"], name="step_unique_position")
        ]

    def __str__(self):
        return f"{self.position}. {self.get_kind_display()}"

    def clean(self):
        if self.kind == self.Kind.SEND and not self.template_id:
            raise ValidationError({"template": _("A send step needs a template.")})
        if self.kind == self.Kind.WAIT and not (self.wait_duration or self.wait_until_local_time):
            raise ValidationError(_("A wait step needs a duration or a local time of day."))
        if self.kind == self.Kind.REWARD and not self.reward_points:
            raise ValidationError({"reward_points": _("A reward step needs a number of points.")})
        if self.kind == self.Kind.COUPON and not self.coupon_valid_days:
            raise ValidationError({"coupon_valid_days": _("A coupon step needs its days of validity.")})


class StepVariant(models.Model):
    """An A/B variant of a send step: its own template, drawn by weight per customer."""

    step = models.ForeignKey(JourneyStep, on_delete=models.CASCADE, related_name="variants",
                             verbose_name=_("step"))
    name = models.CharField(_("name"), max_length=50, help_text=_("e.g. A, B, short subject"))
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("template"))
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)

    class Meta:
        ordering = ["step", "id"]
        verbose_name = _("step variant")
        verbose_name_plural = _("step variants")
        constraints = [
            models.UniqueConstraint(fields=["step", "name"], name="variant_unique_name")
        ]

    def __str__(self):
        return f"{self.name} ({self.weight})"


class FrequencyPolicy(models.Model):
    """The site-wide over-messaging policy (one row). Caps count marketing messages."""

    name = models.CharField(_("name"), max_length=100, default="Default", unique=True)
    max_per_day = models.PositiveSmallIntegerField(
        _("max per day"), default=1,
        help_text=_("Most marketing emails per customer in any rolling 24 hours (0 = no cap)."),
    )
    max_per_week = models.PositiveSmallIntegerField(
        _("max per week"), default=0,
        help_text=_("Most marketing emails per customer in any rolling 7 days (0 = no cap)."),
    )
    min_gap = models.DurationField(_("min gap"), null=True, blank=True,
                                   help_text=_("Least time between two emails."))
    quiet_hours_start = models.TimeField(_("quiet hours start"), null=True, blank=True,
                                         help_text=_("e.g. 21:00 (customer's zone)"))
    quiet_hours_end = models.TimeField(_("quiet hours end"), null=True, blank=True,
                                       help_text=_("e.g. 08:00"))

    class Meta:
        verbose_name = _("frequency policy")
        verbose_name_plural = _("frequency policy")

    def __str__(self):
        return self.name
