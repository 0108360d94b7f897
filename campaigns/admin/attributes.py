"""Admin for custom attribute definitions: the keys the shop sends and how each is read."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from campaigns.models import AttributeDefinition


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(admin.ModelAdmin):
    list_display = ["key", "label", "type"]
    list_filter = ["type"]
    search_fields = ["key", "label"]
    fieldsets = [(None, {
        "fields": ["key", "label", "type"],
        "description": _("A declared attribute is read as its type by the API and the CSV "
                         "import (a value that does not fit is refused with the reason); "
                         "undeclared ones are kept as sent. Values already stored are not "
                         "converted when the type changes. Templates see them as "
                         "{{ customer.attributes.key }}."),
    })]

    def get_readonly_fields(self, request, obj=None):
        # Renaming would orphan the values stored under the old key.
        return ["key"] if obj is not None else []
