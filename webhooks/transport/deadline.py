"""One total deadline per attempt: connect, TLS, status line, headers and body together.

Socket timeouts bound each read, so a receiver that drips its status line a byte at a
time would hold an attempt for as long as it likes. A watchdog thread (one per process)
shuts down the sockets of an attempt whose deadline has passed; the blocked read then
ends at once, and the attempt is recorded as a timeout.
"""

import heapq
import itertools
import socket
import threading
import time


class Attempt:
    """The sockets one attempt uses (new or reused connections), and whether the
    watchdog cut them off."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self.finished = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def add(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired:
                _shut(sock)
            elif sock not in self._sockets:
                self._sockets.append(sock)

    def expire(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def finish(self) -> None:
        with self._lock:
            self.finished = True
            self._sockets.clear()


def _shut(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: the TLS layer is left as it is
    # (another thread is reading through it); the read just sees the end of the stream.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


SWEEP_SECONDS = 0.05


class _Watchdog:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Attempt]] = []
        self._changed = threading.Condition()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, attempt: Attempt) -> None:
        with self._changed:
            heapq.heappush(self._heap, (attempt.deadline, next(self._order), attempt))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="attempt-deadline", daemon=True)
                self._thread.start()
            # Deadlines mostly come in order: the thread only needs waking for an earlier one.
            if self._heap[0][2] is attempt:
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._heap:
                    self._changed.wait()
                left = self._heap[0][0] - time.monotonic()
                if left > 0:
                    # At most SWEEP_SECONDS late, and so at most 1 / SWEEP_SECONDS wake-ups a
                    # second however many attempts are made (most end long before theirs).
                    self._changed.wait(max(left, SWEEP_SECONDS))
                    continue
                now, due = time.monotonic(), []
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
            for attempt in due:
                attempt.expire()


_watchdog = _Watchdog()
_current = threading.local()


def begin(seconds: float) -> Attempt:
    """Start an attempt on this thread that must end within `seconds`."""
    attempt = Attempt(seconds)
    _current.attempt = attempt
    _watchdog.watch(attempt)
    return attempt


def end(attempt: Attempt) -> None:
    attempt.finish()
    if getattr(_current, "attempt", None) is attempt:
        _current.attempt = None


def current() -> Attempt | None:
    """The attempt this thread is making, if any (the connection classes register
    their sockets with it)."""
    return getattr(_current, "attempt", None)
