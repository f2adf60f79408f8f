"""Webhook signatures: pure functions, no I/O, tested with fixed vectors.

The signatures a request carries (see docs/webhooks.md):
- `X-OpsKnight-Signature: sha256=<hex HMAC-SHA256(secret as UTF-8, raw body)>`, while the
  endpoint has a shared secret;
- Standard Webhooks `webhook-signature`: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`
  per active secret and/or `v1a,<base64 ed25519 signature of the same content>` per active
  key pair, space-separated.
"""

import base64
import binascii
import functools
import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SECRET_PREFIX = "whsec_"
# Standard Webhooks' serialization of an ed25519 key pair: `whsk_` + base64 of the secret
# key as libsodium and Svix hold it (the 32-byte seed, then the 32-byte public key), and
# `whpk_` + base64 of the 32-byte public key.
SIGNING_KEY_PREFIX = "whsk_"
PUBLIC_KEY_PREFIX = "whpk_"


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


def _signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def opsknight_signature(*, secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def standard_webhooks_signature(*, secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` per secret (newest first), joined by spaces."""
    signed_content = _signed_content(msg_id, timestamp, body)
    signatures = []
    for secret in secrets:
        digest = hmac.new(standard_webhooks_key(secret), signed_content, hashlib.sha256).digest()
        signatures.append("v1," + base64.b64encode(digest).decode("ascii"))
    return " ".join(signatures)


def generate_key_pair() -> tuple[str, str]:
    """A new ed25519 key pair: (`whsk_…` private key, `whpk_…` public key)."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    return (
        SIGNING_KEY_PREFIX + base64.b64encode(private.private_bytes_raw() + public).decode("ascii"),
        PUBLIC_KEY_PREFIX + base64.b64encode(public).decode("ascii"),
    )


@functools.lru_cache(maxsize=1024)
def _private_key(signing_key: str) -> Ed25519PrivateKey:
    """The key of a `whsk_` string, parsed once per process (a worker signs with the same
    few keys all day). ValueError for anything but a whole, consistent key pair."""
    try:
        raw = base64.b64decode(signing_key.removeprefix(SIGNING_KEY_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not signing_key.startswith(SIGNING_KEY_PREFIX) or len(raw) != 64:
        raise ValueError("Not a whsk_ ed25519 key pair.")
    private = Ed25519PrivateKey.from_private_bytes(raw[:32])
    if private.public_key().public_bytes_raw() != raw[32:]:
        raise ValueError("The public half of the whsk_ key does not belong to its private half.")
    return private


def public_key(signing_key: str) -> str:
    """The `whpk_` public key of a `whsk_` private key."""
    public = _private_key(signing_key).public_key().public_bytes_raw()
    return PUBLIC_KEY_PREFIX + base64.b64encode(public).decode("ascii")


def ed25519_signature(*, signing_keys: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1a,<base64>` per `whsk_` key (newest first), joined by spaces."""
    signed_content = _signed_content(msg_id, timestamp, body)
    return " ".join(
        "v1a," + base64.b64encode(_private_key(key).sign(signed_content)).decode("ascii") for key in signing_keys
    )


def webhook_signature(*, secrets: list[str], signing_keys: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: the `v1,` signatures of the secrets, then the `v1a,`
    ones of the key pairs (the order of the spec's example), space-separated."""
    parts = []
    if secrets:
        parts.append(standard_webhooks_signature(secrets=secrets, msg_id=msg_id, timestamp=timestamp, body=body))
    if signing_keys:
        parts.append(ed25519_signature(signing_keys=signing_keys, msg_id=msg_id, timestamp=timestamp, body=body))
    return " ".join(parts)
