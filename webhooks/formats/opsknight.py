"""`opsknight` (the default format): the design's body, built once when the event is
recorded and stored as the exact bytes every attempt sends; `render` gives them back."""

import json
from datetime import UTC, datetime

from incidents.models import Incident
from incidents.responders import Person, incident_assignee
from webhooks.formats.common import RenderContext, check_options, dumps


def iso_z(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, to the millisecond."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def person_payload(person: Person | None) -> dict | None:
    """A person (the assignee): a responder (`id` = `rsp_...`), or, for an assignee that
    matched no responder, `id` null and the text as `name` (and as `email` or
    `slackUserId` when it has that shape)."""
    if person is None:
        return None
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email,
        "slackUserId": person.slack_user_id,
        "teamsUserPrincipalName": person.teams_upn,
        "discordUserId": person.discord_user_id,
        "telegramUsername": person.telegram_username,
    }


def actor_payload(*, type: str, id: str = "", name: str = "", private: bool = False) -> dict:
    """Who made a change (or declared the incident): an API key, an admin user or the
    system. Of a private incident only the type: no names of people."""
    if private:
        return {"type": type}
    return {"type": type, "id": id or None, "name": name or None}


def incident_payload(incident: Incident) -> dict:
    """The `incident` object, camelCase as in the OpsKnight docs. A private incident
    carries only its id: receivers fetch the rest with a key allowed to read it.
    `externalLinks` lets a receiver find the ticket it linked on an earlier event. The
    service and the assignee's responder are read from the incident: select them with it."""
    if incident.is_private:
        return {"id": incident.id, "visibility": incident.visibility}
    service = incident.service
    # The links cost one query unless prefetched (incidents.services leaves them
    # prefetched, empty, for an incident without any); an unsaved incident (the docs'
    # key-order check) has none.
    links = [] if incident._state.adding else incident.external_links.all()
    return {
        "id": incident.id,
        "number": incident.number,
        "reference": incident.reference,
        "title": incident.title,
        "summary": incident.summary,
        "status": incident.status,
        "severity": incident.severity,
        "service": {"id": service.id, "name": service.name} if service else None,
        "assignee": person_payload(incident_assignee(incident)),
        "createdBy": actor_payload(type=incident.creator_type, id=incident.creator_id, name=incident.creator_name),
        "createdAt": iso_z(incident.created_at),
        "updatedAt": iso_z(incident.updated_at),
        "acknowledgedAt": iso_z(incident.acknowledged_at),
        "resolvedAt": iso_z(incident.resolved_at),
        "escalationLevel": incident.escalation_level,
        "version": incident.version,
        "visibility": incident.visibility,
        "externalLinks": [{"system": link.system, "key": link.key, "url": link.url} for link in links],
    }


def event_body(*, event_id: str, event_type: str, timestamp: datetime, actor: dict, incident: dict) -> bytes:
    """Compact JSON, UTF-8. Key order is fixed, so equal events give equal bytes.
    `actor` (actor_payload) is who made the change."""
    body = {"id": event_id, "event": event_type, "timestamp": iso_z(timestamp), "actor": actor, "incident": incident}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def validate_options(options) -> dict:
    return check_options(options, {})


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    return dumps(event)
