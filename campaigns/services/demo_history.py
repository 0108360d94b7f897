"""The demo's year of history: journeys that ran, emails opened and clicked, survey answers,
holdout groups and an A/B test; then the lifecycle stages as of the last nightly scoring and
the dashboard's snapshots, so every chart has something in it from the first page view.

Deterministic (a seeded random per customer, the live holdout and variant draws) and made
only for the customers a run creates, so a second run adds nothing.
"""
from __future__ import annotations

import datetime as dt
import random
import re

from campaigns.models import (
    Campaign, Customer, Enrollment, JourneyStep, Message, MessageLog, MessageTemplate,
    StepVariant, SurveyResponse, TemplateTranslation,
)
from campaigns.services.demo_referrals import referrals_load
from campaigns.services.planning import holdout_draw, weighted_draw
from campaigns.services.rfm import LifecycleThresholds, customers_score, stage_expression
from campaigns.services.snapshots import metric_snapshots_build

SEED = 20261203
# The demo's customers were last scored this long ago (the nightly job "last ran" then):
# the next nightly scoring sees a week of stage changes and emits them as lifecycle events.
SCORED_DAYS_AGO = 7
# History stops where the live journeys start (services.demo._journeys_start_after_history).
LIVE_WINDOW = dt.timedelta(hours=24)
WINBACK_DAYS = 90
WINBACK_REMINDER = dt.timedelta(days=14)
SURVEY_WAIT = dt.timedelta(days=3)
SURVEY_COOLDOWN = dt.timedelta(days=30)
# The answers' own journeys: a promoter's invitation to refer a friend (at most once in
# 90 days), a detractor's follow-up by the service team (once in 30 days).
ANSWER_JOURNEYS = {"promoter-invite": dt.timedelta(days=90),
                   "detractor-followup": dt.timedelta(days=30)}
# The A/B test on the win-back's first email: the control and a shorter subject.
VARIANT_TEMPLATE = "Win-back offer (short subject)"
VARIANT_SUBJECTS = {"en": "A little something for you", "sv": "En liten present till dig",
                    "nb": "En liten gave til deg"}
_FIRST_NAME = re.compile(
    r"\{% if customer\.first_name %\}(.*?)\{\{ customer\.first_name \}\}(.*?)\{% endif %\}")


def history_load(*, people: list[dict], now: dt.datetime, new_campaigns: bool) -> dict:
    """Journeys, emails and answers for the customers just made (`people`, as built by
    services.demo), their lifecycle stages, and the dashboard's snapshots."""
    if new_campaigns:
        _winback_variants_load()
    counts = {"history_enrollments": 0, "history_messages": 0, "survey_answers": 0}
    if not people:
        return counts
    campaigns = {c.slug: c for c in Campaign.objects.filter(
        slug__in=["welcome", "post-purchase-survey", "surprise-bonus", "win-back",
                  *ANSWER_JOURNEYS])}
    steps = {(s.campaign_id, s.position): s
             for s in JourneyStep.objects.filter(campaign__in=campaigns.values())
             .prefetch_related("variants")}
    subjects = _subjects()
    story = _Story(now=now, steps=steps, subjects=subjects)
    for person in people:
        story.customer(person, campaigns)
    counts.update(story.save())
    counts.update(referrals_load(people=people, invites=story.invites, now=now))
    _lifecycle_load(people=people, now=now)
    oldest = min(p["customer"].signed_up_at for p in people).astimezone(dt.timezone.utc).date()
    metric_snapshots_build(now=now, since=min(oldest, now.date()))
    return counts


def _winback_variants_load() -> None:
    """The win-back's first email as an A/B test: the shipped offer against a copy of it
    with a shorter subject (made from the shipped texts, whatever they hold)."""
    step = JourneyStep.objects.filter(campaign__slug="win-back", position=0).first()
    if step is None or step.template_id is None or step.variants.exists():
        return
    control = step.template
    variant, created = MessageTemplate.objects.get_or_create(
        name=VARIANT_TEMPLATE,
        defaults={"purpose": control.purpose, "topic": control.topic,
                  "default_locale": control.default_locale})
    if created:
        TemplateTranslation.objects.bulk_create([
            TemplateTranslation(template=variant, locale=t.locale, html_body=t.html_body,
                                text_body=t.text_body,
                                subject=VARIANT_SUBJECTS.get(t.locale, VARIANT_SUBJECTS["en"]))
            for t in control.translations.all()])
    StepVariant.objects.bulk_create([
        StepVariant(step=step, name="A", template=control, weight=1),
        StepVariant(step=step, name="B", template=variant, weight=1)])


def _subjects() -> dict:
    return {(t.template_id, t.locale): t.subject for t in TemplateTranslation.objects.all()}


class _Story:
    """Collects one year of journeys per customer, then writes them in a few bulk inserts."""

    def __init__(self, *, now, steps, subjects):
        self.now = now
        self.live_from = now - LIVE_WINDOW
        self.steps = steps
        self.subjects = subjects
        self.enrollments: list[tuple[Enrollment, list[dict]]] = []
        # (customer, sent at) of each invitation to refer a friend that went out.
        self.invites: list[tuple[Customer, dt.datetime]] = []
        self.campaigns: dict = {}
        self._last_answer_journey: dict = {}

    def customer(self, person: dict, campaigns: dict) -> None:
        customer = person["customer"]
        if customer.signed_up_at >= self.live_from:
            return  # a fresh signup: the live welcome journey takes care of them
        rng = random.Random(f"{SEED}-{customer.external_id}")
        self.campaigns = campaigns
        orders = person["orders"]
        consent = person["consent"]
        if "welcome" in campaigns:
            self._welcome(campaigns["welcome"], customer, consent, rng)
        if "post-purchase-survey" in campaigns:
            self._surveys(campaigns["post-purchase-survey"], customer, orders, consent, rng)
        if "surprise-bonus" in campaigns and len(orders) >= 3:
            self._bonus(campaigns["surprise-bonus"], customer, orders[2], consent, rng)
        if "win-back" in campaigns:
            self._winbacks(campaigns["win-back"], customer, orders, consent, rng)

    # One journey each ---------------------------------------------------------------

    def _enroll(self, campaign, customer, *, key, at, state=Enrollment.State.COMPLETED,
                finished=None, exit_reason="") -> tuple[Enrollment, list]:
        enrollment = Enrollment(
            campaign=campaign, customer=customer, entry_key=key, triggered_at=at,
            enrolled_at=at + dt.timedelta(minutes=1), state=state, step_position=0,
            is_holdout=holdout_draw(campaign_id=campaign.pk, customer_id=customer.pk,
                                    percent=campaign.holdout_percent),
            finished_at=finished or at, exit_reason=exit_reason)
        messages: list[dict] = []
        self.enrollments.append((enrollment, messages))
        return enrollment, messages

    def _send(self, enrollment, messages, customer, *, position, due, consent, rng,
              opens=0.5, clicks=0.3) -> dict | None:
        """One email of the journey as the sender would have settled it."""
        step = self.steps.get((enrollment.campaign.pk, position))
        if step is None:
            return None
        variant = None
        variants = list(step.variants.all())
        if variants:
            variant = variants[weighted_draw(salt=f"variant:{step.pk}", customer_id=customer.pk,
                                             weights=[v.weight for v in variants])]
        template_id = variant.template_id if variant else step.template_id
        message = {"step": step, "variant": variant, "due": due, "logs": [], "answers": [],
                   "template_id": template_id, "sent_at": None, "opened": None, "clicked": None}
        messages.append(message)
        enrollment.step_position = position
        if enrollment.is_holdout:
            message.update(state=Message.State.SKIPPED, reason="holdout")
            message["logs"].append(("skipped", "holdout", due))
            return message
        if not consent:
            message.update(state=Message.State.SKIPPED, reason="no_consent")
            message["logs"].append(("skipped", "no_consent", due))
            return message
        roll = rng.random()
        if roll < 0.03 and enrollment.campaign.deadline:
            expiry = due + enrollment.campaign.deadline
            message.update(state=Message.State.EXPIRED, reason="frequency_cap")
            message["logs"] += [("deferred", "frequency_cap", due), ("expired", "frequency_cap", expiry)]
            return message
        sent_at = due + dt.timedelta(minutes=rng.uniform(1, 90))
        if roll < 0.12:
            message["logs"].append(("deferred", "quiet_hours" if roll < 0.07 else "frequency_cap", due))
            sent_at += dt.timedelta(hours=rng.uniform(8, 20))
        if variant is not None and variant.name == "B":
            opens += 0.12  # the shorter subject does get opened more
        message.update(state=Message.State.SENT, reason="consent", sent_at=sent_at)
        if rng.random() < opens:
            message["opened"] = sent_at + dt.timedelta(minutes=rng.uniform(5, 600))
            if rng.random() < clicks:
                message["clicked"] = message["opened"] + dt.timedelta(minutes=rng.uniform(1, 30))
        return message

    def _welcome(self, campaign, customer, consent, rng) -> None:
        enrollment, messages = self._enroll(campaign, customer, key="", at=customer.signed_up_at)
        self._send(enrollment, messages, customer, position=0, consent=consent, rng=rng,
                   due=customer.signed_up_at + dt.timedelta(minutes=2), opens=0.6, clicks=0.35)

    def _surveys(self, campaign, customer, orders, consent, rng) -> None:
        last = None
        for order in orders:
            due = order.placed_at + SURVEY_WAIT
            if order.placed_at >= self.live_from or due >= self.now:
                break
            if last is not None and order.placed_at < last + SURVEY_COOLDOWN:
                continue
            last = order.placed_at
            enrollment, messages = self._enroll(campaign, customer, key=f"order:{order.external_id}",
                                                at=order.placed_at, finished=due)
            message = self._send(enrollment, messages, customer, position=1, due=due,
                                 consent=consent, rng=rng, opens=0.55, clicks=0.5)
            if message and message["clicked"]:
                self._answers(message, rng)
                self._answer_journey(customer, message, consent, rng)

    def _answers(self, message: dict, rng) -> None:
        """NPS, then often CSAT and CES; the shop gets a little better over the year."""
        answered = message["clicked"] + dt.timedelta(minutes=rng.uniform(1, 10))
        if answered >= self.now:
            return
        progress = max(0.0, 1 - (self.now - answered).days / 365)
        roll = rng.random()
        if roll < 0.2 - 0.08 * progress:
            nps = rng.randint(0, 6)
        elif roll < 0.55 - 0.12 * progress:
            nps = rng.randint(7, 8)
        else:
            nps = rng.randint(9, 10)
        message["answers"].append(("nps", nps, answered))
        if rng.random() < 0.8:
            message["answers"].append(("csat", min(5, max(1, round(rng.gauss(3.7 + 0.5 * progress, 0.9)))),
                                       answered + dt.timedelta(seconds=40)))
        if rng.random() < 0.65:
            message["answers"].append(("ces", min(7, max(1, round(rng.gauss(5.0 + 0.8 * progress, 1.2)))),
                                       answered + dt.timedelta(seconds=80)))

    def _answer_journey(self, customer, message: dict, consent, rng) -> None:
        """An NPS answer of 9-10 starts the invitation to refer a friend, one of 0-6 the
        service team's follow-up (the survey.promoter / survey.detractor journeys)."""
        nps = next(((score, at) for kind, score, at in message["answers"] if kind == "nps"), None)
        if nps is None:
            return
        score, answered = nps
        slug = ("promoter-invite" if score >= 9 else "detractor-followup" if score <= 6
                else None)
        campaign = self.campaigns.get(slug)
        # Two days back at least, so the email and its opens lie in the past too.
        if campaign is None or answered >= self.now - 2 * LIVE_WINDOW:
            return
        last = self._last_answer_journey.get((slug, customer.pk))
        if last is not None and answered < last + ANSWER_JOURNEYS[slug]:
            return
        self._last_answer_journey[(slug, customer.pk)] = answered
        enrollment, messages = self._enroll(
            campaign, customer, key=f"event:demo-{slug}-{answered:%Y%m%dT%H%M%S}", at=answered)
        sent = self._send(enrollment, messages, customer, position=0, consent=consent, rng=rng,
                          due=answered + dt.timedelta(minutes=2), opens=0.6, clicks=0.35)
        if sent is not None and slug == "promoter-invite":
            sent["referral_invite"] = True
            if sent["sent_at"] is not None:
                self.invites.append((customer, sent["sent_at"]))

    def _bonus(self, campaign, customer, third, consent, rng) -> None:
        if third.placed_at >= self.live_from:
            return
        enrollment, messages = self._enroll(campaign, customer, key=f"order:{third.external_id}",
                                            at=third.placed_at)
        self._send(enrollment, messages, customer, position=1, consent=consent, rng=rng,
                   due=third.placed_at + dt.timedelta(minutes=2), opens=0.7, clicks=0.4)

    def _winbacks(self, campaign, customer, orders, consent, rng) -> None:
        """A lapse is 90 days without an order; the journey exits on the next purchase."""
        lapse = dt.timedelta(days=WINBACK_DAYS)
        for i, order in enumerate(orders):
            trigger = order.placed_at + lapse
            following = orders[i + 1].placed_at if i + 1 < len(orders) else None
            if following is not None and following <= trigger:
                continue
            if trigger + WINBACK_REMINDER + dt.timedelta(days=1) >= self.now:
                return  # still running: not history
            enrollment, messages = self._enroll(
                campaign, customer, key=f"lapse:{order.placed_at:%Y%m%dT%H%M%S.%f}", at=trigger)
            first = self._send(enrollment, messages, customer, position=0, due=trigger,
                               consent=consent, rng=rng, opens=0.35, clicks=0.3)
            reminder_due = (first["sent_at"] or trigger) + WINBACK_REMINDER
            if following is not None and following < reminder_due:
                enrollment.state, enrollment.exit_reason = Enrollment.State.EXITED, "exit_event"
                enrollment.finished_at = following
                continue
            self._send(enrollment, messages, customer, position=2, due=reminder_due,
                       consent=consent, rng=rng, opens=0.3, clicks=0.25)
            enrollment.finished_at = reminder_due

    # Writing ------------------------------------------------------------------------

    def _subject(self, template_id, customer) -> str:
        source = (self.subjects.get((template_id, customer.locale))
                  or self.subjects.get((template_id, "en")) or "")
        first = customer.first_name
        subject = _FIRST_NAME.sub(lambda m: f"{m[1]}{first}{m[2]}" if first else "", source)
        return subject if "{" not in subject else ""

    def save(self) -> dict:
        Enrollment.objects.bulk_create([e for e, _ in self.enrollments], batch_size=500)
        rows = []
        for enrollment, messages in self.enrollments:
            customer = enrollment.customer
            for m in messages:
                sent = m["sent_at"]
                rows.append((m, Message(
                    enrollment=enrollment, step=m["step"], campaign=enrollment.campaign,
                    customer=customer, variant=m["variant"], priority=enrollment.campaign.priority,
                    state=m["state"], reason=m["reason"], first_due_at=m["due"],
                    due_at=sent or m["due"], created_at=m["due"], sent_at=sent,
                    delivered_at=sent and sent + dt.timedelta(seconds=20),
                    opened_at=m["opened"], clicked_at=m["clicked"],
                    subject=self._subject(m["template_id"], customer) if sent else "",
                    locale=customer.locale if sent else "",
                    attempts=1 if sent else 0, deferrals=sum(1 for log in m["logs"] if log[0] == "deferred"),
                    referral_invite=m.get("referral_invite", False),
                )))
        Message.objects.bulk_create([message for _, message in rows], batch_size=500)
        logs, answers = [], []
        for m, message in rows:
            logs += [MessageLog(message=message, state=state, reason=reason, at=at)
                     for state, reason, at in m["logs"]]
            answers += [SurveyResponse(message=message, customer=message.customer, kind=kind,
                                       score=score, answered_at=at, updated_at=at)
                        for kind, score, at in m["answers"]]
        MessageLog.objects.bulk_create(logs, batch_size=1000)
        SurveyResponse.objects.bulk_create(answers, batch_size=1000)
        return {"history_enrollments": len(self.enrollments), "history_messages": len(rows),
                "survey_answers": len(answers)}


def _lifecycle_load(*, people: list[dict], now: dt.datetime) -> None:
    """Lifecycle stages for the new customers, without anyone clicking "Recompute".

    On a fresh demo the customers are scored as the nightly job would have scored them a
    week ago (order facts as they stood then; customers who had not signed up yet get no
    stage), so the next nightly scoring turns a week of changes into lifecycle events a
    "became at risk" journey can start from. A real shop's first scoring stays silent
    (services.rfm.customers_score). A database already scored is scored now instead: its
    customers' stages never move back in time.
    """
    if Customer.objects.filter(scored_at__isnull=False).exists():
        customers_score(now=now)
        return
    then = now - dt.timedelta(days=SCORED_DAYS_AGO)
    fields = ["order_count", "first_order_at", "last_order_at", "total_spent"]
    past = []
    for person in people:
        orders = [o for o in person["orders"] if o.placed_at <= then]
        past.append(Customer(
            pk=person["customer"].pk, order_count=len(orders),
            first_order_at=orders[0].placed_at if orders else None,
            last_order_at=orders[-1].placed_at if orders else None,
            total_spent=sum((o.amount for o in orders), start=0)))
    Customer.objects.bulk_update(past, fields, batch_size=500)
    customers_score(now=then)
    Customer.objects.bulk_update([p["customer"] for p in people], fields, batch_size=500)
    # Who signed up since had no stage then: their first one is as of now, silently, as a
    # first scoring gives it (their R, F and M scores come with the next nightly run).
    Customer.objects.filter(signed_up_at__gt=then).update(
        lifecycle_stage=stage_expression(now=now, thresholds=LifecycleThresholds.from_settings()),
        lifecycle_stage_since=now, scored_at=now, rfm_recency=None, rfm_frequency=None,
        rfm_monetary=None)
