"""Admin for loyalty (points, earning rules, tiers, coupons), survey answers and A/B
variants of send steps."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from campaigns.models import Coupon, EarningRule, PointsEntry, StepVariant, SurveyResponse, Tier

from .deliveries import ReadOnlyAdminMixin, ReadOnlyInline
from .personal_data import PersonalDataAdminMixin


class PointsInline(ReadOnlyInline):
    model = PointsEntry
    fk_name = "customer"
    fields = ["created_at", "kind", "delta", "balance_after", "reason"]
    ordering = ["-created_at", "-id"]
    verbose_name_plural = _("Points ledger (append-only)")


class SurveyResponseInline(ReadOnlyInline):
    model = SurveyResponse
    fk_name = "customer"
    fields = ["answered_at", "kind", "score", "comment"]
    verbose_name_plural = _("Survey answers")


@admin.register(PointsEntry)
class PointsEntryAdmin(PersonalDataAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "customer", "kind", "delta", "balance_after", "reason"]
    list_filter = ["kind"]
    list_select_related = ["customer"]
    search_fields = ["customer__external_id", "reason"]
    show_full_result_count = False


class DetractorFilter(admin.SimpleListFilter):
    title = _("NPS group")
    parameter_name = "nps_group"

    def lookups(self, request, model_admin):
        return [("detractor", _("Detractors (0-6)")), ("passive", _("Passives (7-8)")),
                ("promoter", _("Promoters (9-10)"))]

    def queryset(self, request, queryset):
        ranges = {"detractor": (0, 6), "passive": (7, 8), "promoter": (9, 10)}
        if self.value() in ranges:
            low, high = ranges[self.value()]
            return queryset.filter(kind=SurveyResponse.Kind.NPS, score__gte=low, score__lte=high)
        return queryset


@admin.register(SurveyResponse)
class SurveyResponseAdmin(PersonalDataAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["answered_at", "customer", "kind", "score", "comment", "message"]
    list_filter = ["kind", DetractorFilter]
    list_select_related = ["customer", "message"]
    search_fields = ["customer__external_id", "comment"]
    show_full_result_count = False


@admin.register(StepVariant)
class StepVariantAdmin(admin.ModelAdmin):
    list_display = ["step", "campaign", "name", "template", "weight"]
    list_select_related = ["step__campaign", "template"]
    list_filter = ["step__campaign"]
    autocomplete_fields = ["template"]
    search_fields = ["name", "step__campaign__name"]

    @admin.display(description=_("campaign"), ordering="step__campaign__name")
    def campaign(self, obj):
        return obj.step.campaign


@admin.register(EarningRule)
class EarningRuleAdmin(admin.ModelAdmin):
    """Edits take effect for orders and events that arrive from then on."""

    list_display = ["__str__", "kind", "currency", "points_per_unit", "event_type", "points",
                    "active"]
    list_filter = ["kind", "active"]
    fieldsets = [
        (None, {"fields": ["kind", "active"]}),
        (_("Spend: points per currency unit, rounded down per order"),
         {"fields": ["currency", "points_per_unit"]}),
        (_("Bonus event"), {"fields": ["event_type", "points"]}),
    ]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    """Tiers are recomputed on every ledger change and nightly (README "Loyalty")."""

    list_display = ["name", "threshold"]


@admin.register(Coupon)
class CouponAdmin(PersonalDataAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["code", "customer", "campaign", "issued_at", "expires_at", "redeemed_at",
                    "redeemed_order"]
    list_select_related = ["customer", "campaign"]
    list_filter = ["campaign"]
    search_fields = ["code", "customer__external_id", "redeemed_order"]
    show_full_result_count = False
