"""Per-API-key rate limiting, counted in the Redis cache so every web process shares it."""

import logging

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


class ApiKeyRateThrottle(SimpleRateThrottle):
    """API_RATE_LIMIT requests per key (e.g. "600/min"); over it: 429 with Retry-After.
    If the cache is unreachable the request is let through: a Redis outage must not
    take the API down with it."""

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
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - any cache failure: fail open, and say so
            logger.warning("Rate limiting skipped: the cache is unreachable.", exc_info=True)
            return True
