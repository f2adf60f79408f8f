"""Transport: build the signed request for one attempt and send it. No database here.

One `requests.Session` per worker process reuses connections to each receiver.
Redirects are never followed (a 3xx is a failure), and at most a bounded prefix of
the answer is read, so a huge or endless response cannot tie up a worker.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime

import requests
from django.conf import settings
from django.utils import timezone

import opsknight
from webhooks import signing
from webhooks.targets import TargetRefused, check_target

USER_AGENT = f"OpsKnight-Webhooks/{opsknight.__version__}"

_session: requests.Session | None = None


def http_session() -> requests.Session:
    global _session
    if _session is None:
        session = requests.Session()
        # No proxies from the environment: the target check must see the real peer.
        session.trust_env = False
        adapter = requests.adapters.HTTPAdapter(pool_connections=64, pool_maxsize=64, max_retries=0)
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


def build_headers(
    *, delivery_id: str, event_id: str, event_type: str, body: bytes, secrets: list[str], timestamp: int
) -> dict[str, str]:
    return {
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


def _read_excerpt(response: requests.Response) -> bytes:
    limit = settings.WEBHOOK_RESPONSE_MAX_READ_BYTES
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=8192):
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    finally:
        # A fully read answer gives its connection back to the pool; a cut-off one is closed.
        response.close()
    return b"".join(chunks)


def send(*, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
    started_at = timezone.now()
    clock = time.monotonic()
    result = AttemptResult(started_at=started_at, duration_ms=0, request_headers=dict(headers))
    try:
        check_target(url)
        response = http_session().post(
            url,
            data=body,
            headers=headers,
            timeout=(settings.WEBHOOK_CONNECT_TIMEOUT, settings.WEBHOOK_READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        )
        result.response_status = response.status_code
        result.response_headers = dict(response.headers)
        excerpt = _read_excerpt(response)[: settings.WEBHOOK_RESPONSE_EXCERPT_BYTES]
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
        return reason[:500]
    return str(error)[:500]
