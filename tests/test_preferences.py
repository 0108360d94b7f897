"""The preference centre from the email token, and double opt-in from the public page and the API."""
import datetime as dt
import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from campaigns.models import (
    ConsentEvent, Customer, ErasureRequest, Message, Subscription, SubscriptionRequest,
    Suppression, Topic,
)
from campaigns.services.consent import email_hash, suppression_add
from campaigns.services.customers import customer_upsert
from campaigns.tokens import subscription_token, unsubscribe_token
from tests.helpers import consenting_customer, run_tick
from tests.factories import CampaignFactory, CustomerFactory, EventFactory, JourneyStepFactory

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


def csrf_client(path: str) -> Client:
    """A browser that loaded `path` first, so it holds the CSRF cookie the form needs."""
    client = Client(enforce_csrf_checks=True)
    client.get(path)
    return client


def csrf_post(client: Client, path: str, data: dict):
    return client.post(path, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


# The preference centre

def test_the_centre_shows_switches_pause_unsubscribe_and_data_links():
    customer = consenting_customer()
    token = unsubscribe_token(customer_id=customer.pk)

    page = Client().get(f"/u/{token}").content.decode()

    # Every form carries the page's language (here the customer's) to the answer it gets.
    language = customer.locale.split("-")[0]
    for name in ('name="marketing"', 'name="topic_offers"', 'name="topic_surveys"',
                 'name="topic_loyalty"', 'name="until"', f'action="/u/{token}?lang={language}"',
                 f'action="/privacy/{token}/export?lang={language}"',
                 f'action="/u/{token}/erasure?lang={language}"'):
        assert name in page


def test_withdrawing_a_topic_takes_one_click_like_giving_it():
    customer = consenting_customer()
    path = f"/u/{unsubscribe_token(customer_id=customer.pk)}"
    client = csrf_client(path)
    shown = {"shown_marketing": "1", "marketing": "1", "shown_offers": "1", "shown_surveys": "1",
             "topic_surveys": "1", "shown_loyalty": "1", "topic_loyalty": "1"}

    response = csrf_post(client, f"{path}/preferences", shown)  # unticked "offers" only

    assert response.status_code == 200
    state = dict(Subscription.objects.filter(customer=customer).values_list("topic", "subscribed"))
    assert state == {Topic.MARKETING: True, Topic.OFFERS: False}
    event = ConsentEvent.objects.filter(customer=customer).latest("id")
    assert (event.topic, event.granted, event.source) == ("offers", False, "preference_centre")

    csrf_post(client, f"{path}/preferences", {**shown, "shown_offers": "0", "topic_offers": "1"})
    assert Subscription.objects.get(customer=customer, topic=Topic.OFFERS).subscribed is True


def test_saving_an_untouched_page_records_nothing():
    customer = consenting_customer()
    path = f"/u/{unsubscribe_token(customer_id=customer.pk)}"
    client = csrf_client(path)
    before = ConsentEvent.objects.count()

    csrf_post(client, f"{path}/preferences", {"shown_marketing": "1", "marketing": "1",
                                              "shown_offers": "1", "topic_offers": "1"})

    assert ConsentEvent.objects.count() == before


def test_preference_posts_need_the_csrf_token():
    customer = consenting_customer()
    path = f"/u/{unsubscribe_token(customer_id=customer.pk)}"

    response = Client(enforce_csrf_checks=True).post(f"{path}/preferences", {"shown_marketing": "1"})

    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.marketing_consent is True


def test_a_pause_is_honoured_by_the_sender_and_ends_by_itself(frozen_clock, welcome, policy):
    customer = consenting_customer(time_zone="Europe/Stockholm")
    path = f"/u/{unsubscribe_token(customer_id=customer.pk)}"
    csrf_post(csrf_client(path), f"{path}/pause", {"until": "2026-03-05"})
    customer.refresh_from_db()
    # From the first moment of that day in Stockholm.
    assert customer.marketing_paused_until == dt.datetime(2026, 3, 4, 23, 0, tzinfo=UTC)

    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    run_tick(frozen_clock.now)
    assert Message.objects.get(customer=customer).reason == "paused"
    assert mail.outbox == []

    newsletter = CampaignFactory(trigger_event_type="newsletter", priority=10)
    JourneyStepFactory(campaign=newsletter, template=welcome.steps.get().template)
    EventFactory(customer=customer, type="newsletter",
                 occurred_at=frozen_clock.set(dt.datetime(2026, 3, 5, 9, 0, tzinfo=UTC)))
    run_tick(frozen_clock.now)
    assert Message.objects.get(customer=customer, campaign=newsletter).state == "sent"
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("until", ["", "yesterday", "2026-03-02", "2027-12-31"])
def test_a_bad_pause_date_is_refused_and_writes_nothing(frozen_clock, until):
    customer = consenting_customer()
    path = f"/u/{unsubscribe_token(customer_id=customer.pk)}"

    response = csrf_post(csrf_client(path), f"{path}/pause", {"until": until})

    assert response.status_code == 400
    # In the customer's language (the factory's customers are Swedish).
    assert "Välj ett datum efter i dag" in response.content.decode()
    customer.refresh_from_db()
    assert customer.marketing_paused_until is None


def test_an_erasure_request_is_recorded_once_for_the_staff_and_stops_marketing(frozen_clock):
    customer = consenting_customer()
    path = f"/u/{unsubscribe_token(customer_id=customer.pk)}"
    client = csrf_client(path)

    csrf_post(client, f"{path}/erasure", {})
    csrf_post(client, f"{path}/erasure", {})

    assert ErasureRequest.objects.filter(customer=customer, handled_at__isnull=True).count() == 1
    customer.refresh_from_db()
    assert customer.marketing_consent is False


# Double opt-in from the public page

def subscribe(client: Client, email: str, **extra):
    return csrf_post(client, "/subscribe", {"email": email, "agree": "on", **extra})


def confirm_link(email_message) -> str:
    return re.search(r"https://shop\.example\.com(/subscribe/confirm/\S+)", email_message.body).group(1)


def test_public_subscription_confirms_by_a_transactional_email_then_subscribes(
        frozen_clock, django_capture_on_commit_callbacks):
    client = csrf_client("/subscribe")
    with django_capture_on_commit_callbacks(execute=True):
        response = subscribe(client, "Nova@Example.se", first_name="Nova", locale="sv")

    # The page speaks the language the person subscribed in.
    assert "Titta i din inkorg" in response.content.decode()
    assert not Customer.objects.filter(email__iexact="nova@example.se").exists()
    (confirmation,) = mail.outbox
    assert confirmation.to == ["Nova@Example.se"]
    assert confirmation.subject == "Bekräfta din prenumeration"
    assert "List-Unsubscribe" not in confirmation.extra_headers
    assert "List-Unsubscribe-Post" not in confirmation.extra_headers
    link = confirm_link(confirmation)
    assert "nova" not in link.lower()

    for _ in range(3):  # a link scanner's GETs confirm nothing
        assert "Bekräfta" in Client().get(link).content.decode()
    assert not Customer.objects.filter(email__iexact="nova@example.se").exists()

    confirmer = csrf_client(link)
    done = csrf_post(confirmer, link, {})

    assert "Du prenumererar nu" in done.content.decode()
    customer = Customer.objects.get(email="Nova@Example.se")
    assert customer.marketing_consent is True and customer.first_name == "Nova"
    event = ConsentEvent.objects.get(customer=customer)
    assert (event.source, event.method, event.wording_version) == (
        "subscription_page", "double_opt_in", "subscribe-2026-1")
    assert "Du prenumererar nu" in csrf_post(confirmer, link, {}).content.decode()  # idempotent
    assert ConsentEvent.objects.filter(customer=customer).count() == 1


def test_expired_and_forged_confirm_links_are_refused_alike(frozen_clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        subscribe(csrf_client("/subscribe"), "late@example.se")
    link = confirm_link(mail.outbox[0])
    forged = link[:-2] + ("xy" if not link.endswith("xy") else "zz")
    unknown = f"/subscribe/confirm/{subscription_token(request_id=99999)}"
    frozen_clock.advance(days=8)

    answers = [Client().get(path) for path in (link, forged, unknown)]
    posted = Client().post(link)

    assert {a.status_code for a in answers} == {404}
    assert len({a.content for a in answers}) == 1
    assert posted.status_code == 404
    assert not Customer.objects.filter(email="late@example.se").exists()


def test_the_page_answers_the_same_for_known_suppressed_and_new_addresses(django_capture_on_commit_callbacks):
    CustomerFactory(email="known@example.se")
    suppression_add(email="bounced@example.se", reason="bounced")
    client = csrf_client("/subscribe")

    with django_capture_on_commit_callbacks(execute=True):
        answers = [subscribe(client, email).content
                   for email in ("known@example.se", "bounced@example.se", "new@example.se")]

    assert len(set(answers)) == 1
    # A bounced address gets no confirmation email at all.
    assert sorted(m.to[0] for m in mail.outbox) == ["known@example.se", "new@example.se"]


def test_an_address_gets_at_most_three_confirmations_a_day(django_capture_on_commit_callbacks):
    client = csrf_client("/subscribe")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            subscribe(client, "target@example.se")

    assert len(mail.outbox) == 3


def test_the_page_is_rate_limited_per_client(settings):
    settings.SUBSCRIBE_RATE_PER_HOUR = 2
    client = csrf_client("/subscribe")

    codes = [subscribe(client, f"p{n}@example.se").status_code for n in range(3)]

    assert codes == [200, 200, 429]


def test_behind_a_proxy_each_client_has_its_own_limit_and_its_own_address_as_proof(settings):
    settings.SUBSCRIBE_RATE_PER_HOUR = 1
    settings.TRUSTED_PROXY_COUNT = 1  # nginx appends the address it saw
    behind_proxy = {"REMOTE_ADDR": "10.0.0.2"}
    first = csrf_client("/subscribe")
    second = csrf_client("/subscribe")

    codes = [
        first.post("/subscribe", {"email": "a@example.se", "agree": "on",
                                  "csrfmiddlewaretoken": first.cookies["csrftoken"].value},
                   HTTP_X_FORWARDED_FOR="203.0.113.7", **behind_proxy).status_code,
        # A forged left-hand entry changes nothing: the proxy's own entry is on the right.
        first.post("/subscribe", {"email": "b@example.se", "agree": "on",
                                  "csrfmiddlewaretoken": first.cookies["csrftoken"].value},
                   HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7", **behind_proxy).status_code,
        second.post("/subscribe", {"email": "c@example.se", "agree": "on",
                                   "csrfmiddlewaretoken": second.cookies["csrftoken"].value},
                    HTTP_X_FORWARDED_FOR="192.0.2.44", **behind_proxy).status_code,
    ]

    assert codes == [200, 429, 200]
    proofs = dict(SubscriptionRequest.objects.values_list("email", "ip_address"))
    assert proofs == {"a@example.se": "203.0.113.7", "c@example.se": "192.0.2.44"}


def test_without_a_trusted_proxy_a_forwarded_header_is_ignored(settings):
    settings.SUBSCRIBE_RATE_PER_HOUR = 1
    client = csrf_client("/subscribe")

    codes = [client.post("/subscribe", {"email": f"p{n}@example.se", "agree": "on",
                                        "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
                         HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(2)]

    assert codes == [200, 429]
    assert SubscriptionRequest.objects.get().ip_address == "127.0.0.1"


def test_an_unticked_consent_box_subscribes_nobody():
    response = csrf_post(csrf_client("/subscribe"), "/subscribe", {"email": "x@example.se"})

    assert response.status_code == 400
    assert not SubscriptionRequest.objects.exists()


@pytest.mark.parametrize("reason,lifted", [("erased", True), ("manual", True),
                                            ("complained", False), ("bounced", False)])
def test_confirming_lifts_only_an_erased_or_manual_suppression(
        frozen_clock, django_capture_on_commit_callbacks, reason, lifted):
    suppression_add(email="back@example.se", reason=reason)
    with django_capture_on_commit_callbacks(execute=True):
        subscribe(csrf_client("/subscribe"), "back@example.se")
    request = SubscriptionRequest.objects.get()
    link = f"/subscribe/confirm/{subscription_token(request_id=request.pk)}"

    Client().post(link)  # no CSRF enforcement: the refusal must come from the domain

    request.refresh_from_db()
    assert (request.confirmed_at is not None) is lifted
    still = Suppression.objects.filter(email_hash=email_hash("back@example.se")).exists()
    assert still is not lifted


# Double opt-in for the shop's own data

def test_an_unverified_api_consent_waits_for_confirmation_and_blocks_marketing(
        frozen_clock, welcome, policy, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        customer, _ = customer_upsert(data={
            "external_id": "c-1", "email": "eva@example.se", "locale": "en",
            "consent": {"marketing": True}, "email_verified": False, "wording_version": "v3",
        }, source="api")
    customer.refresh_from_db()
    assert customer.marketing_consent is False
    (confirmation,) = mail.outbox
    assert confirmation.subject == "Please confirm your subscription"
    # Even the existing-customer exception does not apply while pending.
    EventFactory(customer=customer, type="signup", occurred_at=frozen_clock.now)
    run_tick(frozen_clock.now)
    assert Message.objects.get(customer=customer).reason == "pending_confirmation"

    link = confirm_link(confirmation)
    csrf_post(csrf_client(link), link, {})

    customer.refresh_from_db()
    assert customer.marketing_consent is True
    event = ConsentEvent.objects.get(customer=customer)
    assert (event.source, event.method, event.wording_version) == ("api", "double_opt_in", "v3")


def test_verified_or_unflagged_api_consent_counts_at_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        verified, _ = customer_upsert(data={"external_id": "c-2", "email": "a@example.se",
                                            "consent": {"marketing": True}, "email_verified": True},
                                      source="api")
        plain, _ = customer_upsert(data={"external_id": "c-3", "email": "b@example.se",
                                         "consent": {"marketing": True}}, source="import")

    assert verified.marketing_consent and plain.marketing_consent
    assert mail.outbox == [] and not SubscriptionRequest.objects.exists()


def test_a_source_listed_for_double_opt_in_is_confirmed_too(settings, django_capture_on_commit_callbacks):
    settings.DOUBLE_OPT_IN_SOURCES = ["import"]
    with django_capture_on_commit_callbacks(execute=True):
        customer, _ = customer_upsert(data={"external_id": "c-4", "email": "c@example.se",
                                            "consent": {"marketing": True}}, source="import")

    assert customer.marketing_consent is False
    assert len(mail.outbox) == 1


def test_an_unsubscribe_cancels_a_pending_confirmation(frozen_clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        customer, _ = customer_upsert(data={"external_id": "c-5", "email": "d@example.se",
                                            "consent": {"marketing": True}, "email_verified": False},
                                      source="api")
    link = confirm_link(mail.outbox[0])

    Client().post(f"/u/{unsubscribe_token(customer_id=customer.pk)}", {"List-Unsubscribe": "One-Click"})

    assert Client().get(link).status_code == 404


def test_the_shops_data_never_mails_a_suppressed_address_even_to_ask(django_capture_on_commit_callbacks):
    suppression_add(email="gone@example.se", reason="erased")
    with django_capture_on_commit_callbacks(execute=True):
        customer, _ = customer_upsert(data={"external_id": "c-6", "email": "gone@example.se",
                                            "consent": {"marketing": True}, "email_verified": False},
                                      source="api")

    assert mail.outbox == []
    assert SubscriptionRequest.objects.get(customer=customer).cancelled_at is not None
