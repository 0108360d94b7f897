"""A template too slow or too large for one customer fails that message; its batch goes on."""
from collections import Counter

import pytest
from anymail.backends.test import EmailBackend as AnymailTestBackend
from celery.exceptions import SoftTimeLimitExceeded
from django.core import mail

from campaigns.admin.deliveries import REASON_WORDS
from campaigns.models import Message
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.factories import EventFactory
from tests.helpers import consenting_customer, run_tick

pytestmark = pytest.mark.django_db

# Renders in a millisecond for everyone but a customer whose attributes make it loop
# 10^10 times or print 10 MB, as a real customer's data can while the sample's does not.
BODY = ("Hi {{ customer.first_name }}"
        "{% set n = customer.attributes.loops | default(1) %}"
        "{% for i in range(n) %}{% for j in range(n) %}{% endfor %}{% endfor %}"
        "{{ 'x' * customer.attributes.width | default(0) }}")


@pytest.fixture
def heavy_welcome(welcome):
    translation = welcome.steps.get().template.translations.get(locale="en")
    translation.text_body = BODY
    translation.save()
    return welcome


def test_a_message_past_the_render_limits_fails_with_that_reason_and_the_rest_are_sent(
    frozen_clock, heavy_welcome, policy, settings
):
    settings.TEMPLATE_RENDER_SECONDS = 0.2
    settings.TEMPLATE_OUTPUT_BYTES = 100_000
    ordinary = [consenting_customer(locale="en", attributes={}) for _ in range(2)]
    looping = consenting_customer(locale="en", attributes={"loops": 100000})
    huge = consenting_customer(locale="en", attributes={"width": 10_000_000})
    last = consenting_customer(locale="en", attributes={"loops": 3, "width": 10})
    for customer in (*ordinary, looping, huge, last):
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)

    run_tick(frozen_clock.now)

    states = {m.customer_id: (m.state, m.reason) for m in Message.objects.all()}
    assert states[looping.pk] == ("failed", "template_too_slow")
    assert states[huge.pk] == ("failed", "template_too_large")
    assert all(states[c.pk][0] == "sent" for c in (*ordinary, last))
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in (*ordinary, last))
    slow = Message.objects.get(customer=looping)
    assert slow.log.last().detail == "text body: takes too long to render (over 0.2 s)"
    assert "output too large" in Message.objects.get(customer=huge).log.last().detail


def test_the_admin_names_both_reasons_in_plain_words():
    assert "too long" in REASON_WORDS["template_too_slow"]
    assert "too large" in REASON_WORDS["template_too_large"]


class InterruptingBackend(AnymailTestBackend):
    """The test backend, but the Celery soft time limit strikes during the `stop_at`th call
    (billiard raises it on the worker's main thread, which is where a call runs when one
    is in flight)."""

    calls = 0
    stop_at = 3

    def send_messages(self, email_messages):
        type(self).calls += 1
        if type(self).calls == self.stop_at:
            raise SoftTimeLimitExceeded()
        return super().send_messages(email_messages)


def test_a_soft_time_limit_in_the_middle_of_a_group_loses_no_message(frozen_clock, welcome, policy):
    customers = [consenting_customer(locale="en") for _ in range(5)]
    for customer in customers:
        EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    scheduler_tick(now=frozen_clock.now)
    InterruptingBackend.calls = 0

    with pytest.raises(SoftTimeLimitExceeded):
        messages_send_due(now=frozen_clock.now, in_flight=1, group_size=5,
                          backend=f"{__name__}.InterruptingBackend")

    # The two that went out are recorded, the one being handed over stays `sending` (it may
    # be at the provider), the two not handed over are back to pending, due as they were,
    # their attempt given back.
    states = Counter(Message.objects.values_list("state", "reason"))
    assert states[("sent", "consent")] == 2
    assert states[("sending", "consent")] == 1
    assert states[("pending", "interrupted")] == 2
    released = Message.objects.filter(state="pending")
    assert {(m.attempts, m.due_at, m.sent_at) for m in released} == {(0, frozen_clock.now, None)}
    assert len(mail.outbox) == 2

    run_tick(frozen_clock.advance(minutes=2))  # past the claim lease (90 s)

    states = Counter(Message.objects.values_list("state", flat=True))
    assert states == {"sent": 4, "unknown": 1}
    assert len(mail.outbox) == 4
