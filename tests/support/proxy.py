"""A small egress proxy on 127.0.0.1 for tests, like the smokescreen-style proxies that
users put in front of webhooks: `CONNECT host:port` tunnels (https receivers) and
absolute-URI forwarding (http receivers). It records what it was asked to reach."""

import select
import socket
import threading
from urllib.parse import urlsplit


class Proxy:
    def __init__(self):
        self.requests: list[str] = []  # "CONNECT host:port" or "POST http://…"
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket):
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            request_line, _, rest = head.partition(b"\r\n")
            method, target, _ = request_line.decode("latin-1").split(" ", 2)
            self.requests.append(f"{method} {target}")
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=5)
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                leftover = head.partition(b"\r\n\r\n")[2]
            else:
                parts = urlsplit(target)
                upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=5)
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                leftover = f"{method} {path} HTTP/1.1\r\n".encode() + rest
            with upstream:
                if leftover:
                    upstream.sendall(leftover)
                self._pipe(client, upstream)

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket):
        sockets = [a, b]
        while True:
            readable, _, _ = select.select(sockets, [], [], 10)
            if not readable:
                return
            for sock in readable:
                try:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
                except OSError:  # either side hung up or reset: the tunnel ends
                    return

    def close(self):
        self._closed = True
        self._listener.close()
