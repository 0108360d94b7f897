"""Admin for the consent log (append-only proof) and the suppression list."""
from django.contrib import admin

from campaigns.models import ConsentEvent, Suppression
from campaigns.services.consent import email_hash, suppression_add

from .deliveries import ReadOnlyAdminMixin, admin_link
from .forms import SuppressionAddForm


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Proof of every yes and no: never added, changed or deleted by hand."""

    list_display = ["occurred_at", "customer_link", "topic", "granted", "source",
                    "wording_version", "method"]
    list_filter = ["topic", "granted", "source"]
    list_select_related = ["customer"]
    search_fields = ["customer__external_id", "customer__email"]
    search_help_text = "The customer's external id or email."
    show_full_result_count = False
    readonly_fields = ["customer_link"]
    fields = ["customer_link", "topic", "granted", "occurred_at", "source", "wording_version",
              "method", "ip_address", "user_agent"]

    @admin.display(description="customer", ordering="customer__external_id")
    def customer_link(self, obj):
        return admin_link(obj.customer)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """Addresses never to be mailed again. Adding is allowed; removing is not."""

    list_display = ["short_hash", "reason", "created_at"]
    list_filter = ["reason"]
    search_fields = ["email_hash"]
    search_help_text = "Type a whole email address (it is hashed to search) or a hash prefix."
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

    @admin.display(description="address hash", ordering="email_hash")
    def short_hash(self, obj):
        return f"{obj.email_hash[:16]}…"
