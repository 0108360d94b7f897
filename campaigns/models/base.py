"""Abstract base model with creation and update times read from the one clock."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns import clock


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), default=clock.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=clock.now, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # Bookkeeping only: no domain side effects live here.
        self.updated_at = clock.now()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "updated_at"}
        super().save(*args, **kwargs)
