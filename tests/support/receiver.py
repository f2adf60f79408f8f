"""A real HTTP receiver for tests: it records every request (bytes, headers, arrival
time, the connection it came on and, over TLS, the server name the client asked for)
and answers a programmable sequence of responses per path.

Plain HTTP on 127.0.0.1 by default. `Receiver(tls=cert, host="127.0.0.2", name=...)`
serves HTTPS (tests/support/tls.py certificates), on another loopback address, under a
test host name (tests/support/testhosts.py); `tls={name: cert, ...}` serves a
certificate per SNI name, as one address serving several virtual hosts does.
"""

import itertools
import socket
import ssl
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0
    headers: dict = field(default_factory=dict)


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float  # time.time()
    # Which connection it came on (numbered from 1 per receiver): requests on one
    # keep-alive connection share it.
    connection_id: int = 0
    # Over TLS: the server name (SNI) the client sent, None if it sent none; always
    # None over plain HTTP.
    sni: str | None = None

    def header(self, name: str) -> str | None:
        return {k.lower(): v for k, v in self.headers.items()}.get(name.lower())


@dataclass
class TlsFailure:
    """A TLS handshake that did not complete (the client refused the certificate, say)."""

    connection_id: int
    sni: str | None
    error: str


class Receiver:
    """`receiver.url("/a")` to point an endpoint at it; `receiver.script("/a", [500, 200])`
    to choose the answers (ints or Reply; the last default is 200); `wait_for(n)`.

    `tls`: a tls.ServerCert, or {server name: ServerCert} (chosen by SNI; a name not in
    the map, or no SNI, gets the first one). `host`: the loopback address to listen on
    (IPv6 too, "::1"). `name`: the host name `url()` uses unless told another."""

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", tls=None, name: str | None = None):
        self.requests: list[ReceivedRequest] = []
        self.tls_failures: list[TlsFailure] = []
        self._scripts: dict[str, deque] = defaultdict(deque)
        self._changed = threading.Condition()
        self.host, self.name = host, name
        self.tls = tls
        self._context = self._server_context(tls) if tls is not None else None
        self._connection_ids = itertools.count(1)
        # The connection being served by this thread: (id, SNI), set before its handler runs.
        self._current = threading.local()
        self._open: set[socket.socket] = set()  # connections being served, closed by close()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                # Recorded on arrival, before the answer: once a sender has its answer,
                # the request is in `requests` (no race with a check right after a send).
                with receiver._changed:
                    script = receiver._scripts[self.path]
                    reply = script.popleft() if script else Reply()
                    receiver.requests.append(
                        ReceivedRequest(
                            self.path,
                            dict(self.headers.items()),
                            body,
                            time.time(),
                            connection_id=receiver._current.connection_id,
                            sni=receiver._current.sni,
                        )
                    )
                    receiver._changed.notify_all()
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the sender gave up (timeout): it still counts as received

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            # The default backlog of 5 resets connections when a batch sends dozens at once.
            request_queue_size = 256
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

            def handle_error(self, request, client_address):
                # A sender that hangs up (a killed worker, a timeout) is not a test failure.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

            def finish_request(self, request, client_address):
                # In the connection's own thread: the TLS handshake (a slow client holds
                # only its thread), then the handler, which reads `_current`.
                receiver._current.connection_id = next(receiver._connection_ids)
                receiver._current.sni = None
                with receiver._changed:
                    receiver._open.add(request)
                try:
                    if receiver._context is None:
                        return super().finish_request(request, client_address)
                    try:
                        tls_socket = receiver._context.wrap_socket(request, server_side=True)
                    except (ssl.SSLError, OSError) as error:
                        with receiver._changed:
                            receiver.tls_failures.append(
                                TlsFailure(receiver._current.connection_id, receiver._current.sni, str(error))
                            )
                            receiver._changed.notify_all()
                        return
                    with receiver._changed:
                        receiver._open.discard(request)
                        receiver._open.add(tls_socket)
                    request = tls_socket
                    try:
                        super().finish_request(request, client_address)
                    finally:
                        # wrap_socket detached the plain socket: shutdown_request cannot close this one.
                        try:
                            request.close()
                        except OSError:
                            pass
                finally:
                    with receiver._changed:
                        receiver._open.discard(request)

        self.server = Server((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _server_context(self, tls) -> ssl.SSLContext:
        certs = tls if isinstance(tls, dict) else {None: tls}
        contexts = {name: cert.server_context() for name, cert in certs.items()}
        default = next(iter(contexts.values()))

        def choose(ssl_socket, server_name, _context):
            # Runs during the handshake, in the connection's thread (finish_request).
            self._current.sni = server_name
            chosen = contexts.get(server_name, default)
            if chosen is not default:
                ssl_socket.context = chosen

        default.sni_callback = choose
        return default

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    def netloc(self, name: str | None = None) -> str:
        """host:port as a URL (and the Host header) carries it."""
        host = name or self.name or self.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def url(self, path: str = "/hook", name: str | None = None) -> str:
        """`{scheme}://{name}:{port}{path}`: `name`, else the receiver's name, else its address."""
        return f"{self.scheme}://{self.netloc(name)}{path}"

    def script(self, path: str, replies) -> None:
        with self._changed:
            self._scripts[path].extend(r if isinstance(r, Reply) else Reply(status=r) for r in replies)

    def received(self, path: str | None = None) -> list[ReceivedRequest]:
        with self._changed:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 15.0) -> list[ReceivedRequest]:
        """Wait until at least `count` requests (to `path`) arrived; fail after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = [r for r in self.requests if path is None or r.path == path]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests to {path or 'any path'}, got {len(got)}")
                self._changed.wait(left)

    def wait_for_tls_failures(self, count: int = 1, timeout: float = 5.0) -> list[TlsFailure]:
        """The client's refusal reaches the receiver's thread after the client has moved
        on: wait for it."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.tls_failures) >= count, timeout):
                raise AssertionError(f"expected {count} failed TLS handshakes, got {len(self.tls_failures)}")
            return list(self.tls_failures)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        # Kept-alive connections too: a sender's pooled connection must not reach a
        # receiver of a later test that happens to get the same port.
        with self._changed:
            still_open = list(self._open)
        for connection in still_open:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening on it (connections are refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
