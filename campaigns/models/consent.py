"""Consent: current subscription state per topic, the append-only consent log, suppressions."""
from django.db import models

from campaigns import clock

from .customers import Customer


class Topic(models.TextChoices):
    """What a customer can say yes or no to. MARKETING is the global switch."""

    MARKETING = "marketing", "All marketing"
    OFFERS = "offers", "Offers"
    SURVEYS = "surveys", "Surveys"
    LOYALTY = "loyalty", "Loyalty news"


class ConsentSource(models.TextChoices):
    CHECKOUT = "checkout"
    API = "api"
    IMPORT = "import"
    PREFERENCE_CENTRE = "preference_centre"
    UNSUBSCRIBE_LINK = "unsubscribe_link"
    COMPLAINT = "complaint"
    PROVIDER = "provider"
    ADMIN = "admin"


class Subscription(models.Model):
    """Current state per (customer, topic), derived from ConsentEvent by services.consent."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="subscriptions")
    topic = models.CharField(max_length=32, choices=Topic.choices)
    subscribed = models.BooleanField()
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "topic"], name="subscription_unique_topic")
        ]

    def __str__(self):
        return f"{self.topic}: {'yes' if self.subscribed else 'no'}"


class ConsentEvent(models.Model):
    """Append-only proof of every yes and every no."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consent_events")
    topic = models.CharField(max_length=32, choices=Topic.choices)
    granted = models.BooleanField()
    occurred_at = models.DateTimeField(default=clock.now)
    source = models.CharField(max_length=32, choices=ConsentSource.choices)
    wording_version = models.CharField(max_length=64, blank=True)
    method = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["customer", "occurred_at"])]

    def __str__(self):
        return f"{'granted' if self.granted else 'withdrawn'} {self.topic} ({self.source})"


class Suppression(models.Model):
    """An address (keyed HMAC-SHA256 of the normalised email) that must never be mailed again."""

    class Reason(models.TextChoices):
        ERASED = "erased"
        BOUNCED = "bounced"
        COMPLAINED = "complained"
        MANUAL = "manual"

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(default=clock.now)

    def __str__(self):
        return f"{self.email_hash[:12]}… ({self.reason})"
