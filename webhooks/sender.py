"""Transport: build the signed request for one attempt and send it. No database here.

One `requests.Session` per worker process reuses connections to each receiver, and one
thread pool per process sends a batch's requests at once (`send_many`). A slow endpoint
(a request in flight, or answered, after more than WEBHOOK_SLOW_REQUEST_SECONDS) may
have at most WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT requests in flight, so it cannot take
every thread.
Redirects are never followed (a 3xx is a failure), and at most a bounded prefix of
the answer is read, so a huge or endless response cannot tie up a worker.
"""

import functools
import itertools
import re
import threading
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import requests
from django.conf import settings
from django.utils import timezone
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

import opsknight
from webhooks import signing, targets
from webhooks.targets import TargetRefused

USER_AGENT = f"OpsKnight-Webhooks/{opsknight.__version__}"


class _CheckedConnectionMixin:
    """Resolves the host itself when a connection is opened, refuses internal addresses
    (targets.resolve_allowed) and connects to an address it checked: one DNS lookup,
    so an answer that changes between check and connect (rebinding) cannot get in.
    Host header and TLS server name still carry the hostname."""

    def _new_conn(self):
        host = getattr(self, "_target_host", None) or self._dns_host
        self._target_host = host
        last_error = None
        for _, address in targets.resolve_allowed(host, self.port):
            self._dns_host = address
            try:
                return super()._new_conn()
            except (NewConnectionError, ConnectTimeoutError) as error:
                last_error = error
        raise last_error


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }


_session: requests.Session | None = None


def http_session() -> requests.Session:
    global _session
    if _session is None:
        session = requests.Session()
        # No proxies from the environment: the address check must see the real peer.
        session.trust_env = False
        adapter = _CheckedAdapter(pool_connections=64, pool_maxsize=64, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _session = session
    return _session


@dataclass
class AttemptResult:
    started_at: datetime
    duration_ms: int
    request_headers: dict
    response_status: int | None = None
    response_headers: dict = field(default_factory=dict)
    response_body_excerpt: str = ""
    error_class: str = ""
    error_message: str = ""

    @property
    def succeeded(self) -> bool:
        return not self.error_class and self.response_status is not None and 200 <= self.response_status < 300

    @property
    def summary(self) -> str:
        """One line for `last_error` and operator messages."""
        if self.error_class:
            return f"{self.error_class}: {self.error_message}"
        if self.succeeded:
            return ""
        if self.response_status is not None and 300 <= self.response_status < 400:
            return f"HTTP {self.response_status} (redirects are not followed)"
        return f"HTTP {self.response_status}"


# Custom headers an operator sets on an endpoint (sent on every attempt) may not
# replace what the sender sets, what signing covers, or what HTTP itself manages.
RESERVED_HEADER_NAMES = frozenset(
    {
        "content-type", "content-length", "content-encoding", "transfer-encoding", "user-agent", "host",
        "connection", "keep-alive", "te", "trailer", "upgrade", "expect", "date",
    }
)  # fmt: skip
RESERVED_HEADER_PREFIXES = ("webhook-", "x-opsknight-", "proxy-", "sec-")
MAX_CUSTOM_HEADERS = 20
MAX_CUSTOM_HEADER_NAME_LENGTH = 100
MAX_CUSTOM_HEADER_VALUE_LENGTH = 1000
# RFC 7230 token: what a header name may be made of.
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Visible ASCII, spaces and tabs: no CR, LF or NUL (header injection), nothing requests
# would have to encode.
HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Custom header values that look like credentials are kept out of the attempt log and
# API answers; a value equal to REDACTED sent back on update keeps the stored one.
SENSITIVE_HEADER_WORDS = ("auth", "token", "secret", "key", "password", "cookie", "session", "signature")
REDACTED = "[redacted]"


def custom_header_errors(headers) -> list[str]:
    """What is wrong with a set of custom headers ({name: value}); [] when they are fine."""
    if not isinstance(headers, dict):
        return ["Give the headers as an object of names to values."]
    errors = []
    if len(headers) > MAX_CUSTOM_HEADERS:
        errors.append(f"At most {MAX_CUSTOM_HEADERS} custom headers.")
    seen = set()
    for name, value in headers.items():
        if not isinstance(name, str) or not HEADER_NAME.fullmatch(name) or len(name) > MAX_CUSTOM_HEADER_NAME_LENGTH:
            errors.append(
                f"'{str(name)[:100]}' is not a header name: use letters, digits and !#$%&'*+-.^_`|~ "
                f"(at most {MAX_CUSTOM_HEADER_NAME_LENGTH} characters)."
            )
            continue
        lowered = name.lower()
        if lowered in RESERVED_HEADER_NAMES or lowered.startswith(RESERVED_HEADER_PREFIXES):
            errors.append(f"'{name}' is reserved: OpsKnight or HTTP sets it.")
        elif lowered in seen:
            errors.append(f"'{name}' is given twice (header names are case-insensitive).")
        seen.add(lowered)
        if not isinstance(value, str) or not HEADER_VALUE.fullmatch(value):
            errors.append(f"The value of '{name}' must be text of visible ASCII characters (no line breaks).")
        elif len(value) > MAX_CUSTOM_HEADER_VALUE_LENGTH:
            errors.append(f"The value of '{name}' is longer than {MAX_CUSTOM_HEADER_VALUE_LENGTH} characters.")
    return errors


def is_sensitive_header(name: str) -> bool:
    return any(word in name.lower() for word in SENSITIVE_HEADER_WORDS)


def redact_headers(headers: dict[str, str], *, custom: dict[str, str]) -> dict[str, str]:
    """`headers` with the values of sensitive custom headers replaced by REDACTED."""
    hidden = {name.lower() for name in custom if is_sensitive_header(name)}
    return {name: REDACTED if name.lower() in hidden else value for name, value in headers.items()}


def build_headers(
    *,
    delivery_id: str,
    event_id: str,
    event_type: str,
    body: bytes,
    secrets: list[str],
    timestamp: int,
    custom_headers: dict[str, str] | None = None,
) -> dict[str, str]:
    # Custom headers first: none of them can be one of ours (custom_header_errors).
    return {
        **(custom_headers or {}),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-OpsKnight-Event": event_type,
        "X-OpsKnight-Delivery": delivery_id,
        "X-OpsKnight-Signature": signing.opsknight_signature(secret=secrets[0], body=body),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.standard_webhooks_signature(
            secrets=secrets, msg_id=event_id, timestamp=timestamp, body=body
        ),
    }


@functools.lru_cache(maxsize=4096)
def _prepared_url(url: str) -> str:
    """The URL as requests sends it (IDNA host, percent-encoded path); endpoints are few."""
    request = PreparedRequest()
    request.prepare_url(url, None)
    return request.url


def _prepared_post(*, url: str, body: bytes, headers: dict[str, str]) -> PreparedRequest:
    request = PreparedRequest()
    request.method = "POST"
    request.url = _prepared_url(url)
    # prepare_headers refuses a header value that could split the request (CR/LF).
    request.prepare_headers({"Accept": "*/*", "Accept-Encoding": "gzip, deflate", **headers})
    request.headers["Content-Length"] = str(len(body))
    request.body = body
    return request


def _read_excerpt(response: requests.Response, *, deadline: float) -> bytes:
    """At most WEBHOOK_RESPONSE_MAX_READ_BYTES, and no reading past `deadline`: the read
    timeout applies to each read, so a receiver that drips its answer a few bytes at a
    time could otherwise hold the attempt past its lease."""
    limit = settings.WEBHOOK_RESPONSE_MAX_READ_BYTES
    chunks, size = [], 0
    try:
        # read1: whatever one read brings, so the deadline is checked between reads
        # (read(n) would wait for all n bytes).
        while size < limit and time.monotonic() < deadline:
            chunk = response.raw.read1(8192, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        # A fully read answer gives its connection back to the pool; a cut-off one is closed.
        response.close()
    return b"".join(chunks)


def send(*, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
    started_at = timezone.now()
    clock = time.monotonic()
    result = AttemptResult(started_at=started_at, duration_ms=0, request_headers=dict(headers))
    try:
        targets.validate_url_shape(url)
        request = _prepared_post(url=url, body=body, headers=headers)
        # Straight to the session's adapter (its connection pools): Session.send would
        # add only cookie jars, hooks and redirect handling, none of which a webhook
        # wants, and costs about a third of the CPU of each POST (bench/README.md).
        response = (
            http_session()
            .get_adapter(request.url)
            .send(request, stream=True, timeout=(settings.WEBHOOK_CONNECT_TIMEOUT, settings.WEBHOOK_READ_TIMEOUT))
        )
        result.response_status = response.status_code
        result.response_headers = dict(response.headers)
        deadline = clock + settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT
        excerpt = _read_excerpt(response, deadline=deadline)[: settings.WEBHOOK_RESPONSE_EXCERPT_BYTES]
        result.response_body_excerpt = excerpt.decode("utf-8", errors="replace")
    except TargetRefused as error:
        result.error_class, result.error_message = "TargetRefused", str(error)
    except requests.RequestException as error:
        result.error_class, result.error_message = type(error).__name__, _describe(error)
    result.duration_ms = int((time.monotonic() - clock) * 1000)
    return result


def _describe(error: requests.RequestException) -> str:
    """The useful part of a requests error, without urllib3's object reprs."""
    if isinstance(error, requests.Timeout):
        return "The receiver did not answer in time."
    if isinstance(error, requests.ConnectionError):
        reason = str(error.args[0]) if error.args else str(error)
        if "refused" in reason.lower():
            return "Connection refused."
        if "reset" in reason.lower():
            return "Connection reset by the receiver."
        if "remote end closed connection" in reason.lower():
            return "The receiver closed the connection without answering."
        return reason[:500]
    return str(error)[:500]


@dataclass(frozen=True)
class OutgoingRequest:
    url: str
    body: bytes
    headers: dict[str, str]
    # Requests with the same key share the per-endpoint cap; None: not capped (Send Test).
    endpoint_key: str | None


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


def _send_and_release(request: OutgoingRequest, token: int) -> AttemptResult:
    _mark_started(request.endpoint_key, token)
    try:
        return send(url=request.url, body=request.body, headers=request.headers)
    finally:
        _release(request.endpoint_key, token)


def send_many(requests: list[OutgoingRequest]) -> list[AttemptResult | None]:
    """Send all at once; a result per request, in order. None: not sent, because its
    endpoint is slow and already has its cap of requests in flight (the caller defers it)."""
    tokens = [_reserve(request.endpoint_key) for request in requests]
    admitted = [(request, token) for request, token in zip(requests, tokens, strict=True) if token is not None]
    if len(admitted) == 1:  # no hop through the pool for a single request
        sent = iter([_send_and_release(*admitted[0])])
    else:
        sent = _send_pool().map(_send_and_release, *zip(*admitted, strict=True)) if admitted else iter(())
    return [next(sent) if token is not None else None for token in tokens]


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


def start_many(requests: list[OutgoingRequest]) -> list[Sending | None]:
    """As send_many, without waiting: a Sending per request, or None where the endpoint
    is at its cap."""
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
    return _send_and_release(request, token)
