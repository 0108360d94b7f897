"""Segments: a marketer's stored rule, and who was in it when it was last refreshed."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns import clock

from .base import TimestampedModel
from .customers import Customer


class Segment(TimestampedModel):
    """A named rule over customers; `campaigns.segmentation` compiles it to one SQL query."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    rule = models.JSONField(
        _("rule"), default=dict,
        help_text=_("The rule as JSON; the rule builder above edits it for you.")
    )
    # Cached by the last refresh or count, for the admin list.
    member_count = models.PositiveIntegerField(_("member count"), null=True, blank=True,
                                               editable=False)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self):
        return self.name


class SegmentMembership(models.Model):
    """A customer in a segment as of the last refresh; entering one can start a journey."""

    segment = models.ForeignKey(Segment, verbose_name=_("segment"), on_delete=models.CASCADE,
                                related_name="memberships")
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="segment_memberships")
    entered_at = models.DateTimeField(_("entered at"), default=clock.now)

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="segment_membership_unique")
        ]
        indexes = [models.Index(fields=["customer"])]
