"""A rendered message: what one delivery of an event sends to an endpoint."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RenderedMessage:
    """Its type in the format's own event names (incident.io's, PagerDuty's…; the OpsKnight
    type for the others) and its body. Each message is its own delivery, with its own
    `webhook-id`."""

    type: str
    body: bytes
