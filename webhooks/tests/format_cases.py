"""The events the format golden files are rendered from: one incident's life
(triggered, acknowledged, escalated, resolved) and a private incident, with fixed ids
and times. tests/e2e/test_formats.py plays the same life for real and maps its ids and
times onto these before comparing bytes."""

import json
from pathlib import Path

from webhooks import formats
from webhooks.formats.incidentio.ids import ulid_for

GOLDEN_DIR = Path(__file__).parent / "golden"
BASE_URL = "https://ops.example.com"

TITLE = "Payments & checkout <EU> return 502"
SUMMARY = 'Error rate above 20% since 10:30 UTC; "rollback" in progress.'
SEVERITY = "critical"
# The assignee as the e2e test gives it (an email), and the responder it matches. The
# handles are shaped as each platform documents them (Discord's from its API reference).
ASSIGNEE = "ada@example.com"
RESPONDER = {
    "id": "rsp_01GOLDEN000000000000000001",
    "name": "Ada Lovelace",
    "email": ASSIGNEE,
    "slackUserId": "U02AYNF2XJM",
    "teamsUserPrincipalName": "ada@contoso.onmicrosoft.com",
    "discordUserId": "80351110224678912",
    "telegramUsername": "ada_lovelace",
}
# Who declared and changed the incident: the e2e test's API key ("test key", tests/conftest.py).
ACTOR = {"type": "api_key", "id": "key_01GOLDEN000000000000000001", "name": "test key"}
NUMBER = 42
SERVICE = {"id": "svc_01GOLDEN000000000000000001", "name": "API Gateway"}
INCIDENT_ID = "inc_01GOLDEN000000000000000001"
PRIVATE_ID = "inc_01GOLDEN000000000000000002"
CREATED = "2026-01-15T10:30:00.000Z"
ACKNOWLEDGED = "2026-01-15T10:32:00.000Z"
ESCALATED = "2026-01-15T10:40:00.000Z"
RESOLVED = "2026-01-15T11:05:00.000Z"

# The options each format's endpoint has in the goldens and the e2e test.
OPTIONS = {
    "opsknight": {},
    "slack": {"mention": "<!here>"},
    "msteams": {},
    "google_chat": {},
    "discord": {"username": "OpsKnight"},
    "telegram": {"chat_id": "-1001234567890"},
    "incidentio": {},
    "pagerduty": {},
}


def incident_url(incident_id: str) -> str:
    return f"{BASE_URL}/admin/incidents/incident/{incident_id}/change/"


def _incident(*, status, updated, version, acknowledged=None, resolved=None, level=0) -> dict:
    # The key order of webhooks.formats.opsknight.incident_payload: the opsknight goldens are its bytes.
    return {
        "id": INCIDENT_ID,
        "number": NUMBER,
        "reference": f"INC-{NUMBER}",
        "title": TITLE,
        "summary": SUMMARY,
        "status": status,
        "severity": SEVERITY,
        "service": SERVICE,
        "assignee": RESPONDER,
        "createdBy": ACTOR,
        "createdAt": CREATED,
        "updatedAt": updated,
        "acknowledgedAt": acknowledged,
        "resolvedAt": resolved,
        "escalationLevel": level,
        "version": version,
        "visibility": "public",
        "externalLinks": [],
    }


def _event(number: int, event_type: str, timestamp: str, incident: dict) -> dict:
    private = incident.get("visibility") == "private"
    return {
        "id": f"evt_01GOLDEN00000000000000000{number}",
        "event": event_type,
        "timestamp": timestamp,
        "actor": {"type": ACTOR["type"]} if private else ACTOR,
        "incident": incident,
    }


CASES = {
    "triggered": _event(1, "incident.triggered", CREATED, _incident(status="triggered", updated=CREATED, version=1)),
    "acknowledged": _event(
        2,
        "incident.acknowledged",
        ACKNOWLEDGED,
        _incident(status="acknowledged", updated=ACKNOWLEDGED, version=2, acknowledged=ACKNOWLEDGED),
    ),
    "escalated": _event(
        3,
        "incident.escalated",
        ESCALATED,
        _incident(status="acknowledged", updated=ESCALATED, version=3, acknowledged=ACKNOWLEDGED, level=1),
    ),
    "resolved": _event(
        4,
        "incident.resolved",
        RESOLVED,
        _incident(
            status="resolved", updated=RESOLVED, version=4, acknowledged=ACKNOWLEDGED, resolved=RESOLVED, level=1
        ),
    ),
    "private_triggered": _event(5, "incident.triggered", CREATED, {"id": PRIVATE_ID, "visibility": "private"}),
}


def case_name(event: dict) -> str:
    """Which case a real event plays."""
    if event["incident"].get("visibility") == "private":
        return "private_triggered"
    return event["event"].removeprefix("incident.")


def golden_path(format_name: str, case: str, index: int = 0) -> Path:
    """A format's further messages for one event (incident.io's status change) are
    `<case>_<n>.json`, as their `webhook-id` is `<event id>_<n>`."""
    return GOLDEN_DIR / format_name / (f"{case}_{index}.json" if index else f"{case}.json")


def golden_bytes(format_name: str, case: str, index: int = 0) -> bytes:
    """The golden body, compact as sent (the file is indented for reading)."""
    return formats.common.dumps(json.loads(golden_path(format_name, case, index).read_text()))


def render_case_messages(format_name: str, case: str) -> list[formats.RenderedMessage]:
    event = CASES[case]
    context = formats.RenderContext(incident_url=incident_url(event["incident"]["id"]))
    return formats.messages(format_name, event=event, options=OPTIONS[format_name], context=context)


def render_case(format_name: str, case: str) -> bytes:
    return render_case_messages(format_name, case)[0].body


def real_to_golden(real: dict, case: str) -> dict[str, str]:
    """Each id and time of a real event → its value in the case, to substitute in a body."""
    golden = CASES[case]
    mapping = {real["id"]: golden["id"], real["timestamp"]: golden["timestamp"]}
    for key in ("id", "createdAt", "updatedAt", "acknowledgedAt", "resolvedAt"):
        if real["incident"].get(key):
            mapping[real["incident"][key]] = golden["incident"][key]
    if real["incident"].get("service"):
        mapping[real["incident"]["service"]["id"]] = golden["incident"]["service"]["id"]
    if real["incident"].get("assignee"):
        mapping[real["incident"]["assignee"]["id"]] = golden["incident"]["assignee"]["id"]
    if real["actor"].get("id"):
        mapping[real["actor"]["id"]] = golden["actor"]["id"]
    # incident.io's ids are the ULIDs of OpsKnight's: last, as they are inside the ids above.
    mapping |= {
        ulid_for(real_id): ulid_for(golden_id) for real_id, golden_id in list(mapping.items()) if "_" in real_id
    }
    return mapping
