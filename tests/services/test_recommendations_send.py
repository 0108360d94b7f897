"""Recommendations in sent emails: loaded per batch, recorded with the send, attributed."""
import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Message, TemplateTranslation
from campaigns.selectors.catalogue import catalogue_cache_clear
from campaigns.selectors.campaign_results import campaign_recommended_bought
from campaigns.services.recommendations import recommendations_compute
from campaigns.services.scheduling import scheduler_tick
from campaigns.services.sending import messages_send_due
from tests.factories import CustomerFactory, EventFactory
from tests.helpers import consenting_customer
from tests.recommendation_data import buy, product

pytestmark = pytest.mark.django_db

RECS = ("{% for p in recommendations(2) %}[{{ p.name }}: {{ p.reason }}]{% endfor %}")


@pytest.fixture
def shop(frozen_clock):
    p = {sku: product(sku) for sku in ("knife", "board", "whetstone", "gift")}
    for _ in range(3):
        buy(CustomerFactory(), p["knife"], p["board"], p["whetstone"], days_ago=30)
    for _ in range(5):
        buy(CustomerFactory(), p["gift"], quantity=4, days_ago=5)
    recommendations_compute(now=frozen_clock.now)
    return p


@pytest.fixture
def welcome_with_recommendations(welcome):
    TemplateTranslation.objects.filter(template__name="Welcome").update(
        html_body=f"<p>Hi {{{{ customer.first_name }}}}</p>{RECS}", text_body=RECS)
    return welcome


def signup_and_send(clock, customers) -> list[Message]:
    for customer in customers:
        EventFactory(customer=customer, type="signup", occurred_at=clock.now)
    scheduler_tick(now=clock.now)
    messages_send_due(now=clock.now, in_flight=1, group_size=100)
    return list(Message.objects.filter(customer__in=customers).order_by("id"))


def test_the_email_shows_recommendations_and_the_send_records_them(
        frozen_clock, shop, welcome_with_recommendations, policy):
    customer = consenting_customer(locale="en")
    buy(customer, shop["knife"], days_ago=200)

    [message] = signup_and_send(frozen_clock, [customer])

    assert message.state == Message.State.SENT
    assert "[Board: Because you bought Knife][Whetstone: Because you bought Knife]" in mail.outbox[0].body
    assert message.recommended == [shop["board"].pk, shop["whetstone"].pk]


def test_a_template_without_recommendations_records_none(frozen_clock, shop, welcome, policy):
    [message] = signup_and_send(frozen_clock, [consenting_customer()])
    assert message.state == Message.State.SENT and message.recommended is None


def test_recommendations_add_no_statement_per_email(
        frozen_clock, shop, welcome_with_recommendations, policy):
    def statements(count, *, cold=True):
        customers = [consenting_customer() for _ in range(count)]
        for customer in customers:
            buy(customer, shop["knife"], days_ago=200)
            EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
        scheduler_tick(now=frozen_clock.now)
        if cold:
            catalogue_cache_clear()
        with CaptureQueriesContext(connection) as queries:
            report = messages_send_due(now=frozen_clock.now, in_flight=1, group_size=100)
        assert report.sent == count
        return len(queries)

    few = statements(3)
    frozen_clock.advance(days=2)
    assert statements(30) == few
    # With the process's catalogue cache warm: the lists and products are not read again
    # (4 statements fewer: the products bought, the pairs, the top sellers, their products).
    frozen_clock.advance(days=2)
    warm = statements(3, cold=False)
    frozen_clock.advance(days=2)
    assert statements(30, cold=False) == warm == few - 4


def test_a_customer_who_buys_a_recommended_product_within_7_days_is_counted(
        frozen_clock, shop, welcome_with_recommendations, policy):
    buyer, other, late = (consenting_customer(locale="en") for _ in range(3))
    for customer in (buyer, other, late):
        buy(customer, shop["knife"], days_ago=200)
    signup_and_send(frozen_clock, [buyer, other, late])
    campaign_id = welcome_with_recommendations.pk

    buy(buyer, shop["board"], at=frozen_clock.now + dt.timedelta(days=2), price="349.00",
        quantity=2)
    buy(other, shop["gift"], at=frozen_clock.now + dt.timedelta(days=2))
    buy(late, shop["board"], at=frozen_clock.now + dt.timedelta(days=8))

    result = campaign_recommended_bought(campaign_id=campaign_id)
    assert (result.emails, result.customers, result.revenue) == (3, 1, 698.0)


def test_the_campaign_page_says_it(frozen_clock, shop, welcome_with_recommendations, policy):
    from django.contrib.admin.sites import site

    from campaigns.models import Campaign

    customer = consenting_customer(locale="en")
    buy(customer, shop["knife"], days_ago=200)
    signup_and_send(frozen_clock, [customer])
    buy(customer, shop["whetstone"], at=frozen_clock.now + dt.timedelta(days=1))

    admin = site._registry[Campaign]
    html = str(admin.results_messages(welcome_with_recommendations))
    assert "Bought a recommended product within 7 days: 1 customer (revenue 10.00)." in html


def test_the_preview_shows_the_sample_customers_and_a_real_customers(frozen_clock, shop):
    from campaigns.services.rendering import draft_preview

    draft = {"subject": "Hi", "html_body": f"<p>{RECS}</p>", "text_body": RECS,
             "purpose": "transactional", "locale": "en", "layout": None}
    sample = draft_preview(**draft)
    assert not any(sample["problems"].values())
    assert "Cutting board, oak" in sample["rendered"]["text"]

    customer = CustomerFactory(locale="en")
    buy(customer, shop["knife"], days_ago=200)
    real = draft_preview(**draft, customer=customer)
    assert "[Board: Because you bought Knife]" in real["rendered"]["text"]


def test_a_bad_strategy_is_the_templates_error(frozen_clock, shop):
    from campaigns.exceptions import TemplateRenderError
    from campaigns.templating import template_validate

    with pytest.raises(TemplateRenderError, match="strategy"):
        template_validate(subject="x", html_body="{{ recommendations(2, strategy='x') }}",
                          text_body="x")
