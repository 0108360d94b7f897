"""Reads for deliverability: a campaign's delivery numbers, daily rates per sending domain."""
import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q, Value
from django.db.models.functions import Coalesce, NullIf, TruncDate

from campaigns.delivery.messages import sending_domain
from campaigns.models import Message

UTC = dt.timezone.utc
# Gmail: keep the spam rate below 0.10 % and never reach 0.30 % (Yahoo: 0.3 % too).
GMAIL_COMPLAINT_LINE = 0.10
GMAIL_COMPLAINT_LIMIT = 0.30
# States of a message that went (or may have gone) to the provider.
HANDED_OVER = (Message.State.SENT, Message.State.UNKNOWN)


def _percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


@dataclass
class DeliveryNumbers:
    sent: int
    delivered: int
    opened: int
    clicked: int
    bounced: int
    complained: int

    def rate(self, name: str) -> float | None:
        return _percent(getattr(self, name), self.sent)


def campaign_delivery_numbers(*, campaign_id: int) -> DeliveryNumbers:
    """One query: how many of the campaign's emails were handed over, delivered, opened, …"""
    numbers = Message.objects.filter(campaign_id=campaign_id, state__in=HANDED_OVER).aggregate(
        sent=Count("pk"), delivered=Count("delivered_at"), opened=Count("opened_at"),
        clicked=Count("clicked_at"), bounced=Count("bounced_at"), complained=Count("complained_at"),
    )
    return DeliveryNumbers(**numbers)


@dataclass
class DomainDay:
    day: dt.date
    domain: str
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    complained: int = 0

    @property
    def bounce_rate(self) -> float | None:
        return _percent(self.bounced, self.sent)

    @property
    def complaint_rate(self) -> float | None:
        return _percent(self.complained, self.sent)

    @property
    def warnings(self) -> list[str]:
        """Plain-words warnings for this day, worst first; empty when all is well."""
        found = []
        complaint, bounce = self.complaint_rate, self.bounce_rate
        if complaint is None and self.complained:
            found.append(f"{self.complained} complaints on a day with no emails sent")
        elif complaint is not None and complaint >= GMAIL_COMPLAINT_LIMIT:
            found.append(f"complaint rate {complaint:.2f} % is at or over 0.3 %, where Gmail and "
                         "Yahoo reject or spam-folder mail")
        elif complaint is not None and complaint >= GMAIL_COMPLAINT_LINE:
            found.append(f"complaint rate {complaint:.2f} % is over Gmail's 0.1 % line")
        elif complaint is not None and complaint >= settings.COMPLAINT_RATE_WARN_PERCENT:
            found.append(f"complaint rate {complaint:.2f} % is close to Gmail's 0.1 % line")
        if bounce is not None and bounce >= settings.BOUNCE_RATE_WARN_PERCENT:
            found.append(f"bounce rate {bounce:.1f} % is at or over "
                         f"{settings.BOUNCE_RATE_WARN_PERCENT:g} %: clean the list")
        return found


def deliverability_daily(*, days: int, now: dt.datetime) -> list[DomainDay]:
    """Per UTC day and sending domain, newest first, the last `days` days: emails handed to
    the provider that day, and the deliveries, bounces and complaints reported that day.

    Rates are over the emails sent that day (Gmail's own rate is over the emails it
    delivered to the inbox, which no provider reports; sent is the larger number, so
    the warning line sits a little below Gmail's).
    """
    start = dt.datetime.combine(now.astimezone(UTC).date() - dt.timedelta(days=days - 1),
                                dt.time(), tzinfo=UTC)
    # Messages sent before their domain was recorded went out from DEFAULT_FROM_EMAIL.
    domain = Coalesce(NullIf("sending_domain", Value("")),
                      Value(sending_domain(settings.DEFAULT_FROM_EMAIL)))
    rows: dict[tuple[dt.date, str], DomainDay] = {}
    for name, field in (("sent", "sent_at"), ("delivered", "delivered_at"),
                        ("bounced", "bounced_at"), ("complained", "complained_at")):
        query = (
            Message.objects.filter(Q(**{f"{field}__gte": start}), state__in=HANDED_OVER)
            .annotate(day=TruncDate(field, tzinfo=UTC), domain=domain)
            .order_by().values("day", "domain").annotate(n=Count("pk"))
            .values_list("day", "domain", "n")
        )
        for day, dom, n in query:
            row = rows.setdefault((day, dom), DomainDay(day=day, domain=dom))
            setattr(row, name, n)
    return sorted(rows.values(), key=lambda r: (r.day, r.domain), reverse=True)
