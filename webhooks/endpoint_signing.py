"""How an endpoint signs `webhook-signature`: `hmac` (the shared secret, `v1`), `ed25519`
(a key pair, `v1a`) or `both`; what each keeps, switching between them, rotating the key pair."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from opsknight.errors import ConflictError
from webhooks import formats
from webhooks.models import Signing, WebhookEndpoint
from webhooks.transport import signing as signatures

NO_SECRET_WITH_ED25519 = (
    "An endpoint that signs with ed25519 only has no shared secret: leave the secret out, or choose signing both."
)


def signing_errors(*, signing, format) -> dict[str, str]:
    """What is wrong with this signing for an endpoint of this format ({} when fine): an
    unknown value, or ed25519 alone for a format whose receivers verify an HMAC."""
    if signing not in Signing.values:
        return {"signing": f'Unknown signing "{str(signing)[:50]}". Valid: {", ".join(Signing.values)}.'}
    if signing != Signing.ED25519:
        return {}
    try:
        reason = formats.shared_secret_needed(format)
    except formats.UnknownFormat:
        return {}  # the format is refused on its own
    if reason:
        return {"signing": f"{reason}: a {format} endpoint signs with hmac or both, not ed25519 alone."}
    return {}


def endpoint_check_typed_secret_signing(*, secret: str | None, signing) -> None:
    """A typed secret for an ed25519-only endpoint is refused (a ValidationError naming `secret`)."""
    if secret and signing == Signing.ED25519:
        raise ValidationError({"secret": NO_SECRET_WITH_ED25519})


def endpoint_apply_signing(*, endpoint: WebhookEndpoint, signing: str) -> None:
    """Set `endpoint.signing` and make what it stores match (not saved: the caller validates
    and saves). A shared secret is generated when the endpoint starts signing `v1` without
    one, a key pair when it starts signing `v1a`; what it stops signing with is dropped, so
    an ed25519-only endpoint holds no secret that could leak, and an hmac one no private key."""
    endpoint.signing = signing
    if signing == Signing.ED25519:
        endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_expires_at = "", "", None
    elif not endpoint.secret:
        endpoint.secret = signatures.generate_secret()
    if signing == Signing.HMAC:
        endpoint.signing_key = endpoint.public_key = ""
        endpoint.previous_signing_key = endpoint.previous_public_key = ""
        endpoint.previous_key_expires_at = None
    elif not endpoint.signing_key:
        endpoint.signing_key, endpoint.public_key = signatures.generate_key_pair()


def endpoint_rotate_signing_key(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new key pair signs `v1a` from now on; the old one signs alongside it for
    WEBHOOK_SECRET_ROTATION_OVERLAP seconds, so receivers can add the new public key to
    their trust list without a gap. A ConflictError for an endpoint that signs with hmac only."""
    if endpoint.signing == Signing.HMAC or not endpoint.signing_key:
        raise ConflictError(
            "This endpoint signs with hmac only: it has no key pair to rotate. Set signing to ed25519 or "
            "both to have one generated."
        )
    now = timezone.now()
    endpoint.previous_signing_key, endpoint.previous_public_key = endpoint.signing_key, endpoint.public_key
    endpoint.previous_key_expires_at = now + timedelta(seconds=settings.WEBHOOK_SECRET_ROTATION_OVERLAP)
    endpoint.signing_key, endpoint.public_key = signatures.generate_key_pair()
    endpoint.updated_at = now
    endpoint.save(
        update_fields=[
            "signing_key", "public_key", "previous_signing_key", "previous_public_key", "previous_key_expires_at",
            "updated_at",
        ]
    )  # fmt: skip
    return endpoint


def endpoint_check_secret_rotation(*, endpoint: WebhookEndpoint) -> None:
    """An ed25519-only endpoint has no secret to rotate: a ConflictError."""
    if endpoint.signing == Signing.ED25519:
        raise ConflictError(
            "This endpoint signs with ed25519 only: it has no shared secret to rotate. Rotate its key pair "
            "instead, or set signing to both or hmac to have a secret generated."
        )
