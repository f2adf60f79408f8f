"""Send one request and say what happened, within one deadline. No database here.

`send` never raises for anything a receiver does: refused, reset, a TLS failure, a
malformed or truncated answer, an answer dripped a byte at a time. Each becomes an
`AttemptResult` whose values are storable as they are. Redirects are never followed (a
3xx is a failure) and at most a bounded prefix of the body is read.
"""

import functools
import time
from dataclasses import dataclass, field
from datetime import datetime

import requests
from django.conf import settings
from django.utils import timezone
from requests.models import PreparedRequest

from webhooks.transport import addresses, connections, deadline, storable
from webhooks.transport.addresses import TargetRefused


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


def attempt_seconds() -> float:
    """The total deadline of one attempt: connect, TLS, status line, headers and body."""
    return settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT


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


def send(*, url: str, body: bytes, headers: dict[str, str], not_after: float | None = None) -> AttemptResult:
    """POST `body` to `url`. The attempt ends within `attempt_seconds()`, and before
    `not_after` (a time.monotonic() value: the caller's lease, less time to record)."""
    started_at = timezone.now()
    clock = time.monotonic()
    result = AttemptResult(started_at=started_at, duration_ms=0, request_headers=dict(headers))
    budget = attempt_seconds() if not_after is None else min(attempt_seconds(), not_after - clock)
    if budget <= 0:
        result.error_class = "NotSent"
        result.error_message = "Not sent: it waited for a sending thread until its lease was nearly over."
        return result
    attempt = deadline.begin(budget)
    try:
        _send(url=url, body=body, headers=headers, result=result, attempt=attempt)
    finally:
        deadline.end(attempt)
    result.duration_ms = int((time.monotonic() - clock) * 1000)
    return result


def _send(*, url: str, body: bytes, headers: dict[str, str], result: AttemptResult, attempt) -> None:
    try:
        addresses.validate_url_shape(url)
        request = _prepared_post(url=url, body=body, headers=headers)
        proxies = connections.proxies()
        if proxies:
            # The proxy reaches the receiver: check here what its name resolves to now
            # (the proxy must enforce it too: see docs/reliability.md).
            addresses.check_url(url)
        # Straight to the session's adapter (its connection pools): Session.send would
        # add only cookie jars, hooks and redirect handling, none of which a webhook
        # wants, and costs about a third of the CPU of each POST (bench/README.md).
        response = (
            connections.http_session()
            .get_adapter(request.url)
            .send(
                request,
                stream=True,
                timeout=(min(settings.WEBHOOK_CONNECT_TIMEOUT, attempt.remaining()), settings.WEBHOOK_READ_TIMEOUT),
                verify=connections.verify(),
                proxies=proxies,
            )
        )
    except TargetRefused as error:
        result.error_class, result.error_message = "TargetRefused", storable.error_message(str(error))
        return
    except Exception as error:  # noqa: BLE001 - whatever the receiver did is this attempt's outcome
        if attempt.expired:
            result.error_class, result.error_message = "ReadTimeout", _past_deadline(attempt)
        else:
            result.error_class, result.error_message = type(error).__name__, storable.error_message(_describe(error))
        return
    if attempt.expired:
        # The watchdog's shutdown reads as the end of the stream, and http.client takes
        # that for the end of the header block: a status line or headers cut off at the
        # deadline would otherwise pass for a complete answer.
        response.close()
        result.error_class, result.error_message = "ReadTimeout", _past_deadline(attempt)
        return
    result.response_status = response.status_code
    result.response_headers = storable.headers(response.headers)
    excerpt, problem = _read_excerpt(response, attempt=attempt)
    result.response_body_excerpt = storable.text(excerpt[: settings.WEBHOOK_RESPONSE_EXCERPT_BYTES], 1_000_000)
    # The status line is the receiver's verdict; a body that breaks off after it is
    # noted, not held against the delivery (a retry would repeat an accepted event).
    result.error_message = storable.error_message(problem)


def _past_deadline(attempt) -> str:
    return f"No answer within the attempt's deadline of {attempt.seconds:g} s (connect + read timeout)."


def _read_excerpt(response: requests.Response, *, attempt) -> tuple[bytes, str]:
    """At most WEBHOOK_RESPONSE_MAX_READ_BYTES, and no reading past the deadline; and
    what went wrong reading it, if anything ("" when nothing did)."""
    limit = settings.WEBHOOK_RESPONSE_MAX_READ_BYTES
    chunks, size, problem = [], 0, ""
    try:
        # read1: whatever one read brings, so the deadline is checked between reads
        # (read(n) would wait for all n bytes).
        while size < limit and not attempt.expired and attempt.remaining() > 0:
            chunk = response.raw.read1(8192, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except Exception as error:  # noqa: BLE001 - truncated, badly encoded, cut off by the deadline
        if attempt.expired:
            problem = "The body was cut off at the attempt's deadline."
        else:
            problem = f"The body could not be read: {type(error).__name__}: {_describe(error)}"
    finally:
        # A fully read answer gives its connection back to the pool; a cut-off one is closed.
        try:
            response.close()
        except Exception:  # noqa: BLE001, S110 - closing a broken connection can fail too
            pass
    return b"".join(chunks), problem


def _describe(error: Exception) -> str:
    """The useful part of an error, without urllib3's object reprs."""
    if isinstance(error, requests.Timeout):
        return "The receiver did not answer in time."
    reason = str(error.args[0]) if error.args else str(error)
    lowered = reason.lower()
    if isinstance(error, requests.exceptions.SSLError):
        return _tls_reason(reason)
    if isinstance(error, requests.ConnectionError):
        if "refused" in lowered:
            return "Connection refused."
        if "reset" in lowered:
            return "Connection reset by the receiver."
        if "remote end closed connection" in lowered:
            return "The receiver closed the connection without answering."
    return reason[:500]


def _tls_reason(reason: str) -> str:
    """The certificate problem in words an operator can act on."""
    for marker, words in (
        ("Hostname mismatch", "The receiver's certificate is not valid for this host name"),
        ("IP address mismatch", "The receiver's certificate is not valid for this IP address"),
        ("certificate has expired", "The receiver's certificate has expired"),
        ("self-signed certificate", "The receiver's certificate is self-signed"),
        ("unable to get local issuer certificate", "The receiver's certificate is not from a trusted CA"),
    ):
        if marker in reason:
            return f"{words} (TLS: {reason[:300]})."
    return f"TLS failed: {reason[:400]}"
