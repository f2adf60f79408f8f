"""A Standard Webhooks verifier for asymmetric `v1a` (ed25519) signatures, written from the
spec (standard-webhooks/standard-webhooks, spec/standard-webhooks.md: "Signature scheme",
"Webhook headers", "Verifying signatures"). The `standardwebhooks` library (1.1.0, what
requirements-dev.txt pins) verifies `v1` only and skips every other version, so the tests
verify `v1a` with this instead. Its interface is the library's `Webhook`:
`AsymmetricWebhook(public_key).verify(body, headers)` returns the parsed body or raises
`WebhookVerificationError`."""

import base64
import binascii
import json
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks import WebhookVerificationError

# The spec: public keys are serialized as base64 prefixed with `whpk_`.
PUBLIC_KEY_PREFIX = "whpk_"
# The library's tolerance, on both sides of now.
TOLERANCE_SECONDS = 5 * 60


class AsymmetricWebhook:
    def __init__(self, public_key: str | bytes):
        if isinstance(public_key, str):
            if not public_key.startswith(PUBLIC_KEY_PREFIX):
                raise ValueError("A public key is whpk_ + base64.")
            public_key = base64.b64decode(public_key[len(PUBLIC_KEY_PREFIX) :], validate=True)
        # "Standard ed25519 key pair": a raw 32-byte public key.
        self._key = Ed25519PublicKey.from_public_bytes(public_key)

    def verify(self, data: bytes | str, headers: dict[str, str], *, json_parse: bool = True, now: float | None = None):
        data = data.encode() if isinstance(data, str) else data
        headers = {name.lower(): value for name, value in headers.items()}
        msg_id = headers.get("webhook-id")
        msg_timestamp = headers.get("webhook-timestamp")
        msg_signature = headers.get("webhook-signature")
        if not (msg_id and msg_timestamp and msg_signature):
            raise WebhookVerificationError("Missing required headers")
        # "integer unix timestamp (seconds since epoch)", within a tolerance of now.
        if not msg_timestamp.isdigit():
            raise WebhookVerificationError("Invalid Signature Headers")
        now = time.time() if now is None else now
        if int(msg_timestamp) < now - TOLERANCE_SECONDS:
            raise WebhookVerificationError("Message timestamp too old")
        if int(msg_timestamp) > now + TOLERANCE_SECONDS:
            raise WebhookVerificationError("Message timestamp too new")
        # "the message's ID, timestamp and body are concatenated (delimited by full-stops)".
        signed_content = f"{msg_id}.{msg_timestamp}.".encode() + data
        # "a space delimited list of signatures": `<version>,<base64 signature>`, `v1a` for ed25519.
        for versioned in msg_signature.split(" "):
            version, _, signature = versioned.partition(",")
            if version != "v1a":
                continue
            try:
                self._key.verify(base64.b64decode(signature, validate=True), signed_content)
            except (binascii.Error, ValueError, InvalidSignature):
                continue
            return json.loads(data) if json_parse else None
        raise WebhookVerificationError("No matching signature found")
