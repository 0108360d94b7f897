"""Consent: current subscription state per topic, the append-only consent log, suppressions,
the per-country legal-ground policy, double opt-in requests and erasure requests."""
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns import clock

from .customers import Customer


class Topic(models.TextChoices):
    """What a customer can say yes or no to. MARKETING is the global switch."""

    MARKETING = "marketing", _("All marketing")
    OFFERS = "offers", _("Offers")
    SURVEYS = "surveys", _("Surveys")
    LOYALTY = "loyalty", _("Loyalty news")


class ConsentSource(models.TextChoices):
    CHECKOUT = "checkout", _("Checkout")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    PREFERENCE_CENTRE = "preference_centre", _("Preference centre")
    UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")
    COMPLAINT = "complaint", _("Complaint")
    PROVIDER = "provider", _("Provider")
    ADMIN = "admin", _("Admin")
    SUBSCRIPTION_PAGE = "subscription_page", _("Subscription page")


class Subscription(models.Model):
    """Current state per (customer, topic), derived from ConsentEvent by services.consent."""

    # Indexed by the (customer, topic) constraint, which also serves lookups by customer.
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="subscriptions",
                                 db_index=False)
    topic = models.CharField(_("topic"), max_length=32, choices=Topic.choices)
    subscribed = models.BooleanField(_("subscribed"))
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.UniqueConstraint(fields=["customer", "topic"], name="subscription_unique_topic")
        ]

    def __str__(self):
        return f"{self.topic}: {'yes' if self.subscribed else 'no'}"


class ConsentEvent(models.Model):
    """Append-only proof of every yes and every no."""

    # Indexed by (customer, occurred_at) below, which also serves lookups by customer.
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="consent_events", db_index=False)
    topic = models.CharField(_("topic"), max_length=32, choices=Topic.choices)
    granted = models.BooleanField(_("granted"))
    occurred_at = models.DateTimeField(_("occurred at"), default=clock.now)
    source = models.CharField(_("source"), max_length=32, choices=ConsentSource.choices)
    wording_version = models.CharField(_("wording version"), max_length=64, blank=True)
    method = models.CharField(_("method"), max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(_("ip address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["customer", "occurred_at"])]

    def __str__(self):
        return f"{'granted' if self.granted else 'withdrawn'} {self.topic} ({self.source})"


class Suppression(models.Model):
    """An address (keyed HMAC-SHA256 of the normalised email) that must never be mailed again."""

    class Reason(models.TextChoices):
        ERASED = "erased", _("Erased")
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")
        MANUAL = "manual", _("Manual")

    email_hash = models.CharField(_("email hash"), max_length=64, unique=True)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(_("created at"), default=clock.now)

    class Meta:
        verbose_name = _("suppression")
        verbose_name_plural = _("suppressions")

    def __str__(self):
        return f"{self.email_hash[:12]}… ({self.reason})"


class CountryPolicy(models.Model):
    """May marketing rest on the existing-customer exception (soft opt-in) in a country?

    Without a row for the customer's country, marketing needs recorded opt-in consent.
    With one that enables the exception, a customer who never said no may also get
    marketing when they bought from the shop, were offered a clear opt-out when their
    address was collected (`Customer.opt_out_offered_at`), and the email is about the
    shop's own similar products (`MessageTemplate.similar_products`). The relationship
    fields narrow "bought once" to what Norway's Forbrukertilsynet accepts.
    """

    country = models.CharField(
        _("country"), max_length=2, unique=True, help_text=_("ISO 3166-1 alpha-2, e.g. SE or NO.")
    )
    existing_customer_exception = models.BooleanField(
        _("existing customer exception"), default=False,
        help_text=_("Allow marketing to customers who bought and did not opt out when "
                    "offered (ePrivacy art. 13(2)). Off: recorded opt-in consent only."),
    )
    relationship_days = models.PositiveIntegerField(
        _("relationship days"), null=True, blank=True,
        help_text=_("The last purchase must be at most this many days ago (empty: any time)."),
    )
    relationship_min_orders = models.PositiveIntegerField(
        _("relationship min orders"), default=1,
        help_text=_("At least this many purchases (repeated purchases) ..."),
    )
    relationship_min_total = models.DecimalField(
        _("relationship min total"), max_digits=12, decimal_places=2, default=Decimal("0"),
        help_text=_("... or at least this much spent in total (a larger purchase) ..."),
    )
    membership_counts = models.BooleanField(
        _("membership counts"), default=False,
        help_text=_("... or a loyalty membership (a tier) counts as a running agreement."),
    )
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)

    class Meta:
        verbose_name = _("country marketing policy")
        verbose_name_plural = _("country marketing policies")
        ordering = ["country"]

    def __str__(self):
        return f"{self.country}: {'existing customers too' if self.existing_customer_exception else 'opt-in only'}"

    def clean(self):
        if self.country and not (len(self.country) == 2 and self.country.isalpha()):
            raise ValidationError({"country": _("Two letters, e.g. SE.")})
        self.country = self.country.upper()


class SubscriptionRequest(models.Model):
    """A "yes" waiting for its double opt-in confirmation (GD-9).

    Holds the proof of the request; the consent log gets the grant only when the person
    confirms through the signed link in the confirmation email. Nothing marketing is sent
    to the customer while a request is pending.
    """

    # Kept only until the request is settled or expires (then purged): the address is
    # needed to send the confirmation to someone who is not a customer yet.
    email = models.EmailField(_("email"), max_length=254)
    email_hash = models.CharField(_("email hash"), max_length=64, db_index=True)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="subscription_requests",
    )
    topics = models.JSONField(_("topics"), default=list,
                              help_text=_("Topics asked for, e.g. [\"marketing\"]."))
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    locale = models.CharField(_("locale"), max_length=16, blank=True)
    source = models.CharField(_("source"), max_length=32, choices=ConsentSource.choices)
    wording_version = models.CharField(_("wording version"), max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(_("ip address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    requested_at = models.DateTimeField(_("requested at"), default=clock.now)
    expires_at = models.DateTimeField(_("expires at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("subscription request")
        verbose_name_plural = _("subscription requests")
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["customer", "confirmed_at"])]

    def __str__(self):
        state = "confirmed" if self.confirmed_at else "cancelled" if self.cancelled_at else "pending"
        return f"subscription request #{self.pk} ({state})"


class ErasureRequest(models.Model):
    """A customer asked, from the preference centre, for their data to be deleted.

    The shop's staff handle it (the erase action); the row is the record of the request.
    """

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="erasure_requests")
    requested_at = models.DateTimeField(_("requested at"), default=clock.now)
    ip_address = models.GenericIPAddressField(_("ip address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")
        ordering = ["-requested_at"]

    def __str__(self):
        return f"erasure request #{self.pk} ({'handled' if self.handled_at else 'open'})"
