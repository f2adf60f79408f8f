"""The benchmark's webhook receiver: a separate process, so its CPU can be read from
/proc/<pid>/stat and shown not to be the bottleneck.

A raw asyncio Protocol speaking just enough HTTP/1.1 (keep-alive, Content-Length
bodies) to answer every POST at once with `200 ok`. For each request it records the
path, the `webhook-id` and `X-OpsKnight-Delivery` headers and the arrival time
(`time.time()`, taken when the whole request has arrived). Paths under a "hold"
prefix are recorded but never answered: the connection stays open until the sender
gives up (its read timeout).

Control, on the same port, under /__bench/ (never recorded):
- `POST /__bench/reset`          forget all records
- `POST /__bench/hold`           body: JSON list of path prefixes to hold (replaces the list)
- `GET  /__bench/count`          `{"answered": n, "held": m}`
- `GET  /__bench/records`        JSON list of [path, webhook_id, delivery_id, received_at, held]

Run: `python -m bench.receiver` prints `PORT <n>` on stdout once it listens.
"""

import asyncio
import json
import signal
import sys
import time

CONTROL_PREFIX = "/__bench/"
OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
OK_CLOSE_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
MAX_HEADER_BYTES = 64 * 1024


class State:
    def __init__(self) -> None:
        self.records: list[tuple[str, str | None, str | None, float, bool]] = []
        self.answered = 0
        self.held = 0
        self.hold_prefixes: tuple[str, ...] = ()


class HttpReceiver(asyncio.Protocol):
    def __init__(self, state: State) -> None:
        self.state = state
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.holding = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.holding:
            return  # a held connection is never answered; ignore anything else sent on it
        self.buffer += data
        while self.transport is not None and not self.holding:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                if len(self.buffer) > MAX_HEADER_BYTES:
                    self._fail()
                return
            head = bytes(self.buffer[:head_end]).decode("latin-1")
            lines = head.split("\r\n")
            try:
                method, target, _version = lines[0].split(" ", 2)
            except ValueError:
                self._fail()
                return
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            try:
                length = int(headers.get("content-length") or 0)
            except ValueError:
                self._fail()
                return
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return  # the body is still coming
            body = bytes(self.buffer[head_end + 4 : end])
            del self.buffer[:end]
            self._handle(method, target, headers, body)

    def _handle(self, method: str, target: str, headers: dict, body: bytes) -> None:
        received_at = time.time()
        path = target.split("?", 1)[0]
        if path.startswith(CONTROL_PREFIX):
            self._control(method, path, body)
            return
        state = self.state
        held = bool(state.hold_prefixes) and path.startswith(state.hold_prefixes)
        state.records.append((path, headers.get("webhook-id"), headers.get("x-opsknight-delivery"), received_at, held))
        if held:
            state.held += 1
            self.holding = True
            return
        state.answered += 1
        if headers.get("connection", "").lower() == "close":
            self.transport.write(OK_CLOSE_RESPONSE)
            self.transport.close()
        else:
            self.transport.write(OK_RESPONSE)

    def _control(self, method: str, path: str, body: bytes) -> None:
        state = self.state
        action = path[len(CONTROL_PREFIX) :]
        if action == "reset" and method == "POST":
            state.records, state.answered, state.held = [], 0, 0
            payload = {"ok": True}
        elif action == "hold" and method == "POST":
            state.hold_prefixes = tuple(json.loads(body or b"[]"))
            payload = {"hold": list(state.hold_prefixes)}
        elif action == "count":
            payload = {"answered": state.answered, "held": state.held}
        elif action == "records":
            payload = state.records
        else:
            self.transport.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)
        )

    def _fail(self) -> None:
        self.transport.write(BAD_REQUEST)
        self.transport.close()
        self.transport = None

    def connection_lost(self, exc) -> None:
        self.transport = None


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    state = State()
    server = await loop.create_server(lambda: HttpReceiver(state), "127.0.0.1", port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    asyncio.run(serve(port))


if __name__ == "__main__":
    main()
