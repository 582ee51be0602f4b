"""RedisRateLimiter against a real Redis: limits, sliding windows, races, and an unreachable server."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from kartoteka.application.identity.ports import RateLimit, RateLimiterUnavailableError
from kartoteka.infrastructure.ratelimit.redis_rate_limiter import KEY_PREFIX, RedisRateLimiter
from tests.fakes.shared import FakeClock
from tests.harness.network import free_port
from tests.harness.redis import RedisServer


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


def key() -> str:
    return f"test:{uuid.uuid4()}"


async def test_hits_beyond_the_limit_are_refused_until_the_window_slides(redis: Redis) -> None:
    clock = FakeClock()
    limiter, k, limit = RedisRateLimiter(redis, clock), key(), RateLimit(3, 60)
    for _ in range(3):
        assert (await limiter.hit(k, limit)).allowed
        clock.advance(seconds=10)
    refused = await limiter.hit(k, limit)
    assert not refused.allowed
    assert refused.retry_after_s == 30  # the first hit leaves the window 60 s after it was made
    clock.advance(seconds=29)
    assert not (await limiter.hit(k, limit)).allowed  # refused hits do not count, nor do they extend it
    clock.advance(seconds=1)
    assert (await limiter.hit(k, limit)).allowed
    assert not (await limiter.hit(k, limit)).allowed


async def test_keys_are_counted_apart_and_stored_hashed(redis: Redis) -> None:
    limiter, limit = RedisRateLimiter(redis, FakeClock()), RateLimit(1, 60)
    email = f"otp-start:email:{uuid.uuid4()}@example.org"
    assert (await limiter.hit(email, limit)).allowed
    assert (await limiter.hit(email + "x", limit)).allowed
    assert not (await limiter.hit(email, limit)).allowed
    stored = [k.decode() async for k in redis.scan_iter(match=KEY_PREFIX + "*")]
    assert not any("example.org" in k for k in stored)
    mine = KEY_PREFIX + hashlib.sha256(email.encode()).hexdigest()
    assert mine in stored
    assert 0 < await redis.pttl(mine) <= 60_000  # keys expire with their window


async def test_racing_hits_let_exactly_the_limit_through(redis: Redis, redis_server: RedisServer) -> None:
    k = key()
    # Two limiters with clients of their own stand for two api replicas.
    other = Redis.from_url(redis_server.url)
    try:
        replicas = [RedisRateLimiter(redis, FakeClock()), RedisRateLimiter(other, FakeClock())]
        decisions = await asyncio.gather(*(replica.hit(k, RateLimit(10, 60)) for replica in replicas * 25))
    finally:
        await other.aclose()
    assert sum(d.allowed for d in decisions) == 10


async def test_an_unreachable_redis_is_reported_as_unavailable() -> None:
    client = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(RateLimiterUnavailableError):
            await RedisRateLimiter(client, FakeClock(), timeout_s=2).hit(key(), RateLimit(1, 60))
    finally:
        await client.aclose()
