"""Endpoint services: create, update (URL, subscriptions, format, custom headers),
delete, rotate the secret, disable. Plain functions; the API and admin call them."""

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from incidents.models import Incident, Service
from webhooks import formats, notifications, transport
from webhooks.endpoint_signing import (
    endpoint_apply_signing,
    endpoint_check_secret_rotation,
    endpoint_check_typed_secret_signing,
    signing_errors,
)
from webhooks.models import EVENT_TYPES, ORDERINGS, VISIBILITY_FILTERS, Signing, WebhookEndpoint
from webhooks.transport import signing
from webhooks.transport.addresses import TargetRefused, check_url

MIN_TYPED_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 200  # the column's size


def _validate_endpoint(endpoint: WebhookEndpoint) -> None:
    errors: dict[str, str] = {}
    if not endpoint.name.strip():
        errors["name"] = "This field may not be blank."
    try:
        check_url(endpoint.url)
    except TargetRefused as error:
        errors["url"] = str(error)
    if not isinstance(endpoint.event_types, list):
        errors["event_types"] = "Give a list of event types."
    else:
        valid = endpoint_event_types(format=endpoint.format)
        unknown = [t for t in endpoint.event_types if t not in valid]
        if unknown:
            errors["event_types"] = (
                f"Unknown event type(s) for the {endpoint.format} format: {', '.join(map(str, unknown))}. "
                f"Valid: {', '.join(valid)}."
            )
    try:
        endpoint.format_options = check_format(format=endpoint.format, format_options=endpoint.format_options)
    except ValidationError as error:
        errors.update({name: messages[0] for name, messages in error.message_dict.items()})
    errors.update(_filter_errors(endpoint))
    header_errors = transport.custom_header_errors(endpoint.headers)
    if header_errors:
        errors["headers"] = " ".join(header_errors)
    errors.update(signing_errors(signing=endpoint.signing, format=endpoint.format))
    if errors:
        raise ValidationError(errors)
    endpoint.full_clean()


def check_format(*, format: str, format_options) -> dict:
    """The format's options, checked (unknown keys refused); a ValidationError naming
    `format` or each bad `format_options.<option>` otherwise."""
    try:
        return formats.validate_options(format, format_options)
    except formats.UnknownFormat as error:
        raise ValidationError({"format": str(error)}) from None
    except formats.OptionsError as error:
        raise ValidationError(
            {
                name if name == "format_options" else f"format_options.{name}": message
                for name, message in error.errors.items()
            }
        ) from None


def endpoint_check_typed_secret(*, secret: str, format: str) -> None:
    """A typed secret: long enough, and of the form the format's receivers take (Svix's
    `whsec_` + base64 for `incidentio`). A ValidationError naming `secret` otherwise."""
    if len(secret) < MIN_TYPED_SECRET_LENGTH:
        raise ValidationError({"secret": f"A secret needs at least {MIN_TYPED_SECRET_LENGTH} characters."})
    if len(secret) > MAX_SECRET_LENGTH:
        raise ValidationError({"secret": f"A secret has at most {MAX_SECRET_LENGTH} characters."})
    try:
        problem = formats.secret_problem(format, secret)
    except formats.UnknownFormat:
        problem = None  # the format is refused on its own
    if problem:
        raise ValidationError({"secret": problem})


def endpoint_check_format_change(*, endpoint: WebhookEndpoint, new_format) -> None:
    """Refuses moving an endpoint to a format whose receivers could not use its (typed)
    secret: a ValidationError naming `format`."""
    if new_format == endpoint.format or not isinstance(new_format, str) or not endpoint.secret:
        return  # (no secret: ed25519 only, which signing_errors checks against the format)
    try:
        problem = formats.secret_problem(new_format, endpoint.secret)
    except formats.UnknownFormat:
        return
    if problem:
        raise ValidationError(
            {
                "format": f"This endpoint's typed secret would not work for {new_format} receivers: rotate "
                "it first (leave the new secret out to have a whsec_ one generated), then change the format."
            }
        )


def endpoint_create(
    *,
    name: str,
    url: str,
    event_types: list[str] | None = None,
    is_active: bool = True,
    description: str = "",
    secret: str | None = None,
    format: str = formats.DEFAULT,
    format_options: dict | None = None,
    headers: dict[str, str] | None = None,
    services: list[str] | None = None,
    min_severity: str = "",
    visibility: str = "both",
    ordering: str = "none",
    signing: str = Signing.HMAC,
) -> WebhookEndpoint:
    """Create an endpoint. The secret is generated unless one is typed (none for `signing`
    ed25519); the caller shows `endpoint.secret` once and never again."""
    endpoint_check_typed_secret_signing(secret=secret, signing=signing)
    if secret:
        endpoint_check_typed_secret(secret=secret, format=format)
    endpoint = WebhookEndpoint(
        name=name,
        url=url,
        event_types=sorted(set(event_types or [])),
        is_active=is_active,
        description=description,
        secret=secret or "",  # generated by endpoint_apply_signing unless ed25519 only
        format=format,
        format_options={} if format_options is None else format_options,
        headers=headers or {},
        services=services or [],
        min_severity=min_severity or "",
        visibility=visibility,
        ordering=ordering,
    )
    endpoint_apply_signing(endpoint=endpoint, signing=signing)
    _validate_endpoint(endpoint)
    with transaction.atomic():
        _lock_endpoint_creates()
        endpoint_check_room()
        endpoint.save(force_insert=True)
    return endpoint


def endpoint_check_room() -> None:
    """A ValidationError (not about a field) when WEBHOOK_MAX_ENDPOINTS endpoints exist
    already. endpoint_create checks it under a lock; a form may call it first to say so
    early."""
    limit = settings.WEBHOOK_MAX_ENDPOINTS
    if WebhookEndpoint.objects.count() >= limit:
        raise ValidationError(
            f"This server already has {limit} webhook endpoints, the most it allows "
            "(WEBHOOK_MAX_ENDPOINTS): delete one before adding another."
        )


# Any constant no other code takes: PostgreSQL's advisory lock that serialises creates.
ENDPOINT_CREATE_LOCK = 0x0E5D_C0DE


def _lock_endpoint_creates() -> None:
    """Serialise endpoint creates until the caller's transaction ends, so that two
    concurrent creates cannot both count one free place under WEBHOOK_MAX_ENDPOINTS."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ENDPOINT_CREATE_LOCK])
    # SQLite: transactions take the database's write lock at BEGIN (transaction_mode
    # IMMEDIATE in settings), which serialises them already.


ENDPOINT_UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "url",
        "event_types",
        "is_active",
        "description",
        "format",
        "format_options",
        "headers",
        "services",
        "min_severity",
        "visibility",
        "ordering",
        "signing",
    }  # fmt: skip
)


def _keep_redacted_values(new: dict, old: dict) -> dict:
    """Custom headers as given, except that a value sent back as REDACTED (as the API and
    admin show sensitive ones) keeps the stored value of that header."""
    if not isinstance(new, dict):
        return new
    return {name: old.get(name, value) if value == transport.REDACTED else value for name, value in new.items()}


def _origin(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port


def endpoint_check_url_move(*, endpoint: WebhookEndpoint, new_url, new_headers) -> None:
    """A credential-like custom header (shown redacted, so whoever edits may not know it)
    was given for one host: it is not sent to another until the operator types it again
    or removes it, so nobody can redirect a stored credential by changing the URL alone."""
    if not isinstance(new_url, str) or _origin(new_url) == _origin(endpoint.url):
        return
    given = new_headers if isinstance(new_headers, dict) else None
    stale = [
        name
        for name in endpoint.headers
        if transport.is_sensitive_header(name) and (given is None or given.get(name) == transport.REDACTED)
    ]
    if stale:
        old_host, new_host = _origin(endpoint.url)[0], _origin(new_url)[0]
        raise ValidationError(
            {
                "headers": f"The URL moves from {old_host} to {new_host}: give the value of "
                f"{', '.join(stale)} again (or remove it), so that a credential meant for {old_host} "
                f"is not sent to {new_host}."
            }
        )


def _filter_errors(endpoint: WebhookEndpoint) -> dict[str, str]:
    """What is wrong with the endpoint's content filters and ordering."""
    errors = {}
    if not isinstance(endpoint.services, list) or not all(isinstance(s, str) for s in endpoint.services):
        errors["services"] = "Give a list of service ids."
    else:
        endpoint.services = sorted(set(endpoint.services))
        known = set(Service.objects.filter(pk__in=endpoint.services).values_list("pk", flat=True))
        unknown = [service_id for service_id in endpoint.services if service_id not in known]
        if unknown:
            errors["services"] = f"Unknown service id(s): {', '.join(unknown)}."
    for field, valid in [
        ("min_severity", ["", *Incident.Severity.values]),
        ("visibility", [value for value, _ in VISIBILITY_FILTERS]),
        ("ordering", [value for value, _ in ORDERINGS]),
    ]:
        if getattr(endpoint, field) not in valid:
            errors[field] = (
                f"'{getattr(endpoint, field)}' is not valid. Valid: {', '.join(v or '(empty)' for v in valid)}."
            )
    return errors


def endpoint_event_types(*, format: str) -> tuple[str, ...]:
    """The event names an endpoint of this format subscribes in: the format's own
    (incident.io's…) or OpsKnight's. An unknown format gets OpsKnight's (it is refused
    on its own)."""
    try:
        own = formats.event_types(format)
    except formats.UnknownFormat:
        own = None
    return own if own is not None else tuple(EVENT_TYPES.values)


def endpoint_update(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    unknown = set(changes) - ENDPOINT_UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"Not updatable: {', '.join(sorted(unknown))}")
    if "format" in changes and changes["format"] != endpoint.format and "format_options" not in changes:
        changes["format_options"] = {}  # the old format's options mean nothing to the new one
    if "format" in changes:
        endpoint_check_format_change(endpoint=endpoint, new_format=changes["format"])
    if "url" in changes:
        endpoint_check_url_move(endpoint=endpoint, new_url=changes["url"], new_headers=changes.get("headers"))
    if "headers" in changes:
        changes["headers"] = _keep_redacted_values(changes["headers"], endpoint.headers)
    for name, value in changes.items():
        if name == "signing":  # what the endpoint stores follows: a key pair, a secret
            if value != endpoint.signing:
                endpoint_apply_signing(endpoint=endpoint, signing=value)
            continue
        setattr(endpoint, name, sorted(set(value)) if name == "event_types" else value)
    if changes.get("is_active") is True:
        endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = "", None, None
    elif changes.get("is_active") is False and not endpoint.disabled_at:
        endpoint.disabled_reason, endpoint.disabled_at = "Disabled by hand.", timezone.now()
    endpoint.updated_at = timezone.now()
    _validate_endpoint(endpoint)
    endpoint.save()
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, secret: str | None = None) -> WebhookEndpoint:
    """A new secret signs from now on; the old one signs alongside it for
    WEBHOOK_SECRET_ROTATION_OVERLAP seconds, so receivers can switch without a gap."""
    endpoint_check_secret_rotation(endpoint=endpoint)
    if secret:
        endpoint_check_typed_secret(secret=secret, format=endpoint.format)
    now = timezone.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + timedelta(seconds=settings.WEBHOOK_SECRET_ROTATION_OVERLAP)
    endpoint.secret = secret or signing.generate_secret()
    endpoint.updated_at = now
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint


def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str, now: datetime | None = None) -> bool:
    """Stop sending to the endpoint and tell the admins (after commit). False if it was
    already disabled."""
    now = now or timezone.now()
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_reason=reason[:500], disabled_at=now, updated_at=now
    )
    if disabled:
        endpoint.is_active, endpoint.disabled_reason, endpoint.disabled_at = False, reason[:500], now
        endpoint_id = endpoint.pk
        transaction.on_commit(lambda: notifications.endpoint_disabled(endpoint_id=endpoint_id))
    return bool(disabled)
