"""Loyalty: the append-only points ledger (the balance on Customer is a cache of it),
earning rules, tiers and single-use coupon codes."""
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns import clock

from .customers import Customer, Event, Order
from .deliveries import Enrollment
from .journeys import Campaign, JourneyStep
from .referrals import Referral


class PointsEntry(models.Model):
    class Kind(models.TextChoices):
        ORDER = "order", _("Earned on an order")
        BONUS = "bonus", _("Bonus event")
        JOURNEY = "journey", _("Granted by a campaign")
        REVERSAL = "reversal", _("Reversed (refund or cancellation)")
        EXPIRY = "expiry", _("Expired")
        REFERRAL = "referral", _("Referral reward")

    # Entries that add to a customer's earnings (the tier basis) and to the FIFO lots.
    EARNING_KINDS = (Kind.ORDER, Kind.BONUS, Kind.JOURNEY, Kind.REFERRAL)

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="points")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.JOURNEY)
    delta = models.IntegerField(_("delta"))
    balance_after = models.IntegerField(_("balance after"))
    reason = models.CharField(_("reason"), max_length=100)
    # Set when a journey granted it: the unique pair makes a retried grant a no-op.
    enrollment = models.ForeignKey(
        Enrollment, verbose_name=_("enrollment"), null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+"
    )
    step = models.ForeignKey(
        JourneyStep, verbose_name=_("step"), null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+"
    )
    # The order an ORDER or REVERSAL entry is for, the event a BONUS entry is for: the
    # unique constraints below make a replayed order, refund or event a no-op.
    order = models.ForeignKey(
        Order, verbose_name=_("order"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+"
    )
    event = models.ForeignKey(
        Event, verbose_name=_("event"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+"
    )
    # The referral a REFERRAL entry rewards (or a REVERSAL takes back), one per side.
    referral = models.ForeignKey(
        Referral, verbose_name=_("referral"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points ledger")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step"], name="points_unique_journey_step",
                condition=models.Q(enrollment__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["order", "kind"], name="points_unique_order_kind",
                condition=models.Q(order__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["event", "kind"], name="points_unique_event_kind",
                condition=models.Q(event__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["referral", "customer", "kind"], name="points_unique_referral",
                condition=models.Q(referral__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["customer", "created_at"])]

    def __str__(self):
        return f"{self.delta:+d} ({self.reason})"


class EarningRule(models.Model):
    """How points are earned: per currency unit spent on an order, or per event type."""

    class Kind(models.TextChoices):
        SPEND = "spend", _("Points per currency unit spent on an order")
        EVENT = "event", _("Bonus points for an event")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.SPEND)
    currency = models.CharField(
        _("currency"), max_length=3, blank=True,
        help_text=_("For spend rules: ISO 4217 code, e.g. SEK.")
    )
    points_per_unit = models.DecimalField(
        _("points per unit"), max_digits=8, decimal_places=4, null=True, blank=True,
        help_text=_("For spend rules: points per 1.00 spent (rounded down per order), e.g. 0.1."),
    )
    event_type = models.CharField(
        _("event type"), max_length=64, blank=True,
        help_text=_("For bonus rules: the event type, e.g. review.posted.")
    )
    points = models.PositiveIntegerField(
        _("points"), null=True, blank=True, help_text=_("For bonus rules: points per event.")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        ordering = ["kind", "currency", "event_type"]
        constraints = [
            models.UniqueConstraint(fields=["currency"], name="earning_unique_currency",
                                    condition=models.Q(kind="spend")),
            models.UniqueConstraint(fields=["event_type"], name="earning_unique_event_type",
                                    condition=models.Q(kind="event")),
        ]

    def __str__(self):
        if self.kind == self.Kind.SPEND:
            return f"{self.points_per_unit} points per {self.currency}"
        return f"{self.points} points for {self.event_type}"

    def clean(self):
        if self.kind == self.Kind.SPEND:
            if len(self.currency or "") != 3 or not self.currency.isupper():
                raise ValidationError(
                    {"currency": _("Give an ISO 4217 code in capitals, e.g. SEK.")})
            if not self.points_per_unit or self.points_per_unit <= 0:
                raise ValidationError(
                    {"points_per_unit": _("Give points per unit above 0, e.g. 0.1.")})
        else:
            if not self.event_type:
                raise ValidationError({"event_type": _("Name the event type, e.g. review.posted.")})
            if self.event_type in ("purchase", "refund", "order_cancelled"):
                raise ValidationError({"event_type": _(
                    "Orders earn through spend rules and refunds reverse them: pick another "
                    "event.")})
            if not self.points:
                raise ValidationError({"points": _("Give a number of points above 0.")})


class Tier(models.Model):
    """A loyalty tier: reached with `threshold` points earned in the last 12 months."""

    name = models.CharField(_("name"), max_length=32, unique=True,
                            help_text=_("e.g. bronze, silver, gold"))
    threshold = models.PositiveIntegerField(
        _("threshold"), unique=True,
        help_text=_("Points earned in the last 12 months needed, e.g. 1000.")
    )

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["threshold"]

    def __str__(self):
        return f"{self.name} ({self.threshold}+)"


class Coupon(models.Model):
    """A unique, single-use code with an expiry, issued to one customer."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="coupons")
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+"
    )
    enrollment = models.ForeignKey(
        Enrollment, verbose_name=_("enrollment"), null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+"
    )
    step = models.ForeignKey(
        JourneyStep, verbose_name=_("step"), null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+"
    )
    # The referral it rewards (one per side), else null.
    referral = models.ForeignKey(
        Referral, verbose_name=_("referral"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+"
    )
    issued_at = models.DateTimeField(_("issued at"), default=clock.now)
    expires_at = models.DateTimeField(_("expires at"))
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    # The shop's order id the code was used on: a retried redeem for it is a no-op.
    redeemed_order = models.CharField(_("redeemed order"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step"], name="coupon_unique_journey_step",
                condition=models.Q(enrollment__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["referral", "customer"], name="coupon_unique_referral",
                condition=models.Q(referral__isnull=False),
            ),
        ]

    def __str__(self):
        return self.code
