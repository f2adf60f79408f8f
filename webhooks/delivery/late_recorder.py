"""The late recorder: one thread per worker process that records the attempts a batch
stopped waiting for (a slow or hanging receiver), so they hold no task thread."""

import logging
import queue
import threading

from django.conf import settings
from django.db import close_old_connections, connection

from webhooks.delivery import recording
from webhooks.models import Delivery

logger = logging.getLogger(__name__)


class _LateRecorder:
    """One thread per worker process that records the attempts a batch stopped waiting
    for (a slow or hanging receiver), in bulk, on its own database connection. Their
    deliveries stay leased until then; if this process dies first, the lease runs out
    and the dispatcher sends them again (at least once: a possible duplicate, no loss)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def record_when_done(self, delivery: Delivery, future) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="late-recorder", daemon=True)
                self._thread.start()
        future.add_done_callback(lambda done: self._queue.put((delivery, done.result(), delivery.is_test)))

    def _run(self) -> None:
        while True:
            try:
                records = [self._queue.get(timeout=LATE_RECORDER_IDLE_SECONDS)]
            except queue.Empty:
                connection.close()  # idle: give the database connection back
                records = [self._queue.get()]
            # Whatever else ended meanwhile goes into the same statements.
            while len(records) < settings.WEBHOOK_BATCH_SIZE:
                try:
                    records.append(self._queue.get(timeout=0.05))
                except queue.Empty:
                    break
            try:
                close_old_connections()
                recording.record_attempts(records)
            except Exception:  # noqa: BLE001 - the leases expire and the dispatcher resends
                logger.exception("Could not record %d attempts; they will be sent again.", len(records))


# Hanging receivers end in bursts of timeouts; between bursts the recorder holds no
# database connection.
LATE_RECORDER_IDLE_SECONDS = 1.0
_late_recorder = _LateRecorder()


# Hanging receivers end in bursts of timeouts; between bursts the recorder holds no
# database connection.
LATE_RECORDER_IDLE_SECONDS = 1.0
_late_recorder = _LateRecorder()


def record_when_done(delivery: Delivery, future) -> None:
    _late_recorder.record_when_done(delivery, future)
