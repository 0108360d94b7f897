"""Admin for customers (profile, facts, why each message did or didn't go), orders, events."""
from django.contrib import admin, messages
from django.db.models import Prefetch
from django.utils.html import format_html
from django.utils.translation import ngettext

from campaigns.models import (
    ConsentEvent, ConsentSource, Customer, Enrollment, Event, Message, Order, Subscription,
    Suppression,
)
from campaigns.services.consent import consent_record, email_hash
from campaigns.services.customers import customer_upsert
from campaigns.services.scheduling import customer_zone

from .loyalty import PointsInline, SurveyResponseInline
from .deliveries import (
    ReadOnlyAdminMixin, ReadOnlyInline, admin_link, local_time, message_history_html,
)


class OrderInline(ReadOnlyInline):
    model = Order
    fields = ["external_id", "placed_at", "amount", "currency", "status"]
    ordering = ["-placed_at"]


class SubscriptionInline(ReadOnlyInline):
    model = Subscription
    fields = ["topic", "subscribed", "updated_at"]
    show_change_link = False
    verbose_name_plural = "Subscriptions (current state, from the consent log)"


class ConsentEventInline(ReadOnlyInline):
    model = ConsentEvent
    fields = ["occurred_at", "topic", "granted", "source", "wording_version", "method"]
    ordering = ["-occurred_at", "-id"]
    verbose_name_plural = "Consent log (append-only proof)"


class MessageInline(ReadOnlyInline):
    model = Message
    fk_name = "customer"
    fields = ["campaign", "state", "reason", "due_at", "sent_at", "subject"]
    ordering = ["-due_at", "-id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("campaign")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "email", "locale", "time_zone", "marketing_consent",
                    "order_count", "total_spent", "last_order_at"]
    list_display_links = ["external_id", "name"]
    list_filter = ["locale", "country", "marketing_consent", "tier"]
    search_fields = ["external_id", "email", "first_name", "last_name"]
    search_help_text = "External id, email, first or last name."
    show_full_result_count = False
    actions = ["withdraw_marketing_consent"]
    inlines = [OrderInline, SubscriptionInline, ConsentEventInline, MessageInline,
               PointsInline, SurveyResponseInline]
    fieldsets = [
        ("Identity", {"fields": ["external_id", "email", "first_name", "last_name"]}),
        ("Profile", {
            "fields": ["locale", "time_zone", "country", "tier", "attributes"],
            "description": "The shop sends these; a correction here lasts until the shop "
                           "sends the field again.",
        }),
        ("Consent", {
            "fields": ["marketing_consent", "consent_note"],
            "description": "Consent changes only through the consent log: the customer's own "
                           "choices, the shop's API, or the “Withdraw marketing consent” action.",
        }),
        ("Lifecycle facts (kept up to date by the shop's data)", {
            "fields": ["signed_up_at", "first_order_at", "last_order_at", "order_count",
                       "total_spent", "points_balance", "erased_at"],
        }),
        ("Why did / didn't this customer get each message?", {
            "fields": ["send_check", "message_history"],
        }),
    ]
    readonly_fields = ["external_id", "tier", "attributes", "marketing_consent", "consent_note",
                       "signed_up_at", "first_order_at", "last_order_at", "order_count",
                       "total_spent", "points_balance", "erased_at", "send_check",
                       "message_history"]

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

    @admin.display(description="name", ordering="last_name")
    def name(self, obj):
        return f"{obj.first_name} {obj.last_name}".strip() or "—"

    @admin.display(description="Consent history")
    def consent_note(self, obj):
        latest = obj.consent_events.order_by("-occurred_at", "-id").first() if obj.pk else None
        if latest is None:
            return "No consent recorded."
        zone = customer_zone(obj.time_zone)
        return (f"Last change: {'granted' if latest.granted else 'withdrawn'} {latest.topic} "
                f"{local_time(latest.occurred_at, zone)} via {latest.get_source_display()}"
                + (f" (wording {latest.wording_version})" if latest.wording_version else ""))

    @admin.display(description="Can we email this customer now?")
    def send_check(self, obj):
        if obj.pk is None:
            return "—"
        problems = []
        if obj.erased_at:
            problems.append("the customer's data was erased")
        suppression = Suppression.objects.filter(email_hash=email_hash(obj.email)).first()
        if suppression is not None:
            problems.append(f"the address is suppressed ({suppression.reason})")
        if not obj.marketing_consent:
            problems.append("no marketing consent, so marketing emails are skipped")
        if not obj.time_zone:
            problems.append("no time zone: quiet hours use the site's zone")
        if not problems:
            return "Yes: marketing consent is recorded and the address is not suppressed."
        return "Note: " + "; ".join(problems) + "."

    @admin.display(description="Messages and their history")
    def message_history(self, obj):
        if obj.pk is None:
            return "—"
        zone = customer_zone(obj.time_zone)
        history = list(
            obj.messages.select_related("campaign", "step")
            .prefetch_related(Prefetch("log"))
            .order_by("-due_at", "-id")
        )
        # Entries that have no message yet (a wait step is running, or the journey ended).
        quiet = list(
            Enrollment.objects.filter(customer=obj, messages__isnull=True)
            .select_related("campaign").order_by("-enrolled_at")
        )
        if not history and not quiet:
            return ("No messages yet: the customer has not entered any campaign, or their "
                    "first step is not due.")
        parts = [message_history_html(history, zone)]
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

    @admin.action(description="Withdraw marketing consent", permissions=["change"])
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


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["external_id", "customer_link", "placed_at", "amount", "currency", "status"]
    list_filter = ["status", "currency"]
    list_select_related = ["customer"]
    search_fields = ["external_id", "customer__external_id"]
    search_help_text = "Order id or the customer's external id."
    show_full_result_count = False
    readonly_fields = ["customer_link"]
    fields = ["external_id", "customer_link", "placed_at", "amount", "currency", "status",
              "created_at"]

    @admin.display(description="customer", ordering="customer__external_id")
    def customer_link(self, obj):
        return admin_link(obj.customer)


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["type", "customer_link", "occurred_at", "received_at", "event_id"]
    list_filter = ["type"]
    list_select_related = ["customer"]
    search_fields = ["customer__external_id", "event_id"]
    search_help_text = "The customer's external id, or the event id."
    show_full_result_count = False
    readonly_fields = ["customer_link", "order_link"]
    fields = ["type", "customer_link", "occurred_at", "received_at", "event_id", "order_link",
              "properties"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer", "order")

    @admin.display(description="customer", ordering="customer__external_id")
    def customer_link(self, obj):
        return admin_link(obj.customer)

    @admin.display(description="order")
    def order_link(self, obj):
        return admin_link(obj.order)
