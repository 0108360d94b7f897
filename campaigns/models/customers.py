"""Customers, their orders and behavioural events, and the API keys the shop uses."""
from decimal import Decimal

from django.db import models
from django.db.models.functions import Coalesce

from campaigns import clock

from .base import TimestampedModel


class LifecycleStage(models.TextChoices):
    """Where a customer stands, recomputed nightly from orders (services.rfm)."""

    PROSPECT = "prospect", "Prospect (no order yet)"
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    LOYAL = "loyal", "Loyal"
    AT_RISK = "at_risk", "At risk"
    LAPSED = "lapsed", "Lapsed"
    WON_BACK = "won_back", "Won back"


class Customer(TimestampedModel):
    # Unique and indexed through Meta (a constraint and a plain index): a field's own
    # unique=True / db_index=True adds a second, varchar_pattern_ops index on PostgreSQL for
    # LIKE 'prefix%', which nothing here uses and every insert and update had to maintain.
    external_id = models.CharField(max_length=100, help_text="The shop's id.")
    email = models.EmailField(max_length=254)
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
    # Points earned in the last 12 months (the tier basis), cached with the tier.
    tier_points = models.IntegerField(default=0)
    # Cached from the consent log by services.consent only: may we send marketing at all?
    marketing_consent = models.BooleanField(default=False)
    # When the shop collected the address at a sale and offered a clear opt-out that the
    # customer did not take: the existing-customer exception's condition (services.consent).
    opt_out_offered_at = models.DateTimeField(null=True, blank=True)
    # "Pause all marketing until": set from the preference centre, ends by itself.
    marketing_paused_until = models.DateTimeField(null=True, blank=True)
    # Custom attributes, typed by AttributeDefinition (values are JSON: text, number,
    # boolean, or a date as "YYYY-MM-DD").
    attributes = models.JSONField(default=dict, blank=True)
    # RFM quintiles (1 = worst, 5 = best) and the lifecycle stage, written by services.rfm only.
    rfm_recency = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_frequency = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_monetary = models.PositiveSmallIntegerField(null=True, blank=True)
    lifecycle_stage = models.CharField(
        max_length=16, choices=LifecycleStage.choices, blank=True
    )
    lifecycle_stage_since = models.DateTimeField(null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="customer_external_id_unique"),
        ]
        indexes = [
            models.Index(fields=["email"], name="customer_email"),
            models.Index(fields=["lifecycle_stage"], name="customer_lifecycle_stage"),
            models.Index(fields=["country"]),
            models.Index(fields=["locale"]),
            models.Index(fields=["signed_up_at"]),
            models.Index(fields=["rfm_recency", "rfm_frequency", "rfm_monetary"]),
            # The dashboard's cohorts: the joining moment (sign-up, else first order).
            models.Index(Coalesce("signed_up_at", "first_order_at"), name="customer_joined"),
        ]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name or self.external_id} <{self.email}>"


class AttributeDefinition(models.Model):
    """A custom customer attribute the shop uses: its key in Customer.attributes and its type.

    The type decides how the API and the CSV import read a value, how templates see it and
    which comparisons segments allow on it.
    """

    class Type(models.TextChoices):
        TEXT = "text"
        NUMBER = "number"
        DATE = "date"
        BOOLEAN = "boolean"

    key = models.SlugField(max_length=64, unique=True, help_text="As in the API and CSV, e.g. shoe_size")
    label = models.CharField(max_length=100, blank=True)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.TEXT)

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return f"{self.label or self.key} ({self.type})"


class Order(TimestampedModel):
    class Status(models.TextChoices):
        PLACED = "placed"
        REFUNDED = "refunded"
        CANCELLED = "cancelled"

    # Indexed by (customer, placed_at) below, which also serves lookups by customer alone.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders",
                                 db_index=False)
    external_id = models.CharField(max_length=100)  # Unique through Meta (see Customer).
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    placed_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLACED)

    class Meta:
        ordering = ["-placed_at"]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="order_external_id_unique"),
        ]
        indexes = [
            models.Index(fields=["customer", "placed_at"]),
            # Segments: orders in a time window, grouped by customer, from the index alone.
            models.Index(fields=["placed_at"], include=["customer", "amount"],
                         condition=models.Q(status="placed"), name="order_placed_window"),
        ]

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
            # Segments: who did an event of a type in a time window.
            models.Index(fields=["type", "occurred_at"], include=["customer"], name="event_type_window"),
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
