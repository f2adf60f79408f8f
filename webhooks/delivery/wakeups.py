"""Wake-ups for workers. Redis only carries these; the database is the source of truth,
so a message that fails to go out is logged and the dispatcher sends it again later."""

import atexit
import logging
import queue
import threading

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


def _send_ids(task: str, ids: list[str], *, what: str, countdown: float | None = None, producer=None) -> None:
    # A short argsrepr: Celery's own repr of up to WEBHOOK_BATCH_SIZE ids was an eighth
    # of the publish's CPU, for a header only logs and monitors show.
    app.send_task(
        task,
        args=[ids],
        argsrepr=f"[<{len(ids)} {what} ids>]",
        countdown=countdown,
        retry_policy=_PUBLISH_RETRY,
        producer=producer,
    )


def enqueue_deliveries(delivery_ids: list[str], *, countdown: float | None = None, producer=None) -> None:
    """One message per WEBHOOK_BATCH_SIZE deliveries: a fan-out to a thousand endpoints
    is a few messages, each sent concurrently by one task."""
    size = settings.WEBHOOK_BATCH_SIZE
    try:
        for start in range(0, len(delivery_ids), size):
            batch = delivery_ids[start : start + size]
            _send_ids(DELIVER_TASK, batch, what="delivery", countdown=countdown, producer=producer)
    except Exception:  # noqa: BLE001 - any broker failure: the dispatcher takes over
        logger.warning("Could not enqueue %d deliveries; the dispatcher will retry them.", len(delivery_ids))


def enqueue_expansion(event_ids: list[str], *, producer=None) -> None:
    """Wake a worker to write the deliveries of large fan-outs (outbox.event_expand)."""
    try:
        _send_ids(EXPAND_TASK, event_ids, what="event", producer=producer)
    except Exception:  # noqa: BLE001 - any broker failure: the dispatcher takes over
        logger.warning("Could not enqueue the expansion of %d events; the dispatcher will.", len(event_ids))


class _Publisher:
    """One thread per process sends the wake-ups that commits ask for, so a request
    does not wait for building and publishing a Celery message (a few tenths of a
    millisecond of CPU, and Redis's round trips): a commit only hands its ids over.
    What has piled up since the last send goes out together, in as few messages as the
    batch size allows, on one kept producer.
    Ids still queued when the process dies are found by the dispatcher."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, kind: str, ids: list[str]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="wakeups", daemon=True)
                self._thread.start()
        self._queue.put((kind, ids))

    def _run(self) -> None:
        while True:
            self._send([self._queue.get()])

    def flush(self) -> None:
        """Send whatever is queued, now, on this thread (at exit)."""
        pending = []
        while True:
            try:
                pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if pending:
            self._send(pending)

    def _send(self, pending: list[tuple[str, list[str]]]) -> None:
        while True:  # and whatever else is already waiting: one pass for all of it
            try:
                pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        deliveries = [i for kind, ids in pending if kind == DELIVER_TASK for i in ids]
        events = [i for kind, ids in pending if kind == EXPAND_TASK for i in ids]
        try:
            with app.producer_or_acquire() as producer:
                if deliveries:
                    enqueue_deliveries(deliveries, producer=producer)
                if events:
                    enqueue_expansion(events, producer=producer)
        except Exception:  # noqa: BLE001 - never let the thread die: the dispatcher re-sends
            logger.warning("Could not publish %d wake-ups; the dispatcher will.", len(deliveries) + len(events))


_publisher = _Publisher()
atexit.register(_publisher.flush)


def enqueue_deliveries_on_commit(delivery_ids: list[str], *, countdown: float | None = None) -> None:
    if not delivery_ids:
        return
    if countdown is None:
        transaction.on_commit(lambda: _publisher.submit(DELIVER_TASK, delivery_ids))
    else:
        transaction.on_commit(lambda: enqueue_deliveries(delivery_ids, countdown=countdown))


def enqueue_expansion_on_commit(event_id: str) -> None:
    transaction.on_commit(lambda: _publisher.submit(EXPAND_TASK, [event_id]))
