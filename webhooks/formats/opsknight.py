"""`opsknight` (the default): the design's body, as stored with the event. Endpoints of
this format send the event's stored bytes; `render` gives the same bytes back."""

from webhooks.formats.common import RenderContext, check_options, dumps


def validate_options(options) -> dict:
    return check_options(options, {})


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    return dumps(event)
