"""Admin for customers (the full customer page, why each message did or didn't go), orders,
events."""
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from campaigns import clock
from campaigns.models import (
    ConsentSource, Customer, Enrollment, Event, Message, Order, PrivacyRequest, Suppression,
)
from campaigns.selectors.journey_explain import customer_journeys_explain
from campaigns.selectors.journey_words import consent_detail_words
from campaigns.services.consent import consent_record, email_hash
from campaigns.services.customers import customer_upsert
from campaigns.services.gdpr import (
    customer_export, customers_erase, export_json, privacy_request_record,
)
from campaigns.services.referrals import referral_code_revoke
from campaigns.services.scheduling import customer_zone

from . import customer_page as page
from .catalogue import EventLineInline, OrderLineInline
from .customer_referrals import referrals_html
from .deliveries import ReadOnlyAdminMixin, admin_link, local_time, message_history_html
from .personal_data import PersonalDataAdminMixin, customer_data_allowed
from .referral_codes import REVOKE_PERMISSION

# Messages shown on the customer page, newest first (the Messages list has them all).
MESSAGE_LIMIT = 50
SUPPRESSION_WORDS = {
    Suppression.Reason.ERASED: _("the customer's data was erased"),
    Suppression.Reason.BOUNCED: _("earlier emails bounced"),
    Suppression.Reason.COMPLAINED: _("the customer marked an email as spam"),
    Suppression.Reason.MANUAL: _("added by hand"),
}


class RfmScoreFilter(admin.SimpleListFilter):
    """One of R, F, M: a quintile 1-5 or not scored (fixed choices: no query on the list)."""

    field = ""

    def lookups(self, request, model_admin):
        return [(str(q), gettext("%(score)d (best)") % {"score": q} if q == 5 else str(q))
                for q in range(5, 0, -1)] + [
            ("none", gettext("no score (no orders, or not scored yet)"))]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(**{f"{self.field}__isnull": True})
        if self.value() in {"1", "2", "3", "4", "5"}:
            return queryset.filter(**{self.field: int(self.value())})
        return queryset


class RecencyFilter(RfmScoreFilter):
    title = _("RFM recency")
    parameter_name = field = "rfm_recency"


class FrequencyFilter(RfmScoreFilter):
    title = _("RFM frequency")
    parameter_name = field = "rfm_frequency"


class MonetaryFilter(RfmScoreFilter):
    title = _("RFM monetary")
    parameter_name = field = "rfm_monetary"


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    change_list_template = "admin/campaigns/customer/change_list.html"
    list_display = ["external_id", "name", "email", "locale", "marketing_consent",
                    "lifecycle_stage", "rfm", "order_count", "total_spent", "last_order_at"]
    list_display_links = ["external_id", "name"]
    list_filter = ["lifecycle_stage", RecencyFilter, FrequencyFilter, MonetaryFilter, "locale",
                   "country", "marketing_consent", "tier"]
    search_fields = ["external_id", "email", "first_name", "last_name"]
    search_help_text = _("External id, email, first or last name.")
    show_full_result_count = False

    class Media:
        css = {"all": ["campaigns/customer_page.css"]}

    actions = ["withdraw_marketing_consent", "revoke_referral_code", "export_personal_data",
               "erase_personal_data"]
    fieldsets = [
        (_("Identity"), {"fields": ["external_id", "email", "first_name", "last_name"]}),
        (_("Profile"), {
            "fields": ["locale", "time_zone", "country", "tier", "custom_attributes"],
            "description": _("The shop sends these; a correction here lasts until the shop "
                             "sends the field again."),
        }),
        (_("Lifecycle stage and RFM scores"), {"fields": ["lifecycle"]}),
        (_("Lifecycle facts (kept up to date by the shop's data)"), {
            "fields": ["signed_up_at", "first_order_at", "last_order_at", "order_count",
                       "total_spent", "points_balance", "erased_at"],
        }),
        (_("Consent"), {
            "fields": ["marketing_consent", "consent_note", "consent_history"],
            "description": _("Consent changes only through the consent log: the customer's own "
                             "choices, the shop's API, or the “Withdraw marketing consent” action."),
        }),
        (_("Segments"), {"fields": ["segments"],
                      "description": _("As of each segment's last refresh.")}),
        (_("Why did / didn't this customer get each message?"), {
            "fields": ["send_check", "journeys", "message_history"],
            "description": _("Every active or paused campaign, worked out now from its trigger "
                             "and this customer's data, then every message with its history."),
        }),
        (_("Timeline"), {"fields": ["timeline"]}),
        (_("Orders"), {"fields": ["orders"]}),
        (_("Survey answers"), {"fields": ["survey_answers"]}),
        (_("Points ledger"), {"fields": ["points_ledger"]}),
        (_("Referrals"), {"fields": ["referrals"],
                          "description": _("Word of mouth: who brought this customer, whom "
                                           "they brought, and the rewards.")}),
    ]
    readonly_fields = ["external_id", "tier", "custom_attributes", "marketing_consent",
                       "consent_note", "signed_up_at", "first_order_at", "last_order_at",
                       "order_count", "total_spent", "points_balance", "erased_at", "lifecycle",
                       "consent_history", "segments", "send_check", "journeys", "message_history",
                       "timeline", "orders", "survey_answers", "points_ledger", "referrals"]

    def has_add_permission(self, request):
        # Customers come from the shop (API or import), which owns their external ids.
        return False

    def has_change_permission(self, request, obj=None):
        # An erased customer stays anonymous: nothing personal is written back by hand.
        if obj is not None and obj.erased_at:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Deleting would drop the consent proof and leave the address mailable again;
        # erasure anonymises in place and suppresses the address instead.
        return False

    def save_model(self, request, obj, form, change):
        # Profile corrections go through the same service as the shop's updates.
        data = {name: form.cleaned_data[name] for name in form.changed_data}
        customer_upsert(data={"external_id": obj.external_id, **data}, source=ConsentSource.ADMIN)
        obj.refresh_from_db()

    def get_urls(self):
        return [
            path("score/", self.admin_site.admin_view(self.score_view),
                 name="campaigns_customer_score"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {"can_recompute_scores": self.has_change_permission(request),
                         **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def score_view(self, request):
        """The list's "Recompute RFM and stages now" button: queue the nightly task now."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        from campaigns.tasks import score_customers

        score_customers.delay_on_commit()
        self.message_user(request, gettext("Recompute queued: RFM scores and lifecycle stages are "
                          "updated in the background, usually within a minute for 100,000 "
                          "customers. Reload the list to see them."), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:campaigns_customer_changelist"))

    @admin.display(description=_("name"), ordering="last_name")
    def name(self, obj):
        return f"{obj.first_name} {obj.last_name}".strip() or "—"

    @admin.display(description=_("RFM"), ordering="rfm_recency")
    def rfm(self, obj):
        if obj.rfm_recency is None:
            return "—"
        return f"{obj.rfm_recency}-{obj.rfm_frequency}-{obj.rfm_monetary}"

    @admin.display(description=_("Custom attributes"))
    def custom_attributes(self, obj):
        return page.attributes_html(obj)

    @admin.display(description=_("Stage and scores"))
    def lifecycle(self, obj):
        return page.lifecycle_html(obj, customer_zone(obj.time_zone), clock.now())

    @admin.display(description=_("Consent log (append-only proof)"))
    def consent_history(self, obj):
        return page.consent_html(obj, customer_zone(obj.time_zone)) if obj.pk else "—"

    @admin.display(description=_("Segment memberships"))
    def segments(self, obj):
        return page.segments_html(obj, customer_zone(obj.time_zone)) if obj.pk else "—"

    @admin.display(description=_("Events, newest first"))
    def timeline(self, obj):
        return page.timeline_html(obj, customer_zone(obj.time_zone)) if obj.pk else "—"

    @admin.display(description=_("Orders, newest first"))
    def orders(self, obj):
        return page.orders_html(obj, customer_zone(obj.time_zone)) if obj.pk else "—"

    @admin.display(description=_("Answers"))
    def survey_answers(self, obj):
        return page.surveys_html(obj, customer_zone(obj.time_zone)) if obj.pk else "—"

    @admin.display(description=_("Points"))
    def points_ledger(self, obj):
        return page.points_html(obj, customer_zone(obj.time_zone)) if obj.pk else "—"

    @admin.display(description=_("Referrals"))
    def referrals(self, obj):
        return referrals_html(obj, customer_zone(obj.time_zone)) if obj.pk else "—"

    @admin.display(description=_("Consent history"))
    def consent_note(self, obj):
        latest = obj.consent_events.order_by("-occurred_at", "-id").first() if obj.pk else None
        if latest is None:
            return gettext("No consent recorded.")
        zone = customer_zone(obj.time_zone)
        words = {"topic": latest.topic, "at": local_time(latest.occurred_at, zone),
                 "source": latest.get_source_display(), "wording": latest.wording_version}
        if latest.granted:
            text = (gettext("Last change: granted %(topic)s %(at)s via %(source)s (wording %(wording)s)")
                    if latest.wording_version else
                    gettext("Last change: granted %(topic)s %(at)s via %(source)s"))
        else:
            text = (gettext("Last change: withdrawn %(topic)s %(at)s via %(source)s (wording %(wording)s)")
                    if latest.wording_version else
                    gettext("Last change: withdrawn %(topic)s %(at)s via %(source)s"))
        return text % words

    @admin.display(description=_("Can we email this customer now?"))
    def send_check(self, obj):
        if obj.pk is None:
            return "—"
        problems = []
        if obj.erased_at:
            problems.append(gettext("The customer's data was erased, so nothing is sent."))
        suppression = Suppression.objects.filter(email_hash=email_hash(obj.email)).first()
        if suppression is not None:
            problems.append(gettext(
                "The address is on the suppression list (%(why)s): nothing is sent to it.")
                % {"why": SUPPRESSION_WORDS.get(suppression.reason, suppression.reason)})
        if not obj.marketing_consent:
            problems.append(gettext(
                "The customer has no marketing consent, so marketing emails are skipped unless "
                "the existing-customer exception covers them; service messages still go."))
        if obj.marketing_paused_until and obj.marketing_paused_until > clock.now():
            problems.append(gettext("The customer paused marketing until %(when)s.") % {
                "when": local_time(obj.marketing_paused_until, customer_zone(obj.time_zone))})
        if not obj.time_zone:
            problems.append(gettext("No time zone is known: quiet hours follow the site's zone."))
        if not problems:
            return gettext("Yes: the customer opted in to marketing and the address is not "
                           "suppressed.")
        return format_html_join("", "<p>{}</p>", ((p,) for p in problems))

    @admin.display(description=_("Every active campaign, for this customer"))
    def journeys(self, obj):
        if obj.pk is None:
            return "—"
        zone = customer_zone(obj.time_zone)
        return page.journeys_html(
            customer_journeys_explain(customer=obj, now=clock.now(), zone=zone), obj)

    @admin.display(description=_("Messages and their history"))
    def message_history(self, obj):
        if obj.pk is None:
            return "—"
        zone = customer_zone(obj.time_zone)
        history = list(
            obj.messages.select_related("campaign", "step")
            .prefetch_related(Prefetch("log"))
            .order_by("-due_at", "-id")[:MESSAGE_LIMIT + 1]
        )
        note = ""
        if len(history) > MESSAGE_LIMIT:
            history = history[:MESSAGE_LIMIT]
            note = format_html('<p class="help">{} {}</p>', gettext(
                "Showing the latest %(count)d messages.") % {"count": MESSAGE_LIMIT},
                page.changelist_link(Message, obj, gettext("All messages")))
        # Entries that have no message yet (a wait step is running, or the journey ended).
        quiet = list(
            Enrollment.objects.filter(customer=obj, messages__isnull=True)
            .select_related("campaign").order_by("-enrolled_at")[:MESSAGE_LIMIT]
        )
        if not history and not quiet:
            return gettext("No messages yet: the customer has not entered any campaign, or "
                           "their first step is not due.")
        # The log's consent details ("no opt-in consent; …") read as sentences here.
        for message in history:
            for entry in message.log.all():
                entry.detail = consent_detail_words(entry.detail) if entry.detail else ""
        parts = [note, message_history_html(history, zone)]
        for enrollment in quiet:
            if enrollment.state == Enrollment.State.ACTIVE:
                next_at = local_time(enrollment.next_action_at, zone)
                status = f"no email yet; next step at {next_at}"
            else:
                reason = enrollment.exit_reason.replace("_", " ")
                status = enrollment.state + (f" ({reason})" if reason else "")
            parts.append(format_html(
                '<div style="margin-bottom:12px"><strong>{}</strong> — entered {}: {}.</div>',
                enrollment.campaign.name, local_time(enrollment.enrolled_at, zone), status,
            ))
        return format_html("{}" * len(parts), *parts)

    def has_export_permission(self, request):
        """Exports: campaigns.export_customer, the Admins' (services/roles.py), never a
        marketer's; checked again when the action runs, whatever was posted."""
        return request.user.has_perm("campaigns.export_customer") and customer_data_allowed(request)

    def has_erase_permission(self, request):
        """Erasures: campaigns.erase_customer, the Admins' (services/roles.py)."""
        return request.user.has_perm("campaigns.erase_customer") and customer_data_allowed(request)

    @admin.action(description=_("Export personal data (JSON)"), permissions=["export"])
    def export_personal_data(self, request, queryset):
        customers = list(queryset.order_by("pk"))
        documents = [customer_export(customer=c) for c in customers]
        actor = f"admin:{request.user.get_username()}"
        for customer in customers:
            privacy_request_record(kind=PrivacyRequest.Kind.EXPORT, customer_id=customer.pk,
                                   actor=actor)
        one = len(documents) == 1
        name = f"customer-{customers[0].pk}.json" if one else "customers.json"
        response = HttpResponse(export_json(documents[0] if one else documents),
                                content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @admin.action(description=_("Erase personal data…"), permissions=["erase"])
    def erase_personal_data(self, request, queryset):
        customers = list(queryset.order_by("pk"))
        pending = [c for c in customers if c.erased_at is None]
        if request.POST.get("post") == "yes":
            records = customers_erase(customer_ids=[c.pk for c in pending],
                                      actor=f"admin:{request.user.get_username()}")
            self.message_user(request, ngettext(
                "Erased %(count)d customer; the address is suppressed.",
                "Erased %(count)d customers; their addresses are suppressed.", len(records),
            ) % {"count": len(records)}, messages.SUCCESS if records else messages.INFO)
            if len(records) < len(customers):
                self.message_user(request, gettext("%(count)d had already been erased; nothing changed "
                                  "for them.") % {"count": len(customers) - len(records)},
                                  messages.INFO)
            return None
        return TemplateResponse(request, "admin/campaigns/customer/erase_confirmation.html", {
            **self.admin_site.each_context(request),
            "title": gettext("Erase personal data"),
            "opts": self.model._meta,
            "customers": pending,
            "already_erased": len(customers) - len(pending),
            "queryset": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        })

    @admin.action(description=_("Withdraw marketing consent"), permissions=["change"])
    def withdraw_marketing_consent(self, request, queryset):
        withdrawn = unchanged = 0
        who = f"admin action by {request.user.get_username()}"[:64]
        # Fixed order: the consent service locks each customer's subscription row.
        for customer in queryset.order_by("pk"):
            if consent_record(customer=customer, granted=False, source=ConsentSource.ADMIN,
                              method=who):
                withdrawn += 1
            else:
                unchanged += 1
        self.message_user(request, ngettext(
            "Marketing consent withdrawn for %(count)d customer.",
            "Marketing consent withdrawn for %(count)d customers.", withdrawn,
        ) % {"count": withdrawn}, messages.SUCCESS if withdrawn else messages.INFO)
        if unchanged:
            self.message_user(request, ngettext(
                "%(count)d customer had already withdrawn (nothing recorded).",
                "%(count)d customers had already withdrawn (nothing recorded).", unchanged,
            ) % {"count": unchanged}, messages.INFO)


    def has_revoke_referral_permission(self, request):
        """Revoking referral codes: the Admins' (change_referralcode, services/roles.py)."""
        return request.user.has_perm(REVOKE_PERMISSION) and customer_data_allowed(request)

    @admin.action(description=_("Revoke referral code"), permissions=["revoke_referral"])
    def revoke_referral_code(self, request, queryset):
        revoked = referral_code_revoke(customer_ids=list(queryset.values_list("pk", flat=True)),
                                       now=clock.now())
        self.message_user(request, ngettext(
            "%(count)d referral code revoked; the customer's next invite carries a new one.",
            "%(count)d referral codes revoked; the customers' next invites carry new ones.",
            revoked) % {"count": revoked}, messages.SUCCESS if revoked else messages.INFO)


@admin.register(Order)
class OrderAdmin(PersonalDataAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["external_id", "customer_link", "placed_at", "amount", "currency", "status"]
    list_filter = ["status", "currency"]
    list_select_related = ["customer"]
    search_fields = ["external_id", "customer__external_id"]
    search_help_text = _("Order id or the customer's external id.")
    show_full_result_count = False
    readonly_fields = ["customer_link"]
    fields = ["external_id", "customer_link", "placed_at", "amount", "currency", "status",
              "created_at"]
    inlines = [OrderLineInline]

    @admin.display(description=_("customer"), ordering="customer__external_id")
    def customer_link(self, obj):
        return admin_link(obj.customer)


@admin.register(Event)
class EventAdmin(PersonalDataAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["type", "customer_link", "occurred_at", "received_at", "event_id"]
    list_filter = ["type"]
    list_select_related = ["customer"]
    search_fields = ["customer__external_id", "event_id"]
    search_help_text = _("The customer's external id, or the event id.")
    show_full_result_count = False
    readonly_fields = ["customer_link", "order_link"]
    fields = ["type", "customer_link", "occurred_at", "received_at", "event_id", "order_link",
              "properties"]
    inlines = [EventLineInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer", "order")

    @admin.display(description=_("customer"), ordering="customer__external_id")
    def customer_link(self, obj):
        return admin_link(obj.customer)

    @admin.display(description=_("order"))
    def order_link(self, obj):
        return admin_link(obj.order)
