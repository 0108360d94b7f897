"""Enrollments, the message outbox (one row per send step) and what happened to each message."""
import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns import clock

from .customers import Customer, Event
from .journeys import Campaign, JourneyStep


class Enrollment(models.Model):
    """One customer's pass through one campaign; unique per (campaign, customer, entry key)."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        EXITED = "exited", _("Exited")

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE,
                                 related_name="enrollments")
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="enrollments")
    entry_key = models.CharField(_("entry key"), max_length=200, blank=True)
    trigger_event = models.ForeignKey(Event, verbose_name=_("trigger event"), null=True,
                                      blank=True, on_delete=models.SET_NULL)
    triggered_at = models.DateTimeField(
        _("triggered at"), help_text=_("When the trigger happened (the event's time)."))
    enrolled_at = models.DateTimeField(_("enrolled at"), default=clock.now)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.ACTIVE)
    # Position of the step the enrollment is at; the step runs at next_action_at. A send
    # step clears next_action_at until its message is settled.
    step_position = models.PositiveSmallIntegerField(_("step position"), default=0)
    next_action_at = models.DateTimeField(_("next action at"), null=True, blank=True)
    is_holdout = models.BooleanField(_("is holdout"), default=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    exit_reason = models.CharField(_("exit reason"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        ordering = ["-enrolled_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer", "entry_key"], name="enrollment_unique_entry"
            )
        ]
        indexes = [
            models.Index(fields=["state", "next_action_at"]),
            # The dashboard's open day and the nightly snapshots read enrollments by day.
            models.Index(fields=["enrolled_at"], name="enrollment_enrolled_at"),
            models.Index(fields=["triggered_at"], name="enrollment_triggered_at"),
        ]

    def __str__(self):
        return f"{self.customer_id} in {self.campaign_id} ({self.state})"


class Message(models.Model):
    """The outbox row and, once handed over, the delivery record. Source of truth for sends.

    pending -> sending -> sent (claimed and decided in one transaction); or deferred back to pending with a later due time,
    skipped / expired (with a reason), failed, or unknown (the worker died while sending).
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        CLAIMED = "claimed", _("Claimed")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        EXPIRED = "expired", _("Expired")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown")

    FINAL_STATES = (State.SENT, State.SKIPPED, State.EXPIRED, State.FAILED, State.UNKNOWN)
    # States that hold a frequency-cap slot: the send may have reached the customer.
    CAP_STATES = (State.SENDING, State.SENT, State.UNKNOWN)

    enrollment = models.ForeignKey(Enrollment, verbose_name=_("enrollment"),
                                   on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(JourneyStep, verbose_name=_("step"), on_delete=models.PROTECT,
                             related_name="messages")
    # Denormalised from the enrollment for the dispatcher's and the cap's indexes.
    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE,
                                 related_name="messages")
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="messages")
    # The A/B variant drawn for this customer, if the step has variants.
    variant = models.ForeignKey(
        "StepVariant", verbose_name=_("variant"), null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="messages"
    )
    priority = models.PositiveSmallIntegerField(_("priority"), default=50)
    counts_toward_cap = models.BooleanField(_("counts toward cap"), default=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices,
                             default=State.PENDING)
    # Why it is where it is: for a sent (or sending) row its legal ground (consent,
    # existing_customer, transactional), with the ground's detail next to it.
    reason = models.CharField(_("reason"), max_length=64, blank=True)
    ground_detail = models.CharField(_("ground detail"), max_length=300, blank=True)
    first_due_at = models.DateTimeField(_("first due at"))
    due_at = models.DateTimeField(_("due at"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    deferrals = models.PositiveIntegerField(_("deferrals"), default=0)
    created_at = models.DateTimeField(_("created at"), default=clock.now)
    # Filled in when the message is handed to the provider.
    message_id = models.UUIDField(_("message id"), default=uuid.uuid4, unique=True, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=200, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    locale = models.CharField(_("locale"), max_length=16, blank=True)
    lag_seconds = models.FloatField(
        _("lag seconds"), null=True, blank=True,
        help_text=_("Scheduling lag: seconds between its due time (after deferrals) and sending.")
    )
    # The domain of the From address it went out with: deliverability is judged per domain.
    sending_domain = models.CharField(_("sending domain"), max_length=253, blank=True)
    # The product ids its `recommendations(...)` showed (null: it showed none), written
    # with the send itself: a later purchase of one is counted on the campaign's page.
    recommended = models.JSONField(_("recommended products"), null=True, blank=True,
                                   editable=False)
    # True when it carried the customer's referral link (`referral.url` / `referral.code`),
    # written with the send itself: the "invites sent" of the referral funnel.
    referral_invite = models.BooleanField(_("referral invite"), default=False, editable=False)
    # What the provider told us afterwards (services.deliverability), each the first time
    # it happened. Set once and never cleared: a late "delivered" does not undo a bounce.
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked at"), null=True, blank=True)
    bounced_at = models.DateTimeField(
        _("bounced at"), null=True, blank=True,
        help_text=_("Bounced, or refused by the provider (bad or bounced address).")
    )
    complained_at = models.DateTimeField(_("complained at"), null=True, blank=True,
                                         help_text=_("Marked as spam."))

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-due_at"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], name="message_unique_step")
        ]
        indexes = [
            models.Index(fields=["state", "due_at"]),
            models.Index(fields=["customer", "sent_at"]),
            models.Index(fields=["state", "claimed_until"]),
            # The sender's claim: one campaign's due rows, oldest first, pending rows only,
            # so a claim reads the rows it takes and stops (however many wait behind).
            models.Index(fields=["campaign", "due_at", "id"], condition=models.Q(state="pending"),
                         name="message_due_queue"),
            # Provider events name the message by the provider's id.
            models.Index(fields=["provider_message_id"]),
            # Sends by day (dashboard, snapshots); only sent rows, so the outbox's state
            # changes before the send do not maintain it.
            models.Index(fields=["sent_at"], condition=models.Q(sent_at__isnull=False),
                         name="message_sent_at"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.state} {self.subject or ''}".strip()


class MessageLog(models.Model):
    """Every change of a message's state with its reason: answers "why (not)?"."""

    message = models.ForeignKey(Message, verbose_name=_("message"), on_delete=models.CASCADE,
                                related_name="log")
    at = models.DateTimeField(_("at"), default=clock.now)
    # A Message.State value, or "deferred" for a move back to pending with a later time.
    state = models.CharField(_("state"), max_length=16)
    reason = models.CharField(_("reason"), max_length=64, blank=True)
    detail = models.CharField(_("detail"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("message log")
        verbose_name_plural = _("message logs")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.state} {self.reason}".strip()


class MessageEvent(models.Model):
    """A provider's tracking event (anymail normalised), stored once per (provider, event id)."""

    message = models.ForeignKey(
        Message, verbose_name=_("message"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="events"
    )
    provider = models.CharField(_("provider"), max_length=32)
    event_id = models.CharField(_("event id"), max_length=200)
    event_type = models.CharField(_("event type"), max_length=32)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), default=clock.now)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    # Set by the Celery task that applies the event (services.deliverability); rows left
    # unprocessed (a lost task) are picked up again by a periodic sweep.
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("message event")
        verbose_name_plural = _("message events")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="message_event_unique_provider_id"
            )
        ]
        indexes = [models.Index(fields=["processed_at", "received_at"])]

    def __str__(self):
        return f"{self.provider} {self.event_type}"


class Deliverability(MessageEvent):
    """Admin entry for the daily bounce and complaint rates per sending domain (no table)."""

    class Meta:
        proxy = True
        verbose_name = _("deliverability report")
        verbose_name_plural = _("deliverability (daily bounce and complaint rates)")


class Dashboard(Message):
    """Admin entry for the impact dashboard: trends, cohorts and funnels (no table)."""

    class Meta:
        proxy = True
        verbose_name = _("impact dashboard")
        verbose_name_plural = _("impact dashboard (trends, cohorts, funnels)")
