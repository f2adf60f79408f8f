"""A receiver that answers badly on purpose: a raw-socket HTTP server on 127.0.0.1 that
reads each request properly and then answers with one scripted misbehaviour (NUL bytes,
a truncated body, an answer dripped a byte at a time, a reset, a 10 MB header block...).

    hostile = HostileReceiver("drip_status", interval=0.25, drip_for=8)
    endpoint = endpoint_create(name="x", url=hostile.url("/hook"))
    ...
    hostile.requests      # every request read, with when it arrived and when its exchange ended
    hostile.close()

It keeps listening for several connections (and several requests on a kept-alive one),
one thread each. Every loop is bounded: a drip lasts at most `drip_for` seconds, an idle
connection is dropped after `idle_timeout`, and the whole server stops by itself after
`lifetime` seconds if nobody calls close().
"""

import select
import socket
import struct
import threading
import time
from dataclasses import dataclass

OK_BODY = b'{"ok":true}'
ANSWER_TO = "X-Answer-To"
# How often a waiting behaviour looks whether the sender hung up.
_POLL = 0.02


@dataclass
class HostileRequest:
    connection: int  # the n-th connection accepted (from 1)
    head: bytes  # request line and headers
    body: bytes
    received_at: float  # time.monotonic() once the whole request was read
    received_wall: float  # time.time() at the same moment
    ended_at: float | None = None  # monotonic: the answer ended, or the sender hung up
    peer_closed: bool = False  # the sender closed the connection before the answer ended

    @property
    def open_seconds(self) -> float | None:
        """How long the exchange lasted, seen from here; None while it is still going."""
        return None if self.ended_at is None else self.ended_at - self.received_at

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode("latin-1")
        return None


class _PeerGone(Exception):
    """The sender closed (or reset) the connection, or the receiver is closing."""


class _Exchange:
    """One answer on one connection: what a behaviour uses to write it."""

    def __init__(self, conn: socket.socket, stop: threading.Event, params: "Params", request: HostileRequest):
        self.conn, self.stop, self.p, self.request = conn, stop, params, request
        self.peer_closed = False

    def send(self, data: bytes) -> None:
        if self.stop.is_set():
            raise _PeerGone
        try:
            self.conn.sendall(data)
        except OSError:
            self.peer_closed = True
            raise _PeerGone from None

    def pause(self, seconds: float) -> None:
        """Wait, noticing at once (within _POLL) if the sender hangs up meanwhile."""
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0:
            if self.stop.is_set():
                raise _PeerGone
            readable, _, _ = select.select([self.conn], [], [], min(left, _POLL))
            if readable:
                try:
                    data = self.conn.recv(65536, socket.MSG_PEEK)
                except OSError:
                    data = b""
                if not data:
                    self.peer_closed = True
                    raise _PeerGone
                # The sender wrote something (it should not): leave it, just wait.
                self.stop.wait(min(left, _POLL))

    def drip(self, data: bytes, *, until: float) -> bool:
        """One byte every `interval` until `data` is out (True) or it is `until` (False)."""
        for index in range(len(data)):
            if time.monotonic() >= until:
                return False
            self.send(data[index : index + 1])
            self.pause(self.p.interval)
        return True

    def reset(self) -> None:
        """Close with an RST instead of a FIN (SO_LINGER 0)."""
        self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.conn.close()


@dataclass
class Params:
    interval: float = 0.25  # seconds between dripped bytes (or endless header lines)
    drip_for: float = 8.0  # how long a drip goes on before the answer completes or stops
    block_bytes: int = 10 * 1024 * 1024  # size of the huge header block / line
    line_bytes: int = 1000  # length of each line of the huge header block
    idle_timeout: float = 5.0  # a kept-alive connection with no new request is dropped
    lifetime: float = 60.0  # the whole receiver stops by itself after this


def _head(status: bytes = b"200 OK", headers=(), *, version: bytes = b"HTTP/1.1") -> bytes:
    return version + b" " + status + b"\r\n" + b"".join(h + b"\r\n" for h in headers)


def _answer(ex: _Exchange, *, status: bytes = b"200 OK", headers=(), body: bytes = OK_BODY) -> bool:
    """A complete answer, naming the request it answers (ANSWER_TO: its delivery id), so a
    sender that reads an earlier request's answer on a kept-alive connection shows."""
    answer_to = (ex.request.header("X-OpsKnight-Delivery") or "-").encode()
    headers = [*headers, ANSWER_TO.encode() + b": " + answer_to, b"Content-Length: %d" % len(body)]
    ex.send(_head(status, headers) + b"\r\n" + body)
    return True  # the connection stays open for another request


# Each behaviour writes one answer; it returns True to keep the connection for another
# request, False to close it. It may raise _PeerGone when the sender hangs up.


def nul_body(ex):
    return _answer(ex, body=b'{"note":"before\x00after"}')


def nul_header(ex):
    return _answer(ex, headers=[b"X-Nul: before\x00after"])


def invalid_utf8_body(ex):
    # A cut-off 2-byte sequence, bytes that never occur in UTF-8, and an encoded surrogate.
    return _answer(ex, body=b"caf\xc3 \xff\xfe bad \xed\xa0\x80 utf-8")


def invalid_utf8_header(ex):
    return _answer(ex, headers=[b"X-Bytes: caf\xc3 \xff\xfe \xed\xa0\x80"])


def truncated_body(ex):
    """Promises 100 bytes, sends 10 and closes."""
    ex.send(_head(headers=[b"Content-Length: 100"]) + b"\r\n" + b"0123456789")
    ex.pause(0.05)
    return False


def bad_gzip(ex):
    return _answer(ex, headers=[b"Content-Encoding: gzip"], body=b"this is not gzip at all")


def drip_status(ex):
    """The status line a byte every `interval`, for `drip_for` seconds (a long reason phrase)."""
    until = time.monotonic() + ex.p.drip_for
    reason = b"O" * (int(ex.p.drip_for / ex.p.interval) + 2)
    ex.drip(b"HTTP/1.1 200 " + reason, until=until)
    ex.send(b"\r\nContent-Length: 2\r\n\r\nok")
    return True


def drip_headers(ex):
    """The status line at once, then the headers a byte every `interval` for `drip_for` s."""
    ex.send(_head())
    until = time.monotonic() + ex.p.drip_for
    value = b"a" * (int(ex.p.drip_for / ex.p.interval) + 2)
    ex.drip(b"X-Drip: " + value, until=until)
    ex.send(b"\r\nContent-Length: 2\r\n\r\nok")
    return True


def endless_headers(ex):
    """The status line, then a new header line every `interval`, never the blank line;
    after `drip_for` seconds it gives up and closes."""
    ex.send(_head())
    until = time.monotonic() + ex.p.drip_for
    number = 0
    while time.monotonic() < until:
        number += 1
        ex.send(b"X-Endless-%d: more\r\n" % number)
        ex.pause(ex.p.interval)
    return False


def drip_body(ex):
    """Status and headers at once (Content-Length: 100000), the body a byte every
    `interval` for `drip_for` seconds, then a close."""
    ex.send(_head(headers=[b"Content-Length: 100000"]) + b"\r\n")
    ex.drip(b"y" * 100000, until=time.monotonic() + ex.p.drip_for)
    return False


def continue_100(ex):
    ex.send(b"HTTP/1.1 100 Continue\r\n\r\n")
    ex.pause(0.05)
    return _answer(ex)


def early_hints_103(ex):
    ex.send(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
    ex.pause(0.05)
    return _answer(ex)


def http10_close(ex):
    """HTTP/1.0, no Content-Length: the body ends where the connection does."""
    ex.send(_head(headers=[b"Content-Type: text/plain"], version=b"HTTP/1.0") + b"\r\n" + b"accepted, see you")
    ex.pause(0.05)
    return False


def reset_in_headers(ex):
    ex.send(b"HTTP/1.1 200 OK\r\nX-Partial: abc")
    ex.pause(0.05)
    ex.reset()
    return False


def reset_in_body(ex):
    ex.send(_head(headers=[b"Content-Length: 1000"]) + b"\r\n" + b"0123456789")
    ex.pause(0.05)
    ex.reset()
    return False


def huge_header_block(ex):
    """`block_bytes` (10 MB) of header lines of `line_bytes` each, then a 200 answer."""
    ex.send(_head())
    line = b"X-Filler-%06d: " + b"f" * max(ex.p.line_bytes - 20, 1) + b"\r\n"
    sent, number = 0, 0
    while sent < ex.p.block_bytes:
        chunk = b"".join(line % (number + n) for n in range(64))
        number += 64
        ex.send(chunk)
        sent += len(chunk)
    ex.send(b"Content-Length: 2\r\n\r\nok")
    return True


def huge_header_line(ex):
    """One header whose value is `block_bytes` (10 MB) long, then a 200 answer."""
    ex.send(_head() + b"X-Huge: ")
    piece = b"h" * 65536
    for _ in range(ex.p.block_bytes // len(piece)):
        ex.send(piece)
    ex.send(b"\r\nContent-Length: 2\r\n\r\nok")
    return True


def healthy(ex):
    return _answer(ex)


BEHAVIOURS = {
    function.__name__: function
    for function in (
        nul_body, nul_header, invalid_utf8_body, invalid_utf8_header, truncated_body, bad_gzip, drip_status,
        drip_headers, endless_headers, drip_body, continue_100, early_hints_103, http10_close, reset_in_headers,
        reset_in_body, huge_header_block, huge_header_line, healthy,
    )
}  # fmt: skip


class HostileReceiver:
    def __init__(self, behaviour: str, **params):
        self.behaviour = BEHAVIOURS[behaviour]
        self.name = behaviour
        self.params = Params(**params)
        self.requests: list[HostileRequest] = []
        self.errors: list[str] = []  # what went wrong in the receiver itself (for a failing test)
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._started = time.monotonic()
        self._accepter = threading.Thread(target=self._accept, name=f"hostile-{behaviour}", daemon=True)
        self._accepter.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def received(self) -> list[HostileRequest]:
        with self._changed:
            return list(self.requests)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[HostileRequest]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: expected {count} requests, got {len(self.requests)}")
                self._changed.wait(left)
            return list(self.requests)

    def wait_ended(self, request: HostileRequest, timeout: float) -> bool:
        """Wait until the exchange of `request` ended; False if it is still going."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while request.ended_at is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def close(self) -> None:
        self._stop.set()
        self._accepter.join(timeout=5)
        with self._changed:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in list(self._threads):
            thread.join(timeout=5)

    # --- inside ---------------------------------------------------------------------

    def _accept(self) -> None:
        number = 0
        try:
            while not self._stop.is_set():
                if time.monotonic() - self._started > self.params.lifetime:
                    self._stop.set()
                    break
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break
                number += 1
                conn.setblocking(True)
                with self._changed:
                    self._connections.append(conn)
                thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
                self._threads.append(thread)
                thread.start()
        finally:
            self._listener.close()

    def _read_request(self, conn: socket.socket, buffer: bytes) -> tuple[bytes, bytes, bytes] | None:
        """(head, body, rest) of the next request, or None when the connection ends or idles."""
        idle_until = time.monotonic() + self.params.idle_timeout
        conn.settimeout(0.1)
        try:
            while b"\r\n\r\n" not in buffer:
                if self._stop.is_set() or time.monotonic() > idle_until or len(buffer) > 1 << 20:
                    return None
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return None
                buffer += data
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            while len(rest) < length:
                if self._stop.is_set() or time.monotonic() > idle_until:
                    return None
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return None
                rest += data
            return head, rest[:length], rest[length:]
        except OSError:
            return None
        finally:
            try:
                conn.settimeout(None)
            except OSError:
                pass

    def _serve(self, conn: socket.socket, number: int) -> None:
        buffer = b""
        try:
            while not self._stop.is_set():
                read = self._read_request(conn, buffer)
                if read is None:
                    return
                head, body, buffer = read
                request = HostileRequest(number, head, body, time.monotonic(), time.time())
                with self._changed:
                    self.requests.append(request)
                    self._changed.notify_all()
                exchange = _Exchange(conn, self._stop, self.params, request)
                keep = False
                try:
                    keep = self.behaviour(exchange)
                except _PeerGone:
                    pass
                except OSError as error:
                    self.errors.append(f"{self.name}: {error!r}")
                with self._changed:
                    request.ended_at = time.monotonic()
                    request.peer_closed = exchange.peer_closed
                    self._changed.notify_all()
                if not keep:
                    return
        finally:
            try:
                conn.close()
            except OSError:
                pass


def overlapping(requests: list[HostileRequest], slack: float = 0.05) -> list[tuple[int, int]]:
    """Pairs (i, j) of requests whose exchanges were open at the same time: a request
    that arrived while an earlier one's answer was still going (or never ended)."""
    ordered = sorted(requests, key=lambda r: r.received_at)
    pairs = []
    for i, earlier in enumerate(ordered):
        for j in range(i + 1, len(ordered)):
            later = ordered[j]
            if earlier.ended_at is None or later.received_at < earlier.ended_at - slack:
                pairs.append((i, j))
    return pairs
