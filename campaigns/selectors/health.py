"""Is the scheduler running and keeping up? For monitoring (/healthz/scheduler) and the
admin (compliance RL-14: alert on beat-tick lag and on sends with an unknown outcome)."""
import datetime as dt
from dataclasses import asdict, dataclass

from django.conf import settings

from campaigns.models import Campaign, Heartbeat, Message

# Late: no tick for this many tick intervals (beat or every worker is down).
LATE_AFTER_TICKS = 3
# Overdue: a message due this long ago and still not handed over (workers not keeping up).
OVERDUE_AFTER = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class SchedulerHealth:
    last_tick: dt.datetime | None
    seconds_since_tick: int | None
    late: bool
    overdue_messages: int
    unknown_last_24h: int

    def as_json(self) -> dict:
        data = asdict(self)
        data["last_tick"] = self.last_tick.isoformat() if self.last_tick else None
        return data


def scheduler_health(*, now: dt.datetime) -> SchedulerHealth:
    """Three small indexed reads: the tick's heartbeat, the overdue backlog, recent unknowns."""
    last = Heartbeat.objects.filter(name=Heartbeat.TICK).values_list("at", flat=True).first()
    since = int((now - last).total_seconds()) if last else None
    late = since is None or since > LATE_AFTER_TICKS * settings.TICK_SECONDS
    overdue = Message.objects.filter(
        state__in=(Message.State.PENDING, Message.State.CLAIMED), due_at__lt=now - OVERDUE_AFTER,
        campaign__status=Campaign.Status.ACTIVE,
    ).count()
    unknown = Message.objects.filter(state=Message.State.UNKNOWN,
                                     sent_at__gte=now - dt.timedelta(hours=24)).count()
    return SchedulerHealth(last, since, late, overdue, unknown)
