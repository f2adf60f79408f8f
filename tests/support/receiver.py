"""A real HTTP receiver on 127.0.0.1 for tests: it records every request (bytes,
headers, arrival time) and answers a programmable sequence of responses per path."""

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

    def header(self, name: str) -> str | None:
        return {k.lower(): v for k, v in self.headers.items()}.get(name.lower())


class Receiver:
    """`receiver.url("/a")` to point an endpoint at it; `receiver.script("/a", [500, 200])`
    to choose the answers (ints or Reply; the last default is 200); `wait_for(n)`."""

    def __init__(self, port: int = 0):
        self.requests: list[ReceivedRequest] = []
        self._scripts: dict[str, deque] = defaultdict(deque)
        self._changed = threading.Condition()
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
                    receiver.requests.append(ReceivedRequest(self.path, dict(self.headers.items()), body, time.time()))
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

        self.server = Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

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

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening on it (connections are refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
