"""Message templates: one template per message, one translation per locale, and the shared
email layouts that wrap them."""
from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from .base import TimestampedModel
from .consent import Topic

# A colour goes into the layout's CSS as written: only #rrggbb, so nothing else can.
_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Write a colour as # and six hex digits, e.g. #2f4f4f."))


class Purpose(models.TextChoices):
    MARKETING = "marketing", _("Marketing (needs consent, carries unsubscribe)")
    TRANSACTIONAL = "transactional", _("Transactional (no promotion)")


class EmailLayout(TimestampedModel):
    """The frame every email of a template that uses it sits in: logo, colours, font,
    company details and a footer text, edited once for all templates."""

    class Font(models.TextChoices):
        # Font stacks every mail app has: a web font would not load in most of them.
        SERIF = "Georgia, 'Times New Roman', serif", _("Serif (Georgia)")
        SANS = "Arial, Helvetica, sans-serif", _("Sans-serif (Arial)")
        ROUNDED = "'Trebuchet MS', Verdana, sans-serif", _("Friendly sans-serif (Trebuchet)")
        MONO = "'Courier New', Courier, monospace", _("Typewriter (Courier)")

    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(
        _("default layout"), default=False,
        help_text=_("New templates use this layout unless you choose another."),
    )
    logo_url = models.URLField(
        _("logo address"), blank=True,
        help_text=_("The address (https://…) of the logo picture shown at the top. Leave empty "
                    "to show the company name instead."),
    )
    brand_color = models.CharField(
        _("brand colour"), max_length=7, default="#2f4f4f", validators=[_COLOUR],
        help_text=_("Buttons, links and headings, e.g. #2f4f4f."),
    )
    background_color = models.CharField(_("background colour"), max_length=7, default="#f4f1ec",
                                        validators=[_COLOUR])
    text_color = models.CharField(_("text colour"), max_length=7, default="#2b2b2b",
                                  validators=[_COLOUR])
    font = models.CharField(_("font"), max_length=64, choices=Font.choices, default=Font.SERIF)
    company_name = models.CharField(
        _("company name"), max_length=200, blank=True,
        help_text=_("Leave empty to use the company name from the settings."),
    )
    company_address = models.CharField(
        _("company address"), max_length=300, blank=True,
        help_text=_("Leave empty to use the company address from the settings."),
    )
    footer_text = models.TextField(
        _("footer text"), blank=True,
        help_text=_("A line or two under every email, e.g. opening hours or where to find "
                    "you. The unsubscribe link is always added below it."),
    )
    # Bumped on every save: compiled templates are cached under (layout id, version), so an
    # edit retires every worker's copies on their next batch.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        verbose_name = _("email layout")
        verbose_name_plural = _("email layouts")
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                    name="email_layout_one_default"),
        ]

    def __str__(self):
        return self.name

    def validate_constraints(self, exclude=None):
        # Marking a layout the default unsets the old one when it is saved (the admin's
        # save_model), so the one-default constraint is not the form's to refuse.
        super().validate_constraints(exclude={*(exclude or ()), "is_default"})

    def save(self, *args, **kwargs):
        if self.pk is not None:
            # In the database, so two editors saving at once still get two versions.
            self.version = F("version") + 1
        super().save(*args, **kwargs)
        if self.pk is not None and not isinstance(self.version, int):
            self.refresh_from_db(fields=["version"])

    @property
    def company(self) -> dict:
        return {"name": self.company_name or settings.COMPANY_NAME,
                "address": self.company_address or settings.COMPANY_ADDRESS,
                "contact_url": settings.SERVICE_CONTACT_URL}


class MessageTemplate(TimestampedModel):
    name = models.CharField(_("name"), max_length=200, unique=True)
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    topic = models.CharField(
        _("topic"),
        max_length=32,
        choices=Topic.choices,
        default=Topic.MARKETING,
        help_text=_("The subscription topic a marketing message needs."),
    )
    similar_products = models.BooleanField(
        _("about similar products"),
        default=False,
        help_text=_("A marketing message about the shop's own products similar to what the "
                    "customer bought: it may go to existing customers where the country allows "
                    "it (existing-customer exception), not only to those who opted in."),
    )
    default_locale = models.CharField(_("default language"), max_length=16, default="en")
    layout = models.ForeignKey(
        EmailLayout, on_delete=models.PROTECT, null=True, blank=True, related_name="templates",
        verbose_name=_("layout"),
        help_text=_("The frame (logo, colours, footer) around the HTML. Empty: the default layout."),
    )
    raw_html = models.BooleanField(
        _("no layout"), default=False,
        help_text=_("Tick when the HTML is a complete email of its own (with its own <html> and "
                    "styles). The unsubscribe footer is still added to marketing emails."),
    )

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
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
        MessageTemplate, on_delete=models.CASCADE, related_name="translations",
        verbose_name=_("template"),
    )
    locale = models.CharField(_("language"), max_length=16)
    subject = models.CharField(_("subject"), max_length=300)
    html_body = models.TextField(_("HTML body"))
    text_body = models.TextField(_("text body"))
    # Bumped on every save; compiled templates are cached under (id, version).
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        verbose_name = _("template translation")
        verbose_name_plural = _("template translations")
        constraints = [
            models.UniqueConstraint(fields=["template", "locale"], name="translation_unique_locale")
        ]

    def __str__(self):
        return f"{self.template} [{self.locale}]"
