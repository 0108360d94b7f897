"""Admin for survey wording (per language) and the service team's detractor list."""
from django.contrib import admin
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campaigns.models import DetractorAnswer, SurveyQuestion, SurveyResponse
from campaigns.services.surveys import detractors_mark_handled

from .deliveries import admin_link
from .personal_data import PersonalDataAdminMixin


@admin.register(SurveyQuestion)
class SurveyQuestionAdmin(admin.ModelAdmin):
    list_display = ["kind", "locale", "question", "low_label", "high_label"]
    list_filter = ["kind", "locale"]
    search_fields = ["question"]


def detractor_q() -> Q:
    """The answers that are detractors' (SurveyResponse.DETRACTOR_MAX), as one filter."""
    query = Q(pk__in=[])
    for kind, limit in SurveyResponse.DETRACTOR_MAX.items():
        query |= Q(kind=kind, score__lte=limit)
    return query


class HandledFilter(admin.SimpleListFilter):
    title = _("follow-up")
    parameter_name = "handled"

    def lookups(self, request, model_admin):
        return [("open", _("To follow up")), ("done", _("Handled"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(handled_at__isnull=True)
        if self.value() == "done":
            return queryset.filter(handled_at__isnull=False)
        return queryset


@admin.register(DetractorAnswer)
class DetractorAnswerAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    """NPS 0-6 and CSAT 1-2 answers, newest first; "handled" records who followed up."""

    list_display = ["answered_at", "customer_link", "kind", "score", "comment", "campaign",
                    "handled_at", "handled_by"]
    list_filter = [HandledFilter, "kind", "answered_at", "message__campaign"]
    list_select_related = ["customer", "message__campaign"]
    search_fields = ["customer__external_id", "customer__email", "comment"]
    search_help_text = _("Customer external id or email, or words in the comment.")
    show_full_result_count = False
    actions = ["mark_handled"]
    fields = ["customer_link", "kind", "score", "comment", "campaign", "answered_at",
              "updated_at", "handled_at", "handled_by"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(detractor_q())

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("customer"), ordering="customer__external_id")
    def customer_link(self, obj):
        return admin_link(obj.customer)

    @admin.display(description=_("campaign"), ordering="message__campaign__name")
    def campaign(self, obj):
        return obj.message.campaign

    @admin.action(description=_("Mark the selected answers as handled"), permissions=["change"])
    def mark_handled(self, request, queryset):
        count = detractors_mark_handled(response_ids=list(queryset.values_list("pk", flat=True)),
                                        actor=request.user.get_username())
        self.message_user(request, ngettext("%(count)d answer marked as handled.",
                                            "%(count)d answers marked as handled.",
                                            count) % {"count": count})
