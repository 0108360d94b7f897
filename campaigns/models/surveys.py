"""Survey answers: NPS, CSAT and CES, one per (survey email, kind); a new answer updates it."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns import clock

from .customers import Customer
from .deliveries import Message


class SurveyResponse(models.Model):
    class Kind(models.TextChoices):
        NPS = "nps", _("NPS (0-10)")
        CSAT = "csat", _("CSAT (1-5)")
        CES = "ces", _("CES (1-7)")

    SCALES = {Kind.NPS: (0, 10), Kind.CSAT: (1, 5), Kind.CES: (1, 7)}
    # Answers at or below these scores are detractors: the service team follows them up.
    DETRACTOR_MAX = {Kind.NPS: 6, Kind.CSAT: 2}
    # Answers at or above these are promoters, who are asked to invite a friend. Only NPS
    # asks "would you recommend us?"; a satisfied CSAT or an easy CES answer is not a
    # promise to recommend, so they have no promoters.
    PROMOTER_MIN = {Kind.NPS: 9}

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="survey_responses")
    message = models.ForeignKey(Message, verbose_name=_("message"), on_delete=models.CASCADE,
                                related_name="survey_responses")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), default=clock.now)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now)
    # Detractor follow-up by the service team (services.surveys.detractor_handle).
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_by = models.CharField(_("handled by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ["-answered_at"]
        # Segments: each customer's latest answer of a kind.
        indexes = [
            models.Index(fields=["kind", "customer", "answered_at"], name="survey_latest"),
            # Answers by day (dashboard, snapshots).
            models.Index(fields=["answered_at"], name="survey_answered_at"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["message", "kind"], name="survey_one_answer_per_kind")
        ]

    def __str__(self):
        return f"{self.kind} {self.score}"

    @classmethod
    def is_detractor_score(cls, kind: str, score: int) -> bool:
        limit = cls.DETRACTOR_MAX.get(kind)
        return limit is not None and score <= limit

    @property
    def is_detractor(self) -> bool:
        return self.is_detractor_score(self.kind, self.score)

    @classmethod
    def is_promoter_score(cls, kind: str, score: int) -> bool:
        floor = cls.PROMOTER_MIN.get(kind)
        return floor is not None and score >= floor

    @property
    def is_promoter(self) -> bool:
        return self.is_promoter_score(self.kind, self.score)


class DetractorAnswer(SurveyResponse):
    """The service team's list: NPS 0-6 and CSAT 1-2 answers, to follow up and mark handled."""

    class Meta:
        proxy = True
        verbose_name = _("detractor to follow up")
        verbose_name_plural = _("detractors to follow up (NPS 0-6, CSAT 1-2)")


class SurveyQuestion(models.Model):
    """The wording of a survey question in one language; built-in wording where none is set."""

    class Locale(models.TextChoices):
        SV = "sv", _("Swedish")
        NB = "nb", _("Norwegian (bokmål)")
        EN = "en", _("English")

    kind = models.CharField(_("kind"), max_length=8, choices=SurveyResponse.Kind.choices)
    locale = models.CharField(_("locale"), max_length=8, choices=Locale.choices)
    question = models.CharField(_("question"), max_length=300)
    low_label = models.CharField(_("low label"), max_length=100,
                                 help_text=_("Under the lowest score."))
    high_label = models.CharField(_("high label"), max_length=100,
                                  help_text=_("Under the highest score."))

    class Meta:
        verbose_name = _("survey question")
        verbose_name_plural = _("survey questions")
        ordering = ["kind", "locale"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "locale"], name="survey_question_per_locale")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.locale})"
