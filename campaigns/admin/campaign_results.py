"""The campaign page's results: what its messages did, in words (a mixin of CampaignAdmin)."""
import datetime as dt
import statistics

from django.conf import settings
from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html_join

from campaigns import clock
from campaigns.models import Message
from campaigns.selectors.deliverability import campaign_delivery_numbers


class CampaignResultsMixin:
    """Read-only fields of the campaign page's "Results so far" section."""

    results_fields = ["message_states", "delivery_numbers", "scheduling_lag"]

    @admin.display(description="Messages by state")
    def message_states(self, obj):
        if obj.pk is None:
            return "—"
        counts = (
            Message.objects.filter(campaign=obj).order_by().values_list("state")
            .annotate(n=Count("pk")).order_by("state")
        )
        rows = format_html_join(", ", "{}: {}", ((state, n) for state, n in counts))
        return rows or "No messages yet."

    @admin.display(description="What the provider reported")
    def delivery_numbers(self, obj):
        if obj.pk is None:
            return "—"
        numbers = campaign_delivery_numbers(campaign_id=obj.pk)
        if not numbers.sent:
            return "No emails handed to the provider yet."
        parts = [f"{numbers.sent} handed to the provider"]
        labels = [("delivered", "delivered"), ("bounced", "bounced"), ("complained", "marked as spam")]
        if settings.TRACK_OPENS:
            labels.insert(1, ("opened", "opened"))
        if settings.TRACK_CLICKS:
            labels.insert(2 if settings.TRACK_OPENS else 1, ("clicked", "clicked"))
        for name, label in labels:
            parts.append(f"{getattr(numbers, name)} {label} ({numbers.rate(name):.1f} %)")
        text = ", ".join(parts) + "."
        if not (settings.TRACK_OPENS and settings.TRACK_CLICKS):
            off = [w for w, on in (("opens", settings.TRACK_OPENS), ("clicks", settings.TRACK_CLICKS))
                   if not on]
            text += f" {' and '.join(off).capitalize()} are not tracked (off by default; " \
                    "TRACK_OPENS / TRACK_CLICKS switch them on)."
        return text

    @admin.display(description="Scheduling lag (last 7 days)")
    def scheduling_lag(self, obj):
        """How late after their due time the last week's emails went out; healthy is
        under one tick."""
        if obj.pk is None:
            return "—"
        # Sorted after dropping rows without a lag (None does not compare).
        lags = sorted(lag for lag in Message.objects.filter(
            campaign=obj, state=Message.State.SENT, sent_at__gte=clock.now() - dt.timedelta(days=7),
        ).order_by("-sent_at").values_list("lag_seconds", flat=True)[:5000] if lag is not None)
        if not lags:
            return "No emails sent in the last 7 days."
        tick = settings.TICK_SECONDS
        p95 = lags[min(len(lags) - 1, int(len(lags) * 0.95))]
        verdict = "healthy" if p95 <= tick else f"slower than one tick ({tick} s)"
        return (f"median {statistics.median(lags):.0f} s, 95th percentile {p95:.0f} s, "
                f"worst {lags[-1]:.0f} s over {len(lags)} emails — {verdict}")
