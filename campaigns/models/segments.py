"""Segments: a marketer's stored rule, and who was in it when it was last refreshed."""
from django.db import models

from campaigns import clock

from .base import TimestampedModel
from .customers import Customer


class Segment(TimestampedModel):
    """A named rule over customers; `campaigns.segmentation` compiles it to one SQL query."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    rule = models.JSONField(
        default=dict, help_text="The rule as JSON; the rule builder above edits it for you."
    )
    # Cached by the last refresh or count, for the admin list.
    member_count = models.PositiveIntegerField(null=True, blank=True, editable=False)
    counted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class SegmentMembership(models.Model):
    """A customer in a segment as of the last refresh; entering one can start a journey."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="segment_memberships")
    entered_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="segment_membership_unique")
        ]
        indexes = [models.Index(fields=["customer"])]
