"""Verify an OpsKnight webhook's `v1a` (ed25519) signature with the endpoint's public key
alone (pip install cryptography): nothing secret on the receiver's side."""

import base64
import binascii
import json
import time
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TOLERANCE_SECONDS = 5 * 60


class VerificationError(Exception):
    pass


def load_public_key(public_key: str) -> Ed25519PublicKey:
    """A `whpk_...` key, copied exactly as the admin or the API shows it."""
    if not public_key.startswith("whpk_"):
        raise ValueError("An OpsKnight public key starts with whpk_.")
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key.removeprefix("whpk_"), validate=True))


def verify(body: bytes, headers: Mapping[str, str], public_keys: list[str], now: float | None = None) -> dict:
    """Return the parsed event if `webhook-signature` carries a `v1a` signature of
    "{webhook-id}.{webhook-timestamp}.{raw body}" by one of `public_keys` (the current key,
    and the previous one while you move to a rotated key) and `webhook-timestamp` is within
    5 minutes of now. Raise VerificationError otherwise."""
    headers = {name.lower(): value for name, value in headers.items()}
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        raise VerificationError("Missing webhook-id, webhook-timestamp or webhook-signature.")
    if not timestamp.isdigit():
        raise VerificationError("webhook-timestamp is not a number of seconds.")
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE_SECONDS:
        raise VerificationError("webhook-timestamp is more than 5 minutes away from now: a replay?")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    keys = [load_public_key(key) for key in public_keys]
    # "v1,<hmac> v1a,<ed25519>": entries are space-separated; only v1a ones are ours to check.
    for entry in signatures.split(" "):
        version, _, signature = entry.partition(",")
        if version != "v1a":
            continue
        try:
            raw_signature = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            continue
        for key in keys:
            try:
                key.verify(raw_signature, signed)
            except InvalidSignature:
                continue
            return json.loads(body)
    raise VerificationError("No v1a signature by a trusted public key.")
