"""What goes out with each request: the signature headers, and the rules for the custom
headers an operator sets on an endpoint (what is reserved, what counts as a credential
and is shown redacted)."""

import re

import opsknight
from webhooks.transport import signing

USER_AGENT = f"OpsKnight-Webhooks/{opsknight.__version__}"


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
    signing_keys: list[str] | None = None,
) -> dict[str, str]:
    """The headers of one attempt. `secrets` (shared secrets, newest first) sign `v1,` and
    X-OpsKnight-Signature, `signing_keys` (`whsk_` ed25519 keys, newest first) sign `v1a,`;
    an endpoint that signs with ed25519 only has no secret, so no X-OpsKnight-Signature."""
    # Custom headers first: none of them can be one of ours (custom_header_errors).
    headers = {
        **(custom_headers or {}),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-OpsKnight-Event": event_type,
        "X-OpsKnight-Delivery": delivery_id,
    }
    if secrets:
        headers["X-OpsKnight-Signature"] = signing.opsknight_signature(secret=secrets[0], body=body)
    headers["webhook-id"] = event_id
    headers["webhook-timestamp"] = str(timestamp)
    headers["webhook-signature"] = signing.webhook_signature(
        secrets=secrets, signing_keys=signing_keys or [], msg_id=event_id, timestamp=timestamp, body=body
    )
    return headers
