"""The referrals list: every new customer who arrived with a code, counted or ignored with
its reason, and where their reward stands. Read-only: attribution and rewards write them."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from campaigns.models import Referral

from .customer_referrals import _person
from .deliveries import ReadOnlyAdminMixin


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["referred_at", "code", "status", "reason", "source", "referrer_link",
                    "referred_link", "reward", "first_order_at", "points"]
    list_filter = ["status", "reward", "source", "reason"]
    search_fields = ["code"]
    search_help_text = _("The code as the new customer brought it.")
    list_select_related = ["referrer", "referred"]
    date_hierarchy = "referred_at"
    show_full_result_count = False
    fields = ["referred_at", "code", "status", "reason", "source", "referrer_link",
              "referred_link", "first_order_at", "reward", "reward_note", "referrer_points",
              "friend_points", "rewarded_at", "reversed_at"]
    readonly_fields = fields

    @admin.display(description=_("referrer"))
    def referrer_link(self, obj):
        return _person(obj.referrer) if obj.referrer_id or obj.status == Referral.Status.COUNTED else "—"

    @admin.display(description=_("referred customer"))
    def referred_link(self, obj):
        return _person(obj.referred)

    @admin.display(description=_("points (referrer / friend)"))
    def points(self, obj):
        if not (obj.referrer_points or obj.friend_points):
            return "—"
        return f"{obj.referrer_points} / {obj.friend_points}"
