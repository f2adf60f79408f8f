"""Wake-ups for workers. Redis only carries these; the database is the source of truth,
so a message that fails to go out is logged and the dispatcher sends it again later."""

import logging

from django.conf import settings
from django.db import transaction

from opsknight.celery import app

logger = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.tasks.deliver_batch"
EXPAND_TASK = "webhooks.tasks.expand_events"
# Fail fast when Redis is down: the dispatcher re-enqueues, a request must not hang.
_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def countdown_fits(delay: float) -> bool:
    """A countdown past Redis's visibility timeout would be redelivered before it is due."""
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    return delay < timeout * 0.9


def enqueue_deliveries(delivery_ids: list[str], *, countdown: float | None = None) -> None:
    """One message per WEBHOOK_BATCH_SIZE deliveries: a fan-out to a thousand endpoints
    is a few messages, each sent concurrently by one task."""
    size = settings.WEBHOOK_BATCH_SIZE
    try:
        for start in range(0, len(delivery_ids), size):
            batch = delivery_ids[start : start + size]
            app.send_task(DELIVER_TASK, args=[batch], countdown=countdown, retry_policy=_PUBLISH_RETRY)
    except Exception:  # noqa: BLE001 - any broker failure: the dispatcher takes over
        logger.warning("Could not enqueue %d deliveries; the dispatcher will retry them.", len(delivery_ids))


def enqueue_deliveries_on_commit(delivery_ids: list[str], *, countdown: float | None = None) -> None:
    if delivery_ids:
        transaction.on_commit(lambda: enqueue_deliveries(delivery_ids, countdown=countdown))


def enqueue_expansion(event_ids: list[str]) -> None:
    """Wake a worker to write the deliveries of large fan-outs (outbox.event_expand)."""
    try:
        app.send_task(EXPAND_TASK, args=[event_ids], retry_policy=_PUBLISH_RETRY)
    except Exception:  # noqa: BLE001 - any broker failure: the dispatcher takes over
        logger.warning("Could not enqueue the expansion of %d events; the dispatcher will.", len(event_ids))


def enqueue_expansion_on_commit(event_id: str) -> None:
    transaction.on_commit(lambda: enqueue_expansion([event_id]))
