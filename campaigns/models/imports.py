"""Bulk CSV imports started from the admin: the file, the progress and the outcome."""
from django.db import models

from campaigns import clock


class ImportJob(models.Model):
    class Kind(models.TextChoices):
        CUSTOMERS = "customers"
        ORDERS = "orders"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    file = models.FileField(upload_to="imports/")
    dry_run = models.BooleanField(default=False, help_text="Check every row; write nothing.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Progress, updated while the import runs.
    bytes_total = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    rejects_file = models.FileField(upload_to="imports/rejects/", blank=True)
    error = models.TextField(blank=True, help_text="Why the whole file was refused, if it was.")
    # The report's full wording (consent events, order facts refreshed, new attribute keys).
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.kind} import #{self.pk} ({self.status})"
