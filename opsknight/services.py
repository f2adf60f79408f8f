"""API keys: creation, lookup and revocation."""

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.utils import timezone

from opsknight.models import ApiKey, Scope

API_KEY_PREFIX = "opsk_"


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def api_key_create(*, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is not stored anywhere."""
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown:
        raise ValidationError({"scopes": f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(Scope.values)}."})
    if not scopes:
        raise ValidationError({"scopes": "Give at least one scope."})
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=raw_key[:12], hashed_key=_digest(raw_key), scopes=sorted(set(scopes)))
    key.full_clean()
    key.save()
    return key, raw_key


def api_key_find_active(*, raw_key: str) -> ApiKey | None:
    return ApiKey.objects.filter(hashed_key=_digest(raw_key), revoked_at__isnull=True).first()


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key
