"""The public pages' rate limits: per client address and per token, in the shared cache;
over a limit a 429 in the visitor's language with Retry-After, and nothing stored."""
import datetime as dt
import os
import uuid

import pytest
from django.conf import settings as django_settings
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.test import Client

from campaigns.models import ConsentEvent, Customer, PrivacyRequest, SurveyResponse
from campaigns.throttle import public_rate_check
from campaigns.tokens import survey_token, unsubscribe_token
from tests.factories import CustomerFactory, SentMessageFactory

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


@pytest.fixture
def customer():
    return CustomerFactory(email="nils@example.se", marketing_consent=True)


def post(path, data=None, address="203.0.113.7", **extra):
    return Client().post(path, data or {}, REMOTE_ADDR=address, **extra)


def test_over_the_address_limit_a_preference_change_is_refused_and_changes_nothing(
        customer, settings, frozen_clock):
    settings.PUBLIC_RATE_PER_ADDRESS_PER_HOUR = 2
    frozen_clock.set(dt.datetime(2026, 3, 2, 9, 40, tzinfo=UTC))
    withdraw = {"shown_marketing": "1"}  # the box was ticked and is now cleared
    others = [unsubscribe_token(customer_id=CustomerFactory().pk) for _ in range(2)]
    for token in others:
        assert post(f"/u/{token}/preferences", withdraw).status_code == 200
    events_before = ConsentEvent.objects.count()

    response = post(f"/u/{unsubscribe_token(customer_id=customer.pk)}/preferences", withdraw,
                    HTTP_ACCEPT_LANGUAGE="sv")

    assert response.status_code == 429
    # Until the hour's window ends: 20 minutes.
    assert response["Retry-After"] == "1200"
    assert response["Content-Language"] == "sv"
    assert "För många försök härifrån" in response.content.decode()
    assert ConsentEvent.objects.count() == events_before
    customer.refresh_from_db()
    assert customer.marketing_consent is True


def test_one_click_unsubscribes_from_a_mailbox_providers_server_are_never_held_back(
        settings, frozen_clock):
    settings.PUBLIC_RATE_PER_ADDRESS_PER_HOUR = 2
    customers = [CustomerFactory(marketing_consent=True) for _ in range(5)]

    codes = [post(f"/u/{unsubscribe_token(customer_id=c.pk)}", {"List-Unsubscribe": "One-Click"},
                  address="209.85.220.41").status_code for c in customers]

    assert codes == [200] * 5
    assert not any(Customer.objects.filter(pk__in=[c.pk for c in customers])
                   .values_list("marketing_consent", flat=True))


def test_another_address_is_not_held_back_and_the_next_hour_counts_afresh(
        customer, settings, frozen_clock):
    settings.PUBLIC_RATE_PER_ADDRESS_PER_HOUR = 1
    token = unsubscribe_token(customer_id=customer.pk)

    path = f"/u/{token}/erasure"
    codes = [post(path).status_code, post(path).status_code,
             post(path, address="198.51.100.9").status_code]
    frozen_clock.advance(hours=1)
    codes.append(post(path).status_code)

    assert codes == [200, 429, 200, 200]


def test_one_token_is_limited_whatever_the_address(customer, settings, frozen_clock):
    settings.PUBLIC_RATE_PER_TOKEN_PER_HOUR = 3
    path = f"/u/{unsubscribe_token(customer_id=customer.pk)}/erasure"

    codes = [post(path, address=f"192.0.2.{n}").status_code for n in range(5)]

    assert codes == [200, 200, 200, 429, 429]


def _pages(customer):
    token = unsubscribe_token(customer_id=customer.pk)
    message = SentMessageFactory(enrollment__customer=customer)
    return {
        "subscribe": ("/subscribe", {"email": "new@example.se", "agree": "on"}),
        "unsubscribe": (f"/u/{token}", {"List-Unsubscribe": "One-Click"}),
        "preferences": (f"/u/{token}/preferences", {"shown_marketing": "1"}),
        "pause": (f"/u/{token}/pause", {"resume": "1"}),
        "erasure": (f"/u/{token}/erasure", {}),
        "export": (f"/privacy/{token}/export", {}),
        "survey": (f"/s/{survey_token(message_id=message.pk)}/9", {"score": "9"}),
        "confirm": ("/subscribe/confirm/forged-token", {}),
    }


@pytest.mark.parametrize("page", ["subscribe", "unsubscribe", "preferences", "pause",
                                  "erasure", "export", "survey", "confirm"])
def test_every_public_page_is_limited_per_address(page, customer, settings, frozen_clock):
    settings.PUBLIC_RATE_PER_ADDRESS_PER_HOUR = 1
    path, data = _pages(customer)[page]
    # The one-click unsubscribe POST counts per token only (see above); its page does not.
    send = ((lambda: Client().get(path, REMOTE_ADDR="203.0.113.7")) if page == "unsubscribe"
            else (lambda: post(path, data)))
    assert send().status_code != 429

    response = send()

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_a_refused_survey_answer_and_export_request_store_nothing(customer, settings,
                                                                  frozen_clock):
    settings.PUBLIC_RATE_PER_TOKEN_PER_HOUR = 1
    pages = _pages(customer)
    survey_path = pages["survey"][0]
    assert post(survey_path, {"score": "9"}, address="192.0.2.1").status_code == 200

    assert post(survey_path, {"score": "2"}, address="192.0.2.2").status_code == 429
    assert list(SurveyResponse.objects.values_list("score", flat=True)) == [9]
    settings.PUBLIC_RATE_PER_ADDRESS_PER_HOUR = 1
    assert post(pages["export"][0], address="192.0.2.1").status_code == 429
    assert not PrivacyRequest.objects.exists()


def test_mail_scanners_opening_every_link_do_not_use_up_the_customers_click(
        customer, settings, frozen_clock):
    settings.PUBLIC_RATE_PER_TOKEN_PER_HOUR = 2
    survey_path = _pages(customer)["survey"][0]
    base = survey_path.rsplit("/", 1)[0]
    for scan in range(3):  # three scanners, each opening all eleven scores
        for score in range(11):
            assert Client().get(f"{base}/{score}", REMOTE_ADDR=f"198.51.100.{scan}").status_code == 200

    assert post(survey_path, {"score": "9"}).status_code == 200
    assert SurveyResponse.objects.get().score == 9


def _shared_caches(kind, settings):
    if kind == "database":
        return DatabaseCache("django_cache", {}), DatabaseCache("django_cache", {})
    if not settings.CACHE_REDIS_URL:
        pytest.skip("no Redis configured (CACHE_REDIS_URL / RATE_LIMIT_REDIS_URL)")
    # A prefix of its own: the Redis database may be the one the integration tests' Celery
    # workers queue on, so nothing here may clear it (its counters expire within the hour).
    prefix = f"lcrm-test-{uuid.uuid4().hex}"
    return (RedisCache(settings.CACHE_REDIS_URL, {"KEY_PREFIX": prefix}),
            RedisCache(settings.CACHE_REDIS_URL, {"KEY_PREFIX": prefix}))


@pytest.mark.parametrize("kind", ["database", "redis"])
def test_two_processes_count_together(kind, settings, frozen_clock):
    # Two cache clients with their own connections, as two web processes have.
    first, second = _shared_caches(kind, settings)
    if kind == "database":
        first.clear()  # the test database's own table
    limits = [("address", "203.0.113.50", 3)]

    verdicts = [public_rate_check(limits=limits, cache=cache).allowed
                for cache in (first, second, first, second)]

    assert verdicts == [True, True, True, False]


def test_an_unreachable_redis_lets_the_visitor_through(settings, frozen_clock):
    closed = RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 1}})
    limits = [("address", "203.0.113.50", 1)]

    verdicts = [public_rate_check(limits=limits, cache=closed).allowed for _ in range(3)]

    assert verdicts == [True, True, True]


_OTHER_PROCESS = """
import django, sys
django.setup()
from django.core.cache.backends.db import DatabaseCache
from campaigns.throttle import public_rate_check
cache = DatabaseCache("django_cache", {})
print(public_rate_check(limits=[("address", sys.argv[1], 3)], cache=cache).allowed)
"""


def _hour(moment: float) -> int:
    return int(moment // 3600)


@pytest.mark.django_db(transaction=True)
def test_another_web_process_counts_in_the_same_database_cache(tmp_path):
    import subprocess
    import sys
    import time

    from tests.integration.test_celery_worker import ROOT, database_url

    here = DatabaseCache("django_cache", {})
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "loyaltycrm.settings.base",
           "DATABASE_URL": database_url(), "LOYALTYCRM_VAR_DIR": str(tmp_path),
           "SECRET_KEY": django_settings.SECRET_KEY, "CACHE_REDIS_URL": "",
           "RATE_LIMIT_REDIS_URL": "", "CELERY_BROKER_URL": "filesystem://"}
    for attempt in range(2):  # both processes read the real clock: a new hour starts over
        started, address = time.time(), f"203.0.113.{60 + attempt}"
        limits = [("address", address, 3)]
        first = [public_rate_check(limits=limits, cache=here).allowed for _ in range(2)]
        other = subprocess.run([sys.executable, "-c", _OTHER_PROCESS, address], cwd=ROOT,
                               capture_output=True, text=True, timeout=120, env=env)
        fourth = public_rate_check(limits=limits, cache=here).allowed
        if _hour(started) == _hour(time.time()):
            break

    assert other.stdout.strip() == "True", other.stderr
    # Two here and one there: the fourth is over the limit of three.
    assert first + [fourth] == [True, True, False]
    here.clear()
