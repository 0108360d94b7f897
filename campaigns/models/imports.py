"""Bulk CSV imports started from the admin: the file, the progress and the outcome."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns import clock


class ImportJob(models.Model):
    class Kind(models.TextChoices):
        CUSTOMERS = "customers", _("Customers")
        ORDERS = "orders", _("Orders")
        PRODUCTS = "products", _("Products")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    file = models.FileField(_("file"), upload_to="imports/")
    dry_run = models.BooleanField(_("dry run"), default=False,
                                  help_text=_("Check every row; write nothing."))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.PENDING)
    created_at = models.DateTimeField(_("created at"), default=clock.now, editable=False)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Progress, updated while the import runs.
    bytes_total = models.BigIntegerField(_("bytes total"), default=0)
    bytes_done = models.BigIntegerField(_("bytes done"), default=0)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    rejects_file = models.FileField(_("rejects file"), upload_to="imports/rejects/", blank=True)
    error = models.TextField(_("error"), blank=True,
                             help_text=_("Why the whole file was refused, if it was."))
    # The report's full wording (consent events, order facts refreshed, new attribute keys).
    summary = models.TextField(_("summary"), blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.kind} import #{self.pk} ({self.status})"
