"""Admin for the consent log (append-only proof), the suppression list, the per-country
marketing policy, double opt-in requests and erasure requests."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campaigns import clock
from campaigns.models import ConsentEvent, CountryPolicy, ErasureRequest, SubscriptionRequest, Suppression
from campaigns.services.consent import email_hash, suppression_add

from .deliveries import ReadOnlyAdminMixin, admin_link
from .forms import SuppressionAddForm
from .personal_data import PersonalDataAdminMixin


@admin.register(ConsentEvent)
class ConsentEventAdmin(PersonalDataAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Proof of every yes and no: never added, changed or deleted by hand."""

    list_display = ["occurred_at", "customer_link", "topic", "granted", "source",
                    "wording_version", "method"]
    list_filter = ["topic", "granted", "source"]
    list_select_related = ["customer"]
    search_fields = ["customer__external_id", "customer__email"]
    search_help_text = _("The customer's external id or email.")
    show_full_result_count = False
    readonly_fields = ["customer_link"]
    fields = ["customer_link", "topic", "granted", "occurred_at", "source", "wording_version",
              "method", "ip_address", "user_agent"]

    @admin.display(description=_("customer"), ordering="customer__external_id")
    def customer_link(self, obj):
        return admin_link(obj.customer)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """Addresses never to be mailed again. Adding is allowed; removing is not."""

    list_display = ["short_hash", "reason", "created_at"]
    list_filter = ["reason"]
    search_fields = ["email_hash"]
    search_help_text = _("Type a whole email address (it is hashed to search) or a hash prefix.")
    show_full_result_count = False
    add_form = SuppressionAddForm
    fields = ["email_hash", "reason", "created_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
            kwargs["fields"] = ["email", "reason"]
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["email", "reason"] if obj is None else self.fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        email = form.cleaned_data["email"]
        suppression_add(email=email, reason=form.cleaned_data["reason"])
        # Adding an address that is already suppressed keeps the first row and reason.
        row = Suppression.objects.get(email_hash=email_hash(email))
        obj.pk, obj.email_hash, obj.reason, obj.created_at = (
            row.pk, row.email_hash, row.reason, row.created_at
        )
        obj._state.adding, obj._state.db = False, row._state.db

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if "@" in term:
            return queryset.filter(email_hash=email_hash(term)), False
        if term:
            return queryset.filter(email_hash__startswith=term.lower()), False
        return queryset, False

    @admin.display(description=_("address hash"), ordering="email_hash")
    def short_hash(self, obj):
        return f"{obj.email_hash[:16]}…"


@admin.register(CountryPolicy)
class CountryPolicyAdmin(admin.ModelAdmin):
    """Which legal grounds marketing may rest on, per country (GD-2 … GD-4)."""

    list_display = ["country", "existing_customer_exception", "relationship_days",
                    "relationship_min_orders", "relationship_min_total", "membership_counts",
                    "updated_at"]
    readonly_fields = ["updated_at"]
    fieldsets = [
        (None, {"fields": ["country", "existing_customer_exception"],
                "description": _(
                    "Marketing always may go to customers who opted in. A country without a "
                    "row here, or with the exception off, gets marketing only on opt-in "
                    "consent. With the exception on, a customer who never said no may also get "
                    "marketing about similar products (templates marked so) when they bought "
                    "from the shop and were offered an opt-out when their address was "
                    "collected.")}),
        (_("Active customer relationship (e.g. Norway)"), {
            "fields": ["relationship_days", "relationship_min_orders", "relationship_min_total",
                       "membership_counts", "updated_at"],
            "description": _(
                "The last purchase within the days given, and at least one of: that many "
                "purchases, that much spent in total, a loyalty membership (if ticked). "
                "Norway's Forbrukertilsynet accepts running agreements, larger purchases and "
                "repeated purchases, not one cheap purchase long ago.")}),
    ]

    def save_model(self, request, obj, form, change):
        obj.updated_at = clock.now()
        super().save_model(request, obj, form, change)


@admin.register(SubscriptionRequest)
class SubscriptionRequestAdmin(PersonalDataAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Double opt-in requests: the proof of a "yes" until it is confirmed."""

    list_display = ["requested_at", "source", "customer_link", "sent_at", "confirmed_at",
                    "cancelled_at", "expires_at"]
    list_filter = ["source"]
    list_select_related = ["customer"]
    fields = ["customer_link", "topics", "source", "wording_version", "requested_at", "sent_at",
              "confirmed_at", "cancelled_at", "expires_at", "ip_address", "user_agent"]
    readonly_fields = ["customer_link"]

    @admin.display(description=_("customer"))
    def customer_link(self, obj):
        return admin_link(obj.customer) if obj.customer_id else _("— (not a customer yet)")


@admin.register(ErasureRequest)
class ErasureRequestAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    """Deletion requests made from the preference centre, for staff to handle."""

    list_display = ["requested_at", "customer_link", "handled_at"]
    list_filter = [("handled_at", admin.EmptyFieldListFilter)]
    list_select_related = ["customer"]
    fields = ["customer_link", "requested_at", "ip_address", "user_agent", "handled_at"]
    readonly_fields = ["customer_link", "requested_at", "ip_address", "user_agent"]
    actions = ["mark_handled"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("customer"))
    def customer_link(self, obj):
        return admin_link(obj.customer)

    @admin.action(description=_("Mark as handled"), permissions=["change"])
    def mark_handled(self, request, queryset):
        count = queryset.filter(handled_at__isnull=True).update(handled_at=clock.now())
        self.message_user(request, ngettext("%(count)d request marked as handled.",
                                            "%(count)d requests marked as handled.",
                                            count) % {"count": count})
