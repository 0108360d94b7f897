"""Enrollments, the message outbox (one row per send step) and what happened to each message."""
import uuid

from django.db import models

from campaigns import clock

from .customers import Customer, Event
from .journeys import Campaign, JourneyStep


class Enrollment(models.Model):
    """One customer's pass through one campaign; unique per (campaign, customer, entry key)."""

    class State(models.TextChoices):
        ACTIVE = "active"
        COMPLETED = "completed"
        EXITED = "exited"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="enrollments")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="enrollments")
    entry_key = models.CharField(max_length=200, blank=True)
    trigger_event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL)
    triggered_at = models.DateTimeField(help_text="When the trigger happened (the event's time).")
    enrolled_at = models.DateTimeField(default=clock.now)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    # Position of the step the enrollment is at; the step runs at next_action_at. A send
    # step clears next_action_at until its message is settled.
    step_position = models.PositiveSmallIntegerField(default=0)
    next_action_at = models.DateTimeField(null=True, blank=True)
    is_holdout = models.BooleanField(default=False)
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=64, blank=True)

    class Meta:
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
        PENDING = "pending"
        CLAIMED = "claimed"
        SENDING = "sending"
        SENT = "sent"
        SKIPPED = "skipped"
        EXPIRED = "expired"
        FAILED = "failed"
        UNKNOWN = "unknown"

    FINAL_STATES = (State.SENT, State.SKIPPED, State.EXPIRED, State.FAILED, State.UNKNOWN)
    # States that hold a frequency-cap slot: the send may have reached the customer.
    CAP_STATES = (State.SENDING, State.SENT, State.UNKNOWN)

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(JourneyStep, on_delete=models.PROTECT, related_name="messages")
    # Denormalised from the enrollment for the dispatcher's and the cap's indexes.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="messages")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="messages")
    # The A/B variant drawn for this customer, if the step has variants.
    variant = models.ForeignKey(
        "StepVariant", null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    priority = models.PositiveSmallIntegerField(default=50)
    counts_toward_cap = models.BooleanField(default=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # Why it is where it is: for a sent (or sending) row its legal ground (consent,
    # existing_customer, transactional), with the ground's detail next to it.
    reason = models.CharField(max_length=64, blank=True)
    ground_detail = models.CharField(max_length=300, blank=True)
    first_due_at = models.DateTimeField()
    due_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    deferrals = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=clock.now)
    # Filled in when the message is handed to the provider.
    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    locale = models.CharField(max_length=16, blank=True)
    lag_seconds = models.FloatField(
        null=True, blank=True, help_text="Scheduling lag: seconds between its due time (after deferrals) and sending."
    )
    # The domain of the From address it went out with: deliverability is judged per domain.
    sending_domain = models.CharField(max_length=253, blank=True)
    # What the provider told us afterwards (services.deliverability), each the first time
    # it happened. Set once and never cleared: a late "delivered" does not undo a bounce.
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(
        null=True, blank=True, help_text="Bounced, or refused by the provider (bad or bounced address)."
    )
    complained_at = models.DateTimeField(null=True, blank=True, help_text="Marked as spam.")

    class Meta:
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

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField(default=clock.now)
    # A Message.State value, or "deferred" for a move back to pending with a later time.
    state = models.CharField(max_length=16)
    reason = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.state} {self.reason}".strip()


class MessageEvent(models.Model):
    """A provider's tracking event (anymail normalised), stored once per (provider, event id)."""

    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=32)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=clock.now)
    payload = models.JSONField(default=dict, blank=True)
    # Set by the Celery task that applies the event (services.deliverability); rows left
    # unprocessed (a lost task) are picked up again by a periodic sweep.
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=64, blank=True)

    class Meta:
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
        verbose_name = "deliverability report"
        verbose_name_plural = "deliverability (daily bounce and complaint rates)"


class Dashboard(Message):
    """Admin entry for the impact dashboard: trends, cohorts and funnels (no table)."""

    class Meta:
        proxy = True
        verbose_name = "impact dashboard"
        verbose_name_plural = "impact dashboard (trends, cohorts, funnels)"
