"""Admin for segments: the rule builder, a live count and sample, members refresh, explanations."""
import json

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, json_script
from django.utils import formats
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from campaigns import clock

from campaigns.models import Customer, Segment
from campaigns.segmentation import RuleError
from campaigns.selectors.segments import (
    product_suggestions, segment_catalogue, segment_count, segment_count_age_words,
    segment_explain, segment_rule_check, segment_sample,
)
from campaigns.services.segments import segment_members_refresh

from .personal_data import customer_data_allowed

SAMPLE_SIZE = 10
FIRST_COUNT_KEY = "segments:first-count-queued"
MAX_PREVIEW_BYTES = 100_000


class RuleBuilderWidget(forms.Textarea):
    """The rule's JSON in a textarea (shown by "Advanced: edit JSON"), edited by the builder.

    The field catalogue comes from the server (segmentation.catalogue), embedded as JSON,
    so the builder offers exactly what the validator accepts.
    """

    template_name = "django/forms/widgets/textarea.html"

    class Media:
        js = ["campaigns/segment_builder.js"]
        css = {"all": ["campaigns/segment_builder.css"]}

    def __init__(self, *args, catalogue=None, preview_url="", suggest_url="", **kwargs):
        super().__init__(*args, **kwargs)
        self.catalogue = catalogue or {}
        self.preview_url = preview_url
        self.suggest_url = suggest_url

    def render(self, name, value, attrs=None, renderer=None):
        attrs = {**(attrs or {}), "class": "sb-json vLargeTextField", "rows": 14,
                 "spellcheck": "false"}
        textarea = super().render(name, value, attrs, renderer)
        return format_html(
            # One block: the admin lays a widget's siblings out in a row, which would
            # squeeze the builder next to the preview.
            '<div class="sb-wrap"><div id="segment-builder" class="sb-root" data-textarea="{}" '
            'data-preview-url="{}" data-suggest-url="{}"><noscript>{}</noscript></div>'
            '<p><button type="button" class="button sb-toggle-json">{}</button></p>'
            '<div class="sb-json-box">{}</div>'
            '<div id="segment-preview" class="sb-preview" aria-live="polite"></div>{}</div>',
            attrs.get("id", f"id_{name}"), self.preview_url, self.suggest_url,
            gettext("Without JavaScript, edit the rule as JSON below."),
            gettext("Advanced: edit JSON"), textarea,
            json_script(self.catalogue, "segment-catalogue"),
        )


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description", "rule"]
        error_messages = {"rule": {"invalid": "The rule is not valid JSON: check the brackets, "
                                              "commas and quotes."}}

    def clean_rule(self):
        rule = self.cleaned_data.get("rule")
        errors, warnings = segment_rule_check(rule)
        if errors:
            raise ValidationError(errors)
        # Allowed, but said once saved (e.g. a SKU not in the catalogue yet).
        self.rule_warnings = warnings
        return rule


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ["name", "members", "counted"]
    search_fields = ["name", "description"]
    actions = ["refresh_members"]
    fieldsets = [
        (None, {"fields": ["name", "description"]}),
        (_("Who is in it"), {
            "fields": ["rule"],
            "description": _("Build the rule from conditions; the count and a sample of matching "
                             "customers update as you edit. Relative dates (“in the last 30 days”) "
                             "are evaluated when the segment is used. Windowed order figures leave "
                             "refunded and cancelled orders out."),
        }),
        (_("Members"), {"fields": ["members", "counted", "live_count", "explain_help"]}),
    ]
    readonly_fields = ["members", "counted", "live_count", "explain_help"]

    @admin.display(description=_("members"), ordering="member_count")
    def members(self, obj):
        # The stored count (the list never counts per row: cheap on a million customers).
        if obj is None or obj.member_count is None:
            return gettext("not counted yet")
        return formats.number_format(obj.member_count, force_grouping=True)

    @admin.display(description=_("counted"), ordering="counted_at")
    def counted(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return segment_count_age_words(obj, now=clock.now())

    @admin.display(description=_("members now"))
    def live_count(self, obj):
        """One segment's page may count live: a single COUNT, shown next to the stored one."""
        if obj is None or obj.pk is None:
            return gettext("Save the segment to count its members.")
        try:
            count = segment_count(obj)
        except RuleError as exc:
            return "; ".join(exc.messages)
        return ngettext("%(count)s customer match the rule right now.",
                        "%(count)s customers match the rule right now.", count) % {
            "count": formats.number_format(count, force_grouping=True)}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        for warning in getattr(form, "rule_warnings", []):
            self.message_user(request, warning, messages.WARNING)
        # The stored members and count follow the rule at once, so the list, the customer
        # page and segment-entry journeys never wait for the periodic refresh.
        try:
            segment_members_refresh(obj)
        except RuleError as exc:  # e.g. an attribute deleted meanwhile: saved, not counted
            self.message_user(request, gettext("“%(name)s” was saved but not counted: %(why)s")
                              % {"name": obj.name, "why": "; ".join(exc.messages)},
                              messages.WARNING)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.base_fields["rule"].widget = RuleBuilderWidget(
            catalogue=segment_catalogue(),
            preview_url=reverse("admin:campaigns_segment_preview"),
            suggest_url=reverse("admin:campaigns_segment_products"),
        )
        return form

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("preview/", wrap(self.preview_view), name="campaigns_segment_preview"),
            path("products/", wrap(self.products_view), name="campaigns_segment_products"),
            path("<int:segment_id>/explain/<int:customer_id>/", wrap(self.explain_view),
                 name="campaigns_segment_explain"),
            *super().get_urls(),
        ]

    @admin.display(description=_("Why is a customer (not) in it?"))
    def explain_help(self, obj):
        # From the customer's page: each segment there links to its explanation, so no
        # one types an address by hand.
        if obj is None or obj.pk is None:
            return gettext("Save the segment first.")
        return gettext(
            "Open a customer from the customer list: under “Segments”, each segment they "
            "are in links to why, and every other segment to why not, condition by condition.")

    def changelist_view(self, request, extra_context=None):
        self._queue_first_counts()
        return super().changelist_view(request, extra_context)

    @staticmethod
    def _queue_first_counts() -> None:
        """Segments made without the admin (the demo, an import) have no count yet: queue the
        periodic refresh now rather than wait for its next run, at most once per period."""
        if not Segment.objects.filter(counted_at__isnull=True).exists():
            return
        if cache.add(FIRST_COUNT_KEY, True, timeout=settings.SEGMENT_REFRESH_MINUTES * 60):
            from campaigns.tasks import segments_refresh

            segments_refresh.delay_on_commit()

    def preview_view(self, request):
        """POST {"rule": …} -> {"errors": [...]} or {"count": n, "sample": [...]} (staff only)."""
        if request.method != "POST":
            return JsonResponse({"errors": ["Send the rule with POST."]}, status=405)
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if len(request.body) > MAX_PREVIEW_BYTES:
            return JsonResponse({"errors": ["The rule is too large."]}, status=413)
        try:
            rule = json.loads(request.body or b"{}").get("rule")
        except (ValueError, AttributeError):
            return JsonResponse({"errors": ["Send JSON such as {\"rule\": {…}}."]}, status=400)
        errors, warnings = segment_rule_check(rule)
        if errors:
            return JsonResponse({"errors": errors})
        try:
            count = segment_count(rule)
            sample = segment_sample(rule, limit=SAMPLE_SIZE)
        except RuleError as exc:  # e.g. an attribute deleted between the two reads
            return JsonResponse({"errors": exc.messages})
        if not customer_data_allowed(request):
            # The count only: names and addresses are for staff who may see customers.
            return JsonResponse({"count": count, "sample": [], "warnings": warnings})
        return JsonResponse({
            "count": count,
            "warnings": warnings,
            "sample": [
                {"name": f"{c.first_name} {c.last_name}".strip() or c.external_id,
                 "email": c.email, "country": c.country,
                 "url": reverse("admin:campaigns_customer_change", args=[c.pk])}
                for c in sample
            ],
        })

    def products_view(self, request):
        """GET ?kind=category|brand|sku&q=… -> {"suggestions": [{value, label}, …]} for the
        builder's product picker (staff who may see segments)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        kind = request.GET.get("kind", "")
        if kind not in ("category", "brand", "sku"):
            return JsonResponse({"errors": ["kind must be category, brand or sku."]}, status=400)
        text = request.GET.get("q", "").replace("\x00", "")
        return JsonResponse({"suggestions": product_suggestions(kind, text)})

    def explain_view(self, request, segment_id: int, customer_id: int):
        # The page names the customer and shows their data next to each condition.
        if not (self.has_view_or_change_permission(request) and customer_data_allowed(request)):
            raise PermissionDenied
        segment = get_object_or_404(Segment, pk=segment_id)
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise Http404("No such customer.")
        try:
            explanation = segment_explain(segment, customer)
            problems = []
        except RuleError as exc:
            explanation, problems = None, exc.messages
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": (gettext("Why is %(customer)s in “%(segment)s”?")
                      if explanation and explanation.member
                      else gettext("Why is %(customer)s not in “%(segment)s”?"))
            % {"customer": customer, "segment": segment.name},
            "segment": segment,
            "customer": customer,
            "explanation": explanation,
            "problems": problems,
            "customer_url": reverse("admin:campaigns_customer_change", args=[customer.pk]),
            "segment_url": reverse("admin:campaigns_segment_change", args=[segment.pk]),
        }
        return TemplateResponse(request, "admin/campaigns/segment/explain.html", context)

    @admin.action(description=_("Refresh members now"), permissions=["change"])
    def refresh_members(self, request, queryset):
        for segment in queryset.order_by("pk"):
            try:
                entered = segment_members_refresh(segment)
            except RuleError as exc:
                self.message_user(request, gettext("“%(name)s” was not refreshed: %(reasons)s") % {
                    "name": segment.name, "reasons": "; ".join(exc.messages)}, messages.ERROR)
                continue
            self.message_user(request, ngettext(
                "“%(name)s”: %(count)d member, %(entered)d entered.",
                "“%(name)s”: %(count)d members, %(entered)d entered.", segment.member_count,
            ) % {"name": segment.name, "count": segment.member_count, "entered": len(entered)},
                messages.SUCCESS)
