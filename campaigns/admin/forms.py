"""Admin forms: template translations validated (and versioned) on save, suppression by
address, and event-type suggestions for event triggers."""
from django import forms
from django.db.models import F
from django.utils.html import format_html, format_html_join
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_lazy as _

from campaigns.exceptions import TemplateRenderError
from campaigns.models import LifecycleStage, Suppression, TemplateTranslation
from campaigns.services.rendering import render_limits
from campaigns.templating import template_validate

_PARTS = ("subject", "html_body", "text_body")


class TemplateTranslationForm(forms.ModelForm):
    """Refuses a translation that doesn't compile or render with a sample customer, or
    that takes too long or comes out too large doing it (the limits of a send).

    Saving a changed translation bumps its version, which retires compiled copies cached
    under the old one in every worker.
    """

    class Meta:
        model = TemplateTranslation
        fields = ["locale", *_PARTS]
        widgets = {
            "locale": forms.TextInput(attrs={"size": 6}),
            "subject": forms.TextInput(attrs={"size": 80}),
            "html_body": forms.Textarea(
                attrs={"rows": 14, "cols": 100, "style": "font-family:monospace"}
            ),
            "text_body": forms.Textarea(
                attrs={"rows": 10, "cols": 100, "style": "font-family:monospace"}
            ),
        }
        help_texts = {
            "locale": _("e.g. sv, nb, en. Customers in other languages get the template's "
                        "default."),
            "html_body": _("The message itself in simple HTML: the layout adds the logo, "
                           "colours and footer, and the unsubscribe footer is added "
                           "automatically. With no layout, write a whole email with inline "
                           "styles."),
            "text_body": _("The same message as plain text, for mail apps that show no HTML."),
        }

    def clean_locale(self):
        return self.cleaned_data["locale"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        parts = {name: cleaned.get(name) for name in _PARTS}
        if any(value is None for value in parts.values()):
            return cleaned  # a required part is missing; its own error says so
        try:
            template_validate(**parts, limits=render_limits())
        except TemplateRenderError as error:
            self._add_template_errors(parts, error)
        return cleaned

    def _add_template_errors(self, parts: dict, error: TemplateRenderError) -> None:
        """Put each broken part's message on its own field."""
        found = False
        for name in _PARTS:
            # The other parts blank: an empty template is always valid.
            alone = {other: (parts[name] if other == name else "") for other in _PARTS}
            try:
                template_validate(**alone, limits=render_limits())
            except TemplateRenderError as part_error:
                self.add_error(name, str(part_error))
                found = True
        if not found:
            self.add_error(None, str(error))

    def save(self, commit=True):
        translation = super().save(commit=False)
        if translation.pk is not None and self.has_changed():
            # In the database, so two editors saving at once still get two versions.
            translation.version = F("version") + 1
        if commit:
            translation.save()
            translation.refresh_from_db(fields=["version"])
        return translation


class SuppressionAddForm(forms.ModelForm):
    """Marketers type an address; only its hash is stored."""

    email = forms.EmailField(help_text=_("Stored only as a SHA-256 hash; never mailed again."))

    class Meta:
        model = Suppression
        fields = ["email", "reason"]


# Event types a trigger can name: the shop's usual ones and the lifecycle-stage changes
# that services.rfm emits. Any other type can still be typed.
KNOWN_EVENT_TYPES = [
    ("signup", _("a customer signed up")),
    ("purchase", _("an order was placed")),
    ("refund", _("an order was refunded")),
    ("order_cancelled", _("an order was cancelled")),
    ("support_closed", _("a support case was closed")),
    ("checkout.started", _("a checkout was started (a cart)")),
    ("cart.updated", _("a cart was changed")),
    ("product.viewed", _("a product was viewed")),
    ("product.reorder_due", _("a product is due for reorder (its usual interval has passed)")),
    ("survey.promoter", _("a survey answer from a promoter (NPS 9-10)")),
    ("survey.detractor", _("a survey answer from a detractor (NPS 0-6, CSAT 1-2)")),
    ("referral.joined", _("a friend the customer referred joined")),
    ("referral.rewarded", _("the customer got a referral reward")),
    # Lazy, so each page shows the stage in the marketer's language.
    *((f"lifecycle.{stage.value}", lazy(lambda stage: gettext(
        "became %(stage)s (nightly lifecycle scoring)") % {"stage": str(stage.label).lower()},
        str)(stage))
      for stage in LifecycleStage if stage != LifecycleStage.PROSPECT),
]


class EventTypeInput(forms.TextInput):
    """A text box that suggests the known event types (an HTML datalist) but takes any."""

    def render(self, name, value, attrs=None, renderer=None):
        list_id = f"{(attrs or {}).get('id') or name}-types"
        box = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join(
            "", '<option value="{}">{}</option>', KNOWN_EVENT_TYPES
        )
        return format_html('{}<datalist id="{}">{}</datalist>', box, list_id, options)
