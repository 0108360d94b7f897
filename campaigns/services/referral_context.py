"""What a template may know of the customer's referrals (`referral`), loaded per send group.

Only for messages whose template reads `referral` (templating.template_names), in a
fixed number of statements whatever the group's size: the customers' live codes, made
in one INSERT for those without one (services.referrals.referral_codes_ensure: one
statement, or three when some were made), and their friends and rewards (one grouped
read). A customer without marketing consent (or erased) has no code: `referral.url` and
`referral.code` are empty for them, so a template says `{% if referral.url %}`.
"""
import datetime as dt

from django.db.models import Count, Q, Sum

from campaigns.models import Message, Referral, ReferralCode
from campaigns.services.personalisation import template_reads
from campaigns.services.referrals import referral_codes_ensure, referral_url

REFERRAL_NAME = "referral"
# Reading one of these (when not empty) puts the customer's link in the email: the
# message is an invite (`Message.referral_invite`, the funnel's "invites sent").
_LINK_KEYS = frozenset({"url", "code"})


class ReferralBlock(dict):
    """`referral` as one message's template reads it. Reading a non-empty `url` or `code`
    marks the message (`message.referral_shown`), which the send records with the row's
    own UPDATE (services/sending/record.py)."""

    __slots__ = ("_message",)

    def __init__(self, data: dict, *, message=None):
        super().__init__(data)
        self._message = message

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if key in _LINK_KEYS and value and self._message is not None:
            self._message.referral_shown = True
        return value


def referral_figures(customer_ids) -> dict[int, tuple[int, int]]:
    """{referrer id: (friends counted, referral points granted to them)}: one statement.
    Points taken back (a refunded first order) are not counted."""
    rows = Referral.objects.filter(referrer_id__in=list(customer_ids)).order_by().values(
        "referrer_id").annotate(
        friends=Count("id", filter=Q(status=Referral.Status.COUNTED)),
        points=Sum("referrer_points", filter=Q(reward=Referral.Reward.GRANTED)),
    ).values_list("referrer_id", "friends", "points")
    return {pk: (friends or 0, points or 0) for pk, friends, points in rows}


def _data(code: str | None, figures: tuple[int, int] | None) -> dict:
    friends, points = figures or (0, 0)
    return {"url": referral_url(code) if code else "", "code": code or "",
            "count": friends, "rewarded_points": points}


def referral_attach(messages: list[Message], *, now: dt.datetime) -> None:
    """Set `message.referral_data` on each message whose template reads `referral` (None
    on the others). Makes the codes that are missing (a write: call it inside the
    deciding transaction, whose customer locks keep two workers from racing)."""
    reading, by_template = [], {}
    for message in messages:
        template = message.variant.template if message.variant_id else message.step.template
        if template.pk not in by_template:
            by_template[template.pk] = REFERRAL_NAME in template_reads(template)[0]
        message.referral_data = None
        if by_template[template.pk]:
            reading.append(message)
    if not reading:
        return
    ids = sorted({m.customer_id for m in reading})
    codes = referral_codes_ensure(ids, now=now)
    figures = referral_figures(ids)
    for message in reading:
        message.referral_data = _data(codes.get(message.customer_id),
                                      figures.get(message.customer_id))


def referral_block(message: Message) -> ReferralBlock:
    """`referral` for one message: what `referral_attach` loaded, else (a message rendered
    on its own, e.g. as sent) read now without making a code."""
    data = getattr(message, "referral_data", None)
    if data is None:
        code = ReferralCode.objects.filter(
            customer_id=message.customer_id, revoked_at__isnull=True).values_list(
            "code", flat=True).first()
        data = _data(code, referral_figures([message.customer_id]).get(message.customer_id))
    return ReferralBlock(data, message=message)


def referral_sample(*, customer_id: int, sample: dict) -> dict:
    """The preview's `referral` for a real customer: their own figures, the sample's link
    (a test send must not carry a link that counts)."""
    friends, points = referral_figures([customer_id]).get(customer_id, (0, 0))
    return {**sample, "count": friends, "rewarded_points": points}
