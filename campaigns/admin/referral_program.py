"""Admin for the referral programme's rules: one row, edited in place."""
from django import forms
from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from campaigns.models import ReferralProgram

MAX_POINTS = 1_000_000
MAX_WINDOW_DAYS = 365
MAX_COUPON_DAYS = 3650
MAX_MONTHLY = 10_000


class ReferralProgramForm(forms.ModelForm):
    class Meta:
        model = ReferralProgram
        fields = ["active", "reward_kind", "referrer_points", "friend_points",
                  "coupon_valid_days", "refund_window_days", "hold_until_window_passes",
                  "monthly_limit_per_referrer"]

    def clean(self):
        data = super().clean()
        errors = {}
        for name in ("referrer_points", "friend_points"):
            if (data.get(name) or 0) > MAX_POINTS:
                errors[name] = _("At most %(max)s points.") % {"max": MAX_POINTS}
        if (data.get("refund_window_days") or 0) > MAX_WINDOW_DAYS:
            errors["refund_window_days"] = _("At most %(max)s days.") % {"max": MAX_WINDOW_DAYS}
        if (data.get("monthly_limit_per_referrer") or 0) > MAX_MONTHLY:
            errors["monthly_limit_per_referrer"] = _("At most %(max)s; 0 means no limit.") % {
                "max": MAX_MONTHLY}
        kind = data.get("reward_kind")
        if kind == ReferralProgram.RewardKind.POINTS and data.get("active") and not (
                data.get("referrer_points") or data.get("friend_points")):
            errors["referrer_points"] = _(
                "Give points to at least one side, or switch the programme off.")
        if kind == ReferralProgram.RewardKind.COUPON:
            days = data.get("coupon_valid_days") or 0
            if not 1 <= days <= MAX_COUPON_DAYS:
                errors["coupon_valid_days"] = _(
                    "A coupon must be valid for 1 to %(max)s days.") % {"max": MAX_COUPON_DAYS}
        if data.get("hold_until_window_passes") and not data.get("refund_window_days"):
            errors["hold_until_window_passes"] = _(
                "Set a refund window to wait for, or leave this off.")
        if errors:
            raise forms.ValidationError(errors)
        return data


@admin.register(ReferralProgram)
class ReferralProgramAdmin(admin.ModelAdmin):
    """The rules the scheduler's tick applies (services/referral_rewards.py). Changes apply
    to first orders it handles from then on; rewards already granted stay as they are."""

    form = ReferralProgramForm
    list_display = ["__str__", "active", "reward_kind", "referrer_points", "friend_points",
                    "refund_window_days", "monthly_limit_per_referrer"]
    readonly_fields = ["updated_at"]
    fieldsets = [
        (None, {"fields": ["active"]}),
        (_("Reward"), {
            "fields": ["reward_kind", "referrer_points", "friend_points", "coupon_valid_days"],
            "description": _("Given to both sides when the new customer's first order is "
                             "placed: points on each side's balance, or a coupon each."),
        }),
        (_("Refunds"), {"fields": ["refund_window_days", "hold_until_window_passes"]}),
        (_("Limits"), {"fields": ["monthly_limit_per_referrer"]}),
        (None, {"fields": ["updated_at"]}),
    ]

    def has_add_permission(self, request):
        # One programme: the tick reads the first row.
        return super().has_add_permission(request) and not ReferralProgram.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """Straight to the one row (there is nothing to list)."""
        program = ReferralProgram.objects.order_by("pk").first()
        if program is None:
            if not super().has_add_permission(request):
                return super().changelist_view(request, extra_context)
            return redirect(reverse("admin:campaigns_referralprogram_add"))
        return redirect(reverse("admin:campaigns_referralprogram_change", args=[program.pk]))

    def save_model(self, request, obj, form, change):
        from campaigns import clock

        obj.updated_at = clock.now()
        super().save_model(request, obj, form, change)
