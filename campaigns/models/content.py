"""Message templates: one template per message, one translation per locale."""
from django.db import models

from .base import TimestampedModel
from .consent import Topic


class Purpose(models.TextChoices):
    MARKETING = "marketing", "Marketing (needs consent, carries unsubscribe)"
    TRANSACTIONAL = "transactional", "Transactional (no promotion)"


class MessageTemplate(TimestampedModel):
    name = models.CharField(max_length=200, unique=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    topic = models.CharField(
        max_length=32,
        choices=Topic.choices,
        default=Topic.MARKETING,
        help_text="The subscription topic a marketing message needs.",
    )
    similar_products = models.BooleanField(
        default=False,
        help_text="A marketing message about the shop's own products similar to what the "
        "customer bought: it may go to existing customers where the country allows it "
        "(existing-customer exception), not only to those who opted in.",
    )
    default_locale = models.CharField(max_length=16, default="en")

    class Meta:
        constraints = [
            # Classified before it can run: there is no default and no third value.
            models.CheckConstraint(
                condition=models.Q(purpose__in=["marketing", "transactional"]),
                name="template_purpose_classified",
            )
        ]

    def __str__(self):
        return self.name


class TemplateTranslation(TimestampedModel):
    """Subject, HTML and text of a template in one locale (Jinja2, sandboxed)."""

    template = models.ForeignKey(
        MessageTemplate, on_delete=models.CASCADE, related_name="translations"
    )
    locale = models.CharField(max_length=16)
    subject = models.CharField(max_length=300)
    html_body = models.TextField()
    text_body = models.TextField()
    # Bumped on every save; compiled templates are cached under (id, version).
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["template", "locale"], name="translation_unique_locale")
        ]

    def __str__(self):
        return f"{self.template} [{self.locale}]"
