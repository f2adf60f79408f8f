"""Verify an OpsKnight webhook's `webhook-signature` with the `standardwebhooks`
package (pip install standardwebhooks), unmodified."""

import base64
import binascii
from collections.abc import Mapping

from standardwebhooks import Webhook


def webhook_secret(secret: str) -> str | bytes:
    """What `Webhook()` must be given for an endpoint secret, copied exactly as shown.

    A generated secret (`whsec_` + base64) is passed as the string: the library
    base64-decodes it. Any other secret (one an operator typed) signs with its UTF-8
    bytes, so it is passed as `secret.encode()`."""
    if secret.startswith("whsec_"):
        try:
            base64.b64decode(secret.removeprefix("whsec_"), validate=True)
            return secret
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def verify(body: bytes, headers: Mapping[str, str], secret: str) -> dict:
    """Return the parsed event if `webhook-signature` carries a valid signature of the
    raw `body` under `secret` and `webhook-timestamp` is within 5 minutes of now.
    Raise standardwebhooks.WebhookVerificationError otherwise."""
    return Webhook(webhook_secret(secret)).verify(body, dict(headers))
