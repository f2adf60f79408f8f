"""Per-API-key rate limiting, counted atomically in Redis so every web process shares
one exact budget per key."""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)

# A sliding window log, in one script so that concurrent requests cannot both read
# "one left" and both pass (DRF's read-then-write of a cached list let 6 clients through
# 25% over the limit). The set holds one member per request let through in the window,
# scored by Redis's own clock (web processes' clocks may differ). Answers
# {1, 0} when the request may pass, else {0, microseconds until the oldest leaves}.
SLIDING_WINDOW_LUA = """
local key, limit, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
  return {1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""


def rate_limit_take(*, key: str, limit: int, window_seconds: float) -> tuple[bool, float]:
    """Count one request against `key`: `(allowed, seconds to wait)`. At most `limit`
    requests are allowed in any `window_seconds`, however many processes ask at once.
    Raises the Redis client's errors when Redis cannot be reached."""
    client = cache._cache.get_client(write=True)  # the cache's own Redis connection pool
    script = client.register_script(SLIDING_WINDOW_LUA)
    # A unique member: two requests in the same microsecond are two entries.
    allowed, wait_us = script(keys=[cache.make_key(key)], args=[limit, int(window_seconds * 1e6), uuid.uuid4().hex])
    return bool(allowed), max(int(wait_us), 0) / 1e6


class ApiKeyRateThrottle(SimpleRateThrottle):
    """API_RATE_LIMIT requests per key (e.g. "600/min") in any sliding window of that
    length; over it: 429 with Retry-After. If Redis is unreachable the request is let
    through: a Redis outage must not take the API down with it."""

    scope = "api_key"

    def get_rate(self) -> str | None:
        return settings.API_RATE_LIMIT or None

    def get_cache_key(self, request, view) -> str | None:
        key = request.auth
        return f"throttle:api_key:{key.pk}" if key is not None else None

    def allow_request(self, request, view) -> bool:
        # The rate is read per request so that a change of setting takes effect at once.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.wait_seconds = None
        key = self.get_cache_key(request, view) if self.rate else None
        if key is None:
            return True
        try:
            allowed, self.wait_seconds = rate_limit_take(key=key, limit=self.num_requests, window_seconds=self.duration)
        except Exception:  # noqa: BLE001 - any cache failure: fail open, and say so
            logger.warning("Rate limiting skipped: the cache is unreachable.", exc_info=True)
            return True
        return allowed

    def wait(self) -> float | None:
        return self.wait_seconds
