"""What an operator sees of each attempt outside the database: one structured log line
(logger `opsknight.webhooks.attempts`) and the Prometheus counters (webhooks.metrics).

Called once per batch by `services._record_attempts`, after the attempts are saved,
from the attempts and their deliveries already in memory: no query. A log line holds
ids, the outcome, the status and the time: never the URL (it may carry a token), the
secret, the signatures, or a body.
"""

import logging

from webhooks import metrics
from webhooks.formats import opsknight as opsknight_format
from webhooks.models import Delivery, DeliveryAttempt

attempt_logger = logging.getLogger("opsknight.webhooks.attempts")


def attempts_recorded(attempts: list[DeliveryAttempt]) -> None:
    counted = []
    for attempt in attempts:
        delivery = attempt.delivery
        # A success is routine (INFO); a failure is what LOG_LEVEL=WARNING keeps.
        level = logging.INFO if attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED else logging.WARNING
        if attempt_logger.isEnabledFor(level):
            attempt_logger.log(level, "webhook attempt", extra=attempt_fields(attempt))
        if not delivery.is_test:
            finished = delivery.status != Delivery.Status.PENDING
            counted.append((delivery.event.type, str(attempt.outcome), attempt.duration_ms, finished))
    if counted:
        metrics.count_attempts(counted)


def attempt_fields(attempt: DeliveryAttempt) -> dict:
    delivery = attempt.delivery
    retry = delivery.status == Delivery.Status.PENDING
    return {
        "delivery_id": delivery.pk,
        "endpoint_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event.type,
        "attempt": attempt.number,
        "outcome": str(attempt.outcome),
        # What happens next: succeeded, pending (a retry at next_attempt_at), or failed.
        "delivery_status": str(delivery.status),
        "next_attempt_at": opsknight_format.iso_z(delivery.next_attempt_at) if retry else None,
        "status": attempt.response_status,
        "duration_ms": attempt.duration_ms,
        "error_class": attempt.error_class or None,
        "test": delivery.is_test,
    }
