"""`incidentio`: the incident.io webhook envelope, so a receiver written for incident.io
works unchanged. The body is `{"event_type": T, T: payload}`:

- `incident.triggered` → `public_incident.incident_created_v2`, payload: the incident;
- `incident.acknowledged`, `.resolved`, `.reopened` → `public_incident.incident_status_updated_v2`,
  payload: `{"incident", "new_status", "previous_status"}`;
- `incident.escalated` → `public_incident.incident_updated_v2`, payload: the incident;
- a private incident → `private_incident.incident_created_v2` (triggered) or
  `private_incident.incident_updated_v2` (the rest), payload: `{"id"}` only.

The signature headers are already the ones incident.io sends (Svix's `webhook-id`,
`webhook-timestamp`, `webhook-signature`). Which fields are mapped from the incident and
which are filled in is listed in docs/formats.md.

No options."""

from webhooks.formats.common import RenderContext, check_options, dumps

STATUSES = {
    "triggered": {"id": "triggered", "name": "Triggered", "category": "live", "rank": 1},
    "acknowledged": {"id": "acknowledged", "name": "Acknowledged", "category": "live", "rank": 2},
    "resolved": {"id": "resolved", "name": "Resolved", "category": "closed", "rank": 3},
}
# incident.io ranks severities from the least severe up.
SEVERITY_RANKS = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
LEAD_ROLE = {
    "id": "lead",
    "name": "Incident Lead",
    "role_type": "lead",
    "shortform": "lead",
    "description": "The OpsKnight assignee of the incident",
    "required": False,
}
STATUS_CHANGES = {"incident.acknowledged", "incident.resolved", "incident.reopened"}


def validate_options(options) -> dict:
    return check_options(options, {})


def event_type_for(event_type: str, *, is_private: bool) -> str:
    if is_private:
        kind = "incident_created_v2" if event_type == "incident.triggered" else "incident_updated_v2"
        return f"private_incident.{kind}"
    if event_type == "incident.triggered":
        return "public_incident.incident_created_v2"
    if event_type in STATUS_CHANGES:
        return "public_incident.incident_status_updated_v2"
    return "public_incident.incident_updated_v2"


def previous_status(event_type: str, incident: dict) -> str:
    """The status before this change: the event says what happened, and an incident
    resolved after an acknowledgement still carries `acknowledgedAt`."""
    if event_type == "incident.acknowledged":
        return "triggered"
    if event_type == "incident.reopened":
        return "resolved"
    return "acknowledged" if incident.get("acknowledgedAt") else "triggered"


def user(assignee: dict) -> dict:
    return {
        "id": assignee["id"] or assignee["name"],
        "name": assignee["name"],
        **({"email": assignee["email"]} if assignee.get("email") else {}),
    }


def custom_field(field_id: str, name: str, field_type: str, values: list[dict]) -> dict:
    return {"custom_field": {"id": field_id, "name": name, "field_type": field_type}, "values": values}


def incident_v2(incident: dict, context: RenderContext) -> dict:
    service = incident.get("service")
    service_values = (
        [{"value_option": {"id": service["id"], "custom_field_id": "service", "value": service["name"]}}]
        if service
        else []
    )
    severity = incident.get("severity") or "info"
    timestamps = [
        (key, name, incident.get(field))
        for key, name, field in (
            ("reported_at", "Reported at", "createdAt"),
            ("acknowledged_at", "Acknowledged at", "acknowledgedAt"),
            ("resolved_at", "Resolved at", "resolvedAt"),
        )
    ]
    assignment = {"role": LEAD_ROLE}
    if incident.get("assignee"):
        assignment["assignee"] = user(incident["assignee"])
    return {
        "id": incident["id"],
        "reference": incident["id"],
        "name": incident.get("title") or "",
        "summary": incident.get("summary") or "",
        "permalink": context.incident_url,
        "visibility": "public",
        "mode": "standard",
        "incident_status": STATUSES[incident["status"]],
        "severity": {"id": severity, "name": severity.capitalize(), "rank": SEVERITY_RANKS.get(severity, 1)},
        "incident_role_assignments": [assignment],
        "custom_field_entries": [
            custom_field("service", "Service", "single_select", service_values),
            custom_field(
                "escalation_level",
                "Escalation level",
                "numeric",
                [{"value_numeric": str(incident.get("escalationLevel") or 0)}],
            ),
        ],
        "incident_timestamp_values": [
            {"incident_timestamp": {"id": key, "name": name, "rank": rank}, "value": {"value": value}}
            for rank, (key, name, value) in enumerate(timestamps, start=1)
            if value
        ],
        "creator": {},
        "created_at": incident.get("createdAt"),
        "updated_at": incident.get("updatedAt"),
    }


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    incident = event["incident"]
    event_type = event["event"]
    is_private = incident.get("visibility") == "private"
    name = event_type_for(event_type, is_private=is_private)
    if is_private:
        payload = {"id": incident["id"]}
    elif event_type in STATUS_CHANGES:
        payload = {
            "incident": incident_v2(incident, context),
            "new_status": STATUSES[incident["status"]],
            "previous_status": STATUSES[previous_status(event_type, incident)],
        }
    else:
        payload = incident_v2(incident, context)
    return dumps({"event_type": name, name: payload})
