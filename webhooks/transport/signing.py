"""Webhook signatures: pure functions, no I/O, tested with fixed vectors.

Two signatures go on every request (see docs/webhooks.md):
- `X-OpsKnight-Signature: sha256=<hex HMAC-SHA256(secret as UTF-8, raw body)>`
- Standard Webhooks `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`,
  one `v1,...` per active secret, space-separated, during a rotation.
"""

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    """`whsec_` + base64 of 32 random bytes, the form Standard Webhooks libraries take as is."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key for `webhook-signature`: the base64-decoded part after `whsec_` for
    secrets of that form (generated ones), the secret's UTF-8 bytes otherwise."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode("utf-8")


def opsknight_signature(*, secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def standard_webhooks_signature(*, secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` per secret (newest first), joined by spaces."""
    signed_content = f"{msg_id}.{timestamp}.".encode() + body
    signatures = []
    for secret in secrets:
        digest = hmac.new(standard_webhooks_key(secret), signed_content, hashlib.sha256).digest()
        signatures.append("v1," + base64.b64encode(digest).decode("ascii"))
    return " ".join(signatures)
