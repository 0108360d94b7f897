"""Customers, their orders and behavioural events, and the API keys the shop uses."""
from decimal import Decimal

from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from campaigns import clock

from .base import TimestampedModel


class LifecycleStage(models.TextChoices):
    """Where a customer stands, recomputed nightly from orders (services.rfm)."""

    PROSPECT = "prospect", _("Prospect (no order yet)")
    NEW = "new", _("New")
    ACTIVE = "active", _("Active")
    LOYAL = "loyal", _("Loyal")
    AT_RISK = "at_risk", _("At risk")
    LAPSED = "lapsed", _("Lapsed")
    WON_BACK = "won_back", _("Won back")


class Customer(TimestampedModel):
    # Unique and indexed through Meta (a constraint and a plain index): a field's own
    # unique=True / db_index=True adds a second, varchar_pattern_ops index on PostgreSQL for
    # LIKE 'prefix%', which nothing here uses and every insert and update had to maintain.
    external_id = models.CharField(_("external id"), max_length=100, help_text=_("The shop's id."))
    email = models.EmailField(_("email"), max_length=254)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    locale = models.CharField(_("locale"), max_length=16, blank=True,
                              help_text=_("e.g. sv, nb, en"))
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, help_text=_("IANA name, e.g. Europe/Stockholm")
    )
    country = models.CharField(_("country"), max_length=2, blank=True,
                               help_text=_("ISO 3166-1 alpha-2"))
    signed_up_at = models.DateTimeField(_("signed up at"), null=True, blank=True)
    # Lifecycle facts, kept up to date on ingest so segments and triggers stay cheap.
    first_order_at = models.DateTimeField(_("first order at"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order at"), null=True, blank=True, db_index=True)
    order_count = models.PositiveIntegerField(_("order count"), default=0)
    total_spent = models.DecimalField(_("total spent"), max_digits=14, decimal_places=2,
                                      default=Decimal("0"))
    points_balance = models.IntegerField(_("points balance"), default=0)
    tier = models.CharField(_("tier"), max_length=32, blank=True)
    # Points earned in the last 12 months (the tier basis), cached with the tier.
    tier_points = models.IntegerField(_("tier points"), default=0)
    # Cached from the consent log by services.consent only: may we send marketing at all?
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    # When the shop collected the address at a sale and offered a clear opt-out that the
    # customer did not take: the existing-customer exception's condition (services.consent).
    opt_out_offered_at = models.DateTimeField(_("opt out offered at"), null=True, blank=True)
    # "Pause all marketing until": set from the preference centre, ends by itself.
    marketing_paused_until = models.DateTimeField(_("marketing paused until"), null=True,
                                                  blank=True)
    # Custom attributes, typed by AttributeDefinition (values are JSON: text, number,
    # boolean, or a date as "YYYY-MM-DD").
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # RFM quintiles (1 = worst, 5 = best) and the lifecycle stage, written by services.rfm only.
    rfm_recency = models.PositiveSmallIntegerField(_("rfm recency"), null=True, blank=True)
    rfm_frequency = models.PositiveSmallIntegerField(_("rfm frequency"), null=True, blank=True)
    rfm_monetary = models.PositiveSmallIntegerField(_("rfm monetary"), null=True, blank=True)
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=16, choices=LifecycleStage.choices, blank=True
    )
    lifecycle_stage_since = models.DateTimeField(_("lifecycle stage since"), null=True, blank=True)
    scored_at = models.DateTimeField(_("scored at"), null=True, blank=True)
    # The local hour (0-23) of most of the customer's purchases and email clicks over the
    # last year, learned nightly (services.best_hour); None with too little data.
    best_hour = models.PositiveSmallIntegerField(_("best hour"), null=True, blank=True)
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        # The Admins' alone (services/roles.py): a marketer may see customers, not take
        # their data out or erase them.
        permissions = [
            ("export_customer", _("Can export a customer's personal data")),
            ("erase_customer", _("Can erase a customer's personal data")),
        ]
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
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        BOOLEAN = "boolean", _("Boolean")

    key = models.SlugField(_("key"), max_length=64, unique=True,
                           help_text=_("As in the API and CSV, e.g. shoe_size"))
    label = models.CharField(_("label"), max_length=100, blank=True)
    type = models.CharField(_("type"), max_length=16, choices=Type.choices, default=Type.TEXT)

    class Meta:
        verbose_name = _("attribute definition")
        verbose_name_plural = _("attribute definitions")
        ordering = ["key"]

    def __str__(self):
        return f"{self.label or self.key} ({self.type})"


class Order(TimestampedModel):
    class Status(models.TextChoices):
        PLACED = "placed", _("Placed")
        REFUNDED = "refunded", _("Refunded")
        CANCELLED = "cancelled", _("Cancelled")

    # Indexed by (customer, placed_at) below, which also serves lookups by customer alone.
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="orders",
                                 db_index=False)
    external_id = models.CharField(_("external id"),
                                   max_length=100)  # Unique through Meta (see Customer).
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    placed_at = models.DateTimeField(_("placed at"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.PLACED)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at"]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="order_external_id_unique"),
        ]
        indexes = [
            models.Index(fields=["customer", "placed_at"]),
            # Segments: orders in a time window, grouped by customer, from the index alone.
            models.Index(fields=["placed_at"], include=["customer", "amount"],
                         condition=models.Q(status="placed"), name="order_placed_window"),
            # The few orders not placed (refunded, cancelled) of a batch's customers: what
            # recommendations leave out of their lines, found without a join per line.
            models.Index(fields=["customer"], condition=~models.Q(status="placed"),
                         name="order_not_placed_customer"),
        ]

    def __str__(self):
        return f"{self.external_id} {self.amount} {self.currency}"


class Event(models.Model):
    """A behavioural fact. `event_id` (the shop's idempotency key) makes a retry a no-op."""

    event_id = models.CharField(_("event id"), max_length=200, unique=True, null=True, blank=True)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="events")
    type = models.CharField(_("type"), max_length=64)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), default=clock.now)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    order = models.ForeignKey(Order, verbose_name=_("order"), null=True, blank=True,
                              on_delete=models.SET_NULL)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
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

    name = models.CharField(_("name"), max_length=100, unique=True)
    prefix = models.CharField(_("prefix"), max_length=12, editable=False,
                              help_text=_("First characters, to tell keys apart."))
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=clock.now, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name_plural = _("API keys")
        verbose_name = _("API key")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"
