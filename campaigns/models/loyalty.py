"""Loyalty: the append-only points ledger (the balance on Customer is a cache of it)."""
from django.db import models

from campaigns import clock

from .customers import Customer
from .deliveries import Enrollment
from .journeys import JourneyStep


class PointsEntry(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="points")
    delta = models.IntegerField()
    balance_after = models.IntegerField()
    reason = models.CharField(max_length=100)
    # Set when a journey granted it: the unique pair makes a retried grant a no-op.
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    step = models.ForeignKey(
        JourneyStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = "points entry"
        verbose_name_plural = "points ledger"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step"], name="points_unique_journey_step",
                condition=models.Q(enrollment__isnull=False),
            )
        ]

    def __str__(self):
        return f"{self.delta:+d} ({self.reason})"
