"""Survey answers: NPS, CSAT and CES, one per (survey email, kind); a new answer updates it."""
from django.db import models

from campaigns import clock

from .customers import Customer
from .deliveries import Message


class SurveyResponse(models.Model):
    class Kind(models.TextChoices):
        NPS = "nps", "NPS (0-10)"
        CSAT = "csat", "CSAT (1-5)"
        CES = "ces", "CES (1-7)"

    SCALES = {Kind.NPS: (0, 10), Kind.CSAT: (1, 5), Kind.CES: (1, 7)}

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="survey_responses")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="survey_responses")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-answered_at"]
        # Segments: each customer's latest answer of a kind.
        indexes = [models.Index(fields=["kind", "customer", "answered_at"], name="survey_latest")]
        constraints = [
            models.UniqueConstraint(fields=["message", "kind"], name="survey_one_answer_per_kind")
        ]

    def __str__(self):
        return f"{self.kind} {self.score}"
