"""RedisRateLimiter: sliding-window limits shared by every api replica.

Each key is a sorted set of the hits inside the window (score: time in ms).
One Lua script drops the hits that left the window, counts the rest, and adds
the new hit only if it fits, atomically, so replicas racing on one key never
let ``limit + 1`` through. Refused hits are not counted: a flood is held at
the limit and the window still frees up on time. Keys are hashed, so Redis
holds no email addresses. Times come from the injected clock (tests move it
instead of sleeping); replicas' clocks need to agree only to well within a window.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from kartoteka.application.identity.ports import RateDecision, RateLimit, RateLimiterUnavailableError
from kartoteka.application.shared.clock import Clock

KEY_PREFIX = "kartoteka:ratelimit:"

_SLIDING_WINDOW = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
    redis.call('ZADD', KEYS[1], now, ARGV[4])
    redis.call('PEXPIRE', KEYS[1], window)
    return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""


class RedisRateLimiter:
    def __init__(self, redis: Redis, clock: Clock, timeout_s: float = 3.0) -> None:
        self._script: Any = redis.register_script(_SLIDING_WINDOW)
        self._clock = clock
        self._timeout_s = timeout_s

    async def hit(self, key: str, limit: RateLimit) -> RateDecision:
        now_ms = int(self._clock().timestamp() * 1000)
        window_ms = limit.window_s * 1000
        redis_key = KEY_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()
        member = f"{now_ms}:{secrets.token_hex(6)}"  # unique, so hits in the same millisecond all count
        try:
            allowed, wait_ms = await asyncio.wait_for(
                self._script(keys=[redis_key], args=[now_ms, window_ms, limit.limit, member]), self._timeout_s
            )
        except (RedisError, OSError, TimeoutError) as exc:
            raise RateLimiterUnavailableError(f"rate limiter unavailable: {type(exc).__name__}") from exc
        if int(allowed) == 1:
            return RateDecision(True)
        return RateDecision(False, max(1, math.ceil(int(wait_ms) / 1000)))
