"""Admin for the outbox (read-only): enrollments, messages, their log, provider events and
the daily deliverability report.

Also the plain-words helpers that explain a message's history, shared with the customer page.
"""
import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns import clock
from campaigns.models import Deliverability, Enrollment, Message, MessageEvent, MessageLog
from campaigns.selectors.deliverability import (
    GMAIL_COMPLAINT_LIMIT, GMAIL_COMPLAINT_LINE, deliverability_daily,
)
from campaigns.selectors.campaign_results import message_as_sent
from campaigns.selectors.health import scheduler_health
from campaigns.services.scheduling import customer_zone

from .personal_data import PersonalDataAdminMixin

# What each logged state means to a marketer.
STATE_WORDS = {
    "pending": gettext_lazy("waiting"),
    "claimed": gettext_lazy("picked up for sending"),
    "sending": gettext_lazy("being sent"),
    "sent": gettext_lazy("sent"),
    "deferred": gettext_lazy("deferred"),
    "skipped": gettext_lazy("not sent"),
    "expired": gettext_lazy("expired, not sent"),
    "failed": gettext_lazy("failed"),
    "unknown": gettext_lazy("outcome unknown"),
}
# Reasons the scheduler, the sender and the journeys record, in plain words (every code
# the code base writes to Message.reason, MessageLog.reason or Enrollment.exit_reason:
# tests/admin/test_reason_words.py fails when a new one appears without its words).
REASON_WORDS = {
    "planned": gettext_lazy("planned"),
    "holdout": gettext_lazy("in the holdout group (kept out on purpose to measure the campaign's effect)"),
    "deadline": gettext_lazy("its deadline had passed"),
    "frequency_cap": gettext_lazy("frequency cap"),
    "min_gap": gettext_lazy("too soon after the previous email"),
    "quiet_hours": gettext_lazy("quiet hours"),
    "suppressed": gettext_lazy("the address is on the suppression list"),
    "no_consent": gettext_lazy("no marketing consent"),
    "paused": gettext_lazy("the customer paused marketing"),
    "pending_confirmation": gettext_lazy("the subscription waits for its double opt-in confirmation"),
    "unclassified": gettext_lazy("the template is not classified marketing or transactional"),
    "consent": gettext_lazy("sent on recorded opt-in consent"),
    "existing_customer": gettext_lazy("sent under the existing-customer exception"),
    "transactional": gettext_lazy("transactional: needs no marketing consent"),
    "exit_event": gettext_lazy("the customer left the journey (an exit event happened)"),
    "exited": gettext_lazy("the customer left the journey"),
    "purchase_of_items": gettext_lazy("the customer bought what the journey was about"),
    "erased": gettext_lazy("the customer's data was erased"),
    "provider_unavailable": gettext_lazy("the email provider was unavailable, will try again"),
    "provider_rate_limited": gettext_lazy("the email provider asked us to slow down, will try again"),
    "provider_unreachable": gettext_lazy("the email provider could not be reached, will try again"),
    "provider_timeout": gettext_lazy("no answer from the email provider after the message went out"),
    "provider_answer_unreadable": gettext_lazy("the email provider's answer could not be read"),
    "send_error": gettext_lazy("an unexpected error while handing the message over"),
    "reconciled": gettext_lazy("settled by the provider's later report"),
    "provider_error": gettext_lazy("the email provider refused the message"),
    "rejected": gettext_lazy("the email provider refused the address"),
    "template_error": gettext_lazy("the template could not be rendered"),
    "template_too_slow": gettext_lazy("the template took too long to render for this customer"),
    "template_too_large": gettext_lazy("the template made too large an email for this customer"),
    "interrupted": gettext_lazy("the send task stopped before handing it over, will try again"),
    "worker_lost": gettext_lazy("the worker stopped while sending"),
    "retry": gettext_lazy("a temporary error, tried again until the attempts ran out"),
    "failed": gettext_lazy("a permanent error from the email provider"),
    "unknown": gettext_lazy("the hand-over to the email provider broke off"),
}
# A moment with an explicit zone inside a log detail, e.g. "2026-03-03 08:00 UTC".
_MOMENT = re.compile(
    r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?\s?(UTC|Z|[+-]\d{2}:?\d{2})"
)


def local_time(moment: dt.datetime | None, zone: ZoneInfo) -> str:
    """e.g. "2026-03-03 09:00 Europe/Stockholm"; a dash for no time."""
    if moment is None:
        return "—"
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def duration_words(value: dt.timedelta | float | None) -> str:
    """A duration as a marketer says it: "24 h", "1 d 2 h", "3 min 5 s"."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds() if isinstance(value, dt.timedelta) else value)
    if seconds < 60:
        return f"{seconds} s"
    # Up to two days reads best in hours: a 24 h deadline, not "1 d".
    days, rest = divmod(seconds, 86400) if seconds >= 2 * 86400 else (0, seconds)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "",
             f"{minutes} min" if minutes else "", f"{secs} s" if secs and not days else ""]
    return " ".join(p for p in parts if p)


def _localise(detail: str, zone: ZoneInfo) -> str:
    def replace(match):
        offset = match.group(3)
        text = f"{match.group(1)}T{match.group(2)}{'+00:00' if offset in ('UTC', 'Z') else offset}"
        try:
            return local_time(dt.datetime.fromisoformat(text), zone)
        except ValueError:
            return match.group(0)

    return _MOMENT.sub(replace, detail)


def log_line(entry: MessageLog, zone: ZoneInfo) -> str:
    """One history entry in plain words: "… — deferred: frequency cap until 2026-03-03 …"."""
    state = STATE_WORDS.get(entry.state, entry.state)
    if entry.reason == "planned":
        words = _("planned")
    elif entry.reason:
        words = _("%(state)s: %(reason)s") % {
            "state": state, "reason": REASON_WORDS.get(entry.reason, entry.reason.replace("_", " "))}
    else:
        words = str(state)
    detail = _localise(entry.detail, zone)
    if detail.lower().startswith(f"{entry.state} "):
        detail = detail[len(entry.state) + 1:]
    if detail:
        words += f" {detail}" if detail.startswith("until ") else f" ({detail})"
    return f"{local_time(entry.at, zone)} — {words}"


def message_summary(message: Message, zone: ZoneInfo) -> str:
    """Where a message stands now, in one sentence."""
    reason = REASON_WORDS.get(message.reason, message.reason.replace("_", " "))
    if message.state == Message.State.SENT:
        if message.subject:
            return _("Sent %(at)s: “%(subject)s”") % {
                "at": local_time(message.sent_at, zone), "subject": message.subject}
        return _("Sent %(at)s") % {"at": local_time(message.sent_at, zone)}
    if message.state == Message.State.PENDING:
        words = {"due": local_time(message.due_at, zone), "reason": reason,
                 "expires": local_time(message.expires_at, zone)}
        if message.reason and message.expires_at:
            text = _("Waiting, due %(due)s (held back: %(reason)s); expires %(expires)s") % words
        elif message.reason:
            text = _("Waiting, due %(due)s (held back: %(reason)s)") % words
        elif message.expires_at:
            text = _("Waiting, due %(due)s; expires %(expires)s") % words
        else:
            text = _("Waiting, due %(due)s") % words
        if message.campaign.status != message.campaign.Status.ACTIVE:
            text = _("%(waiting)s. The campaign is %(status)s, so nothing goes out now") % {
                "waiting": text, "status": str(message.campaign.get_status_display()).lower()}
        return text
    if message.state in (Message.State.CLAIMED, Message.State.SENDING):
        return _("Being sent now (%(state)s)") % {"state": message.state}
    if message.state == Message.State.UNKNOWN:
        return _("Outcome unknown: %(reason)s. It is not resent automatically; the customer "
                 "may or may not have received it") % {
            "reason": reason or _("the hand-over to the provider broke")}
    words = {"skipped": (_("Not sent"), _("Not sent: %(reason)s")),
             "expired": (_("Expired, not sent"), _("Expired, not sent: %(reason)s")),
             "failed": (_("Failed"), _("Failed: %(reason)s"))}
    if message.state not in words:
        return str(message.state) + (f": {reason}" if message.reason else "")
    bare, with_reason = words[message.state]
    return with_reason % {"reason": reason} if message.reason else bare


class ReadOnlyAdminMixin:
    """Views only: these rows are written by the scheduler and the sender."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True


def admin_link(obj, label: str | None = None) -> str:
    if obj is None:
        return "—"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label if label is not None else str(obj))


class MessageLogInline(ReadOnlyInline):
    model = MessageLog
    fields = ["at", "state", "reason", "detail"]
    show_change_link = False
    verbose_name = gettext_lazy("history entry")
    verbose_name_plural = gettext_lazy("Deviations (deferrals, skips, retries, failures, with their reasons)")


class MessageEventInline(ReadOnlyInline):
    model = MessageEvent
    fields = ["occurred_at", "event_type", "provider", "outcome", "event_id"]
    show_change_link = False
    verbose_name_plural = gettext_lazy("Provider events (delivered, opened, clicked, bounced, …)")


@admin.register(Message)
class MessageAdmin(PersonalDataAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "customer_link", "campaign", "state", "reason", "due_at", "sent_at",
                    "lag"]
    list_filter = ["state", "reason", "campaign"]
    list_select_related = ["customer", "campaign"]
    search_fields = ["customer__external_id", "customer__email", "subject", "=message_id"]
    search_help_text = gettext_lazy("Customer external id or email, subject, or our message id.")
    ordering = ["-due_at", "-id"]
    show_full_result_count = False
    inlines = [MessageLogInline, MessageEventInline]
    fieldsets = [
        (None, {"fields": ["customer_link", "campaign", "step", "enrollment_link", "story",
                           "as_sent_link"]}),
        (gettext_lazy("State"), {"fields": ["state", "reason", "ground_detail", "attempts", "deferrals",
                              "priority", "counts_toward_cap"]}),
        (gettext_lazy("Timing"), {"fields": ["created_at", "first_due_at", "due_at", "expires_at",
                               "claimed_until", "sent_at", "lag"]}),
        (gettext_lazy("Handed to the provider"), {"fields": ["message_id", "provider_message_id", "subject",
                                               "locale", "sending_domain"]}),
        (gettext_lazy("What the provider reported (first time each)"), {
            "fields": ["delivered_at", "opened_at", "clicked_at", "bounced_at", "complained_at"],
            "description": gettext_lazy("Opens and clicks are recorded only when the site tracks them "
                                        "(TRACK_OPENS / TRACK_CLICKS, off by default)."),
        }),
    ]
    readonly_fields = ["customer_link", "enrollment_link", "story", "lag", "as_sent_link"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "customer", "campaign", "step", "enrollment"
        )

    def get_urls(self):
        own = [path("<int:object_id>/as-sent/", self.admin_site.admin_view(self.as_sent_view),
                    name="campaigns_message_as_sent")]
        return own + super().get_urls()

    @admin.display(description=gettext_lazy("As the customer received it"))
    def as_sent_link(self, obj):
        if obj.pk is None or obj.sent_at is None:
            return _("Not sent, so there is nothing to show.")
        url = reverse("admin:campaigns_message_as_sent", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Open the email as it was sent"))

    def as_sent_view(self, request, object_id: int):
        """The email exactly as sent: subject, HTML at desktop and phone width, and text."""
        message = get_object_or_404(
            Message.objects.select_related("customer", "campaign", "step", "variant",
                                           "enrollment__trigger_event__order"),
            pk=object_id)
        if not self.has_view_permission(request, message):
            raise PermissionDenied
        zone = customer_zone(message.customer.time_zone)
        shown = message_as_sent(message=message) if message.sent_at else None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Email as sent: %(subject)s") % {"subject": message.subject or "—"},
            "opts": self.model._meta,
            "message": message,
            "shown": shown,
            "sent_at": local_time(message.sent_at, zone),
            "summary": message_summary(message, zone),
            "campaign_url": reverse("admin:campaigns_campaign_change", args=[message.campaign_id]),
            "message_url": reverse("admin:campaigns_message_change", args=[message.pk]),
        }
        return TemplateResponse(request, "admin/campaigns/results/message_as_sent.html", context)

    @admin.display(description=gettext_lazy("customer"), ordering="customer__external_id")
    def customer_link(self, obj):
        return admin_link(obj.customer)

    @admin.display(description=gettext_lazy("enrollment"))
    def enrollment_link(self, obj):
        return admin_link(obj.enrollment)

    @admin.display(description=gettext_lazy("lag"), ordering="lag_seconds")
    def lag(self, obj):
        return duration_words(obj.lag_seconds)

    @admin.display(description=gettext_lazy("Where it stands"))
    def story(self, obj):
        zone = customer_zone(obj.customer.time_zone)
        lines = format_html_join("", "<li>{}</li>", ((line,) for line in history_lines(obj, zone)))
        return format_html("{}.<ul>{}</ul>", message_summary(obj, zone), lines)


@admin.register(Enrollment)
class EnrollmentAdmin(PersonalDataAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "customer_link", "campaign", "state", "step_position",
                    "next_action_at", "is_holdout", "triggered_at", "finished_at", "exit_reason"]
    list_filter = ["state", "is_holdout", "campaign"]
    list_select_related = ["customer", "campaign"]
    search_fields = ["customer__external_id", "customer__email", "entry_key"]
    search_help_text = gettext_lazy("Customer external id or email, or the entry key.")
    show_full_result_count = False
    readonly_fields = ["customer_link"]
    fields = ["campaign", "customer_link", "entry_key", "trigger_event", "triggered_at",
              "enrolled_at", "state", "step_position", "next_action_at", "is_holdout",
              "finished_at", "exit_reason"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer", "campaign",
                                                            "trigger_event")

    @admin.display(description=gettext_lazy("customer"), ordering="customer__external_id")
    def customer_link(self, obj):
        return admin_link(obj.customer)


@admin.register(MessageEvent)
class MessageEventAdmin(PersonalDataAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "event_type", "provider", "message", "outcome", "received_at"]
    list_filter = ["event_type", "provider", "outcome"]
    list_select_related = ["message"]
    search_fields = ["event_id", "message__customer__external_id"]
    show_full_result_count = False


@admin.register(Deliverability)
class DeliverabilityAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Not a list of rows: the daily bounce and complaint rates per sending domain."""

    days = 30

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        rows = deliverability_daily(days=self.days, now=clock.now())
        context = {
            "health": scheduler_health(now=clock.now()),
            **self.admin_site.each_context(request),
            "title": _("Deliverability: daily bounce and complaint rates"),
            "opts": self.model._meta,
            "rows": rows,
            "days": self.days,
            "warned": [row for row in rows if row.warnings],
            "complaint_warn": settings.COMPLAINT_RATE_WARN_PERCENT,
            "bounce_warn": settings.BOUNCE_RATE_WARN_PERCENT,
            "gmail_line": GMAIL_COMPLAINT_LINE,
            "gmail_limit": GMAIL_COMPLAINT_LIMIT,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/campaigns/deliverability.html", context)


def history_lines(message: Message, zone: ZoneInfo) -> list[str]:
    """A message's whole history in plain words: the normal path from its own row (planned,
    sent and on what legal ground), the deviations from its log, in time order."""
    lines = [(message.created_at, _("%(at)s — planned, due %(due)s") % {
        "at": local_time(message.created_at, zone), "due": local_time(message.first_due_at, zone)})]
    lines += [(entry.at, log_line(entry, zone)) for entry in message.log.all()]
    if message.sent_at is not None and message.state in (Message.State.SENT, Message.State.SENDING):
        ground = REASON_WORDS.get(message.reason, message.reason.replace("_", " "))
        # The detail adds what the words do not say (the country of an exception).
        detail = (f" ({message.ground_detail})"
                  if message.ground_detail and message.ground_detail not in ground else "")
        lines.append((message.sent_at, f"{local_time(message.sent_at, zone)} — {ground}{detail}"))
    return [text for _, text in sorted(lines, key=lambda line: line[0])]


def message_history_html(messages, zone: ZoneInfo) -> str:
    """Each message with where it stands and its history, for the customer page."""
    blocks = []
    for message in messages:
        lines = format_html_join("", "<li>{}</li>", ((line,) for line in history_lines(message, zone)))
        blocks.append(format_html(
            _('<div style="margin-bottom:12px"><strong>{}</strong> — step {}: {}.<ul>{}</ul></div>'),
            message.campaign.name, message.step.position, message_summary(message, zone), lines,
        ))
    return format_html_join("", "{}", ((b,) for b in blocks))
