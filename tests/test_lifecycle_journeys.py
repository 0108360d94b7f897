"""The four shipped journeys, as the demo data defines them, on a moving clock."""
import datetime as dt
import re

import pytest
from django.core import mail

from campaigns.models import Customer, Enrollment, Message, PointsEntry, SurveyResponse
from campaigns.services.demo import demo_load
from campaigns.services.events import events_ingest
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)


@pytest.fixture
def journeys(frozen_clock):
    demo_load(customers=0)
    return frozen_clock


def run(clock, *, days, step=dt.timedelta(hours=1)):
    end = clock.now + days * DAY
    while clock.now < end:
        scheduler_tick(now=clock.now)
        messages_send_due(now=clock.now)
        clock.set(clock.now + step)


def customer(external_id="c-1", locale="en"):
    events_ingest(events=[{
        "event_id": f"signup-{external_id}", "type": "signup", "occurred_at": dt.datetime(2026, 1, 1, tzinfo=UTC),
        "customer": {"external_id": external_id, "email": f"{external_id}@example.se", "first_name": "Astrid",
                     "locale": locale, "time_zone": "Europe/Stockholm", "consent": {"marketing": True}},
    }])
    return Customer.objects.get(external_id=external_id)


def buy(c, order_id, at):
    events_ingest(events=[{
        "event_id": f"buy-{order_id}", "type": "purchase", "occurred_at": at,
        "customer": {"external_id": c.external_id},
        "order": {"external_id": order_id, "amount": "499.00", "currency": "SEK"},
    }])


def subjects():
    return [m.subject for m in mail.outbox]


def test_a_purchase_brings_one_survey_three_days_later_with_working_score_links(journeys, client):
    astrid = customer()
    buy(astrid, "o-1", journeys.now)

    run(journeys, days=5)

    survey = [m for m in mail.outbox if "o-1" in m.body]
    assert len(survey) == 1
    sent = Message.objects.get(campaign__slug="post-purchase-survey")
    assert sent.sent_at - sent.enrollment.triggered_at >= 3 * DAY
    links = re.findall(r"https://shop\.example\.com/s/\S+/\d+", survey[0].body)
    assert len(links) == 11
    path = links[9].removeprefix("https://shop.example.com")
    assert client.get(path).status_code == 200  # a prefetch records nothing
    assert not SurveyResponse.objects.exists()
    client.post(path, {"score": "9", "comment": "Lovely"})
    client.post(path, {"score": "10"})  # a second answer updates the first
    answer = SurveyResponse.objects.get()
    assert (answer.customer, answer.kind, answer.score, answer.comment) == (astrid, "nps", 10, "Lovely")


def test_a_second_purchase_within_30_days_brings_no_second_survey(journeys):
    astrid = customer()
    buy(astrid, "o-1", journeys.now)
    buy(astrid, "o-2", journeys.now + 10 * DAY)

    run(journeys, days=20)

    assert Message.objects.filter(campaign__slug="post-purchase-survey").count() == 1


def test_a_refund_before_the_survey_cancels_it(journeys):
    astrid = customer()
    buy(astrid, "o-1", journeys.now)
    events_ingest(events=[{"event_id": "refund-1", "type": "refund", "occurred_at": journeys.now + DAY,
                           "customer": {"external_id": "c-1"}, "properties": {"order": "o-1"}}])

    run(journeys, days=5)

    assert not Message.objects.filter(campaign__slug="post-purchase-survey").exists()


def test_the_third_purchase_grants_points_once_and_says_so(journeys):
    astrid = customer()
    for n in range(3):
        buy(astrid, f"o-{n}", journeys.now + n * DAY * 40)

    run(journeys, days=125, step=dt.timedelta(hours=6))

    entry = PointsEntry.objects.get()
    astrid.refresh_from_db()
    assert (entry.delta, astrid.points_balance) == (500, 500)
    bonus = [m for m in mail.outbox if "500" in m.body and "surprise" in m.subject.lower()]
    assert len(bonus) == 1


def test_a_lapsed_customer_gets_an_offer_then_a_reminder_and_a_purchase_stops_it(journeys):
    astrid, nils = customer("c-1"), customer("c-2")
    buy(astrid, "o-1", journeys.now)
    buy(nils, "o-2", journeys.now)

    run(journeys, days=91, step=dt.timedelta(hours=6))  # both lapse on day 90
    offers = Message.objects.filter(campaign__slug="win-back", state="sent")
    assert offers.count() == 2
    buy(nils, "o-3", journeys.now)  # Nils comes back
    run(journeys, days=16, step=dt.timedelta(hours=6))

    astrid_messages = Message.objects.filter(campaign__slug="win-back", customer=astrid, state="sent")
    assert astrid_messages.count() == 2  # the offer and the reminder
    assert Enrollment.objects.get(campaign__slug="win-back", customer=Customer.objects.get(external_id="c-2")).state == "exited"
    assert Message.objects.filter(campaign__slug="win-back", customer__external_id="c-2").count() == 1
