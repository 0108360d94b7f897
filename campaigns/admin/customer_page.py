"""The customer page's read-only sections: each one capped, one or two queries, plain words.

Every function takes the customer and its zone and returns safe HTML for a read-only field
of `CustomerAdmin`; none of them loops queries over rows (the page's query count does not
grow with the customer's history).
"""
import datetime as dt
import json
from zoneinfo import ZoneInfo

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy

from campaigns.models import (
    AttributeDefinition, ConsentEvent, Customer, Event, LifecycleStage, Order, PointsEntry,
    Segment, SegmentMembership, Subscription, SurveyResponse,
)

from campaigns.selectors.journey_words import best_hour_value_words

from .deliveries import local_time

# The most rows a section shows; the full lists are one link away.
TIMELINE_LIMIT = 100
SECTION_LIMIT = 50
_TABLE = '<table style="width:100%;max-width:1100px">{}{}</table>'

RFM_WORDS = {5: gettext_lazy("top 20 %"), 4: gettext_lazy("upper middle"), 3: gettext_lazy("middle"),
             2: gettext_lazy("lower middle"), 1: gettext_lazy("bottom 20 %")}
STAGE_WORDS = {
    LifecycleStage.PROSPECT: gettext_lazy("has not ordered yet"),
    LifecycleStage.NEW: gettext_lazy("first order recently"),
    LifecycleStage.ACTIVE: gettext_lazy("orders regularly"),
    LifecycleStage.LOYAL: gettext_lazy("orders often and recently"),
    LifecycleStage.AT_RISK: gettext_lazy("no order for a while: at risk of lapsing"),
    LifecycleStage.LAPSED: gettext_lazy("no order for a long time"),
    LifecycleStage.WON_BACK: gettext_lazy("ordered again after having lapsed"),
}


def _table(headers: list[str], rows) -> str:
    head = format_html("<thead><tr>{}</tr></thead>",
                       format_html_join("", "<th>{}</th>", ((h,) for h in headers)))
    body = format_html_join(
        "", "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html(_TABLE, head, format_html("<tbody>{}</tbody>", body))


def changelist_link(model, customer: Customer, label: str) -> str:
    """A link to the model's admin list filtered to this customer ('' when not in the admin)."""
    try:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    except NoReverseMatch:
        return ""
    return format_html('<a href="{}?{}">{}</a>', url,
                       urlencode({"customer__id__exact": customer.pk}), label)


def _capped(rows: list, limit: int, sentence: str, link: str) -> tuple[list, str]:
    """The first `limit` rows of a list fetched with limit + 1, and a note when cut
    (`sentence` says what is shown, with %(count)d for the limit)."""
    if len(rows) <= limit:
        return rows, ""
    note = format_html('<p class="help">{} {}</p>', sentence % {"count": limit}, link)
    return rows[:limit], note


def _days_ago(moment: dt.datetime | None, now: dt.datetime) -> str:
    if moment is None:
        return ""
    days = (now - moment).days
    if days <= 0:
        return gettext("today")
    return ngettext("%(count)d day ago", "%(count)d days ago", days) % {"count": days}


def best_hour_html(customer: Customer) -> str:
    """The customer's best hour in words (send steps "at the customer's best hour")."""
    return format_html(gettext("<p>Best hour to email: {}.</p>"),
                       best_hour_value_words(customer.best_hour))


def lifecycle_html(customer: Customer, zone: ZoneInfo, now: dt.datetime) -> str:
    """The stage with since-when, and R, F, M with what each number means; the best hour."""
    return format_html("{}{}", _stage_and_scores_html(customer, zone, now),
                       best_hour_html(customer))


def _stage_and_scores_html(customer: Customer, zone: ZoneInfo, now: dt.datetime) -> str:
    if not customer.lifecycle_stage:
        return gettext("Not scored yet: scores and stages are computed nightly, or with "
                       "“Recompute RFM and stages now” on the customer list.")
    stage = LifecycleStage(customer.lifecycle_stage)
    parts = [format_html(
        gettext("<p><strong>{}</strong> ({}) since {} ({}).</p>"), stage.label,
        STAGE_WORDS.get(stage, ""), local_time(customer.lifecycle_stage_since, zone),
        _days_ago(customer.lifecycle_stage_since, now),
    )]
    if customer.rfm_recency is None:
        parts.append(format_html("<p>{}</p>", gettext("No RFM scores: only customers with orders are ranked.")))
    else:
        parts.append(format_html(
            gettext("<p>Recency <strong>{}</strong> ({}) · Frequency <strong>{}</strong> ({}) · "
                    "Monetary <strong>{}</strong> ({})</p>"
                    '<p class="help">Quintiles among customers with orders, 5 = most recent, most '
                    "frequent, highest spend; equal customers share a quintile.</p>"),
            customer.rfm_recency, RFM_WORDS[customer.rfm_recency],
            customer.rfm_frequency, RFM_WORDS[customer.rfm_frequency],
            customer.rfm_monetary, RFM_WORDS[customer.rfm_monetary],
        ))
    parts.append(format_html(gettext('<p class="help">Scored {}.</p>'), local_time(customer.scored_at, zone)))
    return format_html_join("", "{}", ((p,) for p in parts))


def attributes_html(customer: Customer) -> str:
    """Custom attributes with their defined label and type; undefined keys are flagged."""
    if not customer.attributes:
        return gettext("No custom attributes.")
    definitions = {d.key: d for d in AttributeDefinition.objects.filter(key__in=list(customer.attributes))}
    rows = []
    for key, value in sorted(customer.attributes.items()):
        definition = definitions.get(key)
        rows.append((
            definition.label or key if definition else key,
            definition.type if definition else gettext("not defined"),
            value if isinstance(value, str) else json.dumps(value, ensure_ascii=False),
        ))
    return _table([gettext("attribute"), gettext("type"), gettext("value")], rows)


# How an event's properties read: the few keys a shop sends most, in words; others as they are.
_PROPERTY_LABELS = {
    "order_id": gettext_lazy("order"), "amount": gettext_lazy("amount"), "currency": gettext_lazy("currency"),
    "items": gettext_lazy("items"), "item_count": gettext_lazy("items"), "source": gettext_lazy("source"),
    "path": gettext_lazy("page"), "url": gettext_lazy("page"), "score": gettext_lazy("score"),
    "comment": gettext_lazy("comment"), "reason": gettext_lazy("reason"),
}
_PROPERTY_WIDTH = 60
_PROPERTIES_SHOWN = 8


def _short(value) -> str:
    if isinstance(value, list):
        text = ngettext("%(count)d item", "%(count)d items", len(value)) % {"count": len(value)}
    elif isinstance(value, dict):
        text = ", ".join(f"{k}: {_short(v)}" for k, v in list(value.items())[:4])
    elif isinstance(value, bool):
        text = gettext("yes") if value else gettext("no")
    elif value is None:
        text = "—"
    else:
        text = str(value)
    return text if len(text) <= _PROPERTY_WIDTH else text[:_PROPERTY_WIDTH - 1] + "…"


def event_summary(event: Event) -> str:
    """e.g. "Purchase — order 1042, 3 items, 599.00 SEK"; the type in words otherwise."""
    props = event.properties if isinstance(event.properties, dict) else {}
    order = event.order if event.order_id else None
    if event.type == "purchase":
        number = order.external_id if order else props.get("order_id", "")
        amount = f"{order.amount} {order.currency}" if order else " ".join(
            str(props[k]) for k in ("amount", "currency") if props.get(k) is not None)
        items = props.get("items")
        count = len(items) if isinstance(items, list) else props.get("item_count")
        parts = [gettext("order %(number)s") % {"number": number}] if number else []
        if isinstance(count, int) and not isinstance(count, bool):
            parts.append(ngettext("%(count)d item", "%(count)d items", count) % {"count": count})
        if amount:
            parts.append(amount)
        return gettext("Purchase — %(details)s") % {"details": ", ".join(parts)} if parts \
            else gettext("Purchase")
    words = {"signup": gettext("Signed up"), "refund": gettext("Refund"),
             "order_cancelled": gettext("Order cancelled"),
             "support_closed": gettext("Support case closed")}
    title = words.get(event.type, event.type.replace("_", " ").replace(".", ": ").capitalize())
    if order is not None:
        return gettext("%(event)s — order %(number)s") % {"event": title,
                                                          "number": order.external_id}
    return title


def event_details_html(event: Event) -> str:
    """The properties as a short "key: value" list, long values cut, never raw JSON."""
    props = event.properties if isinstance(event.properties, dict) else {}
    shown = [(str(_PROPERTY_LABELS.get(k, k.replace("_", " "))), _short(v))
             for k, v in sorted(props.items())
             if not (event.type == "purchase" and k in ("order_id", "amount", "currency"))]
    if not shown:
        return ""
    more = len(shown) - _PROPERTIES_SHOWN
    items = format_html_join("", '<li><span class="cp-key">{}:</span> {}</li>',
                             shown[:_PROPERTIES_SHOWN])
    note = format_html("<li>{}</li>", ngettext("and %(count)d more", "and %(count)d more",
                                               more) % {"count": more}) if more > 0 else ""
    return format_html('<ul class="cp-props">{}{}</ul>', items, note)


def timeline_html(customer: Customer, zone: ZoneInfo) -> str:
    events = list(
        Event.objects.filter(customer=customer).select_related("order")
        .only("type", "occurred_at", "received_at", "properties", "event_id",
              "order__external_id", "order__amount", "order__currency")
        .order_by("-occurred_at", "-id")[:TIMELINE_LIMIT + 1]
    )
    if not events:
        return gettext("No events yet.")
    events, note = _capped(events, TIMELINE_LIMIT, gettext("Showing the latest %(count)d events."),
                           changelist_link(Event, customer, gettext("All of this customer's events")))
    rows = [(local_time(e.occurred_at, zone), event_summary(e), event_details_html(e))
            for e in events]
    return format_html("{}{}", note, _table(
        [gettext("when"), gettext("what happened"), gettext("details")], rows))


def orders_html(customer: Customer, zone: ZoneInfo) -> str:
    orders = list(Order.objects.filter(customer=customer).order_by("-placed_at", "-id")
                  [:SECTION_LIMIT + 1])
    if not orders:
        return gettext("No orders.")
    orders, note = _capped(orders, SECTION_LIMIT, gettext("Showing the latest %(count)d orders."),
                           changelist_link(Order, customer, gettext("All of this customer's orders")))
    return format_html("{}{}", note, _table(
        ["placed", "order", "amount", "status"],
        ((local_time(o.placed_at, zone), o.external_id, f"{o.amount} {o.currency}",
          o.get_status_display()) for o in orders),
    ))


def surveys_html(customer: Customer, zone: ZoneInfo) -> str:
    answers = list(
        SurveyResponse.objects.filter(customer=customer).select_related("message__campaign")
        .order_by("-answered_at", "-id")[:SECTION_LIMIT + 1]
    )
    if not answers:
        return gettext("No survey answers.")
    answers, note = _capped(answers, SECTION_LIMIT, gettext("Showing the latest %(count)d answers."),
                            changelist_link(SurveyResponse, customer, gettext("All answers")))
    return format_html("{}{}", note, _table(
        [gettext("answered"), gettext("question"), gettext("score"), gettext("comment"),
         gettext("survey email")],
        ((local_time(a.answered_at, zone), a.get_kind_display(), a.score, a.comment,
          a.message.campaign.name) for a in answers),
    ))


def points_html(customer: Customer, zone: ZoneInfo) -> str:
    entries = list(PointsEntry.objects.filter(customer=customer).order_by("-created_at", "-id")
                   [:SECTION_LIMIT + 1])
    balance = format_html(gettext("<p>Balance: <strong>{}</strong> points.</p>"), customer.points_balance)
    if not entries:
        return format_html("{}<p>{}</p>", balance, gettext("No points entries."))
    entries, note = _capped(entries, SECTION_LIMIT, gettext("Showing the latest %(count)d entries."),
                            changelist_link(PointsEntry, customer, gettext("The whole ledger")))
    return format_html("{}{}{}", balance, note, _table(
        [gettext("when"), gettext("change"), gettext("balance after"), gettext("reason")],
        ((local_time(e.created_at, zone), f"{e.delta:+d}", e.balance_after, e.reason)
         for e in entries),
    ))


# Segments offered under "Why not in …?" on the customer page: the list is for a quick
# look, the segment list has them all.
OTHER_SEGMENTS_LIMIT = 30


def explain_url(segment_id: int, customer_id: int) -> str:
    return reverse("admin:campaigns_segment_explain", args=[segment_id, customer_id])


def _explain_link(segment_id: int, customer_id: int, label: str | None = None) -> str:
    return format_html('<a href="{}">{}</a>', explain_url(segment_id, customer_id),
                       label or gettext("why is this customer in it?"))


def segments_html(customer: Customer, zone: ZoneInfo) -> str:
    """The segments the customer is in, each linked to why; then the others, linked to why
    not (one query each, however many segments there are)."""
    memberships = list(
        SegmentMembership.objects.filter(customer=customer).select_related("segment")
        .only("entered_at", "segment__name", "segment__id").order_by("segment__name")
    )
    others = list(Segment.objects.exclude(pk__in=[m.segment_id for m in memberships])
                  .order_by("name").values_list("pk", "name")[:OTHER_SEGMENTS_LIMIT + 1])
    if memberships:
        inside = _table(
            [gettext("segment"), gettext("in it since"), gettext("explanation")],
            ((m.segment.name, local_time(m.entered_at, zone),
              _explain_link(m.segment_id, customer.pk)) for m in memberships),
        )
    else:
        inside = format_html("<p>{}</p>", gettext(
            "In no segment (as of each segment's last refresh)."))
    if not others:
        return inside
    links = format_html_join(
        "", "<li>{}</li>",
        ((_explain_link(pk, customer.pk, gettext("Why not in “%(name)s”?") % {"name": name}),)
         for pk, name in others[:OTHER_SEGMENTS_LIMIT]),
    )
    more = format_html('<p class="help">{}</p>', gettext(
        "Only the first %(count)d are listed; the segment list has them all.")
        % {"count": OTHER_SEGMENTS_LIMIT}) if len(others) > OTHER_SEGMENTS_LIMIT else ""
    return format_html(
        '{}<details class="cp-other-segments"><summary>{}</summary><ul>{}</ul>{}</details>',
        inside, gettext("Why is this customer not in another segment?"), links, more)


_OUTCOME_MARKS = {
    "sent": ("cp-sent", "✔"), "waiting": ("cp-waiting", "…"), "in_journey": ("cp-waiting", "…"),
    "will_enter": ("cp-waiting", "→"), "completed": ("cp-sent", "✔"),
    "not_sent": ("cp-not", "✘"), "left": ("cp-not", "✘"), "not_in": ("cp-out", "–"),
}


def journeys_html(explanations, customer: Customer) -> str:
    """Each active or paused campaign: did this customer get it, and why (not)."""
    if not explanations:
        return gettext("No campaign is active or paused.")
    blocks = []
    for item in explanations:
        css, mark = _OUTCOME_MARKS.get(item.outcome, ("cp-out", "–"))
        try:
            url = reverse("admin:campaigns_campaign_change", args=[item.campaign.pk])
            name = format_html('<a href="{}">{}</a>', url, item.campaign.name)
        except NoReverseMatch:
            name = item.campaign.name
        paused = format_html(' <span class="cp-paused">{}</span>', gettext("paused")) \
            if item.paused else ""
        details = list(item.details)
        if item.segment_id is not None:
            details.append(_explain_link(
                item.segment_id, customer.pk,
                gettext("Why is this customer in “%(name)s”?") % {"name": item.segment_name}
                if item.segment_member
                else gettext("Why is this customer not in “%(name)s”?")
                % {"name": item.segment_name}))
        lines = format_html_join("", "<li>{}</li>", ((d,) for d in details))
        blocks.append(format_html(
            '<div class="cp-journey {}"><div class="cp-journey-head"><span class="cp-mark" '
            'aria-hidden="true">{}</span> <strong>{}</strong>{}</div><p>{}</p>{}</div>',
            css, mark, name, paused, item.headline,
            format_html("<ul>{}</ul>", lines) if details else ""))
    return format_html('<div class="cp-journeys">{}</div>',
                       format_html_join("", "{}", ((b,) for b in blocks)))


def consent_html(customer: Customer, zone: ZoneInfo) -> str:
    """Current subscriptions, then the append-only consent log, newest first."""
    subscriptions = list(Subscription.objects.filter(customer=customer).order_by("topic"))
    current = format_html_join(
        " · ", "{}: <strong>{}</strong>",
        ((s.get_topic_display(), gettext("yes") if s.subscribed else gettext("no")) for s in subscriptions),
    ) if subscriptions else gettext("no topic recorded")
    log = list(ConsentEvent.objects.filter(customer=customer).order_by("-occurred_at", "-id")
               [:SECTION_LIMIT + 1])
    if not log:
        return format_html(gettext("<p>Now: {}.</p><p>No consent recorded.</p>"), current)
    log, note = _capped(log, SECTION_LIMIT, gettext("Showing the latest %(count)d consent changes."),
                        changelist_link(ConsentEvent, customer, gettext("The whole consent log")))
    return format_html(gettext("<p>Now: {}.</p>{}{}"), current, note, _table(
        [gettext("when"), gettext("topic"), gettext("change"), gettext("source"),
         gettext("wording version"), gettext("method")],
        ((local_time(e.occurred_at, zone), e.get_topic_display(),
          gettext("granted") if e.granted else gettext("withdrawn"), e.get_source_display(),
          e.wording_version or "—", e.method or "—") for e in log),
    ))
