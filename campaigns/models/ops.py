"""Facts about the running system itself (not about customers)."""
from django.db import models


class Heartbeat(models.Model):
    """When a periodic job last finished, e.g. the scheduler tick: idle ticks write nothing
    else, so without it a stopped beat would look exactly like a quiet day."""

    TICK = "tick"  # the scheduler tick (services/scheduling.py)

    name = models.CharField(max_length=32, unique=True)
    at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
