"""`incidentio`: incident.io's webhooks (event names, envelope, IncidentV2), so a receiver
written for incident.io works unchanged. The mapping is in docs/formats.md."""

import base64
import binascii

from webhooks.formats.common import RenderContext, check_options, dumps
from webhooks.formats.incidentio.catalogue import STATUSES
from webhooks.formats.incidentio.ids import ulid_for
from webhooks.formats.incidentio.incident import incident_v2
from webhooks.formats.rendered import RenderedMessage

CREATED = "public_incident.incident_created_v2"
UPDATED = "public_incident.incident_updated_v2"
STATUS_UPDATED = "public_incident.incident_status_updated_v2"
PRIVATE_CREATED = "private_incident.incident_created_v2"
PRIVATE_UPDATED = "private_incident.incident_updated_v2"
# What an incidentio endpoint subscribes in (none: all of them), and when each is sent.
EVENT_DESCRIPTIONS = {
    CREATED: "an incident is declared",
    UPDATED: "any change after that: acknowledged, escalated, resolved, reopened",
    STATUS_UPDATED: "a status change: acknowledged, resolved, reopened",
    PRIVATE_CREATED: "a private incident is declared (its id only)",
    PRIVATE_UPDATED: "a private incident changes (its id only)",
}
EVENT_TYPES = tuple(EVENT_DESCRIPTIONS)

# The OpsKnight events that change the status, and the status each comes from.
STATUS_CHANGES = {
    "incident.acknowledged": lambda incident: "triggered",
    "incident.reopened": lambda incident: "resolved",
    # An incident resolved after an acknowledgement still carries `acknowledgedAt`.
    "incident.resolved": lambda incident: "acknowledged" if incident.get("acknowledgedAt") else "triggered",
}

SECRET_PREFIX = "whsec_"
MIN_KEY_BYTES = 16
# incident.io signs with Svix's `v1` HMAC only; its receivers verify that.
SHARED_SECRET_NEEDED = (
    "incident.io receivers verify the v1 signature of the shared secret with Svix (incident.io sends no v1a)"
)


def validate_options(options) -> dict:
    return check_options(options, {})


def secret_problem(secret: str) -> str | None:
    """Svix's `Webhook(secret)` takes a secret as `whsec_` + base64 (and base64-decodes one
    without the prefix): any other typed secret would fail every verification."""
    key = secret.removeprefix(SECRET_PREFIX)
    try:
        decoded = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not secret.startswith(SECRET_PREFIX) or len(decoded) < MIN_KEY_BYTES:
        return (
            "incident.io receivers verify with Svix, which takes a secret of the form whsec_ + base64 "
            f"(of at least {MIN_KEY_BYTES} bytes), as incident.io shows it: type one of that form, "
            "or leave the secret out to have one generated."
        )
    return None


def _message(event_type: str, payload: dict) -> RenderedMessage:
    return RenderedMessage(type=event_type, body=dumps({"event_type": event_type, event_type: payload}))


def render_messages(event: dict, options: dict, context: RenderContext) -> list[RenderedMessage]:
    """A trigger: `incident_created_v2`. Any other change: `incident_updated_v2`, and for a
    status change also `incident_status_updated_v2`. A private incident: its id only."""
    incident = event["incident"]
    is_trigger = event["event"] == "incident.triggered"
    if incident.get("visibility") == "private":
        # incident.io has no private status-change event.
        return [_message(PRIVATE_CREATED if is_trigger else PRIVATE_UPDATED, {"id": ulid_for(incident["id"])})]
    body = incident_v2(event, context)
    if is_trigger:
        return [_message(CREATED, body)]
    messages = [_message(UPDATED, body)]
    if event["event"] in STATUS_CHANGES:
        previous = STATUS_CHANGES[event["event"]](incident)
        change = {"incident": body, "previous_status": STATUSES[previous], "new_status": STATUSES[incident["status"]]}
        messages.append(_message(STATUS_UPDATED, change))
    return messages
