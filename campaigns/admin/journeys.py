"""Admin for campaigns (journeys), their steps, and the site-wide frequency policy."""

from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext

from campaigns.exceptions import CampaignTransitionError
from campaigns.models import Campaign, Enrollment, FrequencyPolicy, JourneyStep, Message
from campaigns.services.journeys import campaign_activate, campaign_archive, campaign_pause

from .campaign_results import CampaignResultsMixin
from .deliveries import duration_words
from .forms import EventTypeInput

PENDING_STATES = (Message.State.PENDING, Message.State.CLAIMED, Message.State.SENDING)


def _count_per_campaign(model, **filters):
    """A correlated COUNT per campaign row: one query for the whole list page."""
    rows = (
        model.objects.filter(campaign=OuterRef("pk"), **filters)
        .order_by().values("campaign").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


class JourneyStepInline(admin.TabularInline):
    model = JourneyStep
    ordering = ["position"]
    extra = 0
    fields = ["position", "kind", "template", "wait_duration", "wait_until_local_time",
              "on_blocked", "reward_points", "coupon_valid_days"]
    autocomplete_fields = ["template"]
    verbose_name_plural = "Steps (run in order of position)"


TRIGGER_CONFIG_HELP = (
    'Settings of the trigger, as JSON. Event: {} or {"nth_order": 3}. No order for N days: '
    '{"days": 90}. Date attribute: {"attribute": "birthday"}. Entering a segment: '
    '{"segment": "Loyal customers"}. Schedule: {"first_run": "2026-04-01T09:00:00+02:00", '
    '"every_days": 30}, optionally with "segment" (only its members) and "share" (a random '
    "percentage of them, drawn anew each run)."
)


@admin.register(Campaign)
class CampaignAdmin(CampaignResultsMixin, admin.ModelAdmin):
    list_display = ["name", "status", "trigger_words", "priority", "deadline_words",
                    "holdout_percent", "enrollment_count", "sent_count", "pending_count"]
    list_filter = ["status", "trigger"]
    search_fields = ["name", "slug", "trigger_event_type"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["activate", "pause", "archive", "forecast"]
    inlines = [JourneyStepInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "status", "status_help"]}),
        ("Trigger", {"fields": ["trigger", "trigger_event_type", "trigger_config", "entry_key",
                                "exit_event_types", "entry_help"]}),
        ("Rules", {"fields": ["priority", "deadline", "reentry_cooldown", "exempt_from_caps",
                              "holdout_percent"]}),
        ("Schedule", {"fields": ["active_from", "active_until"],
                      "description": "Leave empty to run whenever the campaign is active."}),
        ("Results so far", {"fields": CampaignResultsMixin.results_fields}),
    ]
    readonly_fields = ["status", "status_help", "entry_help", *CampaignResultsMixin.results_fields]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in ("trigger_event_type",):
            kwargs["widget"] = EventTypeInput(attrs={"size": 30})
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "trigger_config":
            field.help_text = TRIGGER_CONFIG_HELP
        return field

    def get_actions(self, request):
        # Bulk delete would erase send history the frequency caps count: archive instead.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None):
        # Only a draft that never ran may be deleted; anything else is archived.
        if obj is None or obj.status != Campaign.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj) and not obj.enrollments.exists()

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            n_enrollments=_count_per_campaign(Enrollment),
            n_sent=_count_per_campaign(Message, state=Message.State.SENT),
            n_pending=_count_per_campaign(Message, state__in=PENDING_STATES),
        )

    @admin.display(description="trigger", ordering="trigger")
    def trigger_words(self, obj):
        if obj.trigger == Campaign.Trigger.EVENT and obj.trigger_event_type:
            return f"event: {obj.trigger_event_type}"
        segment = obj.trigger_config.get("segment") if isinstance(obj.trigger_config, dict) else None
        if obj.trigger == Campaign.Trigger.SEGMENT_ENTRY:
            return f"entering segment: {segment}"
        if obj.trigger == Campaign.Trigger.SCHEDULE and segment is not None:
            share = obj.trigger_config.get("share", 100)
            return f"schedule: {share} % of segment {segment}" if share < 100 else f"schedule: segment {segment}"
        return obj.get_trigger_display()

    @admin.display(description="deadline", ordering="deadline")
    def deadline_words(self, obj):
        return duration_words(obj.deadline) if obj.deadline else "none"

    @admin.display(description="enrollments", ordering="n_enrollments")
    def enrollment_count(self, obj):
        return obj.n_enrollments

    @admin.display(description="sent", ordering="n_sent")
    def sent_count(self, obj):
        return obj.n_sent

    @admin.display(description="pending", ordering="n_pending")
    def pending_count(self, obj):
        return obj.n_pending

    @admin.display(description="How status changes")
    def status_help(self, obj):
        return (
            "Change the status with the Activate, Pause and Archive actions on the campaign "
            "list. Pausing stops sends at once; messages stay pending and are re-checked "
            "against their deadline on resume (Activate). Archiving is final."
        )

    @admin.display(description="Entry and exit")
    def entry_help(self, obj):
        return mark_safe(
            "<p><strong>Entry key</strong>: what makes an entry unique. “Once per customer” "
            "lets each customer in once, ever; “once per trigger event” or “once per order” "
            "let them in again for each new event or order.</p>"
            "<p><strong>Re-entry cooldown</strong> (in Rules): the least time between two "
            "entries of the same customer, so repeated events don't repeat the journey.</p>"
            "<p><strong>Exit event types</strong>: events that end the journey early, e.g. "
            "<code>[\"purchase\"]</code> for a win-back. When the journey began with an order "
            "(one survey per order), only exit events about that order (or about no order) end "
            "it: a refund of another order does not.</p>"
            "<p><strong>Lifecycle stages</strong>: the nightly scoring emits "
            "<code>lifecycle.at_risk</code>, <code>lifecycle.lapsed</code>, "
            "<code>lifecycle.won_back</code>, <code>lifecycle.loyal</code>, … when a customer's "
            "stage changes; use one as the event type to start a journey then (e.g. “became at "
            "risk”). A customer's very first stage starts nothing.</p>"
            "<p><strong>Trigger config</strong>: for an inactivity trigger "
            "<code>{\"days\": 90}</code> (a customer lapses 90 days after the last order and "
            "enters again only after a new purchase and a new lapse); for an event trigger "
            "<code>{\"nth_order\": 3}</code> lets only the customer's 3rd order in; for a date "
            "attribute <code>{\"attribute\": \"birthday\"}</code> enters customers on the "
            "anniversary of that date (once a year; 29 February on the 28th), due at 00:00 UTC "
            "— add a \"wait until local time\" step to pick the hour; for a schedule "
            "<code>{\"first_run\": \"2026-04-01T09:00:00+02:00\", \"every_days\": 91}</code> "
            "enters every customer once per run.</p>"
            "<p><strong>Customers already in the journey</strong>: a new campaign answers "
            "triggers that arrive after it is started. Editing the steps changes the road "
            "ahead for everyone: a customer continues from the step position they have "
            "reached. Pausing stops every send at once and keeps the messages waiting; on "
            "resume, anything past its deadline expires instead of going out late.</p>"
        )

    @admin.action(
        description="Activate (start or resume) selected campaigns", permissions=["change"]
    )
    def activate(self, request, queryset):
        self._transition(request, queryset, campaign_activate, "activated", "already active")

    @admin.action(description="Pause selected campaigns", permissions=["change"])
    def pause(self, request, queryset):
        self._transition(request, queryset, campaign_pause, "paused", "already paused")

    @admin.action(description="Archive selected campaigns", permissions=["change"])
    def archive(self, request, queryset):
        self._transition(request, queryset, campaign_archive, "archived", "already archived")

    @admin.action(description="Forecast: replay the last 14 days with the selected campaigns on")
    def forecast(self, request, queryset):
        # A background job (it replays days of events): the job's page shows its progress,
        # then the answer. Imported here: this module is being reshaped by others.
        from django.http import HttpResponseRedirect
        from django.urls import reverse

        from campaigns.services.forecast import forecast_job_create

        job = forecast_job_create(campaign_ids=list(queryset.values_list("pk", flat=True)),
                                  user=request.user)
        return HttpResponseRedirect(reverse("admin:campaigns_forecastjob_change", args=[job.pk]))

    def _transition(self, request, queryset, service, done: str, already: str):
        changed, unchanged, refused = 0, 0, []
        for campaign in queryset.order_by("pk"):
            try:
                if service(campaign=campaign):
                    changed += 1
                else:
                    unchanged += 1
            except CampaignTransitionError as error:
                refused.append(str(error))
        self.message_user(request, ngettext(
            "%(count)d campaign %(done)s.", "%(count)d campaigns %(done)s.", changed,
        ) % {"count": changed, "done": done}, messages.SUCCESS if changed else messages.INFO)
        if unchanged:
            self.message_user(request, ngettext(
                "%(count)d campaign was %(already)s.", "%(count)d campaigns were %(already)s.",
                unchanged,
            ) % {"count": unchanged, "already": already}, messages.INFO)
        for reason in refused:
            self.message_user(request, f"Not {done}: {reason}", messages.WARNING)


@admin.register(FrequencyPolicy)
class FrequencyPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "max_per_day", "max_per_week", "min_gap", "quiet_hours_start",
                    "quiet_hours_end"]
    fieldsets = [
        (None, {"fields": ["name"]}),
        ("Caps", {
            "fields": ["max_per_day", "max_per_week", "min_gap"],
            "description": "How many marketing emails one customer may get. Campaigns marked "
                           "“exempt from caps” (messages the customer asked for) are not "
                           "counted or held back.",
        }),
        ("Quiet hours", {
            "fields": ["quiet_hours_start", "quiet_hours_end"],
            "description": "No email goes out between these times in the customer's own time "
                           "zone (the site's zone when the customer has none). A message held "
                           "back waits, moves on or is dropped as its step says, and expires if "
                           "its campaign's deadline passes first.",
        }),
    ]

    def has_add_permission(self, request):
        # One site-wide policy: the sender reads the first row.
        return super().has_add_permission(request) and not FrequencyPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
