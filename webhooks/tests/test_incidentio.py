"""The incidentio format against incident.io's published schema (vendored in
schemas/incidentio/) and event semantics: messages per event, ids, people, statuses."""

import copy
import json
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest

from webhooks import formats
from webhooks.formats import incidentio
from webhooks.formats.incidentio import catalogue
from webhooks.formats.incidentio.ids import derived_ulid, is_ulid, ulid_for
from webhooks.tests.format_cases import CASES, render_case_messages

SPEC = json.loads((Path(__file__).parent / "schemas" / "incidentio" / "openapi-excerpt.json").read_text())
# Each message type and the schema of its body in incident.io's OpenAPI.
BODY_SCHEMAS = {
    incidentio.CREATED: "WebhooksPublicIncidentIncidentCreatedV2ResponseBody",
    incidentio.UPDATED: "WebhooksPublicIncidentIncidentUpdatedV2ResponseBody",
    incidentio.STATUS_UPDATED: "WebhooksPublicIncidentIncidentStatusUpdatedV2ResponseBody",
    incidentio.PRIVATE_CREATED: "WebhooksPrivateIncidentIncidentCreatedV2ResponseBody",
    incidentio.PRIVATE_UPDATED: "WebhooksPrivateIncidentIncidentUpdatedV2ResponseBody",
}
CONTEXT = formats.RenderContext(incident_url="https://ops.example.com/admin/incidents/incident/inc_x/change/")

FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    return not isinstance(value, str) or (value.endswith("Z") and datetime.fromisoformat(value) is not None)


def _strict(schemas: dict) -> dict:
    """The same schemas, refusing keys they do not define (a misspelt field would
    otherwise pass as an extra one)."""
    schemas = copy.deepcopy(schemas)
    for schema in schemas.values():
        if "properties" in schema:
            schema["additionalProperties"] = False
    return schemas


def validator(message_type: str, *, strict: bool) -> jsonschema.protocols.Validator:
    schemas = _strict(SPEC["components"]["schemas"]) if strict else SPEC["components"]["schemas"]
    root = {"$ref": f"#/components/schemas/{BODY_SCHEMAS[message_type]}", "components": {"schemas": schemas}}
    return jsonschema.Draft4Validator(root, format_checker=FORMATS)


def assert_valid(message: formats.RenderedMessage) -> None:
    body = json.loads(message.body)
    for strict in (False, True):
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator(message.type, strict=strict).iter_errors(body)
        ]
        assert not errors, (message.type, strict, errors)
    assert body["event_type"] == message.type and set(body) == {"event_type", message.type}


def people_event(case: str, **incident) -> dict:
    """A golden case with what the payload carries since responders (issue 13 part 1): a
    number and reference, the assignee as a person, `createdBy` and the event's actor."""
    event = copy.deepcopy(CASES[case])
    actor = {"type": "api_key", "id": "key_01JDQ8ZB3M6W4S2N5E7R9T1V0X", "name": "alertmanager"}
    event["actor"] = actor
    if event["incident"].get("visibility") != "private":
        event["incident"] |= {
            "number": 42,
            "reference": "INC-42",
            "assignee": {
                "id": "rsp_01JDQ8ZB3M6W4S2N5E7R9T1V0Y",
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "slackUserId": "U02AYNF2XJM",
                "teamsUserPrincipalName": None,
                "discordUserId": None,
                "telegramUsername": None,
            },
            "createdBy": actor,
            **incident,
        }
    return event


def messages(event: dict) -> list[formats.RenderedMessage]:
    return formats.messages("incidentio", event=event, options={}, context=CONTEXT)


# --- incident.io's schema --------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_every_golden_body_is_valid_against_incidentios_schema(case):
    for message in render_case_messages("incidentio", case):
        assert_valid(message)


@pytest.mark.parametrize("case", list(CASES))
def test_bodies_with_people_are_valid_against_incidentios_schema(case):
    for message in messages(people_event(case)):
        assert_valid(message)


@pytest.mark.parametrize(
    "changes",
    [
        {"assignee": None, "service": None, "severity": None, "summary": "", "createdBy": None},
        {"assignee": {"id": None, "name": "U024BE7LH", "email": None, "slackUserId": "U024BE7LH"}},
        {"assignee": "bob", "createdBy": {"type": "user", "id": "7", "name": "admin"}},
        {"createdBy": {"type": "system", "id": None, "name": "escalation bot"}},
        {"service": {"id": "svc_01JDQ8ZB3M6W4S2N5E7R9T1V0Z", "name": "  API\tGateway \n"}},
    ],
)
def test_partial_incidents_are_valid_too(changes):
    for message in messages(people_event("resolved", **changes)):
        assert_valid(message)


def test_the_schema_catches_what_the_issue_found():
    body = json.loads(render_case_messages("incidentio", "resolved")[0].body)
    incident = body[incidentio.UPDATED]
    del incident["slack_channel_id"]
    del incident["incident_status"]["created_at"]
    incident["incident_role_assignments"][0]["assignee"] = {"id": "U02AYNF2XJM", "name": "U02AYNF2XJM"}
    errors = {e.message for e in validator(incidentio.UPDATED, strict=False).iter_errors(body)}
    assert errors == {
        "'slack_channel_id' is a required property",
        "'created_at' is a required property",
        "'role' is a required property",
    }


# --- Event semantics ---------------------------------------------------------------------


def test_each_event_becomes_incidentios_messages():
    types = {case: [m.type for m in render_case_messages("incidentio", case)] for case in CASES}
    assert types == {
        "triggered": [incidentio.CREATED],
        "acknowledged": [incidentio.UPDATED, incidentio.STATUS_UPDATED],
        "escalated": [incidentio.UPDATED],
        "resolved": [incidentio.UPDATED, incidentio.STATUS_UPDATED],
        "private_triggered": [incidentio.PRIVATE_CREATED],
    }
    reopened = copy.deepcopy(CASES["triggered"]) | {"event": "incident.reopened"}
    assert [m.type for m in messages(reopened)] == [incidentio.UPDATED, incidentio.STATUS_UPDATED]
    private = copy.deepcopy(CASES["private_triggered"])
    for event_type in ("incident.acknowledged", "incident.escalated", "incident.resolved", "incident.reopened"):
        (message,) = messages(private | {"event": event_type})
        assert message.type == incidentio.PRIVATE_UPDATED
        assert json.loads(message.body) == {message.type: {"id": ulid_for(private["incident"]["id"])}} | {
            "event_type": message.type
        }


def test_the_status_change_carries_the_incident_and_both_statuses():
    updated, changed = (json.loads(m.body) for m in render_case_messages("incidentio", "resolved"))
    change = changed[incidentio.STATUS_UPDATED]
    assert change["incident"] == updated[incidentio.UPDATED]
    assert (change["previous_status"]["name"], change["new_status"]["name"]) == ("Acknowledged", "Resolved")
    assert change["new_status"] == change["incident"]["incident_status"]


@pytest.mark.parametrize(
    "event_type, status, acknowledged_at, previous, new",
    [
        ("incident.acknowledged", "acknowledged", "2026-01-15T10:32:00.000Z", "triage", "live"),
        ("incident.resolved", "resolved", "2026-01-15T10:32:00.000Z", "live", "closed"),
        ("incident.resolved", "resolved", None, "triage", "closed"),
        ("incident.reopened", "triggered", None, "closed", "triage"),
    ],
)
def test_status_categories(event_type, status, acknowledged_at, previous, new):
    event = copy.deepcopy(CASES["resolved"]) | {"event": event_type}
    event["incident"] |= {"status": status, "acknowledgedAt": acknowledged_at}
    change = json.loads(messages(event)[1].body)[incidentio.STATUS_UPDATED]
    assert (change["previous_status"]["category"], change["new_status"]["category"]) == (previous, new)


def test_severities_rank_from_the_least_severe_up():
    ranks = {key: severity["rank"] for key, severity in catalogue.SEVERITIES.items()}
    assert ranks == {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


# --- Ids, reference, people ----------------------------------------------------------------


def test_ids_are_ulids_stable_per_opsknight_id():
    assert ulid_for("inc_01JDQ8ZB3M6W4S2N5E7R9T1V0X") == "01JDQ8ZB3M6W4S2N5E7R9T1V0X"  # inc_ + it: the incident
    assert ulid_for("inc_01GOLDEN000000000000000001") == ulid_for("inc_01GOLDEN000000000000000001")
    assert ulid_for("inc_01GOLDEN000000000000000001") != ulid_for("inc_01GOLDEN000000000000000002")
    assert is_ulid(ulid_for("inc_TEST00000000000000000000000"))
    assert derived_ulid("x") == "1DE4B45DS6P1202RKWN7XTRCQN"  # a fixed vector: ids never change

    bodies = [json.loads(m.body) for case in CASES for m in render_case_messages("incidentio", case)]
    ids = []

    def collect(value, key=None):
        if isinstance(value, dict):
            for name, item in value.items():
                collect(item, name)
        elif isinstance(value, list):
            for item in value:
                collect(item, key)
        elif key in ("id", "custom_field_id"):
            ids.append(value)

    collect(bodies)
    assert ids and all(is_ulid(value) for value in ids)


def test_reference_permalink_lead_and_creator():
    updated, _ = messages(people_event("resolved"))
    incident = json.loads(updated.body)[incidentio.UPDATED]
    assert incident["reference"] == "INC-42"
    assert incident["permalink"] == CONTEXT.incident_url
    (lead,) = [a for a in incident["incident_role_assignments"] if a["role"]["role_type"] == "lead"]
    assert lead["assignee"] == {
        "id": "01JDQ8ZB3M6W4S2N5E7R9T1V0Y",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "role": "responder",
        "slack_user_id": "U02AYNF2XJM",
    }
    assert incident["creator"] == {"api_key": {"id": "01JDQ8ZB3M6W4S2N5E7R9T1V0X", "name": "alertmanager"}}


def test_reference_from_the_number_and_creator_from_the_trigger_actor():
    event = people_event("triggered")
    del event["incident"]["reference"], event["incident"]["createdBy"]
    incident = json.loads(messages(event)[0].body)[incidentio.CREATED]
    assert incident["reference"] == "INC-42"
    assert incident["creator"] == {"api_key": {"id": "01JDQ8ZB3M6W4S2N5E7R9T1V0X", "name": "alertmanager"}}


@pytest.mark.parametrize(
    "created_by, creator",
    [
        ({"type": "user", "id": "7", "name": "admin"}, {"user": {"name": "admin", "role": "unset", "email": ""}}),
        ({"type": "system", "id": None, "name": "escalation bot"}, {"workflow": {"name": "escalation bot"}}),
        (None, {}),
    ],
)
def test_creators(created_by, creator):
    incident = json.loads(messages(people_event("escalated", createdBy=created_by))[0].body)[incidentio.UPDATED]
    kind = next(iter(creator), None)
    assert list(incident["creator"]) == list(creator)
    if kind:
        assert creator[kind].items() <= incident["creator"][kind].items()
        assert is_ulid(incident["creator"][kind]["id"])


@pytest.mark.parametrize(
    "assignee, email, slack_user_id",
    [
        ("ada@example.com", "ada@example.com", ""),
        ("U024BE7LH", "", "U024BE7LH"),
        ("Ada", "", ""),
        ({"id": None, "name": "U024BE7LH", "email": None, "slackUserId": "U024BE7LH"}, "", "U024BE7LH"),
    ],
)
def test_assignees_not_in_the_directory(assignee, email, slack_user_id):
    incident = json.loads(messages(people_event("escalated", assignee=assignee))[0].body)[incidentio.UPDATED]
    user = incident["incident_role_assignments"][0]["assignee"]
    assert (user["email"], user["slack_user_id"], user["role"]) == (email, slack_user_id, "unset")


def test_no_assignee_no_lead():
    incident = json.loads(messages(people_event("escalated", assignee=None))[0].body)[incidentio.UPDATED]
    assert incident["incident_role_assignments"] == []


# --- Subscriptions and secrets ------------------------------------------------------------


def test_endpoints_subscribe_in_incidentios_names():
    assert formats.event_types("incidentio") == (
        "public_incident.incident_created_v2",
        "public_incident.incident_updated_v2",
        "public_incident.incident_status_updated_v2",
        "private_incident.incident_created_v2",
        "private_incident.incident_updated_v2",
    )


@pytest.mark.parametrize(
    "secret, ok",
    [
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", True),
        ("whsec_" + "A" * 43 + "=", True),
        ("my-shared-secret-1234", False),
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", False),  # Svix would base64-decode it; OpsKnight signs its text
        ("whsec_not base64 at all!", False),
        ("whsec_AAAAAAAA", False),  # 6 bytes: too short a key
    ],
)
def test_typed_secrets_must_be_svix_secrets(secret, ok):
    assert (incidentio.secret_problem(secret) is None) is ok
