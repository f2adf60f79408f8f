"""Webhook body formats: what an endpoint receives for an event.

A format turns an OpsKnight event (its stored payload, parsed) into the body one
endpoint gets: one small module per format, each with two pure functions,
`validate_options(options) -> dict` (clean options, or OptionsError) and
`render(event, options, context) -> bytes`. Delivery, retries, the log, signing and
Send Test are the same for every format; so are the headers (see docs/formats.md).
"""

from types import ModuleType

from webhooks.formats import discord, google_chat, incidentio, msteams, opsknight, slack, telegram
from webhooks.formats.common import OptionsError, RenderContext

DEFAULT = "opsknight"

FORMATS: dict[str, ModuleType] = {
    "opsknight": opsknight,
    "slack": slack,
    "msteams": msteams,
    "google_chat": google_chat,
    "discord": discord,
    "telegram": telegram,
    "incidentio": incidentio,
}
NAMES = tuple(FORMATS)


class UnknownFormat(ValueError):
    def __init__(self, name):
        super().__init__(f"Unknown format '{name}'. Valid formats: {', '.join(NAMES)}.")


def _module(name: str) -> ModuleType:
    if name not in FORMATS:
        raise UnknownFormat(name)
    return FORMATS[name]


def validate_options(name: str, options) -> dict:
    """The options, checked for this format; OptionsError (per option) otherwise."""
    return _module(name).validate_options(options)


def render(name: str, *, event: dict, options: dict, context: RenderContext) -> bytes:
    return _module(name).render(event, options, context)


__all__ = [
    "DEFAULT", "FORMATS", "NAMES", "OptionsError", "RenderContext", "UnknownFormat", "render", "validate_options",
]  # fmt: skip
