"""Admin for customers' referral codes: find one by its code, revoke it (Admins only)."""
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campaigns import clock
from campaigns.models import ReferralCode
from campaigns.services.referrals import referral_code_clean, referral_code_revoke

from .deliveries import admin_link
from .personal_data import PersonalDataAdminMixin

# Revoking is changing a code: the Admins' (services/roles.py makes referral codes view-only
# for marketers).
REVOKE_PERMISSION = "campaigns.change_referralcode"


class LiveFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "live"

    def lookups(self, request, model_admin):
        return [("yes", _("Live")), ("no", _("Revoked"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(revoked_at__isnull=self.value() == "yes")
        return queryset


@admin.register(ReferralCode)
class ReferralCodeAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    """Codes are made when an email first shows one (services/referrals.py) and deleted
    with their customer's erasure: never added, edited or deleted by hand, only revoked."""

    list_display = ["code", "customer_link", "created_at", "revoked_at"]
    list_filter = [LiveFilter]
    list_select_related = ["customer"]
    search_fields = ["code"]
    search_help_text = _("A referral code (as typed: capitals and spaces are fine), or the "
                         "customer's external id.")
    show_full_result_count = False
    ordering = ["-created_at", "-id"]
    fields = ["code", "customer_link", "created_at", "revoked_at", "clicks"]
    readonly_fields = fields
    actions = ["revoke"]

    def get_search_results(self, request, queryset, search_term):
        # Exact matches only, each through its unique index (a code, an external id):
        # a LIKE over millions of codes would read them all.
        term = search_term.strip()
        if not term:
            return queryset, False
        code = referral_code_clean(term)
        if code is not None:
            return queryset.filter(code=code), False
        return queryset.filter(customer__external_id=term[:100]), False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting would drop the clicks' link; revoke instead (erasure deletes).
        return False

    def has_revoke_permission(self, request):
        return request.user.has_perm(REVOKE_PERMISSION) and self.has_view_permission(request)

    @admin.display(description=_("customer"), ordering="customer__external_id")
    def customer_link(self, obj):
        return admin_link(obj.customer)

    @admin.display(description=_("visits counted"))
    def clicks(self, obj):
        return obj.clicks.count()

    @admin.action(description=_("Revoke the selected codes"), permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = referral_code_revoke(codes=list(queryset.values_list("code", flat=True)),
                                       now=clock.now())
        self.message_user(request, ngettext(
            "%(count)d code revoked: it counts no more friends, and the customer's next "
            "invite carries a new one.",
            "%(count)d codes revoked: they count no more friends, and the customers' next "
            "invites carry new ones.", revoked) % {"count": revoked},
            messages.SUCCESS if revoked else messages.INFO)
