"""The product catalogue in the admin, and the lines shown on an order's and an event's page.

Products arrive from the shop (the API's /products or the CSV import): the admin lists,
searches and corrects them, and does not add them by hand.
"""
from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campaigns.models import EventLine, OrderLine, Product

from .deliveries import ReadOnlyInline, admin_link

# The separator of a category path ("Kitchen > Knives").
CATEGORY_SEPARATOR = " > "
# The most top-level categories the filter lists (the sidebar stays short).
TOP_CATEGORIES_LIMIT = 50


def is_web_url(url: str) -> bool:
    return (url or "").lower().startswith(("http://", "https://"))


def thumbnail_html(url: str) -> str:
    """An <img> for an http(s) image URL; nothing for any other scheme."""
    if not is_web_url(url):
        return "—"
    return format_html('<img src="{}" alt="" width="48" height="48" loading="lazy" '
                       'referrerpolicy="no-referrer" style="object-fit:cover">', url)


class TopCategoryFilter(admin.SimpleListFilter):
    """A top-level category and everything under it."""

    title = _("category")
    parameter_name = "top_category"

    def lookups(self, request, model_admin):
        tops = set()
        for category in (Product.objects.exclude(category="").order_by()
                         .values_list("category", flat=True).distinct()[:5000]):
            tops.add(category.split(CATEGORY_SEPARATOR.strip(), 1)[0].strip())
        return [(top, top) for top in sorted(t for t in tops if t)[:TOP_CATEGORIES_LIMIT]]

    def queryset(self, request, queryset):
        top = self.value()
        if not top:
            return queryset
        return queryset.filter(category=top) | queryset.filter(
            category__startswith=f"{top}{CATEGORY_SEPARATOR}")


# The languages whose names the form edits (the site's three); other keys of the stored
# object are kept as they are.
NAME_LANGUAGES = (("sv", _("Name in Swedish")), ("nb", _("Name in Norwegian")),
                  ("en", _("Name in English")))


def _languages() -> list[tuple[str, str]]:
    return list(NAME_LANGUAGES)


def _name_field(label) -> forms.CharField:
    return forms.CharField(label=label, required=False, max_length=300,
                           help_text=_("Empty: the name above."))


class ProductForm(forms.ModelForm):
    """The names per language as one field each instead of a JSON object."""

    url = forms.URLField(label=_("URL"), max_length=2000, required=False,
                         assume_scheme="https")
    image_url = forms.URLField(label=_("image URL"), max_length=2000, required=False,
                               assume_scheme="https")
    name_sv = _name_field(NAME_LANGUAGES[0][1])
    name_nb = _name_field(NAME_LANGUAGES[1][1])
    name_en = _name_field(NAME_LANGUAGES[2][1])

    class Meta:
        model = Product
        exclude = ["names"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = self.instance.names if isinstance(self.instance.names, dict) else {}
        for code, _label in _languages():
            self.initial.setdefault(f"name_{code}", names.get(code, ""))

    def clean_image_url(self):
        url = self.cleaned_data.get("image_url", "")
        if url and not is_web_url(url):
            raise forms.ValidationError(_("The image URL must start with http:// or https://."))
        return url

    def clean_url(self):
        url = self.cleaned_data.get("url", "")
        if url and not is_web_url(url):
            raise forms.ValidationError(_("The URL must start with http:// or https://."))
        return url

    def save(self, commit=True):
        stored = self.instance.names if isinstance(self.instance.names, dict) else {}
        names = {key: value for key, value in stored.items()
                 if key not in {code for code, _language in _languages()}}
        for code, _language in _languages():
            value = (self.cleaned_data.get(f"name_{code}") or "").strip()
            if value:
                names[code] = value
        self.instance.names = names
        return super().save(commit=commit)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    list_display = ["thumbnail", "name", "sku", "category", "brand", "price_words", "in_stock",
                    "reorder_words"]
    list_display_links = ["name"]
    list_filter = [TopCategoryFilter, "brand", "in_stock"]
    search_fields = ["sku", "name", "brand"]
    search_help_text = _("SKU, name or brand.")
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = ["thumbnail_large", "learned_reorder_days", "created_at", "updated_at"]

    def get_fieldsets(self, request, obj=None):
        names = [f"name_{code}" for code, _language in _languages()]
        return [
            (None, {"fields": ["sku", "name", *names, "url", "image_url", "thumbnail_large"]}),
            (_("Price and stock"), {"fields": ["price", "currency", "in_stock"]}),
            (_("Grouping"), {"fields": ["category", "brand", "attributes"]}),
            (_("Time to reorder"), {"fields": ["reorder_days", "learned_reorder_days"]}),
            (_("History"), {"classes": ["collapse"], "fields": ["created_at", "updated_at"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        # The SKU is the shop's key: lines and the next upsert find the product by it.
        return [*self.readonly_fields, "sku"] if obj is not None else self.readonly_fields

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("image"))
    def thumbnail(self, obj):
        return thumbnail_html(obj.image_url)

    @admin.display(description=_("image"))
    def thumbnail_large(self, obj):
        if not is_web_url(obj.image_url):
            return "—"
        return format_html('<img src="{}" alt="" style="max-width:240px;max-height:240px" '
                           'referrerpolicy="no-referrer">', obj.image_url)

    @admin.display(description=_("price"), ordering="price")
    def price_words(self, obj):
        if obj.price is None:
            return "—"
        return f"{obj.price} {obj.currency}".strip()

    @admin.display(description=_("reorder after"), ordering="reorder_days")
    def reorder_words(self, obj):
        def days(count):
            return ngettext("%(count)d day", "%(count)d days", count) % {"count": count}

        if obj.reorder_days:
            if obj.learned_reorder_days:
                return _("%(set)s (learned: %(learned)s)") % {
                    "set": days(obj.reorder_days), "learned": days(obj.learned_reorder_days)}
            return days(obj.reorder_days)
        if obj.learned_reorder_days:
            return _("%(learned)s (learned)") % {"learned": days(obj.learned_reorder_days)}
        return "—"


class _LinesInline(ReadOnlyInline):
    fields = ["sku", "product_link", "quantity", "price"]
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    @admin.display(description=_("product"))
    def product_link(self, obj):
        if obj.product_id is None:
            return _("not in the catalogue (yet)")
        return admin_link(obj.product, obj.product.name)


class OrderLineInline(_LinesInline):
    model = OrderLine
    fields = ["sku", "product_link", "quantity", "price", "refunded_quantity"]
    readonly_fields = fields
    verbose_name_plural = _("Lines")


class EventLineInline(_LinesInline):
    model = EventLine
    verbose_name_plural = _("Lines (the cart or the viewed product)")

