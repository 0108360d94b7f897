"""`referral` in templates: the customer's link, code, friends and points, loaded per send
group in a fixed number of statements; a send that carried the link is an invite."""
import datetime as dt
import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Message, MessageTemplate, Purpose, Referral, ReferralCode, TemplateTranslation
from campaigns.services.consent import consent_record
from campaigns.services.referrals import referral_codes_ensure
from campaigns.services.rendering import sample_context
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from campaigns.templating import SAMPLE_CONTEXT, template_validate
from campaigns.templating.checks import draft_problems
from tests.factories import CustomerFactory, EventFactory
from tests.helpers import consenting_customer

pytestmark = pytest.mark.django_db

INVITE = ("Share {{ referral.url }} (code {{ referral.code }}): {{ referral.count }} friends, "
          "{{ referral.rewarded_points }} points")
FIGURES = "{{ referral.count }} friends, {{ referral.rewarded_points }} points"


def _welcome_says(text: str, *, purpose=None):
    TemplateTranslation.objects.filter(template__name="Welcome").update(
        html_body=f"<p>{text}</p>", text_body=text)
    if purpose is not None:
        MessageTemplate.objects.filter(name="Welcome").update(purpose=purpose)


def signup_and_send(clock, customers) -> list[Message]:
    for customer in customers:
        EventFactory(customer=customer, type="signup", occurred_at=clock.now)
    scheduler_tick(now=clock.now)
    messages_send_due(now=clock.now, in_flight=1, group_size=100)
    return list(Message.objects.filter(customer__in=customers).order_by("id"))


def _friends_of(referrer, *, counted=2, ignored=1):
    """Friends: the first counted one rewarded 500 points, a second's 300 taken back."""
    rewards = [(Referral.Reward.GRANTED, 500), (Referral.Reward.REVERSED, 300)]
    for i in range(counted + ignored):
        reward, points = rewards[i] if i < len(rewards) and i < counted else (
            Referral.Reward.PENDING, 0)
        Referral.objects.create(
            referred=CustomerFactory(), referrer=referrer, code="x", source="api",
            status=Referral.Status.COUNTED if i < counted else Referral.Status.IGNORED,
            reason="" if i < counted else Referral.Reason.SELF,
            reward=reward, referrer_points=points)


def test_an_invite_shows_the_link_code_friends_and_points_and_is_recorded_as_an_invite(
        frozen_clock, welcome, policy):
    _welcome_says(INVITE)
    customer = consenting_customer(locale="en")
    _friends_of(customer)

    [message] = signup_and_send(frozen_clock, [customer])

    code = ReferralCode.objects.get(customer=customer, revoked_at__isnull=True).code
    assert message.state == Message.State.SENT
    assert (f"Share https://shop.example.com/r/{code} (code {code}): 2 friends, 500 points"
            in mail.outbox[0].body)
    assert message.referral_invite is True


def test_the_customers_live_code_is_the_one_sent(frozen_clock, welcome, policy):
    _welcome_says(INVITE)
    customer = consenting_customer(locale="en")
    code = referral_codes_ensure([customer.pk])[customer.pk]

    signup_and_send(frozen_clock, [customer])

    assert f"/r/{code} (code {code})" in mail.outbox[0].body
    assert ReferralCode.objects.count() == 1


def test_figures_alone_are_not_an_invite(frozen_clock, welcome, policy):
    _welcome_says(FIGURES)
    customer = consenting_customer(locale="en")

    [message] = signup_and_send(frozen_clock, [customer])

    assert "0 friends, 0 points" in mail.outbox[0].body
    assert message.referral_invite is False


def test_without_marketing_consent_there_is_no_link_and_no_code(frozen_clock, welcome, policy):
    _welcome_says("[{{ referral.url }}][{{ referral.code }}] {% if referral.url %}share{% endif %}",
                  purpose=Purpose.TRANSACTIONAL)
    customer = CustomerFactory(locale="en", marketing_consent=False)

    [message] = signup_and_send(frozen_clock, [customer])

    assert message.state == Message.State.SENT
    assert "[][]" in mail.outbox[0].body and "share" not in mail.outbox[0].body
    assert message.referral_invite is False
    assert not ReferralCode.objects.exists()


def test_a_template_without_referral_makes_no_code_and_is_no_invite(frozen_clock, welcome, policy):
    [message] = signup_and_send(frozen_clock, [consenting_customer()])

    assert message.state == Message.State.SENT and message.referral_invite is False
    assert not ReferralCode.objects.exists()


def test_referral_costs_the_same_statements_for_a_group_of_4_and_of_40(
        frozen_clock, welcome, policy):
    _welcome_says(INVITE)

    def statements(count):
        customers = [consenting_customer() for _ in range(count)]
        # Half have a code already and friends; the others get their code now.
        referral_codes_ensure([c.pk for c in customers[::2]])
        for customer in customers[::2]:
            _friends_of(customer, counted=1, ignored=1)
        for customer in customers:
            EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
        scheduler_tick(now=frozen_clock.now)
        with CaptureQueriesContext(connection) as queries:
            report = messages_send_due(now=frozen_clock.now, in_flight=1, group_size=100)
        assert report.sent == count
        return len(queries)

    few = statements(4)
    frozen_clock.advance(days=2)
    many = statements(40)

    assert many == few
    assert Message.objects.filter(referral_invite=True).count() == 44
    assert ReferralCode.objects.count() == 44


def test_the_editor_knows_referral_and_flags_a_misspelt_field():
    problems = draft_problems(subject="Hi", html_body="{{ referral.urll }}",
                              text_body="{{ referral.url }}", purpose="marketing")

    assert problems["text"] == []
    assert "referral.url" in problems["html"][0]
    template_validate(subject="Hi", html_body=INVITE, text_body=INVITE)
    assert set(SAMPLE_CONTEXT["referral"]) == {"url", "code", "count", "rewarded_points"}


def test_a_real_customers_preview_shows_their_figures_and_a_link_that_counts_nothing():
    customer = CustomerFactory(marketing_consent=True)
    _friends_of(customer)

    referral = sample_context(customer=customer, layout=None)["referral"]

    assert (referral["count"], referral["rewarded_points"]) == (2, 500)
    assert referral["url"] == SAMPLE_CONTEXT["referral"]["url"]
    assert not ReferralCode.objects.exists()


# The dry run's sandbox reads on its own connection: the data must be committed.
@pytest.mark.django_db(transaction=True)
def test_a_dry_run_renders_referral_links_and_stores_no_code(welcome, policy):
    _welcome_says(INVITE)
    for hours in (6, 11):
        customer = CustomerFactory(time_zone="Europe/Stockholm", locale="en")
        consent_record(customer=customer, granted=True, source="api")
        EventFactory(customer=customer, type="signup",
                     occurred_at=dt.datetime(2026, 4, 1, hours, tzinfo=dt.timezone.utc))
    out = io.StringIO()

    call_command("simulate", "--start", "2026-04-01", "--end", "2026-04-02", "--dry-run",
                 stdout=out)

    assert "2 email(s) would be sent" in out.getvalue()
    assert not ReferralCode.objects.exists()
