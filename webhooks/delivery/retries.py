"""The retry policy is data: WEBHOOK_RETRY_DELAYS, one delay (seconds) per retry,
stretched (never shortened) by a receiver's Retry-After on 429 and 503."""

from datetime import datetime
from email.utils import parsedate_to_datetime

from django.conf import settings

RETRY_AFTER_STATUSES = frozenset({429, 503})


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds asked for by a Retry-After header (delay-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, (moment - now).total_seconds())


def next_retry_delay(*, attempts_made: int, retry_after: float | None = None) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones, or None when
    the schedule is used up and the delivery has failed. A Retry-After may push the
    attempt later (up to WEBHOOK_RETRY_AFTER_MAX), never earlier than the schedule."""
    delays = settings.WEBHOOK_RETRY_DELAYS
    if attempts_made > len(delays):
        return None
    delay = float(delays[attempts_made - 1])
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.WEBHOOK_RETRY_AFTER_MAX))
    return delay
