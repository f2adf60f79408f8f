"""Webhook formats: an OpsKnight event (its stored payload, parsed) → the message(s) one
endpoint receives. One module of pure functions per format; see docs/architecture.md.

Each module has `validate_options(options) -> dict` and either `render(event, options,
context) -> bytes` (one message) or `render_messages(...) -> list[RenderedMessage]` (several,
each its own delivery). Optional: `EVENT_TYPES` (the format's own event names, which
its endpoints subscribe in), `headers(...)` (extra headers, e.g. another platform's
signature), `test_messages(options, context)` (what Send Test sends),
`secret_problem(secret)` (why a typed secret would not work for its receivers),
`SHARED_SECRET_NEEDED` (why its receivers need the shared secret: no ed25519-only signing),
and for a format with options: `CHECKS` (option → its check, what `validate_options`
takes), `REQUIRED_OPTIONS` and `OPTIONS_EXAMPLE` (shown as a hint in the admin).
"""

from types import ModuleType

from webhooks.formats import discord, google_chat, incidentio, msteams, opsknight, pagerduty, slack, telegram
from webhooks.formats.common import OptionsError, RenderContext
from webhooks.formats.rendered import RenderedMessage

DEFAULT = "opsknight"

FORMATS: dict[str, ModuleType] = {
    "opsknight": opsknight,
    "slack": slack,
    "msteams": msteams,
    "google_chat": google_chat,
    "discord": discord,
    "telegram": telegram,
    "incidentio": incidentio,
    "pagerduty": pagerduty,
}
NAMES = tuple(FORMATS)


class UnknownFormat(ValueError):
    def __init__(self, name):
        super().__init__(f"Unknown format '{name}'. Valid formats: {', '.join(NAMES)}.")


def _module(name: str) -> ModuleType:
    if name not in FORMATS:
        raise UnknownFormat(name)
    return FORMATS[name]


def option_names(name: str) -> list[tuple[str, bool]]:
    """The options the format takes, as (name, required), required ones first."""
    module = _module(name)
    required = getattr(module, "REQUIRED_OPTIONS", ())
    names = list(getattr(module, "CHECKS", {}))
    return [(n, True) for n in names if n in required] + [(n, False) for n in names if n not in required]


def options_example(name: str) -> dict:
    return dict(getattr(_module(name), "OPTIONS_EXAMPLE", {}))


def validate_options(name: str, options) -> dict:
    """The options, checked for this format; OptionsError (per option) otherwise."""
    return _module(name).validate_options(options)


def render(name: str, *, event: dict, options: dict, context: RenderContext) -> bytes:
    """The body of a one-message format (the first message of a multi-message one)."""
    return messages(name, event=event, options=options, context=context)[0].body


def messages(name: str, *, event: dict, options: dict, context: RenderContext) -> list[RenderedMessage]:
    """Every message the event becomes for an endpoint of this format, in a fixed order
    (a message's place in it is part of its `webhook-id`)."""
    module = _module(name)
    if hasattr(module, "render_messages"):
        return module.render_messages(event, options, context)
    return [RenderedMessage(type=event["event"], body=module.render(event, options, context))]


def test_messages(name: str, *, event: dict, options: dict, context: RenderContext) -> list[RenderedMessage]:
    """What Send Test sends: the format's own test message if it has one (PagerDuty's
    `pagey.ping`), else the sample event rendered as usual."""
    module = _module(name)
    if hasattr(module, "test_messages"):
        return module.test_messages(options, context)
    return messages(name, event=event, options=options, context=context)


def event_types(name: str) -> tuple[str, ...] | None:
    """The event names an endpoint of this format subscribes in, when the format has its
    own (incident.io's `public_incident.incident_updated_v2`…); None: OpsKnight's."""
    return getattr(_module(name), "EVENT_TYPES", None)


def secret_problem(name: str, secret: str) -> str | None:
    """Why a typed secret would not work for this format's receivers (incident.io's verify
    with Svix, which takes only `whsec_` + base64); None if it would."""
    module = _module(name)
    return module.secret_problem(secret) if hasattr(module, "secret_problem") else None


def shared_secret_needed(name: str) -> str | None:
    """Why this format's receivers cannot do without the shared secret (they verify an HMAC:
    PagerDuty's X-PagerDuty-Signature, Svix's `v1` for incident.io), so its endpoints cannot
    sign with ed25519 alone; None if they can."""
    return getattr(_module(name), "SHARED_SECRET_NEEDED", None)


def extra_headers(name: str, *, message_id: str, body: bytes, secrets: list[str], endpoint_id: str) -> dict[str, str]:
    """Headers the format adds to every attempt (another platform's signature and ids)."""
    module = _module(name)
    if not hasattr(module, "headers"):
        return {}
    return module.headers(message_id=message_id, body=body, secrets=secrets, endpoint_id=endpoint_id)


__all__ = [
    "DEFAULT", "FORMATS", "NAMES", "OptionsError", "RenderContext", "RenderedMessage", "UnknownFormat", "event_types",
    "extra_headers", "messages", "render", "secret_problem", "shared_secret_needed", "test_messages",
    "validate_options",
]  # fmt: skip
