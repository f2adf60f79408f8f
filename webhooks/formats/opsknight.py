"""`opsknight` (the default format): the design's body, built once when the event is
recorded and stored as the exact bytes every attempt sends; `render` gives them back."""

import json
from datetime import UTC, datetime

from incidents.models import Incident
from webhooks.formats.common import RenderContext, check_options, dumps


def iso_z(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, to the millisecond."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def incident_payload(incident: Incident, *, external_links: list | None = None) -> dict:
    """The `incident` object, camelCase as in the OpsKnight docs. A private incident
    carries only its id: receivers fetch the rest with a key allowed to read it.
    `externalLinks` lets a receiver find the ticket it linked on an earlier event."""
    if incident.is_private:
        return {"id": incident.id, "visibility": incident.visibility}
    service = incident.service
    # The links cost one query, unless the caller passes them (or prefetched them);
    # an unsaved incident (the docs' key-order check) has none.
    if external_links is not None:
        links = external_links
    else:
        links = [] if incident._state.adding else incident.external_links.all()
    return {
        "id": incident.id,
        "title": incident.title,
        "summary": incident.summary,
        "status": incident.status,
        "severity": incident.severity,
        "service": {"id": service.id, "name": service.name} if service else None,
        "assignee": incident.assignee,
        "createdAt": iso_z(incident.created_at),
        "updatedAt": iso_z(incident.updated_at),
        "acknowledgedAt": iso_z(incident.acknowledged_at),
        "resolvedAt": iso_z(incident.resolved_at),
        "escalationLevel": incident.escalation_level,
        "version": incident.version,
        "visibility": incident.visibility,
        "externalLinks": [{"system": link.system, "key": link.key, "url": link.url} for link in links],
    }


def event_body(*, event_id: str, event_type: str, timestamp: datetime, incident: dict) -> bytes:
    """Compact JSON, UTF-8. Key order is fixed, so equal events give equal bytes."""
    body = {"id": event_id, "event": event_type, "timestamp": iso_z(timestamp), "incident": incident}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def validate_options(options) -> dict:
    return check_options(options, {})


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    return dumps(event)
