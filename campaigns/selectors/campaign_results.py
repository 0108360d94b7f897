"""A campaign's results for its page: a fixed number of grouped queries, never one per row.

Conversion, holdout lift and the A/B verdicts reuse the dashboard's definitions
(`selectors.metrics`: a placed order within ATTRIBUTION_DAYS after the trigger or the send,
Newcombe's interval, the verdicts of `campaigns.stats`).
"""
import datetime as dt
import statistics
from dataclasses import dataclass, field

from django.db.models import (
    BooleanField, Count, DecimalField, Exists, ExpressionWrapper, F, Func, OuterRef, Q, Sum,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext

from campaigns.models import Enrollment, Message, MessageLog, Order, OrderLine
from campaigns.selectors import metrics

UTC = dt.timezone.utc
# Since ever: a campaign's results count every enrollment and send it has.
EVER = dt.datetime(1970, 1, 1, tzinfo=UTC)
# The latest scheduling lags judged (the last week's sends, at most this many).
LAG_SAMPLE = 5000
# A recommended product bought within this many days of the email showing it counts.
RECOMMENDED_DAYS = 7


@dataclass
class Enrolled:
    total: int = 0
    holdout: int = 0
    active: int = 0
    completed: int = 0
    # exit reason -> enrollments that left the journey for it
    exited: dict[str, int] = field(default_factory=dict)


@dataclass
class Outcomes:
    # state -> {reason -> messages}
    by_state: dict[str, dict[str, int]] = field(default_factory=dict)
    # reason -> (times deferred, messages deferred at least once for it)
    deferred: dict[str, tuple[int, int]] = field(default_factory=dict)

    def count(self, state: str) -> int:
        return sum(self.by_state.get(state, {}).values())


@dataclass
class Conversions:
    sent: int
    converted: int
    customers: int
    attribution_days: int


@dataclass
class Lag:
    """How late after the moment they could go the last week's emails went out (seconds)."""

    count: int = 0
    median: float | None = None
    p95: float | None = None
    worst: float | None = None
    # Emails planned after their due time had already passed (a trigger that reached us
    # late, a campaign started or resumed later): the wait before planning is not lag.
    planned_late: int = 0


def campaign_enrolled(*, campaign_id: int) -> Enrolled:
    rows = (Enrollment.objects.filter(campaign_id=campaign_id).order_by()
            .values_list("state", "exit_reason", "is_holdout").annotate(n=Count("pk")))
    result = Enrolled()
    for state, reason, holdout, n in rows:
        result.total += n
        result.holdout += n if holdout else 0
        if state == Enrollment.State.ACTIVE:
            result.active += n
        elif state == Enrollment.State.COMPLETED:
            result.completed += n
        else:
            result.exited[reason or "exited"] = result.exited.get(reason or "exited", 0) + n
    return result


def campaign_outcomes(*, campaign_id: int) -> Outcomes:
    """Messages by state and reason (one query), and deferrals by reason from the
    messages' logs (one query)."""
    result = Outcomes()
    rows = (Message.objects.filter(campaign_id=campaign_id).order_by()
            .values_list("state", "reason").annotate(n=Count("pk")))
    for state, reason, n in rows:
        result.by_state.setdefault(state, {})[reason] = n
    deferrals = (MessageLog.objects.filter(message__campaign_id=campaign_id, state="deferred")
                 .order_by().values_list("reason")
                 .annotate(times=Count("pk"), messages=Count("message_id", distinct=True)))
    result.deferred = {reason: (times, messages) for reason, times, messages in deferrals}
    return result


def campaign_conversions(*, campaign_id: int,
                         attribution_days: int = metrics.ATTRIBUTION_DAYS) -> Conversions:
    """Sent emails followed by a placed order of their customer within the window."""
    window = dt.timedelta(days=attribution_days)
    converted = Exists(metrics.window_orders("sent_at", window))
    numbers = (Message.objects.filter(campaign_id=campaign_id, state=Message.State.SENT)
               .aggregate(sent=Count("pk"), converted=Count("pk", filter=converted),
                          customers=Count("customer_id", filter=converted, distinct=True)))
    return Conversions(attribution_days=attribution_days, **numbers)


@dataclass
class RecommendedBought:
    emails: int  # sent emails that showed recommendations
    customers: int
    revenue: float
    days: int


class _ListHas(Func):
    """True when a JSON list of ids (a message's `recommended`) holds an id."""

    output_field = BooleanField()
    arity = 2

    def as_sql(self, compiler, connection, **extra):
        (ids_sql, ids_params), (id_sql, id_params) = (
            compiler.compile(e) for e in self.get_source_expressions())
        if connection.vendor == "postgresql":
            return f"({ids_sql} @> to_jsonb({id_sql}))", (*ids_params, *id_params)
        return (f"EXISTS (SELECT 1 FROM json_each({ids_sql}) WHERE json_each.value = {id_sql})",
                (*ids_params, *id_params))


def campaign_recommended_bought(*, campaign_id: int, days: int = RECOMMENDED_DAYS
                                ) -> RecommendedBought:
    """Customers who bought a product one of the campaign's emails recommended, within
    `days` after that email, and what those lines earned (net of refunds): two queries."""
    emails = Message.objects.filter(campaign_id=campaign_id, state=Message.State.SENT,
                                    recommended__isnull=False).count()
    if not emails:
        return RecommendedBought(emails=0, customers=0, revenue=0.0, days=days)
    shown = Message.objects.filter(
        campaign_id=campaign_id, state=Message.State.SENT, recommended__isnull=False,
        customer_id=OuterRef("customer_id"), sent_at__lt=OuterRef("placed_at"),
        sent_at__gte=OuterRef("placed_at") - dt.timedelta(days=days),
    ).filter(_ListHas(F("recommended"), OuterRef("product_id")))
    net = ExpressionWrapper(F("price") * (F("quantity") - F("refunded_quantity")),
                            output_field=DecimalField(max_digits=14, decimal_places=2))
    numbers = OrderLine.objects.filter(
        customer_id__in=Message.objects.filter(
            campaign_id=campaign_id, state=Message.State.SENT, recommended__isnull=False,
        ).values("customer_id"),
        order__status=Order.Status.PLACED, product_id__isnull=False,
        refunded_quantity__lt=F("quantity"),
    ).filter(Exists(shown)).aggregate(
        customers=Count("customer_id", distinct=True), revenue=Coalesce(Sum(net), 0,
                                                                        output_field=net.output_field))
    return RecommendedBought(emails=emails, customers=numbers["customers"], revenue=float(numbers["revenue"]),
                             days=days)


def campaign_lift(*, campaign_id: int, now: dt.datetime) -> dict | None:
    """Treated against holdout over all the campaign's enrollments, as the dashboard
    computes it; None without a holdout."""
    window = dt.timedelta(days=metrics.ATTRIBUTION_DAYS)
    rows = (metrics.lift_queryset(EVER, now + dt.timedelta(seconds=1), window)
            .filter(campaign_id=campaign_id).values("campaign_id", "is_holdout")
            .annotate(**metrics.arm_sums()).order_by())
    rows = [(r["campaign_id"], r["is_holdout"], r["n"], r["conversions"], r["total"],
             r["total_sq"]) for r in rows]
    if not any(is_holdout for _, is_holdout, *_ in rows):
        return None
    return metrics.lift_from_sums(rows)[0]


def campaign_variants(*, campaign_id: int, now: dt.datetime) -> list[dict]:
    """Per step with A/B variants: each variant's sends, opens, clicks and conversions, and
    its verdict against the step's control (its first variant)."""
    window = dt.timedelta(days=metrics.ATTRIBUTION_DAYS)
    rows = (metrics.variant_queryset(EVER, now + dt.timedelta(seconds=1), window)
            .filter(campaign_id=campaign_id)
            .values("campaign_id", "step_id", "variant_id").annotate(**metrics.variant_sums())
            .order_by("campaign_id", "step_id", "variant_id"))
    return metrics.variants_from_sums([
        (r["campaign_id"], r["step_id"], r["variant_id"], r["n"], r["opens"], r["clicks"],
         r["conversions"], r["total"], r["total_sq"]) for r in rows])


def campaign_lag(*, campaign_id: int, now: dt.datetime, grace: float, days: int = 7) -> Lag:
    """The scheduling lag of the last `days` days' sends, each judged against the moment the
    scheduler could first send it: its due time, or when it was planned if that was more
    than `grace` seconds later (the planning tick's own delay is lag, and counts).

    The recorded lag runs from the due time; a message planned for a moment long past
    (a demo or imported signup hours old, a late event) was "late" before it existed, which
    says nothing about the scheduler.
    """
    rows = list(Message.objects.filter(
        campaign_id=campaign_id, state=Message.State.SENT,
        sent_at__gte=now - dt.timedelta(days=days), lag_seconds__isnull=False,
    ).order_by("-sent_at").values_list("lag_seconds", "sent_at", "created_at")[:LAG_SAMPLE])
    lags, planned_late = [], 0
    for lag, sent_at, created_at in rows:
        since_planned = max(0.0, (sent_at - created_at).total_seconds())
        if since_planned + grace < lag:
            planned_late += 1
            lag = since_planned
        lags.append(max(0.0, lag))
    if not lags:
        return Lag()
    lags.sort()
    return Lag(count=len(lags), median=statistics.median(lags),
               p95=lags[min(len(lags) - 1, int(len(lags) * 0.95))], worst=lags[-1],
               planned_late=planned_late)


def campaign_latest_messages(*, campaign_id: int, limit: int = 20) -> list[Message]:
    """The latest messages handed to the provider (or that may have been), newest first."""
    return list(Message.objects.filter(
        campaign_id=campaign_id, state__in=(Message.State.SENT, Message.State.UNKNOWN),
    ).select_related("customer", "step", "variant").order_by("-sent_at", "-id")[:limit])



@dataclass
class AsSent:
    subject: str = ""
    html: str = ""
    text: str = ""
    locale: str = ""
    version: int | None = None
    # The text as it stood at the send came from the audit trail (False: today's text,
    # because no version from before the send was recorded).
    from_history: bool = False
    error: str = ""


def _as_of(model, moment: dt.datetime, **filters):
    """The audit trail's copy of a row as it stood at `moment`, or None."""
    row = (model.history.filter(history_date__lte=moment, **filters)
           .order_by("-history_date", "-history_id").first())
    return None if row is None or row.history_type == "-" else row


def message_as_sent(*, message: Message) -> AsSent:
    """Subject, HTML and text of a sent message, footer included, rendered again from the
    template text in force when it was handed to the provider (the audit trail's copy).

    The same template version, language, unsubscribe and survey links, reward and order as
    the send; the customer's own details (name, points) are today's.
    """
    from campaigns.exceptions import TemplateRenderError
    from campaigns.models import JourneyStep, MessageTemplate, Purpose, StepVariant
    from campaigns.models import TemplateTranslation
    from campaigns.services.rendering import message_template, translation_render

    moment = message.sent_at or message.due_at
    if message.variant_id:
        source = _as_of(StepVariant, moment, id=message.variant_id)
    else:
        source = _as_of(JourneyStep, moment, id=message.step_id)
    template_id = source.template_id if source is not None else message_template(message).pk
    template = (_as_of(MessageTemplate, moment, id=template_id)
                or MessageTemplate.objects.get(pk=template_id))
    locale = message.locale or message.customer.locale
    translation = _as_of(TemplateTranslation, moment, template_id=template_id, locale=locale)
    result = AsSent(from_history=translation is not None)
    if translation is not None:
        cache_key = ("as-sent", translation.history_id)
    else:
        translation = (TemplateTranslation.objects.filter(template_id=template_id, locale=locale)
                       .first() or TemplateTranslation.objects.filter(template_id=template_id)
                       .order_by("pk").first())
        if translation is None:
            return AsSent(error=gettext("The template has no text left to show."))
        cache_key = (translation.pk, translation.version)
    marketing = template.purpose == Purpose.MARKETING
    # The first marketing email to a customer also states the right to object.
    message.first_marketing = marketing and not Message.objects.filter(
        customer_id=message.customer_id, state__in=Message.CAP_STATES, sent_at__lt=moment,
    ).filter(Q(variant__isnull=True, step__template__purpose=Purpose.MARKETING)
             | Q(variant__template__purpose=Purpose.MARKETING)).exists()
    try:
        rendered, used, _url = translation_render(
            message=message, translation=translation, template=template, marketing=marketing,
            cache_key=cache_key)
    except TemplateRenderError as error:
        result.error = str(error)
        return result
    result.subject, result.html, result.text = rendered["subject"], rendered["html"], rendered["text"]
    result.locale, result.version = used, translation.version
    return result
