"""The provider send rate: one bucket shared by every process, in the database or in Redis."""
import logging
import os
import threading
import time
import uuid

import pytest
import redis
from django.db import connection

from campaigns.delivery import ratelimit
from campaigns.delivery.ratelimit import (
    DatabaseRateLimiter, RedisRateLimiter, UnlimitedRateLimiter, rate_limiter_for,
)

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/14")


class FakeClock:
    """Seconds since the epoch that only move when a test says so."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _redis_client(url: str = REDIS_TEST_URL) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def _redis_reachable() -> bool:
    try:
        return bool(_redis_client().ping())
    except redis.exceptions.RedisError:
        return False


@pytest.fixture(autouse=True)
def fresh_limiters():
    yield
    ratelimit._limiter_build.cache_clear()


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own on the test Redis, deleted afterwards."""
    if not _redis_reachable():
        pytest.skip(f"no Redis server at {REDIS_TEST_URL}")
    prefix = f"test-ratelimit-{uuid.uuid4().hex}:"
    yield prefix
    client = _redis_client()
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


@pytest.fixture(params=["database", "redis"])
def new_limiter(request):
    """Makes limiters on one shared bucket, as each worker process would have its own."""
    if request.param == "database":
        request.getfixturevalue("db")

        def make(*, rate: float, burst: int, clock=None):
            return DatabaseRateLimiter(
                provider="postmark", rate=rate, burst=burst, clock=clock or time.time)
    else:
        prefix = request.getfixturevalue("redis_prefix")

        def make(*, rate: float, burst: int, clock=None):
            return RedisRateLimiter(
                client=_redis_client(), provider="postmark", key_prefix=prefix, rate=rate,
                burst=burst, clock=clock)
    return make


def test_a_full_bucket_grants_its_burst_then_refills_at_the_rate(new_limiter):
    clock = FakeClock()
    limiter = new_limiter(rate=10, burst=10, clock=clock)

    assert limiter.take(25) == (10, pytest.approx(0.1))
    clock.advance(0.5)
    assert limiter.take(25) == (5, pytest.approx(0.1))
    clock.advance(0.05)
    assert limiter.take(1) == (0, pytest.approx(0.05))
    clock.advance(10)
    assert limiter.take(3) == (3, 0.0)
    assert limiter.take(7) == (7, 0.0)


def test_two_processes_share_one_bucket(new_limiter):
    clock = FakeClock()
    one = new_limiter(rate=10, burst=10, clock=clock)
    two = new_limiter(rate=10, burst=10, clock=clock)

    granted = [one.take(6)[0], two.take(6)[0]]
    clock.advance(1.0)
    granted += [one.take(8)[0], two.take(8)[0], one.take(8)[0]]

    assert granted == [6, 4, 8, 2, 0]
    assert sum(granted) == 10 + 10 * 1.0


def test_a_pause_stops_every_process_and_a_shorter_one_does_not_shorten_it(new_limiter):
    clock = FakeClock()
    one = new_limiter(rate=4, burst=4, clock=clock)
    two = new_limiter(rate=4, burst=4, clock=clock)

    one.pause(2.0)
    # The bucket starts empty when the pause ends, so the first token comes 1/rate later.
    assert two.take(5) == (0, pytest.approx(2.25))
    clock.advance(1.5)
    two.pause(0.25)
    clock.advance(0.25)
    assert one.take(5) == (0, pytest.approx(0.5))
    assert two.take(5) == (0, pytest.approx(0.5))
    clock.advance(0.5)
    assert two.take(5) == (1, pytest.approx(0.25))


def test_given_back_tokens_can_be_taken_again_up_to_the_capacity(new_limiter):
    clock = FakeClock()
    one = new_limiter(rate=10, burst=10, clock=clock)
    two = new_limiter(rate=10, burst=10, clock=clock)

    assert one.take(10)[0] == 10
    one.give_back(4)
    assert two.take(10)[0] == 4
    two.give_back(50)
    assert one.take(20)[0] == 10


def test_redis_uses_its_own_clock_when_none_is_given(redis_prefix):
    limiter = RedisRateLimiter(
        client=_redis_client(), provider="postmark", key_prefix=redis_prefix, rate=10, burst=10)

    granted, wait = limiter.take(25)
    again, next_wait = limiter.take(5)

    assert (granted, wait) == (10, pytest.approx(0.1, abs=0.01))
    assert again <= 1
    assert 0 < next_wait <= 0.1 + 1e-6


def test_redis_that_forgot_the_script_still_answers(redis_prefix):
    class ForgetfulRedis(redis.Redis):
        """A server just restarted: no script is loaded."""

        def evalsha(self, *args):
            raise redis.exceptions.NoScriptError("NOSCRIPT No matching script.")

    client = ForgetfulRedis.from_url(REDIS_TEST_URL)
    limiter = RedisRateLimiter(
        client=client, provider="postmark", key_prefix=redis_prefix, rate=10, burst=10,
        clock=FakeClock())

    assert limiter.take(25) == (10, pytest.approx(0.1))


def test_redis_down_slows_sending_to_the_local_share_and_warns_once(caplog):
    clock = FakeClock()
    limiter = RedisRateLimiter(
        client=_redis_client("redis://127.0.0.1:1/0"), provider="postmark", rate=10, burst=10,
        local_share=2, clock=clock)

    with caplog.at_level(logging.WARNING, logger="campaigns.delivery.ratelimit"):
        granted = [limiter.take(25)[0], limiter.take(25)[0]]
        limiter.give_back(2)
        limiter.pause(1.0)
        granted.append(limiter.take(25)[0])

    assert granted == [5, 0, 0]
    assert len(caplog.records) == 1
    assert "Redis unreachable" in caplog.records[0].getMessage()


def test_unlimited_when_no_rate_is_set_and_no_storage_is_touched(settings):
    # No django_db mark: a query would fail the test.
    settings.SEND_RATE_PER_SECOND = 0
    settings.SEND_RATE_LIMITS = {}

    limiter = rate_limiter_for(provider="anymail.backends.postmark.EmailBackend")

    assert limiter.take(10_000) == (10_000, 0.0)
    limiter.give_back(5)
    assert limiter.take(1) == (1, 0.0)


def test_an_unlimited_process_still_honours_a_pause():
    clock = FakeClock()
    limiter = UnlimitedRateLimiter(clock=clock)

    limiter.pause(3.0)
    limiter.pause(1.0)

    assert limiter.take(5) == (0, pytest.approx(3.0))
    clock.advance(3.0)
    assert limiter.take(5) == (5, 0.0)


@pytest.mark.django_db
def test_a_provider_can_have_its_own_rate(settings):
    settings.SEND_RATE_PER_SECOND = 0
    settings.SEND_RATE_LIMITS = {"postmark": "50", "amazon_ses": "14:28"}
    settings.RATE_LIMIT_REDIS_URL = ""

    postmark = rate_limiter_for(provider="anymail.backends.postmark.EmailBackend")
    ses = rate_limiter_for(provider="amazon_ses")
    other = rate_limiter_for(provider="anymail.backends.mailgun.EmailBackend")

    assert postmark.take(80)[0] == 50
    assert ses.take(80)[0] == 28
    assert other.take(80) == (80, 0.0)


def test_the_bucket_lives_in_redis_when_one_is_configured(settings):
    settings.SEND_RATE_PER_SECOND = 5
    settings.SEND_RATE_BURST = 5
    settings.SEND_RATE_LIMITS = {}
    settings.RATE_LIMIT_REDIS_URL = REDIS_TEST_URL

    assert isinstance(rate_limiter_for(provider="postmark"), RedisRateLimiter)


@pytest.mark.django_db(transaction=True)
def test_four_threads_hammering_never_exceed_the_rate_in_real_time(new_limiter):
    rate, burst, seconds = 50, 10, 0.8
    granted, lock = [], threading.Lock()
    limiters = [new_limiter(rate=rate, burst=burst) for _ in range(4)]

    def hammer(limiter, until):
        try:
            while time.monotonic() < until:
                got, _ = limiter.take(5)
                with lock:
                    granted.append(got)
        finally:
            connection.close()

    started = time.monotonic()
    threads = [
        threading.Thread(target=hammer, args=(limiter, started + seconds)) for limiter in limiters
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    elapsed = time.monotonic() - started

    assert burst <= sum(granted) <= burst + rate * elapsed + 1
    assert len(granted) > sum(granted) / 5  # some takes were refused: they did compete
