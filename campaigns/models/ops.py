"""Facts about the running system itself (not about customers)."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """When a periodic job last finished, e.g. the scheduler tick: idle ticks write nothing
    else, so without it a stopped beat would look exactly like a quiet day."""

    TICK = "tick"  # the scheduler tick (services/scheduling.py)

    name = models.CharField(_("name"), max_length=32, unique=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self):
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class DataVersion(models.Model):
    """A token that changes with every write to a table the workers cache
    (selectors/catalogue.py): the catalogue, or the nightly recommendation lists.

    Database triggers (migration 0035) write a new token in the writer's own transaction,
    for every INSERT, UPDATE or DELETE however it is made (the API, an import, the admin,
    a bulk update, raw SQL): a reader that sees the new rows sees the new token. A token is
    never used twice (a sequence on PostgreSQL, random() on SQLite), so a rolled-back write
    cannot bring an old token back with other rows."""

    CATALOGUE = "catalogue"  # campaigns_product
    LISTS = "lists"  # campaigns_productpair, campaigns_topseller

    name = models.CharField(_("name"), max_length=32, primary_key=True)
    token = models.BigIntegerField(_("token"))

    class Meta:
        verbose_name = _("data version")
        verbose_name_plural = _("data versions")

    def __str__(self):
        return f"{self.name} {self.token}"


class RateLimitBucket(models.Model):
    """One provider's send-rate token bucket (delivery/ratelimit.py) when there is no Redis:
    every worker process takes its tokens from this row under a row lock."""

    provider = models.CharField(_("provider"), max_length=200, unique=True)
    tokens = models.FloatField(_("tokens"))
    # Wall-clock seconds since the epoch (time.time()), not the virtual clock: a rate limit
    # is about real seconds. Ahead of now while a pause is in force.
    refilled_at = models.FloatField(_("refilled at"))
    paused_until = models.FloatField(_("paused until"), default=0.0)

    class Meta:
        verbose_name = _("rate limit bucket")
        verbose_name_plural = _("rate limit buckets")

    def __str__(self):
        return f"{self.provider}: {self.tokens:.1f} tokens"
