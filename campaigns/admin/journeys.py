"""Admin for campaigns (journeys), their steps, and the site-wide frequency policy."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import ngettext, ngettext_lazy

from campaigns import clock
from campaigns.exceptions import CampaignTransitionError
from campaigns.journey_picture import duration_in_words, journey_boxes, trigger_in_words
from campaigns.models import (
    Campaign, Enrollment, FrequencyPolicy, JourneyStep, Message, Segment,
)
from campaigns.selectors.campaign_reach import campaign_reach_at_once
from campaigns.services.campaign_drafts import (
    campaign_create_from_starter, campaign_duplicate, campaign_steps_place,
)
from campaigns.services.forecast import forecast_job_create
from campaigns.services.journeys import campaign_activate, campaign_archive, campaign_pause
from campaigns.starters import STARTERS

from .campaign_forms import VARIANT_SLOTS, CampaignForm, JourneyStepForm, JourneyStepFormSet
from .campaign_results import CampaignResultsMixin

PENDING_STATES = (Message.State.PENDING, Message.State.CLAIMED, Message.State.SENDING)


def _count_per_campaign(model, **filters):
    """A correlated COUNT per campaign row: one query for the whole list page."""
    rows = (
        model.objects.filter(campaign=OuterRef("pk"), **filters)
        .order_by().values("campaign").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def _segment_names(*campaigns) -> dict:
    ids = {c.trigger_config.get("segment") for c in campaigns
           if isinstance(c.trigger_config, dict)}
    ids = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
    return dict(Segment.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}


def confirm_above() -> int:
    """Activating a campaign that takes in more customers than this at once asks first."""
    return settings.CAMPAIGN_CONFIRM_ABOVE


def _reach_if_checkable(campaign: Campaign):
    """The first wave of entrants, or None when the campaign is not ready to activate
    (campaign_activate then refuses it with its reasons)."""
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.PAUSED):
        return None
    try:
        campaign.clean()
        return campaign_reach_at_once(campaign=campaign, now=clock.now())
    except (ValidationError, KeyError, TypeError, ValueError):
        return None


class JourneyStepInline(admin.StackedInline):
    model = JourneyStep
    form = JourneyStepForm
    formset = JourneyStepFormSet
    ordering = ["position"]
    extra = 0
    autocomplete_fields = ["template"]
    verbose_name = gettext_lazy("step")
    verbose_name_plural = gettext_lazy("Steps, in order (drag them, or use the arrows)")
    classes = ["cp-steps"]
    # A journey of more steps is a mistake; a post claiming thousands of forms must not
    # build (and re-render) them all.
    max_num = 50

    def get_formset(self, request, obj=None, **kwargs):
        kwargs.setdefault("absolute_max", self.max_num + 10)
        return super().get_formset(request, obj, **kwargs)
    fieldsets = [
        (None, {"fields": ["position", "kind", "template", "on_blocked",
                           ("send_at_best_hour", "best_hour_fallback"), "wait_duration",
                           "wait_until_local_time", "reward_points", "coupon_valid_days"]}),
        (gettext_lazy("A/B variants (optional)"), {
            "classes": ["collapse", "cp-variants"],
            "description": gettext_lazy(
                "With variants, each customer gets one of them, drawn by weight, instead of "
                "the step's template. Empty a variant's name and template to remove it."),
            "fields": [(f"variant_{i}_name", f"variant_{i}_template", f"variant_{i}_weight")
                       for i in range(1, VARIANT_SLOTS + 1)],
        }),
    ]


@admin.register(Campaign)
class CampaignAdmin(CampaignResultsMixin, admin.ModelAdmin):
    form = CampaignForm
    list_display = ["name", "status", "trigger_words", "priority", "deadline_words",
                    "holdout_words", "enrollment_count", "sent_count", "pending_count"]
    list_filter = ["status", "trigger"]
    search_fields = ["name", "slug", "trigger_event_type"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["activate", "pause", "archive", "duplicate", "forecast"]
    inlines = [JourneyStepInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "status", "status_help"]}),
        (gettext_lazy("Journey"), {"fields": ["journey_picture", "messaging_rules"],
                                   "classes": ["cp-overview"]}),
        (gettext_lazy("Trigger"), {
            "fields": ["trigger", "trigger_event_type", "nth_order", "exit_on_purchase_of_items",
                       "min_score", "max_score", "entry_key",
                       "inactivity_days", "date_attribute", "first_run", "every_days",
                       "trigger_segment", "share", "exit_events", "exit_events_other",
                       "entry_help"],
            "classes": ["cp-trigger"]}),
        (gettext_lazy("Rules"), {"fields": ["priority", "deadline", "reentry_cooldown",
                                            "exempt_from_caps", "holdout_percent"]}),
        (gettext_lazy("Active dates"), {
            "fields": ["active_from", "active_until"],
            "description": gettext_lazy("Leave empty to run whenever the campaign is active.")}),
        (gettext_lazy("Results so far"), {"fields": CampaignResultsMixin.results_fields}),
    ]
    readonly_fields = ["status", "status_help", "entry_help", "journey_picture",
                       "messaging_rules", *CampaignResultsMixin.results_fields]

    class Media:
        css = {"all": ["campaigns/campaign_page.css"]}
        js = ["campaigns/campaign_page.js"]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("start/", view(self.starters_view), name="campaigns_campaign_start"),
            path("<int:pk>/status/", view(self.status_view), name="campaigns_campaign_status"),
            path("<int:pk>/duplicate/", view(self.duplicate_view),
                 name="campaigns_campaign_duplicate"),
            path("<int:pk>/forecast/", view(self.forecast_view),
                 name="campaigns_campaign_forecast"),
            *super().get_urls(),
        ]

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

    def save_formset(self, request, form, formset, change):
        if formset.model is not JourneyStep:
            return super().save_formset(request, form, formset, change)
        # Positions come from the page's order; campaign_steps_place renumbers them
        # 0, 1, 2 … without ever holding two steps at one position.
        with transaction.atomic():
            formset.save(commit=False)
            for step in formset.deleted_objects:
                step.delete()
            ordered = formset.ordered_forms()
            campaign_steps_place(campaign=form.instance, steps=[f.instance for f in ordered])
            for step_form in ordered:
                step_form.variants_save()

    # -- the list --------------------------------------------------------------------

    @admin.display(description=gettext_lazy("trigger"), ordering="trigger")
    def trigger_words(self, obj):
        return trigger_in_words(obj, _segment_names(obj))

    @admin.display(description=gettext_lazy("deadline"), ordering="deadline")
    def deadline_words(self, obj):
        return duration_in_words(obj.deadline) if obj.deadline else _("none")

    @admin.display(description=gettext_lazy("holdout"), ordering="holdout_percent")
    def holdout_words(self, obj):
        return _("%(share)d %%") % {"share": obj.holdout_percent} if obj.holdout_percent \
            else _("none")

    @admin.display(description=gettext_lazy("enrollments"), ordering="n_enrollments")
    def enrollment_count(self, obj):
        return obj.n_enrollments

    @admin.display(description=gettext_lazy("sent"), ordering="n_sent")
    def sent_count(self, obj):
        return obj.n_sent

    @admin.display(description=gettext_lazy("pending"), ordering="n_pending")
    def pending_count(self, obj):
        return obj.n_pending

    # -- the page ----------------------------------------------------------------------

    @admin.display(description=gettext_lazy("How status changes"))
    def status_help(self, obj):
        return _(
            "Use the buttons at the top of the page: Activate starts a draft, Pause stops "
            "every send at once (messages stay waiting), Resume continues and lets anything "
            "past its deadline expire instead of going out late. Archiving is final; "
            "Duplicate makes a new draft to change a campaign that has run."
        )

    @admin.display(description=gettext_lazy("Entry and exit"))
    def entry_help(self, obj):
        return _(
            "Entry: “once per customer” lets each customer in once, ever; “once per "
            "trigger event” or “once per order” let them in again for each new event or "
            "order (the re-entry cooldown can space them out). Exit: when the journey began "
            "with an order (one survey per order), only exit events about that order end it. "
            "Editing the steps changes the road ahead for everyone already in the journey: "
            "they continue from the step number they have reached."
        )

    @admin.display(description=gettext_lazy("The journey"))
    def journey_picture(self, obj):
        if obj is None or obj.pk is None:
            return _("Save the campaign to see its journey.")
        steps = list(JourneyStep.objects.filter(campaign=obj).select_related("template")
                     .prefetch_related("variants__template").order_by("position"))
        return render_to_string("admin/campaigns/campaign/journey_picture.html", {
            "boxes": journey_boxes(obj, steps, _segment_names(obj)),
        })

    @admin.display(description=gettext_lazy("Over-messaging rules"))
    def messaging_rules(self, obj):
        policy = FrequencyPolicy.objects.order_by("pk").first()
        lines = []
        if obj is not None and obj.exempt_from_caps:
            lines.append(_("This campaign is exempt from the caps: its emails are neither "
                           "counted nor held back by them. Quiet hours still apply."))
        if policy is None:
            lines.append(_("No over-messaging policy is set: nothing caps how many emails a "
                           "customer gets."))
        else:
            lines += self._policy_words(policy)
        if obj is not None and obj.pk is not None:
            lines.append(self._priority_words(obj))
            lines.append(_("Deadline: %(deadline)s after the start; a message not sent by "
                           "then is recorded as expired.") % {
                "deadline": duration_in_words(obj.deadline)} if obj.deadline else
                _("No deadline: a held-back message waits as long as it takes."))
        policy_url = (reverse("admin:campaigns_frequencypolicy_change", args=[policy.pk])
                      if policy else reverse("admin:campaigns_frequencypolicy_add"))
        return render_to_string("admin/campaigns/campaign/messaging_rules.html", {
            "lines": lines, "policy_url": policy_url})

    @staticmethod
    def _policy_words(policy) -> list[str]:
        lines = []
        caps = []
        if policy.max_per_day:
            caps.append(ngettext("%(count)d marketing email per customer per 24 hours",
                                 "%(count)d marketing emails per customer per 24 hours",
                                 policy.max_per_day) % {"count": policy.max_per_day})
        if policy.max_per_week:
            caps.append(ngettext("%(count)d per 7 days", "%(count)d per 7 days",
                                 policy.max_per_week) % {"count": policy.max_per_week})
        if policy.min_gap:
            caps.append(_("at least %(gap)s between two emails") % {
                "gap": duration_in_words(policy.min_gap)})
        lines.append(_("Caps: at most %(caps)s.") % {"caps": ", ".join(caps)} if caps
                     else _("Caps: none."))
        if policy.quiet_hours_start and policy.quiet_hours_end:
            lines.append(_("Quiet hours: nothing goes out between %(start)s and %(end)s in "
                           "the customer's time zone.") % {
                "start": policy.quiet_hours_start.strftime("%H:%M"),
                "end": policy.quiet_hours_end.strftime("%H:%M")})
        else:
            lines.append(_("Quiet hours: none."))
        return lines

    @staticmethod
    def _priority_words(obj) -> str:
        others = Campaign.objects.filter(status=Campaign.Status.ACTIVE).exclude(pk=obj.pk)
        before = list(others.filter(priority__gt=obj.priority).order_by("-priority")
                      .values_list("name", flat=True)[:5])
        after = others.filter(priority__lt=obj.priority).count()
        if not before and not after:
            return _("Priority %(priority)d: no other campaign is active.") % {
                "priority": obj.priority}
        if not before:
            return ngettext(
                "Priority %(priority)d: goes first when it competes with the %(count)d other "
                "active campaign for a customer's cap.",
                "Priority %(priority)d: goes first when it competes with the %(count)d other "
                "active campaigns for a customer's cap.", after,
            ) % {"priority": obj.priority, "count": after}
        return _("Priority %(priority)d: gives way to %(names)s when they compete for a "
                 "customer's cap.") % {"priority": obj.priority, "names": ", ".join(before)}

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        if obj is not None and obj.pk is not None:
            context["status_buttons"] = self._status_buttons(obj)
            context["status_url"] = reverse("admin:campaigns_campaign_status", args=[obj.pk])
            context["duplicate_url"] = reverse("admin:campaigns_campaign_duplicate",
                                               args=[obj.pk])
            if request.user.has_perm("campaigns.view_forecastjob"):
                context["forecast_url"] = reverse("admin:campaigns_campaign_forecast",
                                                  args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    @staticmethod
    def _status_buttons(obj) -> list[tuple[str, str]]:
        status = obj.status
        buttons = []
        if status == Campaign.Status.DRAFT:
            buttons.append(("activate", _("Activate")))
        if status == Campaign.Status.ACTIVE:
            buttons.append(("pause", _("Pause")))
        if status == Campaign.Status.PAUSED:
            buttons.append(("activate", _("Resume")))
        if status != Campaign.Status.ARCHIVED:
            buttons.append(("archive", _("Archive")))
        return buttons

    # -- views -----------------------------------------------------------------------

    def starters_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            key = request.POST.get("starter", "")
            if key not in STARTERS:
                self.message_user(request, _("Choose one of the starters."), messages.ERROR)
                return HttpResponseRedirect(reverse("admin:campaigns_campaign_start"))
            campaign = campaign_create_from_starter(key=key)
            self.message_user(request, _(
                "“%(name)s” was made from its starter as a draft. Check its settings and "
                "messages, then activate it.") % {"name": campaign.name}, messages.SUCCESS)
            return HttpResponseRedirect(
                reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
        return TemplateResponse(request, "admin/campaigns/campaign/starters.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts, "title": _("Start a campaign"),
            "starters": [{"key": key, **spec} for key, spec in STARTERS.items()],
        })

    def status_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = get_object_or_404(Campaign, pk=pk)
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        services = {"activate": campaign_activate, "pause": campaign_pause,
                    "archive": campaign_archive}
        move = request.POST.get("to", "")
        page = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        if move not in services:
            self.message_user(request, _("Choose activate, pause or archive."), messages.ERROR)
            return HttpResponseRedirect(page)
        if move == "activate" and not request.POST.get("confirmed"):
            confirmation = self._confirmation(request, [campaign], page)
            if confirmation is not None:
                return confirmation
        self._transition(request, Campaign.objects.filter(pk=campaign.pk), services[move], move)
        return HttpResponseRedirect(page)

    def duplicate_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = get_object_or_404(Campaign, pk=pk)
        if not self.has_add_permission(request):
            raise PermissionDenied
        copy = campaign_duplicate(campaign=campaign)
        self.message_user(request, _("“%(name)s” is a draft copy of “%(original)s”.") % {
            "name": copy.name, "original": campaign.name}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[copy.pk]))

    def forecast_view(self, request, pk):
        """The page's "Forecast" button: the same background job as the list's action."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = get_object_or_404(Campaign, pk=pk)
        if not (self.has_view_permission(request, campaign)
                and request.user.has_perm("campaigns.view_forecastjob")):
            raise PermissionDenied
        job = forecast_job_create(campaign_ids=[campaign.pk], user=request.user)
        return HttpResponseRedirect(reverse("admin:campaigns_forecastjob_change", args=[job.pk]))

    def _confirmation(self, request, campaigns, cancel_url, selected=None):
        """The "are you sure" page when a campaign would take in many customers at once."""
        large = []
        for campaign in campaigns:
            reach = _reach_if_checkable(campaign)
            if reach is not None and reach.count > confirm_above():
                large.append({"campaign": campaign, "reach": reach})
        if not large:
            return None
        return TemplateResponse(request, "admin/campaigns/campaign/activate_confirmation.html", {
            **self.admin_site.each_context(request),
            "opts": self.opts, "title": _("Activate now?"), "large": large,
            "threshold": confirm_above(), "cancel_url": cancel_url, "selected": selected,
            "status_url": (reverse("admin:campaigns_campaign_status", args=[campaigns[0].pk])
                           if selected is None else ""),
        })

    # -- actions -----------------------------------------------------------------------

    @admin.action(description=gettext_lazy("Activate (start or resume) selected campaigns"),
                  permissions=["change"])
    def activate(self, request, queryset):
        if not request.POST.get("confirmed"):
            ids = list(queryset.order_by("pk").values_list("pk", flat=True))
            confirmation = self._confirmation(
                request, list(queryset.order_by("pk")),
                reverse("admin:campaigns_campaign_changelist"), selected=ids)
            if confirmation is not None:
                return confirmation
        self._transition(request, queryset, campaign_activate, "activate")

    @admin.action(description=gettext_lazy("Pause selected campaigns"), permissions=["change"])
    def pause(self, request, queryset):
        self._transition(request, queryset, campaign_pause, "pause")

    @admin.action(description=gettext_lazy("Archive selected campaigns"), permissions=["change"])
    def archive(self, request, queryset):
        self._transition(request, queryset, campaign_archive, "archive")

    @admin.action(description=gettext_lazy("Duplicate selected campaigns as drafts"),
                  permissions=["add"])
    def duplicate(self, request, queryset):
        copies = [campaign_duplicate(campaign=c) for c in queryset.order_by("pk")]
        self.message_user(request, ngettext(
            "%(count)d draft copy made: %(names)s.", "%(count)d draft copies made: %(names)s.",
            len(copies)) % {"count": len(copies), "names": ", ".join(c.name for c in copies)},
            messages.SUCCESS)

    @admin.action(description=gettext_lazy("Forecast: what the selected campaigns would do"))
    def forecast(self, request, queryset):
        # A background job (it replays days of events): the job's page shows its progress,
        # then the answer.
        job = forecast_job_create(campaign_ids=list(queryset.values_list("pk", flat=True)),
                                  user=request.user)
        return HttpResponseRedirect(reverse("admin:campaigns_forecastjob_change", args=[job.pk]))

    # Whole sentences per move, so each language can word them its own way.
    _SENTENCES = {
        "activate": (
            ngettext_lazy("%(count)d campaign activated.", "%(count)d campaigns activated.",
                          "count"),
            ngettext_lazy("%(count)d campaign was already active.",
                          "%(count)d campaigns were already active.", "count"),
            gettext_lazy("Not activated: %(reason)s"),
        ),
        "pause": (
            ngettext_lazy("%(count)d campaign paused.", "%(count)d campaigns paused.", "count"),
            ngettext_lazy("%(count)d campaign was already paused.",
                          "%(count)d campaigns were already paused.", "count"),
            gettext_lazy("Not paused: %(reason)s"),
        ),
        "archive": (
            ngettext_lazy("%(count)d campaign archived.", "%(count)d campaigns archived.",
                          "count"),
            ngettext_lazy("%(count)d campaign was already archived.",
                          "%(count)d campaigns were already archived.", "count"),
            gettext_lazy("Not archived: %(reason)s"),
        ),
    }

    def _transition(self, request, queryset, service, move: str):
        changed, unchanged, refused = 0, 0, []
        for campaign in queryset.order_by("pk"):
            try:
                if service(campaign=campaign):
                    changed += 1
                else:
                    unchanged += 1
            except CampaignTransitionError as error:
                refused.append(str(error))
        done, already, not_done = self._SENTENCES[move]
        self.message_user(request, done % {"count": changed},
                          messages.SUCCESS if changed else messages.INFO)
        if unchanged:
            self.message_user(request, already % {"count": unchanged}, messages.INFO)
        for reason in refused:
            self.message_user(request, not_done % {"reason": reason}, messages.WARNING)


@admin.register(FrequencyPolicy)
class FrequencyPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "max_per_day", "max_per_week", "min_gap", "quiet_hours_start",
                    "quiet_hours_end"]
    fieldsets = [
        (None, {"fields": ["name"]}),
        (gettext_lazy("Caps"), {
            "fields": ["max_per_day", "max_per_week", "min_gap"],
            "description": gettext_lazy("How many marketing emails one customer may get. Campaigns marked "
                                        "“exempt from caps” (messages the customer asked for) are not "
                                        "counted or held back."),
        }),
        (gettext_lazy("Quiet hours"), {
            "fields": ["quiet_hours_start", "quiet_hours_end"],
            "description": gettext_lazy("No email goes out between these times in the customer's own time "
                                        "zone (the site's zone when the customer has none). A message held "
                                        "back waits, moves on or is dropped as its step says, and expires if "
                                        "its campaign's deadline passes first."),
        }),
    ]

    def has_add_permission(self, request):
        # One site-wide policy: the sender reads the first row.
        return super().has_add_permission(request) and not FrequencyPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
