"""Data-subject requests (export, erasure): the audit trail, with no personal data in it."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns import clock


class PrivacyRequest(models.Model):
    """One export or erasure: when, by whom, of which customer row, and what it touched.

    `customer_id` is a plain number, not a foreign key: the audit must outlive the row and
    must not be reachable from the customer's data. `actor` is "command", "retention",
    "customer (email link)" or "admin:<staff username>".
    """

    class Kind(models.TextChoices):
        EXPORT = "export", _("Export")
        ERASURE = "erasure", _("Erasure")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    customer_id = models.BigIntegerField(_("customer id"), db_index=True)
    actor = models.CharField(_("actor"), max_length=200)
    requested_at = models.DateTimeField(_("requested at"), default=clock.now)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    # Erasure: rows deleted or anonymised per table, e.g. {"events": 12, "orders": 3}.
    counts = models.JSONField(_("counts"), default=dict, blank=True)

    class Meta:
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["kind", "customer_id", "requested_at"])]

    def __str__(self):
        return f"{self.kind} of customer #{self.customer_id} by {self.actor}"
