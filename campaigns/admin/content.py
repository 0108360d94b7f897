"""Admin for message templates and their translations, with a rendered preview."""
from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import escape, format_html, format_html_join

from campaigns.exceptions import TemplateRenderError
from campaigns.models import MessageTemplate, TemplateTranslation
from campaigns.services.rendering import render_limits
from campaigns.templating import template_preview

from .forms import TemplateTranslationForm

_VARIABLES = [
    ("customer.first_name", "first name (may be empty: write "
                            "{{ customer.first_name or \"there\" }})"),
    ("customer.last_name", "last name"),
    ("customer.email", "email address"),
    ("customer.locale", "language, e.g. sv"),
    ("customer.external_id", "the shop's customer id"),
    ("site_url", "the shop's address"),
    ("company.name", "the company's name"),
    ("company.address", "the company's postal address"),
    ("campaign.name", "the campaign's name"),
]

TEMPLATE_HELP = format_html(
    "<p>Texts are Jinja2 templates. Available: {}.</p>"
    "<p>Every marketing email automatically ends with the company's name and address, an "
    "unsubscribe link and a note on the right to object, in the customer's language: do not "
    "add your own. A mistake in a template is shown when you save, naming the part and line.</p>",
    format_html_join(", ", "<code>{{{{ {} }}}}</code> ({})", _VARIABLES),
)


def preview_html(translation: TemplateTranslation) -> str:
    """Subject, HTML (in a sandboxed iframe) and text, rendered with the sample customer."""
    try:
        rendered = template_preview(translation=translation, limits=render_limits())
    except TemplateRenderError as error:
        return format_html('<p class="errornote">{}</p>', str(error))
    return format_html(
        '<p><strong>Subject:</strong> {}</p>'
        # srcdoc holds the escaped document; sandbox="" blocks scripts, forms and navigation.
        '<iframe sandbox="" srcdoc="{}" title="HTML preview" style="width:100%;max-width:680px;'
        'height:560px;border:1px solid #ccc;background:#fff"></iframe>'
        '<details><summary>Plain text</summary><pre style="white-space:pre-wrap;max-width:680px">'
        "{}</pre></details>",
        rendered["subject"], escape(rendered["html"]), rendered["text"],
    )


class TemplateTranslationInline(admin.StackedInline):
    model = TemplateTranslation
    form = TemplateTranslationForm
    extra = 0
    fields = ["locale", "subject", "html_body", "text_body", "version", "preview_link"]
    readonly_fields = ["version", "preview_link"]
    show_change_link = True

    @admin.display(description="preview")
    def preview_link(self, obj):
        if obj.pk is None:
            return "Save to see a preview."
        url = reverse("admin:campaigns_templatetranslation_change", args=[obj.pk])
        return format_html('<a href="{}">Open this translation with its preview</a>', url)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "purpose", "topic", "default_locale", "locales", "step_count",
                    "updated_at"]
    list_filter = ["purpose", "topic"]
    search_fields = ["name"]
    inlines = [TemplateTranslationInline]
    fieldsets = [
        (None, {"fields": ["name", "purpose", "topic", "similar_products", "default_locale"]}),
        ("How to write a template", {"fields": [], "description": TEMPLATE_HELP}),
        ("Preview with a sample customer (saved versions)", {"fields": ["previews"]}),
    ]
    readonly_fields = ["previews"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .annotate(n_steps=Count("steps", distinct=True))
            .prefetch_related("translations")
        )

    @admin.display(description="locales")
    def locales(self, obj):
        return ", ".join(sorted(t.locale for t in obj.translations.all())) or "—"

    @admin.display(description="used in steps", ordering="n_steps")
    def step_count(self, obj):
        return obj.n_steps

    @admin.display(description="Rendered")
    def previews(self, obj):
        translations = sorted(obj.translations.all(), key=lambda t: t.locale) if obj.pk else []
        if not translations:
            return "Add a translation and save to see it rendered."
        return format_html_join(
            "", "<h3>{} (version {})</h3>{}",
            ((t.locale, t.version, preview_html(t)) for t in translations),
        )


@admin.register(TemplateTranslation)
class TemplateTranslationAdmin(admin.ModelAdmin):
    form = TemplateTranslationForm
    list_display = ["template", "locale", "subject", "version", "updated_at"]
    list_filter = ["locale", "template"]
    list_select_related = ["template"]
    search_fields = ["template__name", "subject"]
    fieldsets = [
        (None, {"fields": ["template", "locale", "version"]}),
        ("Texts", {"fields": ["subject", "html_body", "text_body"],
                   "description": TEMPLATE_HELP}),
        ("Preview with a sample customer (as last saved)", {"fields": ["preview"]}),
    ]
    readonly_fields = ["version", "preview"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        obj.refresh_from_db(fields=["version"])

    @admin.display(description="Rendered")
    def preview(self, obj):
        if obj.pk is None:
            return "Save to see a preview."
        return preview_html(obj)
