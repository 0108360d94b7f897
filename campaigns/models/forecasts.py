"""Forecasts started from the admin: which campaigns, the progress and the answer."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns import clock


class ForecastJob(models.Model):
    """One forecast: a replay of the last days with the campaigns on, run by a worker.

    The answer (`result`) is plain data the job page puts into words; it holds customer
    ids for the sample, never addresses.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("waiting for a worker")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    campaign_ids = models.JSONField(_("campaigns"), default=list)
    days = models.PositiveSmallIntegerField(_("days"), default=14)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+",
                                     verbose_name=_("requested by"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices,
                             default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    result = models.JSONField(_("result"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=clock.now, editable=False)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("forecast")
        verbose_name_plural = _("forecasts")

    def __str__(self):
        return str(_("Forecast #%(id)s") % {"id": self.pk})

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)
