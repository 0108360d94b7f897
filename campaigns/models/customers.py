"""Customers, their orders and behavioural events, and the API keys the shop uses."""
from decimal import Decimal

from django.db import models

from campaigns import clock

from .base import TimestampedModel


class Customer(TimestampedModel):
    external_id = models.CharField(max_length=100, unique=True, help_text="The shop's id.")
    email = models.EmailField(max_length=254, db_index=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    locale = models.CharField(max_length=16, blank=True, help_text="e.g. sv, nb, en")
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="IANA name, e.g. Europe/Stockholm"
    )
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    signed_up_at = models.DateTimeField(null=True, blank=True)
    # Lifecycle facts, kept up to date on ingest so segments and triggers stay cheap.
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True, db_index=True)
    order_count = models.PositiveIntegerField(default=0)
    total_spent = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    points_balance = models.IntegerField(default=0)
    tier = models.CharField(max_length=32, blank=True)
    # Cached from the consent log by services.consent only: may we send marketing at all?
    marketing_consent = models.BooleanField(default=False)
    attributes = models.JSONField(default=dict, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name or self.external_id} <{self.email}>"


class Order(TimestampedModel):
    class Status(models.TextChoices):
        PLACED = "placed"
        REFUNDED = "refunded"
        CANCELLED = "cancelled"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    external_id = models.CharField(max_length=100, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    placed_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLACED)

    class Meta:
        ordering = ["-placed_at"]
        indexes = [models.Index(fields=["customer", "placed_at"])]

    def __str__(self):
        return f"{self.external_id} {self.amount} {self.currency}"


class Event(models.Model):
    """A behavioural fact. `event_id` (the shop's idempotency key) makes a retry a no-op."""

    event_id = models.CharField(max_length=200, unique=True, null=True, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=clock.now)
    properties = models.JSONField(default=dict, blank=True)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            # The planner scans new events of one type past a watermark.
            models.Index(fields=["type", "id"]),
            models.Index(fields=["customer", "type", "occurred_at"]),
        ]

    def __str__(self):
        return f"{self.type} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class ApiKey(models.Model):
    """A key the shop authenticates with. Only a SHA-256 hash of the secret is stored."""

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"
