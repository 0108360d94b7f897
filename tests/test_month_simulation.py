"""A simulated month: 300 customers, the four shipped journeys, and every invariant.

One seeded scenario is built and played once per module on a virtual clock that beats
every 15 minutes for 30 days (2026-03-02 to 2026-04-01, across both DST changes):

* 200 signups spread over the month in six zones and without one, most with marketing
  consent, some without, some declining surveys, some unsubscribing halfway;
* their purchases (three in ten buy 3+ times, so the surprise bonus fires) and some
  refunds before the survey goes out;
* 100 customers whose last order was 75–95 days before the start (created with
  `last_order_at` set), so the win-back journey fires during the month for those who
  lapse after it began; some buy again during the wait, some join the club (a signup)
  around the day they lapse, so the welcome meets the win-back and the caps must choose.

Events are ingested when the clock reaches their `received_at`: most at once, some
webhooks 2 h late and a few 30 h late. The demo journeys and the demo's default
frequency policy (1 per 24 h, 3 per 7 days, quiet hours 21:00–08:00) decide. Beats at
which no work can be due are not ticked (see `_play`; MONTH_EVERY_TICK=1 ticks them all,
with the same outcome, in about 1.5 times the time).

The module fixture plays the month inside a transaction that is rolled back and keeps
plain snapshots of the outbox and the database; each test then checks one invariant,
mostly from the sent mail itself (To, tags, Date and Message-ID headers).
"""
import dataclasses
import datetime as dt
import hashlib
import os
import random
from collections import Counter, defaultdict
from email.utils import parsedate_to_datetime

import pytest
from django.core import mail
from django.db import transaction
from django.db.models import Min

from campaigns import clock as campaigns_clock
from campaigns.models import (
    Campaign, ConsentEvent, Customer, Enrollment, FrequencyPolicy, JourneyStep, Message,
    MessageLog, Order,
)
from campaigns.services.consent import consent_record
from campaigns.services.demo import JOURNEYS, demo_load
from campaigns.services.events import events_ingest
from campaigns.services.scheduling import customer_zone, scheduler_tick
from campaigns.services.sending import messages_send_due

# The tests only read the module fixture's snapshots; the mark makes pytest-django set up
# the test database that the fixture plays the month in.
pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
WEEK = dt.timedelta(days=7)
TICK = dt.timedelta(minutes=15)
START = dt.datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
END = START + 30 * DAY
SEED = 20260302
# Tick at every 15-minute beat, idle ones included (slower; the outcome is the same).
EVERY_TICK = os.environ.get("MONTH_EVERY_TICK", "") not in ("", "0")
SIGNUPS = 200
LAPSED = 100

# zone, locale, weight ("" is a customer without a zone: the site's TIME_ZONE applies)
ZONES = [
    ("Europe/Stockholm", "sv", 30), ("Europe/Oslo", "nb", 20), ("Europe/Helsinki", "fi", 10),
    ("Europe/London", "en", 12), ("America/New_York", "en", 12), ("Asia/Tokyo", "en", 11),
    ("", "sv", 5),
]
# Reasons a capped message may wait or give up on; a skip for anything else is not the caps.
CAP_REASONS = {"frequency_cap", "min_gap", "quiet_hours"}
TOPIC_OF_SLUG = {"welcome": "marketing", "post-purchase-survey": "surveys",
                 "surprise-bonus": "loyalty", "win-back": "offers"}


# --------------------------------------------------------------------------- scenario


@dataclasses.dataclass
class Action:
    at: dt.datetime  # when it reaches us (received_at for an event)
    kind: str  # "event" or "unsubscribe"
    data: dict


def _minute(rng, start, span: dt.timedelta) -> dt.datetime:
    return start + dt.timedelta(minutes=rng.randrange(0, int(span.total_seconds() // 60)))


def _delay(rng) -> dt.timedelta:
    """How late the shop's webhook reaches us."""
    r = rng.random()
    if r < 0.03:
        return 30 * HOUR
    if r < 0.15:
        return 2 * HOUR
    return dt.timedelta(seconds=rng.randrange(0, 60))


def scenario_build(rng: random.Random) -> dict:
    """Everything the month holds, as data: customers to create up front and timed actions."""
    actions: list[Action] = []
    stats = Counter()

    def event(data, *, occurred_at):
        received = occurred_at + _delay(rng)
        if received >= END:
            stats["events arriving after the month"] += 1
            return
        delay = received - occurred_at
        stats["events 30 h late" if delay >= 30 * HOUR else
              "events 2 h late" if delay >= 2 * HOUR else "events on time"] += 1
        actions.append(Action(at=received, kind="event", data={**data, "occurred_at": occurred_at}))

    def buy(external_id, email, order_id, at):
        stats["purchases"] += 1
        event({"event_id": f"buy-{order_id}", "type": "purchase",
               "customer": {"external_id": external_id, "email": email},
               "order": {"external_id": order_id, "amount": "499.00", "currency": "SEK"}},
              occurred_at=at)

    zones, locales, weights = zip(*ZONES)
    for n in range(SIGNUPS):
        external_id, email = f"m-{n:03d}", f"m-{n:03d}@example.com"
        index = rng.choices(range(len(ZONES)), weights=weights)[0]
        signed_up = _minute(rng, START, 27 * DAY)
        consent = {"marketing": True} if rng.random() < 0.85 else {}
        if consent and rng.random() < 0.08:
            consent["surveys"] = False
            stats["signups declining surveys"] += 1
        stats["signups with consent" if consent else "signups without consent"] += 1
        event({"event_id": f"signup-{external_id}", "type": "signup",
               "customer": {"external_id": external_id, "email": email, "first_name": f"Kund{n}",
                            "locale": locales[index], "time_zone": zones[index],
                            **({"consent": consent} if consent else {})}},
              occurred_at=signed_up)
        if consent and signed_up < START + 12 * DAY and rng.random() < 0.2:
            stats["unsubscribes"] += 1
            at = max(signed_up + 2 * DAY, _minute(rng, START + 12 * DAY, 6 * DAY))
            actions.append(Action(at=at, kind="unsubscribe", data={"external_id": external_id}))
        purchases = rng.choices([0, 1, 2, 3, 4, 5], weights=[25, 28, 17, 15, 10, 5])[0]
        at = signed_up + dt.timedelta(minutes=rng.randrange(60, 4 * 1440))
        for k in range(purchases):
            if at >= END - HOUR:
                break
            order_id = f"o-{external_id}-{k + 1}"
            buy(external_id, email, order_id, at)
            if k == 2:
                stats["third purchases"] += 1
            if rng.random() < 0.12:
                stats["refunds"] += 1
                event({"event_id": f"refund-{order_id}", "type": "refund",
                       "customer": {"external_id": external_id, "email": email},
                       "properties": {"order": order_id}},
                      occurred_at=at + dt.timedelta(minutes=rng.randrange(6 * 60, 60 * 60)))
            at += dt.timedelta(minutes=rng.randrange(12 * 60, 5 * 1440))

    lapsed = []
    for n in range(LAPSED):
        external_id, email = f"l-{n:03d}", f"l-{n:03d}@example.com"
        index = rng.choices(range(len(ZONES)), weights=weights)[0]
        last_order = START - dt.timedelta(minutes=rng.randrange(75 * 1440, 95 * 1440))
        orders = rng.choices([1, 2, 3], weights=[45, 40, 15])[0]
        placed = sorted([last_order] + [last_order - dt.timedelta(minutes=rng.randrange(1440, 300 * 1440))
                                        for _ in range(orders - 1)])
        consent = rng.random() < 0.85
        lapsed.append({"external_id": external_id, "email": email, "zone": zones[index],
                       "locale": locales[index], "orders": placed, "consent": consent,
                       "signed_up_at": placed[0] - dt.timedelta(days=rng.randrange(1, 200))})
        lapse = last_order + 90 * DAY
        stats["lapsing during the month" if lapse > START else "lapsed before the journeys began"] += 1
        again = None
        if START < lapse < END - 2 * DAY and rng.random() < 0.4:
            # An old customer joins the club around the day they lapse: the welcome
            # (priority 100) and the win-back offer (priority 40) meet. Half of them buy
            # the next day, which ends the win-back and may be their third order: four
            # journeys then crowd one week and the 7-day cap has to choose.
            stats["lapsed who sign up around their lapse"] += 1
            joined = lapse + dt.timedelta(minutes=rng.randrange(-8 * 60, 8 * 60))
            event({"event_id": f"signup-{external_id}", "type": "signup",
                   "customer": {"external_id": external_id, "email": email, "first_name": f"Kund{n}",
                                "locale": locales[index], "time_zone": zones[index],
                                "consent": {"marketing": True}}},
                  occurred_at=joined)
            if rng.random() < 0.5:
                again = joined + dt.timedelta(minutes=rng.randrange(60, 30 * 60))
        elif rng.random() < 0.35:
            again = lapse + dt.timedelta(minutes=rng.randrange(-3 * 1440, 13 * 1440))
        if again is not None and START < again < END - HOUR:
            stats["lapsed who buy again"] += 1
            buy(external_id, email, f"o-{external_id}-{orders + 1}", again)

    actions.sort(key=lambda a: (a.at, a.kind, a.data.get("event_id", "")))
    return {"actions": actions, "lapsed": lapsed, "stats": stats}


def _lapsed_create(lapsed: list[dict]) -> None:
    for person in lapsed:
        orders = person["orders"]
        customer = Customer.objects.create(
            external_id=person["external_id"], email=person["email"], locale=person["locale"],
            time_zone=person["zone"], signed_up_at=person["signed_up_at"],
            first_order_at=orders[0], last_order_at=orders[-1], order_count=len(orders),
            total_spent=499 * len(orders),
        )
        Order.objects.bulk_create([
            Order(customer=customer, external_id=f"o-{person['external_id']}-{k + 1}",
                  amount="499.00", currency="SEK", placed_at=at)
            for k, at in enumerate(orders)
        ])
        if person["consent"]:
            consent_record(customer=customer, granted=True, source="import",
                           at=person["signed_up_at"])


def _next_wake(*, after: dt.datetime) -> dt.datetime | None:
    """The earliest moment after which a tick could find work, if no new action arrives.

    A tick's work (scheduling.scheduler_tick) comes from: claims or sends left open (none
    here: every batch is sent in-process), new events (each is an action, and forces the
    next two ticks: the planner looks at every event twice), lapses (last order + N days),
    due enrollments and due pending messages. Exits need an exit event: an action too.
    """
    if Message.objects.filter(state__in=["claimed", "sending"]).exists():
        return after
    candidates = [
        Message.objects.filter(state="pending").aggregate(at=Min("due_at"))["at"],
        Enrollment.objects.filter(state="active").aggregate(at=Min("next_action_at"))["at"],
    ]
    for campaign in Campaign.objects.filter(trigger=Campaign.Trigger.INACTIVITY):
        lapse = dt.timedelta(days=int(campaign.trigger_config.get("days", 90)))
        first = Customer.objects.filter(
            last_order_at__gt=after - lapse, erased_at__isnull=True
        ).aggregate(at=Min("last_order_at"))["at"]
        candidates.append(first + lapse if first else None)
    due = [at for at in candidates if at is not None]
    return min(due) if due else None


def _play(actions: list[Action], *, every_tick: bool) -> Counter:
    """Beat every 15 minutes from START to END inclusive, feeding actions as they arrive.

    Each action is played at its own moment, before the tick that follows it. With
    `every_tick` False, a beat at which nothing can be due is not ticked (`_next_wake`);
    the ticks that do run are the very ticks of the full beat, at the same moments, so
    the month plays out the same (MONTH_EVERY_TICK=1 plays the full beat to compare: the
    digest printed by `_report` is the same either way).
    """
    counts = Counter()
    pending = iter(actions)
    upcoming = next(pending, None)
    moment, force, wake = START, True, None
    while moment <= END:
        played = False
        while upcoming is not None and upcoming.at <= moment:
            campaigns_clock.set_virtual(upcoming.at)
            if upcoming.kind == "event":
                events_ingest(events=[upcoming.data])
            else:
                customer = Customer.objects.get(external_id=upcoming.data["external_id"])
                consent_record(customer=customer, granted=False, source="unsubscribe_link",
                               at=upcoming.at)
            counts[upcoming.kind] += 1
            played = True
            upcoming = next(pending, None)
        if every_tick or played or force or moment == END or (wake is not None and wake <= moment):
            campaigns_clock.set_virtual(moment)
            report = scheduler_tick(now=moment)
            messages_send_due(now=moment)
            busy = bool(report.enrolled or report.exited or report.advanced or report.due
                        or report.released or report.unknown)
            counts["ticks"] += 1
            counts["ticks with work"] += busy
            # The tick after an action or after work always runs, whatever _next_wake says.
            force = played or busy
            wake = _next_wake(after=moment)
        else:
            counts["idle beats not ticked"] += 1
        moment += TICK
    assert upcoming is None, f"an action was never played: {upcoming}"
    return counts


@dataclasses.dataclass
class Month:
    """Plain snapshots of what the month produced, kept after the rollback."""
    emails: list[dict]
    messages: dict[int, dict]
    by_uuid: dict[str, dict]
    logs: dict[int, list[dict]]
    customers: dict[str, dict]  # by email
    consent: dict[str, list[dict]]  # by email, in log order
    enrollments: list[dict]
    policy: dict
    last_tick: dt.datetime
    stats: Counter
    played: Counter

    def final_log(self, message_id):
        """The entry that settled the message, or None while it is open. The log keeps
        deviations only: a send is told by the message row itself."""
        row = self.messages[message_id]
        if row["state"] == "sent":
            return {"at": row["sent_at"], "state": "sent", "reason": row["reason"], "detail": ""}
        final = [entry for entry in self.logs.get(message_id, [])
                 if entry["state"] in Message.FINAL_STATES]
        return final[-1] if final else None


def _snapshot(stats: Counter, played: Counter) -> Month:
    emails = []
    for email in mail.outbox:
        emails.append({
            "to": email.to[0],
            "tags": list(email.tags),
            "date": parsedate_to_datetime(email.extra_headers["Date"]),
            "uuid": email.extra_headers["Message-ID"].strip("<>").split("@")[0],
            "subject": email.subject,
        })
    messages = {
        m["id"]: {**m, "message_id": str(m["message_id"])}
        for m in Message.objects.values(
            "id", "message_id", "enrollment_id", "step_id", "step__position", "campaign__slug",
            "customer__email", "priority", "counts_toward_cap", "state", "reason", "first_due_at",
            "due_at", "expires_at", "created_at", "sent_at", "deferrals",
            "step__template__topic", "step__template__purpose",
        )
    }
    logs = defaultdict(list)
    for entry in MessageLog.objects.order_by("id").values("message_id", "at", "state", "reason", "detail"):
        logs[entry["message_id"]].append(entry)
    consent = defaultdict(list)
    for entry in ConsentEvent.objects.order_by("occurred_at", "id").values(
            "customer__email", "topic", "granted", "occurred_at", "source"):
        consent[entry["customer__email"]].append(entry)
    policy = FrequencyPolicy.objects.order_by("id").values().first()
    return Month(
        emails=emails,
        messages=messages,
        by_uuid={m["message_id"]: m for m in messages.values()},
        logs=dict(logs),
        customers={c["email"]: c for c in Customer.objects.values("id", "external_id", "email", "time_zone")},
        consent=dict(consent),
        enrollments=list(Enrollment.objects.values(
            "id", "campaign__slug", "customer__email", "state", "exit_reason", "triggered_at",
            "enrolled_at", "finished_at")),
        policy=policy,
        last_tick=END,
        stats=stats,
        played=played,
    )


class _Rollback(Exception):
    pass


@pytest.fixture(scope="module")
def month(django_db_setup, django_db_blocker) -> Month:
    """Play the month once for the module; the database is rolled back afterwards."""
    rng = random.Random(SEED)
    plan = scenario_build(rng)
    snapshot = None
    with django_db_blocker.unblock():
        mail.outbox = []
        try:
            with transaction.atomic():
                campaigns_clock.set_virtual(START)
                demo_load(customers=0)
                assert sorted(Campaign.objects.values_list("slug", flat=True)) == sorted(
                    j["slug"] for j in JOURNEYS)
                # _next_wake knows the wake-ups of these journeys and no others.
                # (The monthly draw ships as a draft and takes no part.)
                assert not Campaign.objects.filter(status=Campaign.Status.ACTIVE).exclude(
                    trigger__in=[Campaign.Trigger.EVENT, Campaign.Trigger.INACTIVITY]).exists()
                assert not Campaign.objects.filter(active_from__isnull=False).exists()
                assert not Campaign.objects.filter(active_until__isnull=False).exists()
                _lapsed_create(plan["lapsed"])
                played = _play(plan["actions"], every_tick=EVERY_TICK)
                snapshot = _snapshot(plan["stats"], played)
                raise _Rollback
        except _Rollback:
            pass
        finally:
            campaigns_clock.set_virtual(None)
            mail.outbox = []
    _report(snapshot)
    return snapshot


def _digest(month: Month) -> str:
    """A fingerprint of what happened, to compare the full beat with the idle-skipping one."""
    lines = sorted(f"{e['to']} {e['tags']} {e['date']:%Y-%m-%dT%H:%M} {e['subject']}" for e in month.emails)
    for m in month.messages.values():
        lines.append(" ".join(str(m[k]) for k in (
            "customer__email", "campaign__slug", "step__position", "state", "reason", "first_due_at",
            "due_at", "expires_at", "created_at", "sent_at", "deferrals")) + " | " + " ; ".join(
            f"{e['at']} {e['state']} {e['reason']} {e['detail']}" for e in month.logs.get(m["id"], [])))
    lines.extend(" ".join(str(e[k]) for k in ("campaign__slug", "customer__email", "triggered_at",
                                              "enrolled_at", "state", "exit_reason", "finished_at"))
                 for e in month.enrollments)
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]


def _report(month: Month) -> None:
    """What the month did, for the log of a run with -s (and the lead's report)."""
    sent = Counter((month.by_uuid[e["uuid"]]["campaign__slug"],
                    month.by_uuid[e["uuid"]]["step__position"]) for e in month.emails)
    deferred, settled = Counter(), Counter()
    for entries in month.logs.values():
        for entry in entries:
            if entry["state"] == "deferred":
                deferred[entry["reason"]] += 1
    for m in month.messages.values():
        if m["state"] != "sent":
            settled[(m["campaign__slug"], m["state"], m["reason"])] += 1
    print("\nscenario:", dict(month.stats), "played:", dict(month.played))
    print("digest of the outbox and the message history:", _digest(month))
    print("emails:", len(month.emails), "by (journey, step):", dict(sorted(sent.items())))
    print("deferrals by reason:", dict(deferred))
    print("not sent, by (journey, state, reason):", dict(sorted(settled.items())))
    print("priority contests (winner, loser):",
          dict(Counter((h["campaign__slug"], lo["campaign__slug"]) for h, lo in _priority_contests(month))))
    print("enrollments:", dict(Counter((e["campaign__slug"], e["state"], e["exit_reason"])
                                       for e in month.enrollments)))


# --------------------------------------------------------------------------- helpers


def _fmt(moment: dt.datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _report_violations(what: str, violations: list[str]) -> str:
    shown = "\n  ".join(violations[:15])
    more = f"\n  … and {len(violations) - 15} more" if len(violations) > 15 else ""
    return f"{len(violations)} {what}:\n  {shown}{more}"


def _message_line(m: dict) -> str:
    return (f"message {m['id']} [{m['campaign__slug']} step {m['step__position']}, priority "
            f"{m['priority']}] {m['state']}/{m['reason'] or '-'} first due {_fmt(m['first_due_at'])}, "
            f"created {_fmt(m['created_at'])}, expires "
            f"{_fmt(m['expires_at']) if m['expires_at'] else 'never'}, "
            f"sent {_fmt(m['sent_at']) if m['sent_at'] else '-'}")


def _emails_by_customer(month: Month) -> dict[str, list[dict]]:
    by_customer = defaultdict(list)
    for email in month.emails:
        by_customer[email["to"]].append(email)
    for emails in by_customer.values():
        emails.sort(key=lambda e: e["date"])
    return by_customer


# --------------------------------------------------------------------------- invariants


def test_the_outbox_and_the_message_rows_tell_the_same_story(month):
    """Every email is one sent Message row, dated at its send moment, tagged with its journey."""
    problems = []
    uuids = Counter(e["uuid"] for e in month.emails)
    problems += [f"Message-ID {u} appears {n} times in the outbox" for u, n in uuids.items() if n > 1]
    for email in month.emails:
        row = month.by_uuid.get(email["uuid"])
        if row is None:
            problems.append(f"email to {email['to']} at {_fmt(email['date'])} has no Message row")
            continue
        if (row["state"], row["sent_at"], row["customer__email"], email["tags"]) != (
                "sent", email["date"], email["to"], [row["campaign__slug"]]):
            problems.append(f"email to {email['to']} dated {_fmt(email['date'])} tagged {email['tags']} "
                            f"does not match {_message_line(row)}")
    sent_rows = {m["message_id"] for m in month.messages.values() if m["state"] == "sent"}
    problems += [f"{_message_line(month.by_uuid[u])} is not in the outbox" for u in sent_rows - set(uuids)]
    assert not problems, _report_violations("mismatches between the outbox and the Message rows", problems)


def test_invariant_1_no_step_is_sent_twice(month):
    steps_per_journey = {
        j["slug"]: sum(step["kind"] == JourneyStep.Kind.SEND for step in j["steps"]) for j in JOURNEYS
    }
    per_step = Counter()
    per_customer_step = Counter()
    per_customer_tag = Counter()
    for email in month.emails:
        row = month.by_uuid[email["uuid"]]
        per_step[(row["enrollment_id"], row["step_id"])] += 1
        per_customer_step[(email["to"], email["tags"][0], row["step__position"])] += 1
        per_customer_tag[(email["to"], email["tags"][0])] += 1
    twice = [f"enrollment {e}, step {s}: {n} emails" for (e, s), n in per_step.items() if n > 1]
    assert not twice, _report_violations("(enrollment, step) pairs sent more than once", twice)
    # Across enrollments too: the cooldowns (survey 30 days, bonus 90 days) and the entry
    # keys mean no customer can get one journey step twice within this month.
    again = [f"{to}: {tag} step {pos} {n} times" for (to, tag, pos), n in per_customer_step.items() if n > 1]
    assert not again, _report_violations("customers who got the same journey step twice", again)
    too_many = [f"{to}: {n} emails tagged {tag} (the journey has {steps_per_journey[tag]} send steps)"
                for (to, tag), n in per_customer_tag.items() if n > steps_per_journey[tag]]
    assert not too_many, _report_violations("customers with more emails of a journey than it has steps",
                                            too_many)


def _consent_at(entries: list[dict], topic: str, moment: dt.datetime) -> bool | None:
    """The latest answer on `topic` at `moment` from the consent log, None if never asked."""
    answer = None
    for entry in entries:
        if entry["topic"] == topic and entry["occurred_at"] <= moment:
            answer = entry["granted"]
    return answer


def test_invariant_2_nothing_is_sent_without_consent_at_send_time(month):
    violations = []
    for email in month.emails:
        row = month.by_uuid[email["uuid"]]
        if row["step__template__purpose"] != "marketing":
            continue
        log = month.consent.get(email["to"], [])
        marketing = _consent_at(log, "marketing", email["date"])
        topic = row["step__template__topic"]
        assert topic == TOPIC_OF_SLUG[email["tags"][0]], f"unexpected topic {topic} for {email['tags']}"
        on_topic = _consent_at(log, topic, email["date"]) if topic != "marketing" else True
        if marketing is not True or on_topic is False:
            history = ", ".join(f"{e['topic']}={'yes' if e['granted'] else 'no'}@{_fmt(e['occurred_at'])}"
                                f"({e['source']})" for e in log) or "no consent events"
            violations.append(f"{email['to']} got {email['tags'][0]} ({topic}) at {_fmt(email['date'])}; "
                              f"consent log: {history}")
    assert not violations, _report_violations("emails sent without consent at their Date", violations)


def test_invariant_3_no_frequency_cap_is_breached_in_any_rolling_window(month):
    per_day, per_week = month.policy["max_per_day"], month.policy["max_per_week"]
    assert (per_day, per_week) == (1, 3), "the scenario expects the demo's default policy"
    violations = []
    for to, emails in _emails_by_customer(month).items():
        dates = [e["date"] for e in emails if month.by_uuid[e["uuid"]]["counts_toward_cap"]]
        tags = [e["tags"][0] for e in emails if month.by_uuid[e["uuid"]]["counts_toward_cap"]]
        # A rolling window (t - W, t] holds at most k sends exactly when any k + 1
        # consecutive sends span at least W.
        for limit, window, name in ((per_day, DAY, "24 h"), (per_week, WEEK, "7 days")):
            for i in range(len(dates) - limit):
                if dates[i + limit] - dates[i] < window:
                    burst = ", ".join(f"{t}@{_fmt(d)}" for t, d in zip(tags[i:i + limit + 1],
                                                                      dates[i:i + limit + 1]))
                    violations.append(f"{to}: {limit + 1} capped emails within {name}: {burst}")
    assert not violations, _report_violations("frequency-cap breaches", violations)


def test_invariant_4_nothing_is_sent_in_local_quiet_hours(month):
    start, end = month.policy["quiet_hours_start"], month.policy["quiet_hours_end"]
    assert (start, end) == (dt.time(21), dt.time(8)), "the scenario expects the demo's quiet hours"
    violations = []
    for email in month.emails:
        zone = customer_zone(month.customers[email["to"]]["time_zone"])
        local = email["date"].astimezone(zone)
        if not (end <= local.time() < start):
            violations.append(f"{email['to']} got {email['tags'][0]} at {_fmt(email['date'])} = "
                              f"{local:%Y-%m-%d %H:%M} {zone.key}")
    assert not violations, _report_violations("emails sent in local quiet hours", violations)


def test_invariant_5_every_deadline_is_met_or_expired_with_a_reason(month):
    problems = []
    for m in month.messages.values():
        final = month.final_log(m["id"])
        if m["state"] == "unknown":
            problems.append(f"{_message_line(m)}: left unknown")
        elif m["state"] in ("claimed", "sending"):
            problems.append(f"{_message_line(m)}: still {m['state']} at the end")
        elif m["state"] == "pending":
            if m["expires_at"] is not None and m["expires_at"] < month.last_tick:
                problems.append(f"{_message_line(m)}: still pending after its deadline")
        elif m["state"] == "sent":
            if m["expires_at"] is not None and m["sent_at"] > m["expires_at"]:
                problems.append(f"{_message_line(m)}: sent after its deadline")
        elif m["state"] in ("expired", "skipped"):
            if not m["reason"]:
                problems.append(f"{_message_line(m)}: {m['state']} without a reason")
        else:
            problems.append(f"{_message_line(m)}: unexpected final state")
        if m["state"] in Message.FINAL_STATES and (
                final is None or (final["state"], final["reason"]) != (m["state"], m["reason"])):
            problems.append(f"{_message_line(m)}: its log does not record how it was settled "
                            f"(last final entry: {final})")
    assert not problems, _report_violations("messages that missed a deadline or vanished", problems)
    no_deadline = [m for m in month.messages.values() if m["expires_at"] is None]
    assert not no_deadline, "every shipped journey has a deadline, so every message should carry one"


def _priority_violations(month: Month) -> list[str]:
    """Capped sends that took the slot while a higher-priority message of the customer waited.

    A message H was waiting at moment s when it existed (created_at <= s), its step had been
    reached (first_due_at <= s), its deadline had not passed (s <= expires_at) and it was not
    settled before s. Sends happen at tick moments: if a lower-priority L went at s, the caps
    and quiet hours allowed a send at s, so H should have gone at s, or been settled at s for
    a reason that has nothing to do with the caps (consent, exit, holdout).
    """
    by_customer = defaultdict(list)
    for m in month.messages.values():
        by_customer[m["customer__email"]].append(m)
    violations = []
    for email in month.emails:
        low = month.by_uuid[email["uuid"]]
        if not low["counts_toward_cap"]:
            continue
        s = email["date"]
        for high in by_customer[email["to"]]:
            if high["priority"] <= low["priority"] or not high["counts_toward_cap"]:
                continue
            if max(high["created_at"], high["first_due_at"]) > s:
                continue
            if high["expires_at"] is not None and s > high["expires_at"]:
                continue
            final = month.final_log(high["id"])
            if final is not None and final["at"] < s:
                continue
            if high["sent_at"] == s:
                continue
            if (final is not None and final["at"] == s and final["state"] != "sent"
                    and final["reason"] not in CAP_REASONS):
                continue
            what = (f"settled {final['state']}/{final['reason']} at {_fmt(final['at'])}"
                    if final else "still open")
            violations.append(
                f"{email['to']}: {low['campaign__slug']} (priority {low['priority']}, first due "
                f"{_fmt(low['first_due_at'])}) sent at {_fmt(s)} while {high['campaign__slug']} "
                f"(priority {high['priority']}, first due {_fmt(high['first_due_at'])}, created "
                f"{_fmt(high['created_at'])}) waited; it was {what}; log: "
                + "; ".join(f"{e['state']}/{e['reason']}@{_fmt(e['at'])}" for e in month.logs.get(high["id"], []))
            )
    return violations


def _priority_contests(month: Month) -> list[tuple[dict, dict]]:
    """(winner, loser): a send at a moment when a lower-priority message of the customer
    was waiting too (by the definition in `_priority_violations`) and did not go."""
    by_customer = defaultdict(list)
    for m in month.messages.values():
        by_customer[m["customer__email"]].append(m)
    contests = []
    for email in month.emails:
        high, s = month.by_uuid[email["uuid"]], email["date"]
        for low in by_customer[email["to"]]:
            final = month.final_log(low["id"])
            held_back = (final is None or final["at"] > s
                         or (final["at"] == s and final["reason"] in CAP_REASONS))
            if (low["priority"] < high["priority"] and low["counts_toward_cap"]
                    and max(low["created_at"], low["first_due_at"]) <= s
                    and (low["expires_at"] is None or s <= low["expires_at"]) and held_back):
                contests.append((high, low))
    return contests


def test_invariant_6_a_higher_priority_message_is_never_passed_over(month):
    violations = _priority_violations(month)
    assert not violations, _report_violations(
        "lower-priority sends while a higher-priority message was due", violations)


def test_the_scenario_exercised_what_it_claims(month):
    """Guards against a vacuous pass: each journey, rule and outcome happened."""
    sent = Counter((month.by_uuid[e["uuid"]]["campaign__slug"], month.by_uuid[e["uuid"]]["step__position"])
                   for e in month.emails)
    expected = {("welcome", 0): "welcomes", ("post-purchase-survey", 1): "surveys",
                ("surprise-bonus", 1): "surprise bonuses", ("win-back", 0): "win-back offers",
                ("win-back", 2): "win-back reminders"}
    for key, name in expected.items():
        assert sent[key] >= 3, f"only {sent[key]} {name} were sent (by journey and step: {dict(sent)})"

    deferred = Counter(entry["reason"] for entries in month.logs.values() for entry in entries
                       if entry["state"] == "deferred")
    for reason in ("frequency_cap", "quiet_hours"):
        assert deferred[reason] >= 3, f"only {deferred[reason]} deferrals for {reason}: {dict(deferred)}"

    outcomes = Counter((m["state"], m["reason"]) for m in month.messages.values())
    expired = {reason: n for (state, reason), n in outcomes.items() if state == "expired"}
    assert sum(expired.values()) >= 3, f"only {expired} expired"
    assert expired.get("deadline", 0) >= 1, f"no late trigger expired on its deadline: {expired}"
    assert sum(n for reason, n in expired.items() if reason in CAP_REASONS) >= 1, (
        f"no message waited for the caps until its deadline passed: {expired}")
    assert outcomes[("skipped", "no_consent")] >= 3, f"too few no_consent skips: {dict(outcomes)}"

    enrollments = Counter((e["campaign__slug"], e["state"], e["exit_reason"]) for e in month.enrollments)
    assert enrollments[("win-back", "exited", "exit_event")] >= 3, (
        f"too few win-back enrollments ended by a purchase: {dict(enrollments)}")
    assert enrollments[("post-purchase-survey", "exited", "exit_event")] >= 3, (
        f"too few surveys cancelled by a refund: {dict(enrollments)}")

    # Invariant 6 was put to the test: messages of different priority met at one moment.
    contests = Counter((high["campaign__slug"], low["campaign__slug"])
                       for high, low in _priority_contests(month))
    assert sum(contests.values()) >= 3, f"too few moments where priorities decided: {dict(contests)}"
    assert any(high == "welcome" for high, _ in contests), (
        f"no welcome ever met a lower-priority message: {dict(contests)}")

    # The consent paths the scenario claims: unsubscribes that stopped something later.
    unsubscribed = {to for to, log in month.consent.items()
                    if any(e["source"] == "unsubscribe_link" and not e["granted"] for e in log)}
    assert len(unsubscribed) == month.stats["unsubscribes"]
    stopped = [m for m in month.messages.values()
               if m["customer__email"] in unsubscribed and (m["state"], m["reason"]) == ("skipped", "no_consent")]
    assert stopped, "no message was stopped by an unsubscribe"
    # Every zone (and no zone) received mail.
    zones = {month.customers[e["to"]]["time_zone"] for e in month.emails}
    assert zones == {zone for zone, _, _ in ZONES}, f"mail reached only the zones {zones}"
    # Late webhooks were played.
    assert month.stats["events 2 h late"] >= 10 and month.stats["events 30 h late"] >= 3, dict(month.stats)
