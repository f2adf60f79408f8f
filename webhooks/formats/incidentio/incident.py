"""An OpsKnight incident (the event's payload) as incident.io's IncidentV2, with its people:
the assignee as the lead, the creator as an ActorV2."""

import re

from webhooks.formats.common import RenderContext
from webhooks.formats.incidentio import catalogue
from webhooks.formats.incidentio.ids import derived_ulid, ulid_for

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")


def user_v2(*, id: str, name: str, email: str = "", slack_user_id: str = "", role: str = "unset") -> dict:
    """A UserV2. `email` and `slack_user_id` are always there ("" when OpsKnight does not
    know them), so receivers that read them as incident.io sends them never miss a key."""
    return {"id": id, "name": name, "email": email, "role": role, "slack_user_id": slack_user_id}


def assignee_user(assignee) -> dict | None:
    """The assignee: a responder (`{"id": "rsp_…", "name", "email", "slackUserId", …}`), a
    person matching no responder (`id` null), or, in events recorded before responders,
    the text as given (an email, a Slack user id or a name)."""
    if not assignee:
        return None
    if isinstance(assignee, str):
        text = assignee.strip()
        return user_v2(
            id=derived_ulid(f"opsknight:assignee:{text}"),
            name=text,
            email=text if "@" in text else "",
            slack_user_id=text if SLACK_USER_ID.match(text) else "",
        )
    email = assignee.get("email") or ""
    slack_user_id = assignee.get("slackUserId") or ""
    name = assignee.get("name") or email or slack_user_id
    return user_v2(
        id=ulid_for(assignee["id"]) if assignee.get("id") else derived_ulid(f"opsknight:assignee:{name}"),
        name=name,
        email=email,
        slack_user_id=slack_user_id,
        role="responder" if assignee.get("id") else "unset",
    )


def creator(event: dict) -> dict:
    """Who declared the incident, as an ActorV2: an API key, an admin user, or OpsKnight
    itself (a workflow). `createdBy`, else the actor of the trigger; unknown: `{}`."""
    actor = event["incident"].get("createdBy")
    if not actor and event["event"] == "incident.triggered":
        actor = event.get("actor")
    if not actor or not actor.get("type"):
        return {}
    name = actor.get("name") or actor["type"]
    key = actor.get("id") or name
    if actor["type"] == "api_key":
        return {"api_key": {"id": ulid_for(key), "name": name}}
    if actor["type"] == "user":
        return {"user": user_v2(id=derived_ulid(f"opsknight:user:{key}"), name=name)}
    return {"workflow": {"id": derived_ulid(f"opsknight:{actor['type']}:{key}"), "name": name}}


def custom_field_entries(incident: dict) -> list[dict]:
    """The service (a single select: its one option) and the escalation level (numeric)."""
    service = incident.get("service")
    # incident.io's option values have no tabs, newlines or outer spaces.
    options = (
        [
            {
                "id": ulid_for(service["id"]),
                "custom_field_id": catalogue.SERVICE_FIELD["id"],
                "value": " ".join(service["name"].split()),
                "sort_key": 0,
            }
        ]
        if service
        else []
    )
    return [
        {
            "custom_field": {**catalogue.SERVICE_FIELD, "options": options},
            "values": [{"value_option": option} for option in options],
        },
        {
            "custom_field": catalogue.ESCALATION_FIELD,
            "values": [{"value_numeric": str(incident.get("escalationLevel") or 0)}],
        },
    ]


def reference(incident: dict) -> str:
    """`INC-42`: the incident's reference; from its number in events without one; the id in
    events recorded before incidents had numbers."""
    if incident.get("reference"):
        return incident["reference"]
    return f"INC-{incident['number']}" if incident.get("number") else incident["id"]


def incident_v2(event: dict, context: RenderContext) -> dict:
    incident = event["incident"]
    assignee = assignee_user(incident.get("assignee"))
    # Nobody assigned: no lead at all (not a lead without `assignee`, which receivers that
    # read the lead's `assignee` as incident.io's incidents always have one would trip on).
    leads = [{"role": catalogue.LEAD_ROLE, "assignee": assignee}] if assignee else []
    body = {
        "id": ulid_for(incident["id"]),
        "reference": reference(incident),
        "name": incident.get("title") or "",
        "summary": incident.get("summary") or "",
        "permalink": context.incident_url,
        "visibility": "public",
        "mode": "standard",
        "incident_status": catalogue.STATUSES[incident["status"]],
    }
    if incident.get("severity") in catalogue.SEVERITIES:
        body["severity"] = catalogue.SEVERITIES[incident["severity"]]
    body |= {
        "incident_role_assignments": leads,
        "custom_field_entries": custom_field_entries(incident),
        "incident_timestamp_values": [
            {"incident_timestamp": timestamp, **({"value": {"value": incident[field]}} if incident.get(field) else {})}
            for field, timestamp in catalogue.TIMESTAMPS
        ],
        "creator": creator(event),
        # OpsKnight opens no Slack channel for an incident: incident.io requires the keys.
        "slack_team_id": "",
        "slack_channel_id": "",
        "created_at": incident["createdAt"],
        "updated_at": incident["updatedAt"],
    }
    return body
