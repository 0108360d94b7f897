"""Admin for email layouts, message templates and their translations: the template page is
the editor (variables, live preview of the unsaved draft, test send, duplicate)."""
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_lazy as _, ngettext

from campaigns.models import (
    AttributeDefinition, Customer, EmailLayout, MessageTemplate, Purpose, TemplateTranslation,
)
from campaigns.services.rendering import (
    draft_preview, draft_render, template_layout,
)
from campaigns.services.template_copies import template_duplicate
from campaigns.services.test_sends import (
    SendTestRefused, template_test_recipients, template_test_send,
)
from campaigns.templating import SAMPLE_CONTEXT

from .forms import TemplateTranslationForm

# What a template can read, with the sample's value and when it is there. Shown on the
# template page; a click puts it where the cursor is.
_VARIABLES = [
    ("customer.first_name", _("first name (may be empty: write "
                              "{{ customer.first_name or \"there\" }})")),
    ("customer.last_name", _("last name")),
    ("customer.email", _("email address")),
    ("customer.locale", _("language, e.g. sv")),
    ("customer.external_id", _("the shop's customer id")),
    ("site_url", _("the shop's address")),
    ("company.name", _("the company's name (from the layout)")),
    ("company.address", _("the company's postal address (from the layout)")),
    ("company.contact_url", _("the service team's contact page or address (the "
                              "SERVICE_CONTACT_URL setting)")),
    ("campaign.name", _("the campaign's name")),
    ("loyalty.balance", _("points balance")),
    ("loyalty.tier", _("loyalty tier")),
    ("loyalty.next_tier", _("the next tier")),
    ("loyalty.points_to_next_tier", _("points still needed for the next tier")),
    ("order.external_id", _("order number: only in journeys that start with an order")),
    ("order.amount", _("order amount: only in journeys that start with an order")),
    ("order.currency", _("order currency: only in journeys that start with an order")),
    ("reward.points", _("points granted by the journey: only after a reward step")),
    ("reward.coupon_code", _("coupon code: only after a coupon reward step")),
    ("reward.coupon_expires", _("the coupon's last day: only after a coupon reward step")),
    ("expiring.points", _("points about to expire: only in the points-expiring journey")),
    ("expiring.expires_on", _("the day they expire: only in the points-expiring journey")),
    ("survey.followup_url", _("link to the survey's follow-up question")),
    ("referral.url", _("the customer's referral link to share with friends (empty without "
                       "marketing consent: write {% if referral.url %}…{% endif %})")),
    ("referral.code", _("the customer's referral code, for friends to type in")),
    ("referral.count", _("friends who joined with the customer's code")),
    ("referral.rewarded_points", _("points the customer earned for friends' first orders")),
    ("event.type", _("the event that started the journey, e.g. checkout.started: only in "
                     "journeys that start with an event")),
    ("event.occurred_at", _("when that event happened")),
    ("event.properties", _("the event's own fields as the shop sent them, e.g. "
                           "event.properties.cart_url")),
]
# Product lists and content by segment: loops and calls, inserted whole, with what each
# item holds (an ITEM: docs/templates.md).
_ITEM_FIELDS = ("name, url, image_url, price, currency, quantity, line_total, sku, category, "
                "brand, in_stock, known, attributes.<name>")
_PERSONAL = [
    ("event.items", '{% for item in event.items %}\n<p><a href="{{ item.url }}">{{ item.name }}'
     '</a> × {{ item.quantity }}: {{ item.price }} {{ item.currency }}</p>\n{% endfor %}',
     _("the cart's or the order's products (cart, browse, purchase and reorder journeys); "
       "each item has: %(fields)s")),
    ("orders", '{% for order in orders %}\n<p>{{ order.external_id }}: {{ order.amount }} '
     '{{ order.currency }}</p>\n{% for item in order.items %}<p>{{ item.name }}</p>'
     '{% endfor %}\n{% endfor %}',
     _("the customer's last 3 orders, newest first: external_id, amount, currency, "
       "placed_at and items (as above)")),
    ('in_segment("…")', '{% if in_segment("VIP") %}\n<p>Only members of the segment see '
     'this.</p>\n{% endif %}',
     _("content by segment: true when the customer is in the segment of that name (the "
       "preview shows both versions)")),
    ("recommendations(4)", '{% for item in recommendations(4) %}\n<p><a href="{{ item.url }}">'
     '{{ item.name }}</a>: {{ item.price }} {{ item.currency }}<br>{{ item.reason }}</p>\n'
     '{% endfor %}',
     _("up to 4 products for this customer, each with a reason (“Because you bought …”); "
       "strategy=\"bought_together\", \"category\" or \"top\" to choose; never one "
       "bought lately or out of stock, and fewer when there is not enough to go on")),
    ("item.attributes.color", '{{ item.attributes.color | default("") }}',
     _("a product attribute inside a loop over items: a product may lack it, so give a "
       "default; the preview says which products lack it")),
]
# Loops, inserted whole.
_SNIPPETS = [
    (_("NPS buttons 0–10"),
     '<table role="presentation" class="scale"><tr>{% for link in survey.nps_links %}'
     '<td><a href="{{ link.url }}">{{ link.score }}</a></td>{% endfor %}</tr></table>'),
    (_("A button"), '<p class="action"><a href="{{ site_url }}" class="button">Visit the shop</a></p>'),
]


def _sample_value(name: str) -> str:
    value = SAMPLE_CONTEXT
    for key in name.split("."):
        value = value[key]
    return str(value)


_TEMPLATE_HELP = _(
    "Texts are Jinja2 templates: write a variable as {{ customer.first_name }}. The list of "
    "variables is under the translations. The HTML goes inside the layout (logo, colours, "
    "footer): write only the message itself, with plain tags such as <h1>, <p> and "
    "<a class=\"button\">. Every marketing email automatically ends with the company's name "
    "and address, an unsubscribe link and a note on the right to object, in the customer's "
    "language: do not add your own."
)
# Fieldset descriptions are shown as HTML: this one shows its tags as text.
TEMPLATE_HELP = lazy(lambda: escape(str(_TEMPLATE_HELP)), str)()


def preview_html(translation: TemplateTranslation) -> str:
    """Subject, HTML (in a sandboxed iframe, in its layout with the footer) and text, rendered
    with the sample customer."""
    template = translation.template
    result = draft_preview(subject=translation.subject, html_body=translation.html_body,
                           text_body=translation.text_body, purpose=template.purpose,
                           locale=translation.locale, layout=template_layout(template))
    rendered = result["rendered"]
    if rendered is None:
        return format_html('<ul class="errorlist">{}</ul>', format_html_join(
            "", "<li>{}</li>", ((p,) for part in result["problems"].values() for p in part)))
    return format_html(
        '<p><strong>{}</strong> {}</p>'
        # srcdoc holds the escaped document; sandbox="" blocks scripts, forms and navigation.
        '<iframe sandbox="" srcdoc="{}" title="{}" style="width:100%;max-width:680px;'
        'height:560px;border:1px solid #ccc;background:#fff"></iframe>'
        '<details><summary>{}</summary><pre style="white-space:pre-wrap;max-width:680px">'
        "{}</pre></details>",
        gettext("Subject:"), rendered["subject"], escape(rendered["html"]), gettext("HTML preview"),
        gettext("Plain text"), rendered["text"],
    )


class DraftForm(forms.Form):
    """What the editor posts: the unsaved draft and whom to render it for. Bounded, so a
    hostile post gets a field error, never a 500."""

    subject = forms.CharField(label=_("subject"), required=False, max_length=300, strip=False)
    html_body = forms.CharField(label=_("HTML body"), required=False, max_length=200_000,
                                strip=False)
    text_body = forms.CharField(label=_("text body"), required=False, max_length=100_000,
                                strip=False)
    locale = forms.CharField(label=_("language"), required=False, max_length=16)
    purpose = forms.ChoiceField(label=_("purpose"), choices=Purpose.choices)
    layout = forms.ModelChoiceField(label=_("layout"), queryset=EmailLayout.objects.all(),
                                    required=False)
    raw_html = forms.BooleanField(label=_("no layout"), required=False)
    customer = forms.ModelChoiceField(label=_("customer"), queryset=Customer.objects.all(),
                                      required=False)

    def resolved_layout(self) -> EmailLayout | None:
        """The layout as the template would resolve it once saved (template_layout)."""
        data = self.cleaned_data
        draft = MessageTemplate(layout=data["layout"], raw_html=data["raw_html"])
        return template_layout(draft)

    def draft(self) -> dict:
        data = self.cleaned_data
        return {"subject": data["subject"], "html_body": data["html_body"],
                "text_body": data["text_body"], "purpose": data["purpose"],
                "locale": (data["locale"] or "en").strip().lower(),
                "layout": self.resolved_layout(), "customer": data["customer"]}


class TestSendForm(DraftForm):
    to = forms.ChoiceField(label=_("send to"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = [(a, a) for a in template_test_recipients(user=user)]


def _errors_json(form: forms.Form) -> JsonResponse:
    """A refused post: each field's errors under its name and label, for the page to show."""
    return JsonResponse({"field_errors": {
        name: {"label": str(form.fields[name].label) if name in form.fields else "",
               "messages": [str(m) for m in errors]}
        for name, errors in form.errors.items()}}, status=400)


def _customer_label(customer: Customer | None) -> str:
    if customer is None:
        sample = SAMPLE_CONTEXT["customer"]
        return gettext("%(name)s (sample customer)") % {
            "name": f"{sample['first_name']} {sample['last_name']}"}
    name = f"{customer.first_name} {customer.last_name}".strip() or customer.external_id
    return f"{name} <{customer.email}>"


class TemplateTranslationInline(admin.StackedInline):
    model = TemplateTranslation
    form = TemplateTranslationForm
    extra = 0
    fields = ["locale", "subject", "html_body", "text_body", "version"]
    readonly_fields = ["version"]


@admin.register(EmailLayout)
class EmailLayoutAdmin(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "is_default", "template_count", "version", "updated_at"]
    readonly_fields = ["version", "preview"]
    fieldsets = [
        (None, {"fields": ["name", "is_default"]}),
        (_("Look"), {"fields": ["logo_url", "brand_color", "background_color", "text_color",
                                "font"]}),
        (_("Company and footer"), {"fields": ["company_name", "company_address", "footer_text"]}),
        (_("Preview with a sample message (as last saved)"), {"fields": ["version", "preview"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_templates=Count("templates"))

    @admin.display(description=_("templates"), ordering="n_templates")
    def template_count(self, obj):
        return obj.n_templates

    def save_model(self, request, obj, form, change):
        # One default: the new one takes over, in the same transaction.
        with transaction.atomic():
            if obj.is_default:
                EmailLayout.objects.filter(is_default=True).exclude(pk=obj.pk).update(
                    is_default=False)
            super().save_model(request, obj, form, change)

    @admin.display(description=_("Rendered"))
    def preview(self, obj):
        if obj.pk is None:
            return gettext("Save to see a preview.")
        sample = gettext("Hi {{ customer.first_name }},")
        body = format_html(
            "<h1>{}</h1><p>{}</p><p class=\"action\"><a href=\"{{{{ site_url }}}}\" "
            "class=\"button\">{}</a></p>",
            sample, gettext("This is how every email on this layout looks."),
            gettext("Visit the shop"))
        rendered = draft_render(subject="", html_body=str(body), text_body="",
                                purpose=Purpose.MARKETING, locale="en", layout=obj)
        return format_html('<iframe sandbox="" srcdoc="{}" title="{}" class="te-layout-frame" '
                           'style="width:680px;max-width:100%;height:560px;border:1px solid '
                           '#ccc;background:#fff"></iframe>', rendered["html"],
                           gettext("Layout preview"))


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "purpose", "topic", "layout_name", "locales", "step_count",
                    "updated_at"]
    list_filter = ["purpose", "topic", "layout"]
    search_fields = ["name"]
    inlines = [TemplateTranslationInline]
    actions = ["duplicate_selected"]
    change_form_template = "admin/campaigns/messagetemplate/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "purpose", "topic", "similar_products", "default_locale"]}),
        (_("Layout"), {"fields": ["layout", "raw_html"]}),
        (_("How to write a template"), {"fields": [], "description": TEMPLATE_HELP}),
    ]

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .annotate(n_steps=Count("steps", distinct=True))
            .select_related("layout")
            .prefetch_related("translations")
        )

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        default = EmailLayout.objects.filter(is_default=True).first()
        if default is not None:
            initial.setdefault("layout", default.pk)
        return initial

    @admin.display(description=_("languages"))
    def locales(self, obj):
        return ", ".join(sorted(t.locale for t in obj.translations.all())) or "—"

    @admin.display(description=_("used in steps"), ordering="n_steps")
    def step_count(self, obj):
        return obj.n_steps

    @admin.display(description=_("layout"))
    def layout_name(self, obj):
        if obj.raw_html:
            return gettext("no layout")
        return obj.layout.name if obj.layout_id else gettext("the default layout")

    @admin.action(description=_("Duplicate the selected templates"), permissions=["add"])
    def duplicate_selected(self, request, queryset):
        copies = [template_duplicate(template=template) for template in queryset]
        self.message_user(request, ngettext(
            "Made %(count)d copy: %(names)s.", "Made %(count)d copies: %(names)s.", len(copies),
        ) % {"count": len(copies), "names": ", ".join(c.name for c in copies)}, messages.SUCCESS)
        if len(copies) == 1:
            return HttpResponseRedirect(
                reverse("admin:campaigns_messagetemplate_change", args=[copies[0].pk]))
        return None

    # --- the editor's views -------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="campaigns_messagetemplate_preview"),
            path("test-send/", view(self.test_send_view),
                 name="campaigns_messagetemplate_test_send"),
            path("customers/", view(self.customer_search_view),
                 name="campaigns_messagetemplate_customers"),
            path("<int:object_id>/duplicate/", view(self.duplicate_view),
                 name="campaigns_messagetemplate_duplicate"),
            *super().get_urls(),
        ]

    def _editor_allowed(self, request, form: DraftForm | None = None) -> None:
        """The change permission; and to render for a real customer, seeing customers."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        if form is not None and form.is_valid() and form.cleaned_data["customer"] is not None \
                and not request.user.has_perm("campaigns.view_customer"):
            raise PermissionDenied

    def preview_view(self, request):
        """The live preview: the posted draft rendered, never saved, never sent."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._editor_allowed(request)
        form = DraftForm(request.POST)
        self._editor_allowed(request, form)
        if not form.is_valid():
            return _errors_json(form)
        draft = form.draft()
        result = draft_preview(**draft)
        rendered = result["rendered"]
        layout = draft["layout"]
        return JsonResponse({
            "subject": rendered["subject"] if rendered else "",
            "html": rendered["html"] if rendered else "",
            "text": rendered["text"] if rendered else "",
            "problems": result["problems"],
            # Warnings that do not stop the email, and content by segment's versions.
            "notes": result["notes"],
            "versions": [{"label": v["label"], "detail": v["detail"], "shown": v["shown"],
                          "subject": v["rendered"]["subject"], "html": v["rendered"]["html"],
                          "text": v["rendered"]["text"]} for v in result["versions"]],
            "for": _customer_label(draft["customer"]),
            "layout": layout.name if layout else gettext("no layout"),
        })

    def test_send_view(self, request):
        """"Send a test": the posted draft, to a staff address, marked as a test."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._editor_allowed(request)
        form = TestSendForm(request.POST, user=request.user)
        self._editor_allowed(request, form)
        if not form.is_valid():
            return _errors_json(form)
        draft = form.draft()
        result = draft_preview(**draft)
        if result["rendered"] is None:
            return JsonResponse({"error": gettext(
                "Fix the problems shown in the preview first: nothing was sent.")}, status=400)
        try:
            sent = template_test_send(user=request.user, to=form.cleaned_data["to"],
                                      rendered=result["rendered"])
        except SendTestRefused as refused:
            return JsonResponse({"error": str(refused), "field": refused.field},
                                status=429 if refused.retry_after else 400)
        return JsonResponse({"sent": gettext(
            "A test was sent to %(to)s, rendered for %(customer)s, with the subject "
            "“%(subject)s”.") % {"to": sent.to, "customer": _customer_label(draft["customer"]),
                                 "subject": sent.subject}})

    def customer_search_view(self, request):
        """Up to ten customers matching a name, email or shop id, for the preview picker."""
        if not (self.has_change_permission(request)
                and request.user.has_perm("campaigns.view_customer")):
            raise PermissionDenied
        query = request.GET.get("q", "").strip()[:100]
        found = []
        if len(query) >= 2:
            words = Q()
            for word in query.split()[:3]:
                words &= (Q(first_name__icontains=word) | Q(last_name__icontains=word)
                          | Q(email__icontains=word) | Q(external_id=word))
            found = Customer.objects.filter(words).order_by("last_name", "first_name", "id")[:10]
        return JsonResponse({"customers": [{"id": c.pk, "label": _customer_label(c)}
                                           for c in found]})

    def duplicate_view(self, request, object_id: int):
        """The "Duplicate" button: the copy opens at once."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_add_permission(request):
            raise PermissionDenied
        template = self.get_object(request, str(object_id))
        if template is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(object_id))
        copy = template_duplicate(template=template)
        self.message_user(request, gettext("“%(name)s” is a copy with all its translations. "
                                           "Journeys still use the original.") % {"name": copy.name},
                          messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:campaigns_messagetemplate_change",
                                            args=[copy.pk]))

    @staticmethod
    def _attribute_variables() -> list[tuple]:
        """The shop's custom attributes: a customer may lack one, so each is offered with a
        default (StrictUndefined would stop the email otherwise)."""
        return [(f"customer.attributes.{key}",
                 '{{ customer.attributes.%s | default("") }}' % key,
                 gettext("%(label)s (a custom attribute; empty when the customer has none)")
                 % {"label": label or key}, "—")
                for key, label in AttributeDefinition.objects.order_by("key").values_list(
                    "key", "label")]

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        context.update({
            "editor_variables": [(name, "{{ %s }}" % name, label, _sample_value(name))
                                 for name, label in _VARIABLES] + self._attribute_variables(),
            "editor_personal": [(name, insert, str(label) % {"fields": _ITEM_FIELDS}
                                 if "%(fields)s" in str(label) else label)
                                for name, insert, label in _PERSONAL],
            "editor_snippets": _SNIPPETS,
            "editor_recipients": template_test_recipients(user=request.user),
            "editor_can_pick_customer": request.user.has_perm("campaigns.view_customer"),
            "editor_can_edit": self.has_change_permission(request, obj),
            "can_duplicate": obj is not None and self.has_add_permission(request),
            "sample_customer": _customer_label(None),
            "layout_names": {str(layout.pk): layout.name for layout in EmailLayout.objects.all()},
        })
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(TemplateTranslation)
class TemplateTranslationAdmin(admin.ModelAdmin):
    form = TemplateTranslationForm
    list_display = ["template", "locale", "subject", "version", "updated_at"]
    list_filter = ["locale", "template"]
    list_select_related = ["template"]
    search_fields = ["template__name", "subject"]
    fieldsets = [
        (None, {"fields": ["template", "locale", "version"]}),
        (_("Texts"), {"fields": ["subject", "html_body", "text_body"],
                      "description": TEMPLATE_HELP}),
        (_("Preview with a sample customer (as last saved)"), {"fields": ["preview"]}),
    ]
    readonly_fields = ["version", "preview"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        obj.refresh_from_db(fields=["version"])

    @admin.display(description=_("Rendered"))
    def preview(self, obj):
        if obj.pk is None:
            return gettext("Save to see a preview.")
        return preview_html(obj)
