"""The hardened HTTP client: connection classes, adapter and the per-process session.

A direct connection resolves the URL's host once, refuses internal addresses
(`addresses.resolve_allowed`) and opens the socket to the address it checked, so an answer
that changes between check and connect (DNS rebinding) cannot get in. Everything else
speaks to the host *name*: TLS SNI and certificate verification, and `Host: name[:port]`
on every request of a new or reused connection (urllib3 derives both from the
connection's host, which is left alone). Every socket an attempt uses is registered with
the attempt's deadline (`deadline`).

Why not requests-hardened: it pins the filtered IP the same way, but its filter is
`ipaddress.is_private`-style and knows neither the mapped, NAT64, 6to4 and Teredo forms
nor the allow-list of `targets`, and the deadline watchdog needs hooks in the connection
classes anyway; see docs/architecture.md.
"""

import http.client

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as socket_connection

from webhooks.transport import addresses, deadline


class _FinalResponse(http.client.HTTPResponse):
    """Skips every informational (1xx) answer before the final one, as RFC 9110 asks;
    http.client skips only 100 Continue, and would take a 103 Early Hints for the
    receiver's verdict."""

    def _read_status(self):
        while True:
            version, status, reason = super()._read_status()
            if not 100 <= status < 200 or status == 101:
                return version, status, reason
            http.client._read_headers(self.fp)


class _DeadlineMixin:
    """Registers the connection's socket with the attempt using it, when it is opened
    and each time the connection (perhaps a kept-alive one) carries a request."""

    response_class = _FinalResponse

    def _new_conn(self):
        sock = super()._new_conn()
        _register(sock)
        return sock

    def request(self, *args, **kwargs):
        _register(self.sock)
        return super().request(*args, **kwargs)


def _register(sock) -> None:
    attempt = deadline.current()
    if attempt is not None:
        attempt.add(sock)


class _CheckedMixin(_DeadlineMixin):
    """Opens the socket to an address `targets` checked, one DNS lookup per connection;
    `self.host` stays the URL's host name (SNI, certificate check, Host header)."""

    def _new_conn(self):
        last_error = None
        for _, address in addresses.resolve_allowed(self._dns_host, self.port):
            timeout, attempt = self.timeout, deadline.current()
            if attempt is not None and isinstance(timeout, int | float):
                timeout = min(timeout, attempt.remaining())
            try:
                sock = socket_connection.create_connection(
                    (address, self.port),
                    timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as error:
                last_error = ConnectTimeoutError(self, f"Connection to {self.host} ({address}) timed out.")
                last_error.__cause__ = error
            except OSError as error:
                last_error = NewConnectionError(self, f"Failed to establish a new connection: {error}")
                last_error.__cause__ = error
            else:
                _register(sock)
                return sock
        raise last_error


class _CheckedHTTPConnection(_CheckedMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedMixin, HTTPSConnection):
    pass


class _CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


# Through a proxy the socket goes to the proxy, which the operator chose (it may well be
# on an internal address); the receiver's address is checked before sending (`client`).
class _ProxiedHTTPConnection(_DeadlineMixin, HTTPConnection):
    pass


class _ProxiedHTTPSConnection(_DeadlineMixin, HTTPSConnection):
    pass


class _ProxiedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _ProxiedHTTPConnection


class _ProxiedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _ProxiedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {"http": _ProxiedHTTPConnectionPool, "https": _ProxiedHTTPSConnectionPool}
        return manager


_session: requests.Session | None = None


def http_session() -> requests.Session:
    """One session per process: its pools keep connections to each receiver alive."""
    global _session
    if _session is None:
        session = requests.Session()
        # Nothing from the environment (HTTPS_PROXY, REQUESTS_CA_BUNDLE, .netrc): the
        # proxy and the CA bundle are this service's settings, read in one place.
        session.trust_env = False
        adapter = _CheckedAdapter(pool_connections=64, pool_maxsize=64, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _session = session
    return _session


def proxies() -> dict[str, str] | None:
    url = settings.WEBHOOK_PROXY_URL
    return {"http": url, "https": url} if url else None


def verify() -> str | bool:
    """Certificates are always verified: against WEBHOOK_CA_BUNDLE when it is set (a
    private CA), else the default bundle (certifi)."""
    return settings.WEBHOOK_CA_BUNDLE or True
