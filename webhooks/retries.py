"""The retry policy is data: WEBHOOK_RETRY_DELAYS, one delay (seconds) per retry."""

from django.conf import settings


def max_attempts() -> int:
    return 1 + len(settings.WEBHOOK_RETRY_DELAYS)


def next_retry_delay(*, attempts_made: int) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones, or None when
    the schedule is used up and the delivery has failed."""
    delays = settings.WEBHOOK_RETRY_DELAYS
    if attempts_made <= len(delays):
        return float(delays[attempts_made - 1])
    return None
