"""Verify `X-OpsKnight-Signature: sha256=<hex>`: HMAC-SHA256 of the raw body, keyed
by the endpoint secret's UTF-8 bytes (the whole secret, `whsec_` prefix included)."""

import hashlib
import hmac
from collections.abc import Iterable, Mapping


def verify(body: bytes, headers: Mapping[str, str], secrets: Iterable[str]) -> bool:
    """True if `X-OpsKnight-Signature` matches the raw `body` under one of `secrets`:
    usually just the endpoint's secret; the new and the old one while you rotate."""
    received = {name.lower(): value for name, value in headers.items()}.get("x-opsknight-signature", "")
    for secret in secrets:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected.encode(), received.encode()):
            return True
    return False
