"""Admin for the audit trail of exports and erasures (read-only)."""
from django.contrib import admin

from campaigns.models import PrivacyRequest

from .deliveries import ReadOnlyAdminMixin
from .personal_data import PersonalDataAdminMixin


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(PersonalDataAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["requested_at", "kind", "customer_id", "actor", "completed_at"]
    list_filter = ["kind"]
    search_fields = ["=customer_id", "actor"]
    fields = ["kind", "customer_id", "actor", "requested_at", "completed_at", "counts"]
