"""Admin for the shop's API keys: issue one (shown once), see use, revoke."""

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from campaigns.models import ApiKey
from campaigns.services.api_keys import api_key_create, api_keys_revoke

DETAIL_FIELDS = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are issued by the service and never edited; revoking is the only change.

    They are not deleted either, so the list keeps showing who had access and when.
    """

    list_display = DETAIL_FIELDS
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    search_help_text = _("The key's name or its first characters (lcrm_…).")
    ordering = ["-created_at"]
    actions = ["revoke_selected"]

    def get_fields(self, request, obj=None):
        return ["name"] if obj is None else DETAIL_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else DETAIL_FIELDS

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return request.user.has_perm("campaigns.change_apikey")

    def save_model(self, request, obj, form, change):
        api_key, plaintext = api_key_create(name=form.cleaned_data["name"])
        # The admin goes on with `obj` (log entry, redirect): make it the stored key.
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(api_key, field.attname))
        obj._state.adding = False
        obj._state.db = api_key._state.db
        messages.success(
            request,
            format_html(
                gettext("The key for “{name}” is <code>{key}</code>. Copy it now: it is not "
                        "shown again and cannot be recovered."),
                name=api_key.name,
                key=plaintext,
            ),
        )

    @admin.action(description=_("Revoke selected keys"), permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        revoked = api_keys_revoke(ids=queryset.values_list("pk", flat=True))
        skipped = queryset.count() - revoked
        self.message_user(request, ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.",
                                            revoked) % {"count": revoked}, messages.SUCCESS)
        if skipped:
            self.message_user(request, ngettext(
                "%(count)d key was already revoked.", "%(count)d keys were already revoked.",
                skipped) % {"count": skipped}, messages.INFO)
