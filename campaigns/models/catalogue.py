"""The shop's product catalogue, the lines of orders and of cart / browse events, and the
product lists that recommendations are drawn from."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import TimestampedModel
from .customers import Customer, Event, Order


class Product(TimestampedModel):
    """A product the shop sells, upserted by `sku` from the API or a CSV import."""

    # Unique through Meta (see Customer.external_id: no second LIKE index).
    sku = models.CharField(_("SKU"), max_length=100, help_text=_("The shop's product code."))
    name = models.CharField(_("name"), max_length=300)
    # The name per language, e.g. {"sv": "Kockkniv", "nb": "Kokkekniv"}; `name` otherwise.
    names = models.JSONField(_("names per language"), default=dict, blank=True)
    url = models.URLField(_("URL"), max_length=2000, blank=True)
    image_url = models.URLField(_("image URL"), max_length=2000, blank=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, null=True,
                                blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    # A path, e.g. "Kitchen > Knives": segments and top sellers match a category and
    # everything under it.
    category = models.CharField(_("category"), max_length=300, blank=True)
    brand = models.CharField(_("brand"), max_length=100, blank=True)
    in_stock = models.BooleanField(_("in stock"), default=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # Days after which a buyer usually needs it again: set by the shop, else learned from
    # its order history (the nightly recommendations job).
    reorder_days = models.PositiveSmallIntegerField(_("reorder after days"), null=True,
                                                    blank=True)
    learned_reorder_days = models.PositiveSmallIntegerField(
        _("learned reorder interval (days)"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["sku"], name="product_sku_unique")]
        indexes = [
            models.Index(fields=["category"], name="product_category"),
            models.Index(fields=["brand"], name="product_brand"),
        ]

    def __str__(self):
        return f"{self.name} ({self.sku})"


class Line(models.Model):
    """What every line has: a product by its sku (kept when the product is not in the
    catalogue yet, and linked when it arrives), a quantity and a unit price.

    The customer and the time are copied from the order or event: recommendations and
    product segments read millions of lines without joining them back."""

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="+", db_index=False)
    sku = models.CharField(_("SKU"), max_length=100)
    product = models.ForeignKey(Product, verbose_name=_("product"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+", db_index=False)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2, null=True,
                                blank=True)

    class Meta:
        abstract = True


class OrderLine(Line):
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE,
                              related_name="lines")
    placed_at = models.DateTimeField(_("placed at"))
    # A refund may name the lines it refunds (and how many of each).
    refunded_quantity = models.PositiveIntegerField(_("refunded quantity"), default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "id"]
        indexes = [
            models.Index(fields=["customer", "placed_at"], name="orderline_customer_time"),
            models.Index(fields=["product", "placed_at"], include=["customer"],
                         name="orderline_product_time"),
            # Lines waiting for their product: linked when it is upserted.
            models.Index(fields=["sku"], condition=models.Q(product__isnull=True),
                         name="orderline_unlinked_sku"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.sku}"


class EventLine(Line):
    """A line of a cart (`checkout.started`, `cart.updated`) or a viewed product
    (`product.viewed`): the same shape as an order's lines."""

    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE,
                              related_name="lines")
    occurred_at = models.DateTimeField(_("occurred at"))

    class Meta:
        verbose_name = _("event line")
        verbose_name_plural = _("event lines")
        ordering = ["event", "id"]
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="eventline_customer_time"),
            models.Index(fields=["product", "occurred_at"], include=["customer"],
                         name="eventline_product_time"),
            models.Index(fields=["sku"], condition=models.Q(product__isnull=True),
                         name="eventline_unlinked_sku"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.sku}"


class ProductPair(models.Model):
    """"Bought together": for a product, the others most often in the same customers'
    orders, best first. Rewritten by the recommendations job, never per email."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+",
                                db_index=False)
    other = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+",
                              db_index=False)
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()

    class Meta:
        verbose_name = _("product pair")
        verbose_name_plural = _("product pairs")
        constraints = [models.UniqueConstraint(fields=["product", "rank"],
                                               name="productpair_unique_rank")]


class TopSeller(models.Model):
    """The best sellers over the recent window, overall (category "") and per category
    path at every level ("Kitchen" and "Kitchen > Knives"). Rewritten by the job."""

    category = models.CharField(max_length=300, blank=True)
    rank = models.PositiveSmallIntegerField()
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+",
                                db_index=False)
    units = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("top seller")
        verbose_name_plural = _("top sellers")
        constraints = [models.UniqueConstraint(fields=["category", "rank"],
                                               name="topseller_unique_rank")]
