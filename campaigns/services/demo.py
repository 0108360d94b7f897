"""Demo data for `make run`: the lifecycle journeys, their content and fifteen months of Nordic
customers with their history (services.demo_history).

Idempotent: every row has a deterministic key (demo-c-0001, demo-o-0001-01, demo-ev-…),
existing rows are never changed, and a second run adds nothing.
"""
import datetime as dt
import random
import unicodedata
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.db.models import Max

from campaigns import clock
from campaigns.models import (
    Campaign,
    ConsentSource,
    CountryPolicy,
    Customer,
    EmailLayout,
    Event,
    FrequencyPolicy,
    JourneyStep,
    MessageTemplate,
    Order,
    Purpose,
    ReferralProgram,
    Segment,
    TemplateTranslation,
    Topic,
)
from campaigns.services.consent import consent_record
from campaigns.services.demo_catalogue import (
    catalogue_load, order_lines_draw, order_lines_load, recent_activity_load,
)
from campaigns.services.demo_history import history_load
from campaigns.services.referral_rewards import REWARDED_EVENT
from campaigns.services.reorder import reorder_intervals_learn
from campaigns.services.surveys import DETRACTOR_EVENT, PROMOTER_EVENT
from campaigns.starters import (
    ABANDONED_CART_PRIORITY, BROWSE_PRIORITY, DETRACTOR_FOLLOWUP_PRIORITY,
    PROMOTER_INVITE_PRIORITY, REFERRAL_REWARD_PRIORITY, REORDER_PRIORITY,
)

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
SEED = 20260302
FRESH_SIGNUPS = 5
CONSENT_SHARE = 0.7
HISTORY_DAYS = 455
# One customer in this many is about to become at risk when the demo is seeded.
AT_RISK_EVERY = 20

# country: (weight, first names, last names, email domain, time zone, currency, locales)
_PEOPLE = {
    "SE": (40, [
        "Astrid", "Elsa", "Maja", "Ingrid", "Karin", "Linnea", "Sofia", "Frida", "Ebba", "Saga",
        "Erik", "Lars", "Johan", "Oskar", "Nils", "Anders", "Gustav", "Henrik", "Axel", "Björn",
    ], [
        "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
        "Persson", "Svensson", "Lindqvist", "Lindberg", "Bergström", "Holm", "Sandberg",
        "Åberg", "Öberg", "Ekström", "Sjögren",
    ], "example.se", "Europe/Stockholm", "SEK", [("sv", 9), ("en", 1)]),
    "NO": (30, [
        "Nora", "Emma", "Sofie", "Ingrid", "Kari", "Solveig", "Tone", "Sigrid", "Ragnhild",
        "Jakob", "Emil", "Magnus", "Sindre", "Ola", "Håkon", "Bjørn", "Eirik", "Torstein",
    ], [
        "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen",
        "Berg", "Haugen", "Hagen", "Bakken", "Solberg", "Dahl", "Lie", "Strand", "Bråthen",
        "Sæther", "Løvås",
    ], "example.no", "Europe/Oslo", "NOK", [("nb", 9), ("en", 1)]),
    "FI": (10, [
        "Aino", "Sanna", "Laura", "Veera", "Elina", "Päivi", "Eino", "Juha", "Mikko", "Matti",
        "Tuomas", "Antti", "Jussi",
    ], [
        "Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine",
        "Heikkinen", "Koskinen", "Järvinen", "Lehtonen",
    ], "example.com", "Europe/Helsinki", "EUR", [("fi", 7), ("sv", 1), ("en", 2)]),
    "DK": (10, [
        "Mette", "Freja", "Ida", "Line", "Anne", "Signe", "Søren", "Mads", "Rasmus",
        "Frederik", "Christian", "Kasper",
    ], [
        "Nielsen", "Jensen", "Hansen", "Pedersen", "Christensen", "Sørensen", "Rasmussen",
        "Jørgensen", "Madsen", "Kjær",
    ], "example.com", "Europe/Copenhagen", "EUR", [("da", 8), ("en", 2)]),
    "GB": (5, [
        "Oliver", "Amelia", "James", "Charlotte", "Grace", "Harry", "Isla", "George",
    ], [
        "Smith", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Clarke", "Walker",
    ], "example.com", "Europe/London", "EUR", [("en", 1)]),
    "US": (5, [
        "Noah", "Liam", "Olivia", "Harper", "Ethan", "Ava", "Mason", "Emily",
    ], [
        "Johnson", "Miller", "Anderson", "Peterson", "Nelson", "Carlson", "Olson", "Swanson",
    ], "example.com", "America/New_York", "EUR", [("en", 1)]),
}
# The fresh signups show the welcome in each shipped language.
_FRESH_COUNTRIES = ["SE", "NO", "GB", "SE", "NO"]
_FRESH_LOCALES = {"SE": "sv", "NO": "nb", "GB": "en"}
_ASCII = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss"})


def demo_load(*, customers: int = 200, history: bool = False) -> dict:
    """Create whatever demo data is missing and return how many rows of each kind were made.

    With `history` (what `seed_demo` asks for) the new customers also get their past in
    the journeys, their lifecycle stages and the dashboard's snapshots (services.demo_history);
    without it they have orders and events only, as a shop's import would leave them.
    """
    now = clock.now()
    with transaction.atomic():
        created = {"frequency_policies": _policy_load()}
        created["referral_programs"] = _referral_program_load()
        created["country_policies"] = _country_policies_load()
        created["segments"] = _segments_load()
        created.update(_journeys_load(now=now))
        created["products"] = catalogue_load()
        counts, people = _customers_load(count=customers, now=now)
        created.update(counts)
        if created["campaigns"]:
            _journeys_start_after_history(now=now)
        if history:
            created.update(history_load(people=people, now=now,
                                        new_campaigns=bool(created["campaigns"])))
        if people:
            # What the nightly job would have learned from the history just made.
            reorder_intervals_learn(now=now)
    return created


# Legal grounds per country, made once: Sweden allows the existing-customer exception on
# the four conditions; Norway narrows it to an active relationship (a purchase in the last
# year and two purchases, 2,000 spent or a loyalty membership). Only templates marked
# "similar products" use it; the demo's are not, so demo mail still needs opt-in.
DEMO_COUNTRY_POLICIES = {
    "SE": {"existing_customer_exception": True},
    "NO": {"existing_customer_exception": True, "relationship_days": 365,
           "relationship_min_orders": 2, "relationship_min_total": 2000, "membership_counts": True},
}


def _country_policies_load() -> int:
    return sum(CountryPolicy.objects.get_or_create(country=country, defaults=values)[1]
               for country, values in DEMO_COUNTRY_POLICIES.items())


# Example segments (campaigns.segmentation), made once: a marketer's edits are kept.
DEMO_SEGMENTS = {
    "Swedes who bought twice lately": {"all": [
        {"field": "country", "op": "is", "value": "SE"},
        {"field": "order_count", "op": ">=", "value": 2, "window": {"last_days": 90}},
        {"field": "marketing_consent", "op": "is", "value": True},
    ]},
    "Lapsed in Norway": {"all": [
        {"field": "country", "op": "is", "value": "NO"},
        {"field": "last_order_at", "op": "more_than_days_ago", "value": 90},
    ]},
    "Promoters": {"field": "nps_group", "op": "is", "value": "promoter"},
    "Loyal customers": {"field": "lifecycle_stage", "op": "is", "value": "loyal"},
}


def _segments_load() -> int:
    made = 0
    for name, rule in DEMO_SEGMENTS.items():
        made += Segment.objects.get_or_create(name=name, defaults={"rule": rule})[1]
    return made


def _journeys_start_after_history(*, now: dt.datetime) -> None:
    """The demo's year of history predates the journeys: they start with the fresh
    signups, as campaigns activated before them would (see campaign_activate)."""
    history = Event.objects.filter(occurred_at__lt=now - dt.timedelta(hours=24)).aggregate(
        last=Max("id"))["last"] or 0
    Campaign.objects.filter(slug__in=[j["slug"] for j in JOURNEYS]).exclude(
        slug__in=PRODUCT_JOURNEYS).update(event_watermark=history, event_ceiling=history)
    # The product journeys answer the carts and views of the last days (services.
    # demo_catalogue), so a browse email is due on the first tick too.
    recent = Event.objects.filter(occurred_at__lt=now - dt.timedelta(days=3)).aggregate(
        last=Max("id"))["last"] or 0
    Campaign.objects.filter(slug__in=PRODUCT_JOURNEYS).update(
        event_watermark=recent, event_ceiling=recent)


def _policy_load() -> int:
    if FrequencyPolicy.objects.exists():
        return 0
    FrequencyPolicy.objects.create(
        name="Default", max_per_day=1, max_per_week=3,
        quiet_hours_start=dt.time(21, 0), quiet_hours_end=dt.time(8, 0),
    )
    return 1


def _referral_program_load() -> int:
    """The demo's referral programme: points for both sides, no refund window (rewards on
    the first order, at the next tick). An existing programme is left alone."""
    if ReferralProgram.objects.exists():
        return 0
    ReferralProgram.objects.create(
        active=True, reward_kind=ReferralProgram.RewardKind.POINTS, referrer_points=500,
        friend_points=250, refund_window_days=0, hold_until_window_passes=False)
    return 1


def content_read(*, name: str, locale: str) -> dict:
    """A shipped message's subject, HTML and text for one locale, from campaigns/content/."""
    folder = CONTENT_DIR / name
    return {
        "subject": (folder / f"{locale}.subject.txt").read_text(encoding="utf-8").strip(),
        "html_body": (folder / f"{locale}.html").read_text(encoding="utf-8"),
        "text_body": (folder / f"{locale}.txt").read_text(encoding="utf-8"),
    }


def content_locales(*, name: str) -> list[str]:
    return sorted(p.name.split(".")[0] for p in (CONTENT_DIR / name).glob("*.subject.txt"))


def _layout_load() -> EmailLayout:
    """The shop's layout, which the shipped templates' HTML sits in (their CSS lives there)."""
    layout = EmailLayout.objects.filter(is_default=True).first()
    if layout is None:
        layout, _ = EmailLayout.objects.get_or_create(name="Nordic Goods",
                                                      defaults={"is_default": True})
    return layout


def _template_load(*, name: str, content: str, topic: str) -> tuple[MessageTemplate, int, int]:
    template, created = MessageTemplate.objects.get_or_create(
        name=name, defaults={"purpose": Purpose.MARKETING, "topic": topic, "default_locale": "en",
                             "layout": _layout_load()},
    )
    translations = 0
    for locale in content_locales(name=content):
        # A marketer's edit of a translation is never overwritten; a missing one is added.
        _, made = TemplateTranslation.objects.get_or_create(
            template=template, locale=locale, defaults=content_read(name=content, locale=locale)
        )
        translations += made
    return template, int(created), translations


DAY = dt.timedelta(days=1)
# The four lifecycle journeys, in their default priority order. Steps name their
# template by content folder; everything else is a JourneyStep field.
JOURNEYS = [
    {
        "slug": "welcome", "name": "Welcome", "priority": 100,
        "trigger_event_type": "signup", "entry_key": Campaign.EntryKey.CUSTOMER,
        "deadline": dt.timedelta(hours=24),
        "steps": [{"kind": JourneyStep.Kind.SEND, "content": "welcome"}],
    },
    {
        "slug": "post-purchase-survey", "name": "Post-purchase survey", "priority": 80,
        "trigger_event_type": "purchase", "entry_key": Campaign.EntryKey.ORDER,
        "reentry_cooldown": 30 * DAY, "deadline": 5 * DAY,
        "exit_event_types": ["refund", "order_cancelled"],
        "steps": [
            {"kind": JourneyStep.Kind.WAIT, "wait_duration": 3 * DAY},
            {"kind": JourneyStep.Kind.SEND, "content": "survey", "topic": Topic.SURVEYS},
        ],
    },
    {
        "slug": "surprise-bonus", "name": "Surprise bonus (3rd purchase)", "priority": 60,
        "trigger_event_type": "purchase", "trigger_config": {"nth_order": 3},
        "entry_key": Campaign.EntryKey.ORDER, "reentry_cooldown": 90 * DAY, "deadline": 3 * DAY,
        # One in ten is held out, so the dashboard can show what the bonus does.
        "holdout_percent": 10,
        "steps": [
            {"kind": JourneyStep.Kind.REWARD, "reward_points": 500},
            {"kind": JourneyStep.Kind.SEND, "content": "bonus", "topic": Topic.LOYALTY},
        ],
    },
    {
        # The other kind of surprise: a monthly draw among the loyal customers. A draft,
        # so the demo does not reward customers twice; activate it to try it.
        "slug": "surprise-draw", "name": "Surprise bonus (monthly draw, 10 % of loyal customers)",
        "priority": 60, "status": Campaign.Status.DRAFT,
        "trigger": Campaign.Trigger.SCHEDULE, "trigger_event_type": "",
        "trigger_config": {"first_run": "2026-12-01T10:00:00+01:00", "every_days": 30,
                           "segment": "Loyal customers", "share": 10},
        "reentry_cooldown": 90 * DAY, "deadline": 3 * DAY,
        "steps": [
            {"kind": JourneyStep.Kind.REWARD, "reward_points": 500},
            {"kind": JourneyStep.Kind.SEND, "content": "bonus", "topic": Topic.LOYALTY},
        ],
    },
    {
        # The reminder of points about to expire (services.loyalty emits points.expiring
        # POINTS_EXPIRY_REMINDER_DAYS before). A draft: activate it once earning rules exist.
        "slug": "points-expiring", "name": "Points about to expire", "priority": 50,
        "status": Campaign.Status.DRAFT, "trigger_event_type": "points.expiring",
        "entry_key": Campaign.EntryKey.EVENT, "reentry_cooldown": 30 * DAY, "deadline": 3 * DAY,
        "steps": [{"kind": JourneyStep.Kind.SEND, "content": "points_expiring",
                   "topic": Topic.LOYALTY}],
    },
    # The product journeys (campaigns/starters.py has the same as starters): a cart, a
    # viewed product or a product due for reorder starts them; buying it ends them.
    {
        "slug": "abandoned-cart", "name": "Abandoned cart", "priority": ABANDONED_CART_PRIORITY,
        "trigger_event_type": "checkout.started", "entry_key": Campaign.EntryKey.EVENT,
        "trigger_config": {"exit_on_purchase_of_items": True},
        "exit_event_types": ["checkout.started"], "deadline": 2 * DAY,
        "steps": [
            {"kind": JourneyStep.Kind.WAIT, "wait_duration": dt.timedelta(hours=1)},
            {"kind": JourneyStep.Kind.SEND, "content": "abandoned_cart"},
            {"kind": JourneyStep.Kind.WAIT, "wait_duration": DAY},
            {"kind": JourneyStep.Kind.SEND, "content": "abandoned_cart_reminder"},
        ],
    },
    {
        "slug": "time-to-reorder", "name": "Time to reorder", "priority": REORDER_PRIORITY,
        "trigger_event_type": "product.reorder_due", "entry_key": Campaign.EntryKey.EVENT,
        "trigger_config": {"exit_on_purchase_of_items": True}, "deadline": 3 * DAY,
        "steps": [{"kind": JourneyStep.Kind.SEND, "content": "reorder"}],
    },
    {
        "slug": "browse-abandonment", "name": "Browse abandonment", "priority": BROWSE_PRIORITY,
        "trigger_event_type": "product.viewed", "entry_key": Campaign.EntryKey.EVENT,
        "trigger_config": {"exit_on_purchase_of_items": True},
        "reentry_cooldown": 7 * DAY, "deadline": 2 * DAY,
        "steps": [
            {"kind": JourneyStep.Kind.WAIT, "wait_duration": DAY},
            {"kind": JourneyStep.Kind.SEND, "content": "browse_abandonment"},
        ],
    },
    # Word of mouth (campaigns/starters.py has the same as starters): a promoter's survey
    # answer brings the invitation to refer a friend, a referral reward its email to
    # each side, a detractor's answer the service team's follow-up.
    {
        "slug": "detractor-followup", "name": "Detractor follow-up",
        "priority": DETRACTOR_FOLLOWUP_PRIORITY, "trigger_event_type": DETRACTOR_EVENT,
        "entry_key": Campaign.EntryKey.EVENT, "reentry_cooldown": 30 * DAY, "deadline": 2 * DAY,
        "steps": [{"kind": JourneyStep.Kind.SEND, "content": "detractor_followup",
                   "topic": Topic.SURVEYS}],
    },
    {
        "slug": "referral-reward", "name": "Referral reward", "priority": REFERRAL_REWARD_PRIORITY,
        "trigger_event_type": REWARDED_EVENT, "entry_key": Campaign.EntryKey.EVENT,
        "deadline": 3 * DAY,
        "steps": [{"kind": JourneyStep.Kind.SEND, "content": "referral_reward",
                   "topic": Topic.LOYALTY}],
    },
    {
        "slug": "promoter-invite", "name": "Promoter: invite a friend",
        "priority": PROMOTER_INVITE_PRIORITY, "trigger_event_type": PROMOTER_EVENT,
        "entry_key": Campaign.EntryKey.EVENT, "reentry_cooldown": 90 * DAY, "deadline": 3 * DAY,
        "steps": [{"kind": JourneyStep.Kind.SEND, "content": "promoter_invite"}],
    },
    {
        "slug": "win-back", "name": "Win-back (90 days without an order)", "priority": 40,
        "trigger": Campaign.Trigger.INACTIVITY, "trigger_event_type": "",
        "trigger_config": {"days": 90}, "entry_key": Campaign.EntryKey.EVENT,
        "exit_event_types": ["purchase"], "deadline": 21 * DAY, "holdout_percent": 10,
        "steps": [
            {"kind": JourneyStep.Kind.SEND, "content": "winback", "topic": Topic.OFFERS},
            {"kind": JourneyStep.Kind.WAIT, "wait_duration": 14 * DAY},
            {"kind": JourneyStep.Kind.SEND, "content": "winback_reminder", "topic": Topic.OFFERS},
        ],
    },
]
PRODUCT_JOURNEYS = ["abandoned-cart", "browse-abandonment", "time-to-reorder"]
_TEMPLATE_NAMES = {"welcome": "Welcome", "survey": "Post-purchase survey (NPS)",
                   "bonus": "Surprise bonus", "winback": "Win-back offer",
                   "winback_reminder": "Win-back reminder",
                   "points_expiring": "Points about to expire",
                   "abandoned_cart": "Abandoned cart", "abandoned_cart_reminder": "Abandoned cart reminder",
                   "browse_abandonment": "Browse abandonment", "reorder": "Time to reorder",
                   "promoter_invite": "Promoter: invite a friend",
                   "referral_reward": "Referral reward",
                   "detractor_followup": "Detractor follow-up"}


def _journeys_load(*, now: dt.datetime) -> dict:
    counts = {"templates": 0, "translations": 0, "campaigns": 0, "steps": 0}
    for spec in JOURNEYS:
        spec = dict(spec)
        steps = spec.pop("steps")
        campaign, created = Campaign.objects.get_or_create(
            slug=spec.pop("slug"),
            defaults={"status": Campaign.Status.ACTIVE, "planned_through": now, **spec},
        )
        counts["campaigns"] += created
        for position, step in enumerate(steps):
            step = dict(step)
            template = None
            if "content" in step:
                content = step.pop("content")
                template, made, translations = _template_load(
                    name=_TEMPLATE_NAMES[content], content=content,
                    topic=step.pop("topic", Topic.MARKETING),
                )
                counts["templates"] += made
                counts["translations"] += translations
            if created:
                JourneyStep.objects.create(campaign=campaign, position=position,
                                           template=template, **step)
                counts["steps"] += 1
    return counts


def _customers_load(*, count: int, now: dt.datetime) -> tuple[dict, list[dict]]:
    """The missing demo customers with their orders, events and consent: the counts made,
    and each new customer's person (customer, orders, consent) for their history."""
    wanted = {_customer_id(i): i for i in range(1, count + 1)}
    existing = set(
        Customer.objects.filter(external_id__startswith="demo-c-").values_list(
            "external_id", flat=True
        )
    )
    people = [
        _person(index=i, fresh=i > count - FRESH_SIGNUPS, now=now)
        for external_id, i in wanted.items()
        if external_id not in existing
    ]
    Customer.objects.bulk_create(
        [p["customer"] for p in people], batch_size=500, ignore_conflicts=True
    )
    ids = dict(
        Customer.objects.filter(external_id__startswith="demo-c-").values_list("external_id", "pk")
    )
    orders = []
    for person in people:
        customer = person["customer"]
        customer.pk = ids[customer.external_id]
        for order in person["orders"]:
            order.customer_id = customer.pk
            orders.append(order)
    Order.objects.bulk_create(orders, batch_size=500, ignore_conflicts=True)
    order_lines = order_lines_load(people)
    order_ids = dict(
        Order.objects.filter(external_id__startswith="demo-o-").values_list("external_id", "pk")
    )
    events = []
    for person in people:
        customer = person["customer"]
        events.append(Event(
            event_id=f"demo-ev-signup-{customer.external_id.removeprefix('demo-c-')}",
            customer_id=customer.pk, type="signup", occurred_at=customer.signed_up_at,
            properties={"source": "demo"},
        ))
        events.extend(
            Event(
                event_id=f"demo-ev-purchase-{order.external_id.removeprefix('demo-o-')}",
                customer_id=customer.pk, type="purchase", occurred_at=order.placed_at,
                order_id=order_ids[order.external_id],
                properties={"order_id": order.external_id, "amount": str(order.amount),
                            "currency": order.currency},
            )
            for order in person["orders"]
        )
    # In time order, so the event ids follow the story as a shop would have sent it.
    events.sort(key=lambda e: (e.occurred_at, e.event_id))
    Event.objects.bulk_create(events, batch_size=500, ignore_conflicts=True)
    recent = recent_activity_load(people, now=now)
    consents = sum(
        consent_record(
            customer=person["customer"], granted=True, source=ConsentSource.IMPORT,
            wording_version="demo-v1", at=person["customer"].signed_up_at,
        )
        for person in people
        if person["consent"]
    )
    return {
        "customers": len(people),
        "orders": len(orders),
        "events": len(events) + recent,
        "order_lines": order_lines,
        "consent_events": consents,
    }, people


def _customer_id(index: int) -> str:
    return f"demo-c-{index:04d}"


def _person(*, index: int, fresh: bool, now: dt.datetime) -> dict:
    """One customer and their orders, the same for the same index on every run."""
    rng = random.Random(f"{SEED}-{index}")
    if fresh:
        country = _FRESH_COUNTRIES[index % len(_FRESH_COUNTRIES)]
    else:
        country = rng.choices(list(_PEOPLE), weights=[p[0] for p in _PEOPLE.values()])[0]
    _, first_names, last_names, domain, zone, currency, locales = _PEOPLE[country]
    first = "" if (not fresh and rng.random() < 0.03) else rng.choice(first_names)
    last = rng.choice(last_names)
    if fresh:
        locale = _FRESH_LOCALES[country]
        signed_up_at = now - dt.timedelta(minutes=rng.uniform(5, 240))
    else:
        locale = rng.choices([loc for loc, _ in locales], weights=[w for _, w in locales])[0]
        # Fifteen months back: the dashboard's year-over-year figures (churn over a year,
        # expected lifetime value) need customers who bought more than a year ago.
        signed_up_at = now - dt.timedelta(days=rng.uniform(1.5, HISTORY_DAYS))
    if not fresh and rng.random() < 0.04:
        zone = ""
    local_part = ".".join(_ascii(part) for part in (first, last) if part)
    external_id = _customer_id(index)
    orders = [] if fresh else _orders(rng, external_id=external_id, currency=currency,
                                      signed_up_at=signed_up_at, now=now)
    if index % AT_RISK_EVERY == AT_RISK_EVERY // 2:
        _about_to_be_at_risk(orders, rng, signed_up_at=signed_up_at, now=now)
    # The orders' lines, and their amounts from them (services.demo_catalogue).
    lines = order_lines_draw(orders, external_id=external_id)
    total = sum((o.amount for o in orders), Decimal("0"))
    customer = Customer(
        external_id=external_id,
        email=f"{local_part}{index}@{domain}",
        first_name=first,
        last_name=last,
        locale=locale,
        time_zone=zone,
        country=country,
        signed_up_at=signed_up_at,
        # Arrived in the shop's CRM when they signed up, as a live shop's customers do:
        # "new customers" per month (the referral figures) count by it.
        created_at=signed_up_at,
        first_order_at=orders[0].placed_at if orders else None,
        last_order_at=orders[-1].placed_at if orders else None,
        order_count=len(orders),
        total_spent=total,
        tier=_tier(total),
        attributes={"birthday": f"{rng.randint(1950, 2004)}-{rng.randint(1, 12):02d}-"
                                f"{rng.randint(1, 28):02d}"} if rng.random() < 0.6 else {},
    )
    consent = fresh or rng.random() < CONSENT_SHARE
    return {"customer": customer, "orders": orders, "consent": consent, "lines": lines}


def _orders(rng, *, external_id, currency, signed_up_at, now) -> list[Order]:
    number = rng.choices(range(9), weights=[20, 22, 16, 12, 10, 8, 5, 4, 3])[0]
    span = (now - signed_up_at).total_seconds()
    moments = sorted(signed_up_at + dt.timedelta(seconds=rng.uniform(60, span - 60))
                     for _ in range(number))
    suffix = external_id.removeprefix("demo-c-")
    return [
        Order(
            external_id=f"demo-o-{suffix}-{n:02d}",
            # Shop prices end in 9: 99, 149, … 2,499.
            amount=Decimal(rng.randrange(99, 2500, 50)).quantize(Decimal("0.01")),
            currency=currency,
            placed_at=placed_at,
            status=Order.Status.PLACED,
        )
        for n, placed_at in enumerate(moments, start=1)
    ]


def _about_to_be_at_risk(orders: list[Order], rng, *, signed_up_at, now) -> None:
    """Move the last order to 60-66 days ago, where the next nightly scoring finds the
    customer newly at risk (the demo was last scored a week ago; services.demo_history):
    a "became at risk" journey then has someone to reach on the demo."""
    moment = now - dt.timedelta(days=60 + rng.uniform(0.1, 6))
    earlier = orders[-2].placed_at if len(orders) > 1 else signed_up_at
    if orders and earlier < moment:
        orders[-1].placed_at = moment


def _tier(total: Decimal) -> str:
    if total >= 6000:
        return "gold"
    if total >= 2000:
        return "silver"
    return "bronze" if total > 0 else ""


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name.translate(_ASCII))
    return "".join(c for c in folded if c.isascii()).lower()
