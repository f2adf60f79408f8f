"""The sending pool: one thread pool per process sends a batch's requests at once.

A slow endpoint (a request in flight, or answered, after more than
WEBHOOK_SLOW_REQUEST_SECONDS) may have at most WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT
requests in flight from this process, so it cannot take every thread. Every request
goes through `start_many`, whoever sends it: the worker, Send Test and the tests.
"""

import itertools
import threading
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings

from webhooks.transport.client import AttemptResult, send


@dataclass(frozen=True)
class OutgoingRequest:
    url: str
    body: bytes
    headers: dict[str, str]
    # Requests with the same key share the per-endpoint cap; None: not capped (Send Test).
    endpoint_key: str | None
    # time.monotonic() by which the attempt must be over (the lease, less time to record).
    not_after: float | None = None


@dataclass
class Sending:
    """A request handed to the sending pool: its future AttemptResult, and when a thread
    began sending it (None while it waits for a thread)."""

    future: Future
    started_at: float | None = None

    def is_hanging(self, now: float) -> bool:
        """In flight (not just queued) for longer than WEBHOOK_SLOW_REQUEST_SECONDS."""
        return (
            not self.future.done()
            and self.started_at is not None
            and now - self.started_at > settings.WEBHOOK_SLOW_REQUEST_SECONDS
        )


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
# Per endpoint: its requests in flight from this process, each with the time (monotonic)
# a thread began sending it (None while it waits for a thread), and until when the
# endpoint counts as slow after a slow answer or a timeout.
_in_flight: dict[str, dict[int, float | None]] = defaultdict(dict)
_slow_until: dict[str, float] = {}
_in_flight_lock = threading.Lock()
_tokens = itertools.count()
# How long an endpoint that answered slowly (or not at all) stays held to its cap.
SLOW_MEMORY_SECONDS = 30.0


def _send_pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=settings.WEBHOOK_SEND_THREADS, thread_name_prefix="send")
        return _executor


def _is_capped(key: str, now: float) -> bool:
    """An endpoint is held to WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT only while it is slow:
    one of its requests is in flight for longer than WEBHOOK_SLOW_REQUEST_SECONDS, or
    one took that long in the last SLOW_MEMORY_SECONDS. A fast endpoint may use the whole
    sending pool; a hanging one, only its cap."""
    starts = _in_flight.get(key, {})
    if len(starts) < settings.WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT:
        return False
    if _slow_until.get(key, 0.0) > now:
        return True
    started = [moment for moment in starts.values() if moment is not None]
    return bool(started) and now - min(started) > settings.WEBHOOK_SLOW_REQUEST_SECONDS


def _reserve(key: str | None) -> int | None:
    """A token for one request in flight to `key`, or None if the endpoint is capped."""
    token = next(_tokens)
    if key is None:
        return token
    now = time.monotonic()
    with _in_flight_lock:
        if _is_capped(key, now):
            return None
        _in_flight[key][token] = None
        return token


def _mark_started(key: str | None, token: int) -> None:
    if key is not None:
        with _in_flight_lock:
            _in_flight[key][token] = time.monotonic()


def _release(key: str | None, token: int) -> None:
    if key is None:
        return
    now = time.monotonic()
    with _in_flight_lock:
        starts = _in_flight[key]
        started = starts.pop(token, None) or now
        if now - started > settings.WEBHOOK_SLOW_REQUEST_SECONDS:
            _slow_until[key] = now + SLOW_MEMORY_SECONDS
        elif _slow_until.get(key, 0.0) <= now:
            _slow_until.pop(key, None)
        if not starts:
            del _in_flight[key]


def busy_endpoint_keys() -> list[str]:
    """Endpoints this process holds back now: slow, with their cap of requests in flight."""
    now = time.monotonic()
    with _in_flight_lock:
        return [key for key in _in_flight if _is_capped(key, now)]


def start_many(requests: list[OutgoingRequest]) -> list[Sending | None]:
    """Hand every request to the sending pool, without waiting: a Sending per request,
    or None where the endpoint is slow and at its cap (the caller defers it)."""
    sendings: list[Sending | None] = []
    for request in requests:
        token = _reserve(request.endpoint_key)
        if token is None:
            sendings.append(None)
            continue
        sending = Sending(future=Future())
        sending.future = _send_pool().submit(_timed_send, sending, request, token)
        sendings.append(sending)
    return sendings


def _timed_send(sending: Sending, request: OutgoingRequest, token: int) -> AttemptResult:
    sending.started_at = time.monotonic()
    _mark_started(request.endpoint_key, token)
    try:
        return send(url=request.url, body=request.body, headers=request.headers, not_after=request.not_after)
    finally:
        _release(request.endpoint_key, token)
