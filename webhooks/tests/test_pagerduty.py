"""The `pagerduty` format against PagerDuty's published v3 webhook docs (vendored in
schemas/pagerduty/): every body validates, has the documented keys with the documented
types, maps the incident as docs/formats.md says, and is signed as PagerDuty signs."""

import copy
import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.pagerduty_receiver import PagerDutyVerifier
from webhooks import formats
from webhooks.formats import pagerduty
from webhooks.tests.format_cases import BASE_URL, CASES, INCIDENT_ID, PRIVATE_ID, incident_url

SCHEMAS = Path(__file__).parent / "schemas" / "pagerduty"
SCHEMA_ID = "https://opsknight.invalid/schemas/pagerduty/incident-event.schema.json"
NUMBER = 42
RESPONDER = {
    "id": "rsp_01GOLDEN000000000000000001",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "slackUserId": "U02AYNF2XJM",
}
ACTOR = {"type": "api_key", "id": "key_01GOLDEN000000000000000001", "name": "test key"}


def load(name: str):
    return json.loads((SCHEMAS / name).read_text())


def nullable_to_json_schema(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema's `type: [..., "null"]`."""
    if isinstance(node, list):
        return [nullable_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: nullable_to_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False) and "type" in node:
        node["type"] = [node["type"], "null"]
    return node


def validator() -> Draft202012Validator:
    schema = load("incident-event.schema.json")
    references = nullable_to_json_schema(load("references.openapi.json"))
    registry = Registry().with_resource(
        SCHEMA_ID.replace("incident-event.schema.json", "references.openapi.json"),
        Resource.from_contents(references, default_specification=DRAFT202012),
    )
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())


def assert_valid(body: dict) -> None:
    errors = sorted(validator().iter_errors(body), key=lambda error: list(error.absolute_path))
    assert not errors, "\n".join(f"{list(error.absolute_path)}: {error.message}" for error in errors[:10])


def people_shaped(event: dict) -> dict:
    """A golden case as bodies carry it once people and numbers are in (the fields main's
    cases may not have yet): number, a responder as the assignee, the actor."""
    event = copy.deepcopy(event)
    incident = event["incident"]
    if incident.get("visibility") == "private":
        event.setdefault("actor", {"type": ACTOR["type"]})
        return event
    incident.setdefault("number", NUMBER)
    incident.setdefault("reference", f"INC-{NUMBER}")
    if not isinstance(incident.get("assignee"), dict):
        incident["assignee"] = RESPONDER
    incident.setdefault("createdBy", ACTOR)
    event.setdefault("actor", ACTOR)
    return event


def reopened() -> dict:
    event = copy.deepcopy(CASES["triggered"])
    event.update(id="evt_01GOLDEN000000000000000006", event="incident.reopened", timestamp="2026-01-15T12:00:00.000Z")
    event["incident"].update(updatedAt=event["timestamp"], version=5, escalationLevel=1)
    return event


EVENTS = {**{name: CASES[name] for name in CASES}, "reopened": reopened()}


def render(event: dict) -> dict:
    context = formats.RenderContext(incident_url=incident_url(event["incident"]["id"]))
    return json.loads(formats.render("pagerduty", event=event, options={}, context=context))


# --- The published shape ----------------------------------------------------------------


def test_the_schema_accepts_pagerdutys_own_samples():
    assert_valid(load("incident-event.sample.json"))
    assert_valid({"event": {**load("incident-event.sample.json")["event"], "data": load("incident.sample.json")}})
    assert_valid(load("pagey-ping.sample.json"))


@pytest.mark.parametrize("name", list(EVENTS))
def test_every_body_validates_against_the_published_shape(name):
    body = render(people_shaped(EVENTS[name]))
    assert_valid(body)
    assert body["event"]["event_type"] == EVENTS[name]["event"]
    assert body["event"]["resource_type"] == "incident"


def json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", type(None): "null"}[
        type(value)
    ]


# Fields PagerDuty's samples show with a value that may be null when there is none.
NULLABLE = {"agent", "client", "reopened_at", "priority", "conference_bridge", "incident_key"}


@pytest.mark.parametrize("name", [name for name in EVENTS if name != "private_triggered"])
def test_same_keys_in_the_same_order_and_types_as_the_documented_payload(name):
    sample_event = load("incident-event.sample.json")["event"]
    sample_data = load("incident.sample.json")
    event = render(people_shaped(EVENTS[name]))["event"]
    assert list(event) == list(sample_event)
    assert list(event["data"]) == list(sample_data)
    for key, value in event["data"].items():
        if value is None and key in NULLABLE | {"resolve_reason"}:
            continue
        assert json_type(value) == json_type(sample_data[key]), key
    reference_keys = list(sample_data["service"])
    for key in ("service", "escalation_policy", "priority"):
        assert list(event["data"][key]) == reference_keys
    for assignee in event["data"]["assignees"]:
        assert list(assignee) == reference_keys
    assert list(event["agent"]) == list(sample_event["agent"])


# --- The mapping (docs/formats.md) ----------------------------------------------------


def test_incident_fields():
    data = render(people_shaped(CASES["triggered"]))["event"]["data"]
    incident_id = CASES["triggered"]["incident"]["id"]
    assert data["id"] == data["incident_key"] == incident_id
    assert data["self"] == f"{BASE_URL}/api/v1/incidents/{incident_id}"
    assert data["html_url"] == incident_url(incident_id)
    assert (data["number"], data["status"], data["title"]) == (
        NUMBER,
        "triggered",
        CASES["triggered"]["incident"]["title"],
    )
    assert data["created_at"] == CASES["triggered"]["incident"]["createdAt"]
    assert data["service"] == {
        "html_url": f"{BASE_URL}/admin/incidents/service/svc_01GOLDEN000000000000000001/change/",
        "id": "svc_01GOLDEN000000000000000001",
        "self": f"{BASE_URL}/api/v1/services/svc_01GOLDEN000000000000000001",
        "summary": "API Gateway",
        "type": "service_reference",
    }
    assert data["assignees"] == [
        {
            "html_url": f"{BASE_URL}/admin/incidents/responder/{RESPONDER['id']}/change/",
            "id": RESPONDER["id"],
            "self": f"{BASE_URL}/api/v1/responders/{RESPONDER['id']}",
            "summary": "Ada Lovelace",
            "type": "user_reference",
        }
    ]
    assert (data["teams"], data["conference_bridge"], data["resolve_reason"]) == ([], None, None)
    assert data["escalation_policy"]["type"] == "escalation_policy_reference"


@pytest.mark.parametrize(
    "severity, urgency, priority",
    [
        ("critical", "high", "P1"),
        ("high", "high", "P2"),
        ("medium", "low", "P3"),
        ("low", "low", "P4"),
        ("info", "low", "P5"),
    ],
)
def test_severity_is_urgency_and_priority(severity, urgency, priority):
    event = people_shaped(CASES["triggered"])
    event["incident"]["severity"] = severity
    data = render(event)["event"]["data"]
    assert data["urgency"] == urgency
    assert data["priority"] == {
        "html_url": None,
        "id": priority,
        "self": None,
        "summary": priority,
        "type": "priority_reference",
    }


def test_an_incident_on_no_service_is_on_a_placeholder_one():
    event = people_shaped(CASES["triggered"])
    event["incident"]["service"] = None
    body = render(event)
    assert_valid(body)
    assert body["event"]["data"]["service"] == {
        "html_url": None,
        "id": "none",
        "self": None,
        "summary": "No service",
        "type": "service_reference",
    }


def test_a_resolved_incident_has_no_assignees_and_a_reopened_one_a_reopen_time():
    assert render(people_shaped(CASES["resolved"]))["event"]["data"]["assignees"] == []
    data = render(people_shaped(EVENTS["reopened"]))["event"]["data"]
    assert (data["status"], data["reopened_at"]) == ("triggered", "2026-01-15T12:00:00.000Z")
    assert render(people_shaped(CASES["acknowledged"]))["event"]["data"]["reopened_at"] is None


def test_an_assignee_without_a_responder_is_named_by_its_text():
    event = copy.deepcopy(CASES["triggered"])
    event["incident"]["assignee"] = "U02AYNF2XJM"  # a plain string, as main's bodies carry it
    assert render(event)["event"]["data"]["assignees"] == [
        {"html_url": None, "id": "U02AYNF2XJM", "self": None, "summary": "U02AYNF2XJM", "type": "user_reference"}
    ]
    event["incident"]["assignee"] = {"id": None, "name": "ada@example.com", "email": "ada@example.com"}
    assert render(event)["event"]["data"]["assignees"][0]["id"] == "ada@example.com"
    event["incident"]["assignee"] = None
    assert render(event)["event"]["data"]["assignees"] == []


@pytest.mark.parametrize(
    "actor, agent",
    [
        (
            ACTOR,
            {"html_url": None, "id": ACTOR["id"], "self": None, "summary": "test key", "type": "integration_reference"},
        ),
        (
            {"type": "user", "id": "7", "name": "alice"},
            {"html_url": None, "id": "7", "self": None, "summary": "alice", "type": "user_reference"},
        ),
        ({"type": "system", "id": None, "name": "dispatcher"}, None),
        ({"type": "api_key"}, None),  # a private incident's actor: the type only
    ],
)
def test_the_actor_is_the_agent(actor, agent):
    event = copy.deepcopy(CASES["acknowledged"])
    event["actor"] = actor
    assert render(event)["event"]["agent"] == agent


def test_without_an_actor_a_trigger_names_the_creator_and_other_events_nobody():
    triggered, acknowledged = copy.deepcopy(CASES["triggered"]), copy.deepcopy(CASES["acknowledged"])
    triggered.pop("actor", None), acknowledged.pop("actor", None)  # the cases carry one since `actor` exists
    triggered["incident"]["createdBy"] = ACTOR
    assert render(triggered)["event"]["agent"]["summary"] == "test key"
    assert render(acknowledged)["event"]["agent"] is None


def test_a_private_incident_sends_its_links_only():
    body = render(people_shaped(CASES["private_triggered"]))
    assert_valid(body)
    private_id = CASES["private_triggered"]["incident"]["id"]
    assert body["event"]["data"] == {
        "id": private_id,
        "type": "incident",
        "self": f"{BASE_URL}/api/v1/incidents/{private_id}",
        "html_url": incident_url(private_id),
    }
    assert body["event"]["agent"] is None


# --- Signature, headers, ping --------------------------------------------------------


def test_signature_matches_pagerdutys_own_vector():
    vector = load("signature-vector.json")
    assert pagerduty.signature(body=vector["body"].encode(), secrets=[vector["secret"]]) == vector["signature"]


def test_during_a_rotation_each_secret_signs_and_the_docs_verifier_accepts_either():
    body = json.dumps(render(CASES["triggered"])).encode()
    header = pagerduty.signature(body=body, secrets=["whsec_new", "whsec_old"])
    new, old = header.split(",")
    assert new == "v1=" + hmac.new(b"whsec_new", body, hashlib.sha256).hexdigest()
    assert old == "v1=" + hmac.new(b"whsec_old", body, hashlib.sha256).hexdigest()
    for secret in ("whsec_new", "whsec_old"):
        assert PagerDutyVerifier(secret, "v1").verify(body.decode(), header)
    assert not PagerDutyVerifier("whsec_other", "v1").verify(body.decode(), header)


def test_headers_carry_the_signature_the_webhook_id_and_the_subscription():
    body = b'{"event":{}}'
    assert formats.extra_headers("pagerduty", message_id="evt_1", body=body, secrets=["s1"], endpoint_id="whk_1") == {
        "X-PagerDuty-Signature": "v1=" + hmac.new(b"s1", body, hashlib.sha256).hexdigest(),
        "X-Webhook-Id": "evt_1",
        "X-Webhook-Subscription": "whk_1",
    }


def test_send_test_sends_pageys_ping():
    context = formats.RenderContext(incident_url=incident_url("inc_x"))
    (message,) = formats.test_messages("pagerduty", event=CASES["triggered"], options={}, context=context)
    body = json.loads(message.body)
    assert_valid(body)
    sample = load("pagey-ping.sample.json")["event"]
    assert message.type == "pagey.ping"
    assert {key: value for key, value in body["event"].items() if key not in ("id", "occurred_at")} == {
        key: value for key, value in sample.items() if key not in ("id", "occurred_at")
    }
    assert pagerduty.ping_body(event_id=sample["id"], occurred_at=sample["occurred_at"]) == formats.common.dumps(
        load("pagey-ping.sample.json")
    )


def test_endpoints_subscribe_in_pagerdutys_names():
    assert formats.event_types("pagerduty") == pagerduty.EVENT_TYPES
    assert set(pagerduty.EVENT_TYPES) == {event["event"] for event in EVENTS.values()}


def test_the_schema_refuses_what_pagerduty_would_not_send():
    body = render(people_shaped(CASES["triggered"]))
    for path, value in [
        (("urgency",), "critical"),
        (("number",), "42"),
        (("service", "type"), "service"),
        (("assignees",), {"summary": "Ada"}),
    ]:
        broken = copy.deepcopy(body)
        target = broken["event"]["data"]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert list(validator().iter_errors(broken)), path
    missing = copy.deepcopy(body)
    del missing["event"]["data"]["escalation_policy"]
    assert list(validator().iter_errors(missing))


# --- docs/formats.md ------------------------------------------------------------------

FORMATS_MD = Path(__file__).resolve().parents[2] / "docs" / "formats.md"


def test_the_example_in_docs_formats_md_is_what_the_format_renders():
    docs = FORMATS_MD.read_text()
    (text,) = re.findall(r"<!-- pagerduty example: acknowledged -->\n```json\n(.*?)\n```", docs, flags=re.DOTALL)
    assert json.loads(text) == render(people_shaped(CASES["acknowledged"]))


def test_the_receiver_in_docs_formats_md_verifies_what_is_sent():
    docs = FORMATS_MD.read_text()
    section = docs[docs.index("### Headers and verifying") :]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL).group(1)
    namespace = {"SECRET": "whsec_current", "__name__": "__main__"}
    exec(compile(code, "docs/formats.md", "exec"), namespace)  # noqa: S102
    client = namespace["app"].test_client()

    def post(body: bytes, secrets: list[str]) -> int:
        headers = formats.extra_headers(
            "pagerduty", message_id="evt_1", body=body, secrets=secrets, endpoint_id="whk_1"
        )
        return client.post("/pagerduty", data=body, headers=headers, content_type="application/json").status_code

    body = formats.render(
        "pagerduty", event=people_shaped(CASES["triggered"]), options={}, context=context_for(INCIDENT_ID)
    )
    private = formats.render("pagerduty", event=CASES["private_triggered"], options={}, context=context_for(PRIVATE_ID))
    ping = pagerduty.ping_body(event_id="evt_2", occurred_at="2026-01-15T10:30:00.000Z")
    assert post(body, ["whsec_current"]) == 202
    assert post(body, ["whsec_next", "whsec_current"]) == 202  # a rotation
    assert post(private, ["whsec_current"]) == 202
    assert post(ping, ["whsec_current"]) == 204
    assert post(body, ["whsec_other"]) == 403


def context_for(incident_id: str) -> formats.RenderContext:
    return formats.RenderContext(incident_url=incident_url(incident_id))


def test_links_are_under_public_base_url_read_off_the_incident_page():
    assert pagerduty.base_url(context_for("inc_1"), "inc_1") == BASE_URL
    other = formats.RenderContext(incident_url="https://ops.example.com/elsewhere/inc_1")
    assert pagerduty.base_url(other, "inc_1") == "https://ops.example.com"
