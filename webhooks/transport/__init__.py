"""Transport: the HTTP side of one attempt, knowing no models.

- `connections`: the hardened client (address check, TLS and Host by name, proxy, CA bundle);
- `deadline`: one total deadline per attempt, enforced by a watchdog;
- `client`: `send` one request → `AttemptResult`, storable whatever the receiver did (`storable`);
- `outgoing`: the headers that go out (signatures, custom-header rules, redaction);
- `pool`: the sending pool (threads, per-endpoint cap): `start_many`.
"""

from webhooks.transport.client import AttemptResult, attempt_seconds, send
from webhooks.transport.connections import http_session
from webhooks.transport.outgoing import (
    MAX_CUSTOM_HEADERS,
    REDACTED,
    USER_AGENT,
    build_headers,
    custom_header_errors,
    is_sensitive_header,
    redact_headers,
)
from webhooks.transport.pool import OutgoingRequest, Sending, busy_endpoint_keys, start_many

__all__ = [
    "MAX_CUSTOM_HEADERS",
    "REDACTED",
    "USER_AGENT",
    "AttemptResult",
    "OutgoingRequest",
    "Sending",
    "attempt_seconds",
    "build_headers",
    "busy_endpoint_keys",
    "custom_header_errors",
    "http_session",
    "is_sensitive_header",
    "redact_headers",
    "send",
    "start_many",
]
