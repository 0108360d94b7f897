"""A token bucket per email provider, shared by every worker process (compliance RL-8)."""
import dataclasses
import functools
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis
from django.conf import settings
from django.db import transaction
from redis.backoff import NoBackoff
from redis.retry import Retry

from campaigns.models import RateLimitBucket

logger = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "loyaltycrm:ratelimit:"
# A float sum such as 0.1 s x 10/s may land a hair under a whole token.
_EPSILON = 1e-9


class RateLimiter(Protocol):
    def take(self, n: int) -> tuple[int, float]:
        """Take up to n tokens now. Returns (granted, wait): granted in 0..n; when granted < n,
        wait is the seconds until at least one more token will be available (0.0 when
        granted == n)."""

    def give_back(self, n: int) -> None:
        """Return tokens that were taken but not used (never above the bucket's capacity)."""

    def pause(self, seconds: float) -> None:
        """The provider said 429 / Retry-After: nobody gets a token for `seconds` (shared by
        every process); a later, shorter pause never shortens a longer one already in force."""


# --- The bucket arithmetic (pure; the Redis script below is the same in Lua) -------------

@dataclasses.dataclass(frozen=True)
class BucketState:
    tokens: float
    refilled_at: float  # seconds; ahead of now while a pause is in force
    paused_until: float = 0.0


def bucket_refill(*, state: BucketState, now: float, rate: float, burst: int) -> BucketState:
    # A clock behind the stored time (a pause, or another process's clock ahead) adds nothing,
    # and the stored time never moves back.
    if now <= state.refilled_at:
        return state
    tokens = min(burst, state.tokens + (now - state.refilled_at) * rate)
    return dataclasses.replace(state, tokens=tokens, refilled_at=now)


def bucket_take(
    *, state: BucketState, n: int, now: float, rate: float, burst: int
) -> tuple[BucketState, int, float]:
    """The state after taking up to n tokens at `now`, what was granted and the wait."""
    state = bucket_refill(state=state, now=now, rate=rate, burst=burst)
    granted = 0 if now < state.paused_until else min(n, math.floor(state.tokens + _EPSILON))
    state = dataclasses.replace(state, tokens=max(0.0, state.tokens - granted))
    if granted >= n:
        return state, granted, 0.0
    refill_from = max(now, state.refilled_at, state.paused_until)
    return state, granted, refill_from - now + max(0.0, 1.0 - state.tokens) / rate


def bucket_give_back(
    *, state: BucketState, n: int, now: float, rate: float, burst: int
) -> BucketState:
    state = bucket_refill(state=state, now=now, rate=rate, burst=burst)
    return dataclasses.replace(state, tokens=min(burst, state.tokens + n))


def bucket_pause(
    *, state: BucketState, seconds: float, now: float, rate: float, burst: int
) -> BucketState:
    """Nothing for `seconds`, then the bucket starts empty: the burst that earned the 429
    must not repeat the moment the pause ends."""
    state = bucket_refill(state=state, now=now, rate=rate, burst=burst)
    paused_until = max(state.paused_until, now + seconds)
    return BucketState(
        tokens=0.0, refilled_at=max(state.refilled_at, paused_until), paused_until=paused_until
    )


# --- Backends ---------------------------------------------------------------------------

class UnlimitedRateLimiter:
    """No rate set: every token at once. A pause still holds this process back, since there
    is nowhere to share it."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._paused_until = 0.0

    def take(self, n: int) -> tuple[int, float]:
        wait = self._paused_until - self._clock()
        return (0, wait) if wait > 0 and n > 0 else (max(0, n), 0.0)

    def give_back(self, n: int) -> None:
        pass

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)


class LocalRateLimiter:
    """A bucket in this process's memory only: the stand-in while Redis is unreachable."""

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ):
        self.rate, self.burst, self._clock = rate, burst, clock
        self._state = BucketState(tokens=burst, refilled_at=clock())
        self._lock = threading.Lock()  # Celery's thread pools share one limiter

    def take(self, n: int) -> tuple[int, float]:
        if n <= 0:
            return 0, 0.0
        with self._lock:
            self._state, granted, wait = bucket_take(
                state=self._state, n=n, now=self._clock(), rate=self.rate, burst=self.burst)
        return granted, wait

    def give_back(self, n: int) -> None:
        if n <= 0:
            return
        with self._lock:
            self._state = bucket_give_back(
                state=self._state, n=n, now=self._clock(), rate=self.rate, burst=self.burst)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._state = bucket_pause(
                state=self._state, seconds=seconds, now=self._clock(), rate=self.rate,
                burst=self.burst)


class DatabaseRateLimiter:
    """The bucket in a RateLimitBucket row: one short transaction per call, the row locked
    (SQLite: the IMMEDIATE transaction serialises it). Wall-clock time, so processes on
    different hosts need synchronised clocks; a skew can grant at most one extra burst."""

    def __init__(
        self, *, provider: str, rate: float, burst: int, clock: Callable[[], float] = time.time
    ):
        self.provider, self.rate, self.burst, self._clock = provider, rate, burst, clock

    def take(self, n: int) -> tuple[int, float]:
        if n <= 0:
            return 0, 0.0

        def change(state, now):
            state, granted, wait = bucket_take(
                state=state, n=n, now=now, rate=self.rate, burst=self.burst)
            return state, (granted, wait)

        return self._update(change)

    def give_back(self, n: int) -> None:
        if n > 0:
            self._update(lambda state, now: (bucket_give_back(
                state=state, n=n, now=now, rate=self.rate, burst=self.burst), None))

    def pause(self, seconds: float) -> None:
        self._update(lambda state, now: (bucket_pause(
            state=state, seconds=seconds, now=now, rate=self.rate, burst=self.burst), None))

    def _update(self, change: Callable[[BucketState, float], tuple[BucketState, object]]):
        """Apply `change` to the locked row and return the rest of its answer."""
        with transaction.atomic():
            row, _ = RateLimitBucket.objects.select_for_update().get_or_create(
                provider=self.provider,
                defaults={"tokens": self.burst, "refilled_at": self._clock()},
            )
            # The clock is read once the row is locked: a process that waited for the lock
            # must not refill from a moment before the last writer's.
            state, answer = change(
                BucketState(row.tokens, row.refilled_at, row.paused_until), self._clock())
            RateLimitBucket.objects.filter(pk=row.pk).update(
                tokens=state.tokens, refilled_at=state.refilled_at,
                paused_until=state.paused_until)
        return answer


# KEYS[1]: the provider's hash {tokens, at, paused}. ARGV: op (take | give | pause), amount
# (tokens, or seconds for pause), rate, burst, now ("" = the Redis server's TIME, so every
# process agrees whatever its own clock says). Returns {granted, wait as a string}.
_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local op, amount = ARGV[1], tonumber(ARGV[2])
local rate, burst = tonumber(ARGV[3]), tonumber(ARGV[4])
local now = tonumber(ARGV[5])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'paused')
local tokens, at, paused = tonumber(s[1]) or burst, tonumber(s[2]) or now, tonumber(s[3]) or 0
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
local granted, wait = 0, 0
if op == 'take' then
  if now >= paused then granted = math.min(amount, math.floor(tokens + 1e-9)) end
  tokens = math.max(0, tokens - granted)
  if granted < amount then
    wait = math.max(at, paused) - now + math.max(0, 1 - tokens) / rate
  end
elseif op == 'give' then
  tokens = math.min(burst, tokens + amount)
elseif op == 'pause' then
  paused = math.max(paused, now + amount)
  at = math.max(at, paused)
  tokens = 0
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'at', string.format('%.6f', at), 'paused', string.format('%.6f', paused))
-- An idle bucket is full again after burst / rate seconds, so it may go then (with any
-- pause still in force), and a missing key starts full.
redis.call('EXPIRE', KEYS[1], math.ceil(math.max(burst / rate, paused - now)) + 60)
return {granted, tostring(wait)}
"""
_SCRIPT_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()

# Retrying a refused connection or waiting seconds for a dead host would stall the send it
# guards; one quick retry covers a pooled connection that a Redis restart closed.
_REDIS_RETRY = Retry(NoBackoff(), 1)
_REDIS_TIMEOUT_SECONDS = 0.5
_REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class RedisRateLimiter:
    """The bucket in a Redis hash, changed by one Lua script: one round trip per call.

    A Redis restart must not stop sending nor crash a send (RL-8 says slow down, not stop):
    while Redis is unreachable each process falls back to its own bucket at
    rate / local_share, tries Redis again after `retry_seconds`, and warns once a minute.
    `clock` is for tests; by default the script reads the server's TIME."""

    def __init__(
        self, *, client: redis.Redis, provider: str, rate: float, burst: int,
        key_prefix: str = REDIS_KEY_PREFIX, local_share: int = 1,
        clock: Callable[[], float] | None = None, retry_seconds: float = 5.0,
    ):
        self.provider, self.rate, self.burst = provider, rate, burst
        self._client, self._key, self._clock = client, key_prefix + provider, clock
        share = max(1, local_share)
        self._local = LocalRateLimiter(
            rate=rate / share, burst=max(1, burst // share), clock=clock or time.monotonic)
        self._retry_seconds = retry_seconds
        self._down_until = 0.0  # time.monotonic()
        self._warned_at = -math.inf

    def take(self, n: int) -> tuple[int, float]:
        if n <= 0:
            return 0, 0.0
        answer = self._run("take", n)
        if answer is None:
            return self._local.take(n)
        granted, wait = answer
        return int(granted), (0.0 if int(granted) >= n else float(wait))

    def give_back(self, n: int) -> None:
        if n > 0 and self._run("give", n) is None:
            self._local.give_back(n)

    def pause(self, seconds: float) -> None:
        # Held locally too, so a pause survives a Redis outage that starts right after it.
        self._local.pause(seconds)
        self._run("pause", seconds)

    def _run(self, op: str, amount: float) -> list | None:
        """The script's answer, or None while Redis is unreachable."""
        if time.monotonic() < self._down_until:
            return None
        now = "" if self._clock is None else repr(self._clock())
        args = (op, repr(amount), repr(float(self.rate)), str(self.burst), now)
        try:
            try:
                return self._client.evalsha(_SCRIPT_SHA, 1, self._key, *args)
            except redis.exceptions.NoScriptError:
                # A restarted or flushed server has forgotten it; EVAL caches it again.
                return self._client.eval(_SCRIPT, 1, self._key, *args)
        except _REDIS_ERRORS as error:
            self._down_until = time.monotonic() + self._retry_seconds
            if time.monotonic() - self._warned_at >= 60:
                self._warned_at = time.monotonic()
                logger.warning(
                    "Rate limit for %s: Redis unreachable (%s); this process sends at %.3g/s "
                    "on its own until it is back", self.provider, error, self._local.rate)
            return None


# --- Configuration ------------------------------------------------------------------------

def rate_for(*, provider: str, limits: dict[str, str], rate: float, burst: int
             ) -> tuple[float, int]:
    """The (rate, burst) for a provider: its SEND_RATE_LIMITS entry ("rate" or "rate:burst"),
    keyed by the whole provider key or one dotted part of it, else the defaults."""
    parts = provider.split(".")
    entry = limits.get(provider) or next(
        (value for key, value in limits.items() if key in parts), None)
    if entry is None:
        return rate, burst
    rate_text, _, burst_text = str(entry).partition(":")
    rate = float(rate_text)
    return rate, int(burst_text) if burst_text else max(1, math.ceil(rate))


def rate_limiter_for(*, provider: str) -> RateLimiter:
    """The configured limiter for a provider key (e.g. the EMAIL_BACKEND's dotted path or a
    short name); an unlimited one (take(n) -> (n, 0.0)) when no rate is set. One instance
    per process and configuration, so its Redis connections and fallback are reused."""
    rate, burst = rate_for(
        provider=provider, limits=settings.SEND_RATE_LIMITS,
        rate=settings.SEND_RATE_PER_SECOND, burst=settings.SEND_RATE_BURST)
    return _limiter_build(
        provider=provider, rate=rate, burst=burst, redis_url=settings.RATE_LIMIT_REDIS_URL,
        local_share=settings.SEND_RATE_LOCAL_SHARE)


@functools.lru_cache(maxsize=64)
def _limiter_build(
    *, provider: str, rate: float, burst: int, redis_url: str, local_share: int
) -> RateLimiter:
    if rate <= 0:
        return UnlimitedRateLimiter()
    burst = max(1, burst)
    if redis_url:
        client = redis.Redis.from_url(
            redis_url, socket_timeout=_REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=_REDIS_TIMEOUT_SECONDS, retry=_REDIS_RETRY)
        return RedisRateLimiter(
            client=client, provider=provider, rate=rate, burst=burst, local_share=local_share)
    return DatabaseRateLimiter(provider=provider, rate=rate, burst=burst)
