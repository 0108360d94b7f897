"""Nightly metric snapshots: the dashboard's counters rolled up per UTC day (no personal data)."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from .journeys import Campaign


class MetricSnapshot(models.Model):
    """One dashboard table's counters for one UTC day and one key, written by
    `services.snapshots.metric_snapshots_build`; every counter adds up across days.

    The day is the day of the moment the live table filters its period on (`sent_at`,
    `answered_at`, `enrolled_at`, `triggered_at`, or for cohorts the joining day).
    """

    class Kind(models.TextChoices):
        # day of sent_at: {"sent"}
        SENDS = "sends", _("Sends")
        # day of answered_at, label = survey kind: {"answers", "promoters", "detractors", "score_sum"}
        SURVEY = "survey", _("Survey")
        # day of enrolled_at, per campaign: {"enrolled", "holdout", "sent", "delivered", "opened",
        # "clicked", "converted"}
        FUNNEL = "funnel", _("Funnel")
        # day of enrolled_at, per campaign, label = "outcome:reason": {"messages"}
        HELD_BACK = "held_back", _("Held back")
        # day of triggered_at, per campaign, label = "holdout" / "treated": {"n", "conversions",
        # "revenue", "revenue_sq"}
        LIFT = "lift", _("Lift")
        # day of sent_at, per campaign, step and variant: {"n", "opens", "clicks", "conversions",
        # "revenue", "revenue_sq"}
        VARIANT = "variant", _("Variant")
        # joining day (sign-up, else first order); month null: {"size"}; month set: {"customers"}
        # with a placed order in that calendar month before the snapshot's cut-off
        COHORT = "cohort", _("Cohort")
        # The shop's health (`selectors.metrics.health_figures`, every figure by name; None
        # where there is nothing to go on). Label "month": day = the month's first day, for
        # [that day, the month's end or the build's day if sooner). Label "year": day = the
        # build's day, for the 365 days before it. Not additive: rebuilt, never summed.
        HEALTH = "health", _("Shop health")
        # Word of mouth (selectors/referrals), label "month": day = the month's first day;
        # values by name (new customers, referred, invites, clicks, sign-ups, first orders …).
        # Not additive: rebuilt, never summed.
        REFERRAL = "referral", _("Referrals")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    day = models.DateField(_("day"))
    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), null=True, blank=True,
                                 on_delete=models.CASCADE,
                                 related_name="+")
    step_id = models.PositiveIntegerField(_("step id"), null=True, blank=True)
    variant_id = models.PositiveIntegerField(_("variant id"), null=True, blank=True)
    label = models.CharField(_("label"), max_length=100, blank=True)
    month = models.DateField(_("month"), null=True, blank=True)
    # Counters by name; money as a decimal string so sums stay exact.
    values = models.JSONField(_("values"), default=dict)

    class Meta:
        verbose_name = _("metric snapshot")
        verbose_name_plural = _("metric snapshots")
        indexes = [models.Index(fields=["kind", "day"], name="metric_snapshot_kind_day")]

    def __str__(self):
        return f"{self.kind} {self.day}"


class MetricSnapshotState(models.Model):
    """The one row saying how far the snapshots reach: every day before `built_through`
    (UTC) is snapshotted, and the cohort cells count orders placed before it."""

    built_through = models.DateField(_("built through"))
    built_at = models.DateTimeField(_("built at"))
    # The first day with data when the snapshots were first built; earlier days were empty.
    first_day = models.DateField(_("first day"))

    class Meta:
        verbose_name = _("metric snapshot state")
        verbose_name_plural = _("metric snapshot states")

    def __str__(self):
        return f"snapshots through {self.built_through}"
