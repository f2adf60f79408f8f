"""HTTPS by name in front of a server that speaks only plain HTTP, the way a load
balancer or ingress terminates TLS for a receiver: it accepts TLS on a loopback address
with a certificate from the test CA (tests/support/tls.py) and relays the bytes, both
ways and unchanged, to 127.0.0.1:<backend port>. The `Host` header the backend sees is
the one the sender wrote (the URL's name and port)."""

import itertools
import select
import socket
import ssl
import threading
from dataclasses import dataclass


@dataclass
class FrontConnection:
    id: int
    sni: str | None = None
    error: str = ""  # the TLS handshake's failure, if it failed


class TlsFront:
    def __init__(self, backend_port: int, cert, *, name: str, host: str = "127.0.0.1"):
        self.backend_port, self.name, self.host = backend_port, name, host
        self.connections: list[FrontConnection] = []
        self._ids = itertools.count(1)
        self._current = threading.local()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._context = cert.server_context()
        self._context.sni_callback = self._record_sni
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, 0), family=family, backlog=128)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"https://{self.name}:{self.port}{path}"

    def _record_sni(self, _ssl_socket, server_name, _context):
        self._current.connection.sni = server_name

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        connection = FrontConnection(next(self._ids))
        self._current.connection = connection
        with self._lock:
            self.connections.append(connection)
            self._open.add(client)
        backend = None
        try:
            try:
                client = self._context.wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError) as error:
                connection.error = str(error)
                return
            with self._lock:
                self._open.add(client)
            backend = socket.create_connection(("127.0.0.1", self.backend_port), timeout=10)
            backend.settimeout(None)
            with self._lock:
                self._open.add(backend)
            self._relay(client, backend)
        except OSError:
            pass
        finally:
            for sock in (client, backend):
                if sock is not None:
                    with self._lock:
                        self._open.discard(sock)
                    try:
                        sock.close()
                    except OSError:
                        pass

    @staticmethod
    def _relay(tls_socket: ssl.SSLSocket, backend: socket.socket) -> None:
        """One thread per connection (an SSL object must not be read and written from two
        threads at once): whichever side has bytes, to the other, until either closes."""
        while True:
            readable, _, _ = select.select([tls_socket, backend], [], [])
            for source in readable:
                target = backend if source is tls_socket else tls_socket
                data = source.recv(65536)
                if not data:
                    return
                target.sendall(data)
                while source is tls_socket and tls_socket.pending():
                    target.sendall(tls_socket.recv(65536))

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            still_open = list(self._open)
        for sock in still_open:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
