"""The Events API (POST /api/v1/events): PagerDuty Events v2 shape onto the lifecycle."""

import json

import pytest

from incidents import alerts, services
from incidents.models import Incident, IncidentEvent
from opsknight.models import Scope
from opsknight.tests.asserts import assert_api_error

EVENTS = "/api/v1/events"
S = Incident.Status

pytestmark = pytest.mark.django_db


def send(api, action="trigger", **body):
    body = {"event_action": action, **body}
    if action == "trigger":
        body.setdefault("payload", {"summary": "Disk full on db-1", "source": "db-1", "severity": "critical"})
    return api.post(EVENTS, body, format="json")


def accepted(response) -> dict:
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"status", "message", "dedup_key", "incident_id"}
    assert (body["status"], body["message"]) == ("success", "Event processed")
    return body


def timeline(incident_id: str) -> list[str]:
    return list(IncidentEvent.objects.filter(incident_id=incident_id).values_list("type", flat=True))


# --- trigger ---------------------------------------------------------------------------------


def test_trigger_opens_an_incident_with_the_mapped_fields(api_client, service):
    response = send(
        api_client,
        dedup_key="db-1/disk",
        routing_key=service.id,
        payload={
            "summary": "Disk full on db-1",
            "source": "db-1.example.com",
            "severity": "warning",
            "component": "postgres",
            "custom_details": {"free": "0 B", "mount": "/var/lib/postgresql"},
            "group": "databases",  # PagerDuty fields we do not use are ignored
        },
        client="Prometheus",
        links=[{"href": "https://prometheus.example.com", "text": "graph"}],
    )

    body = accepted(response)
    assert body["dedup_key"] == "db-1/disk"
    incident = Incident.objects.get(pk=body["incident_id"])
    assert incident.title == "Disk full on db-1"
    assert incident.severity == "medium"
    assert incident.service == service
    assert incident.status == "triggered"
    assert incident.dedup_key == "db-1/disk"
    assert incident.visibility == "public"
    assert incident.created_by_key_id == api_client.api_key.id
    assert incident.summary.startswith("Source: db-1.example.com\nComponent: postgres\n\nDetails:\n")
    assert json.loads(incident.summary.split("Details:\n", 1)[1]) == {"free": "0 B", "mount": "/var/lib/postgresql"}
    assert timeline(incident.id) == ["incident.triggered"]
    # The incident API shows the key.
    assert api_client.get(f"/api/v1/incidents/{incident.id}").json()["dedup_key"] == "db-1/disk"


@pytest.mark.parametrize(
    ("pagerduty", "ours"), [("critical", "critical"), ("error", "high"), ("warning", "medium"), ("info", "info")]
)
def test_severity_mapping(api_client, pagerduty, ours):
    body = accepted(send(api_client, payload={"summary": "s", "source": "x", "severity": pagerduty}))
    assert Incident.objects.get(pk=body["incident_id"]).severity == ours


def test_trigger_without_dedup_key_generates_one(api_client):
    first = accepted(send(api_client))
    second = accepted(send(api_client))
    assert len(first["dedup_key"]) == 32
    assert first["dedup_key"] != second["dedup_key"]
    assert first["incident_id"] != second["incident_id"]
    assert Incident.objects.get(pk=first["incident_id"]).dedup_key == first["dedup_key"]


def test_trigger_again_while_open_is_the_same_incident_and_emits_nothing(api_client):
    first = accepted(send(api_client, dedup_key="k1"))
    accepted(send(api_client, "acknowledge", dedup_key="k1"))
    again = accepted(
        send(api_client, dedup_key="k1", payload={"summary": "Changed", "source": "y", "severity": "info"})
    )

    assert again == first
    assert Incident.objects.count() == 1
    incident = Incident.objects.get()
    assert (incident.title, incident.severity, incident.status) == ("Disk full on db-1", "critical", "acknowledged")
    assert timeline(incident.id) == ["incident.triggered", "incident.acknowledged"]


def test_trigger_after_resolve_opens_a_new_incident_with_the_same_key(api_client):
    first = accepted(send(api_client, dedup_key="k2"))
    accepted(send(api_client, "resolve", dedup_key="k2"))
    second = accepted(send(api_client, dedup_key="k2"))

    assert second["dedup_key"] == "k2"
    assert second["incident_id"] != first["incident_id"]
    assert Incident.objects.get(pk=first["incident_id"]).status == "resolved"
    assert Incident.objects.get(pk=second["incident_id"]).status == "triggered"
    # acknowledge and resolve now act on the new, open one.
    assert accepted(send(api_client, "acknowledge", dedup_key="k2"))["incident_id"] == second["incident_id"]
    assert Incident.objects.get(pk=second["incident_id"]).status == "acknowledged"


def test_a_long_summary_is_cut_for_the_title_and_kept_whole_in_the_summary(api_client):
    summary = "x" * 1024
    body = accepted(send(api_client, payload={"summary": summary, "source": "s", "severity": "info"}))
    incident = Incident.objects.get(pk=body["incident_id"])
    assert len(incident.title) == 500 and incident.title.endswith("…")
    assert summary in incident.summary


def test_huge_custom_details_are_cut_to_the_summary_limit(api_client):
    details = {"log": "y" * 20_000}
    body = accepted(
        send(api_client, payload={"summary": "s", "source": "s", "severity": "info", "custom_details": details})
    )
    incident = Incident.objects.get(pk=body["incident_id"])
    assert len(incident.summary) == 10_000 and incident.summary.endswith("…")


@pytest.mark.parametrize("details", ["line 1\nline 2 \x00 end", {"nul": "a\x00b"}, ["x", 1], 42])
def test_custom_details_of_any_json_type_are_kept_even_with_nul_bytes(api_client, details):
    body = accepted(
        send(api_client, payload={"summary": "s", "source": "s", "severity": "info", "custom_details": details})
    )
    summary = Incident.objects.get(pk=body["incident_id"]).summary
    assert "\x00" not in summary
    assert "\\u0000" in summary or "\\u0000" not in json.dumps(details)
    assert summary.startswith("Source: s\n\nDetails:\n")


# --- acknowledge and resolve ------------------------------------------------------------------


def test_acknowledge_then_resolve_follow_the_lifecycle(api_client):
    incident_id = accepted(send(api_client, dedup_key="k3"))["incident_id"]

    ack = accepted(send(api_client, "acknowledge", dedup_key="k3"))
    assert (ack["incident_id"], ack["dedup_key"]) == (incident_id, "k3")
    assert Incident.objects.get(pk=incident_id).status == "acknowledged"
    accepted(send(api_client, "resolve", dedup_key="k3"))

    incident = Incident.objects.get(pk=incident_id)
    assert incident.status == "resolved" and incident.version == 3
    assert timeline(incident_id) == ["incident.triggered", "incident.acknowledged", "incident.resolved"]
    actor = IncidentEvent.objects.filter(incident_id=incident_id).last()
    assert (actor.actor_type, actor.actor_id) == ("api_key", api_client.api_key.id)


def test_resolve_straight_from_triggered(api_client):
    incident_id = accepted(send(api_client, dedup_key="k4"))["incident_id"]
    accepted(send(api_client, "resolve", dedup_key="k4"))
    assert timeline(incident_id) == ["incident.triggered", "incident.resolved"]


@pytest.mark.parametrize(
    ("actions", "status", "version"),
    [
        (["acknowledge", "acknowledge"], "acknowledged", 2),
        (["resolve", "resolve"], "resolved", 2),
        (["resolve", "acknowledge"], "resolved", 2),
        (["acknowledge", "resolve", "acknowledge", "resolve"], "resolved", 3),
    ],
)
def test_repeated_or_late_events_succeed_and_change_nothing(api_client, actions, status, version):
    incident_id = accepted(send(api_client, dedup_key="k5"))["incident_id"]
    for action in actions:
        assert accepted(send(api_client, action, dedup_key="k5"))["incident_id"] == incident_id
    incident = Incident.objects.get(pk=incident_id)
    assert incident.status == status
    assert len(timeline(incident_id)) == incident.version == version


@pytest.mark.parametrize("payload", [{}, {"summary": "only a summary"}, "text", None])
def test_acknowledge_and_resolve_ignore_their_payload(api_client, payload):
    incident_id = accepted(send(api_client, dedup_key="k8"))["incident_id"]
    for action in ("acknowledge", "resolve"):
        assert accepted(send(api_client, action, dedup_key="k8", payload=payload))["incident_id"] == incident_id
    assert Incident.objects.get(pk=incident_id).status == "resolved"


def test_acknowledge_or_resolve_of_an_unknown_dedup_key_is_404(api_client):
    for action in ("acknowledge", "resolve"):
        error = assert_api_error(send(api_client, action, dedup_key="never-triggered"), 404, code="not_found")
        assert "never-triggered" in error["message"]
    assert Incident.objects.count() == 0


def test_reopening_a_resolved_incident_whose_key_is_open_again_is_409(api_client):
    first = accepted(send(api_client, dedup_key="k6"))["incident_id"]
    accepted(send(api_client, "resolve", dedup_key="k6"))
    accepted(send(api_client, dedup_key="k6"))

    error = assert_api_error(api_client.post(f"/api/v1/incidents/{first}/reopen"), 409, code="invalid_transition")
    assert "dedup_key 'k6'" in error["message"]
    assert Incident.objects.get(pk=first).status == "resolved"
    assert timeline(first) == ["incident.triggered", "incident.resolved"]


def test_a_resolved_incident_can_be_reopened_when_its_key_is_free(api_client):
    first = accepted(send(api_client, dedup_key="k7"))["incident_id"]
    accepted(send(api_client, "resolve", dedup_key="k7"))
    assert api_client.post(f"/api/v1/incidents/{first}/reopen").status_code == 200
    # A trigger now finds the reopened incident.
    assert accepted(send(api_client, dedup_key="k7"))["incident_id"] == first


# --- bad input and access ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "event_action"),
        ({"event_action": "snooze"}, "event_action"),
        ({"event_action": "trigger"}, "payload"),
        ({"event_action": "trigger", "payload": "text"}, "payload.non_field_errors"),
        ({"event_action": "trigger", "payload": {"source": "s", "severity": "info"}}, "payload.summary"),
        ({"event_action": "trigger", "payload": {"summary": "s", "severity": "info"}}, "payload.source"),
        ({"event_action": "trigger", "payload": {"summary": "s", "source": "s"}}, "payload.severity"),
        (
            {"event_action": "trigger", "payload": {"summary": "s", "source": "s", "severity": "high"}},
            "payload.severity",
        ),
        ({"event_action": "trigger", "payload": {"summary": "", "source": "s", "severity": "info"}}, "payload.summary"),
        (
            {"event_action": "trigger", "payload": {"summary": "x" * 1025, "source": "s", "severity": "info"}},
            "payload.summary",
        ),
        ({"event_action": "acknowledge"}, "dedup_key"),
        ({"event_action": "resolve", "dedup_key": ""}, "dedup_key"),
        ({"event_action": "resolve", "dedup_key": "x" * 256}, "dedup_key"),
        ({"event_action": "resolve", "dedup_key": "a\x00b"}, "dedup_key"),
        ({"event_action": "resolve", "dedup_key": 12}, None),  # numbers are read as strings: 404, not 400
    ],
)
def test_bad_events_are_400_naming_the_field(api_client, body, field):
    response = api_client.post(EVENTS, body, format="json")
    if field is None:
        assert_api_error(response, 404, code="not_found")
        return
    error = assert_api_error(response, 400, code="invalid")
    assert field in error["fields"], error
    assert Incident.objects.count() == 0


def test_unknown_routing_key_is_400(api_client):
    error = assert_api_error(send(api_client, routing_key="svc_nope"), 400, code="invalid")
    assert error["fields"]["routing_key"] == ["No service with id 'svc_nope'."]
    assert Incident.objects.count() == 0


def test_a_json_array_body_is_400(api_client):
    assert_api_error(api_client.post(EVENTS, [1], format="json"), 400)


def test_events_need_the_write_scope(make_api_client, client):
    reader = make_api_client(scopes=[Scope.INCIDENTS_READ])
    error = assert_api_error(send(reader), 403)
    assert "incidents:write" in error["message"]
    assert_api_error(client.post(EVENTS, {"event_action": "trigger"}, content_type="application/json"), 401)
    assert Incident.objects.count() == 0


# --- the service functions --------------------------------------------------------------------


def test_event_trigger_service_returns_whether_it_changed_anything(system_actor):
    first = alerts.alert_trigger(summary="s", source="x", severity="error", dedup_key="svc-1", actor=system_actor)
    again = alerts.alert_trigger(summary="s", source="x", severity="error", dedup_key="svc-1", actor=system_actor)
    assert (first.changed, again.changed) == (True, False)
    assert first.incident.id == again.incident.id
    assert alerts.alert_acknowledge(dedup_key="svc-1", actor=system_actor).changed is True
    assert alerts.alert_acknowledge(dedup_key="svc-1", actor=system_actor).changed is False
    with pytest.raises(alerts.UnknownDedupKey):
        alerts.alert_resolve(dedup_key="svc-2", actor=system_actor)


def test_alert_event_apply_dispatches_on_the_event_action(system_actor):
    payload = {"summary": "Disk full", "source": "db-1", "severity": "warning"}
    opened = alerts.alert_event_apply(event_action="trigger", dedup_key="apply-1", payload=payload, actor=system_actor)
    assert opened.changed and opened.incident.severity == Incident.Severity.MEDIUM
    acknowledged = alerts.alert_event_apply(event_action="acknowledge", dedup_key="apply-1", actor=system_actor)
    assert acknowledged.incident.status == Incident.Status.ACKNOWLEDGED
    resolved = alerts.alert_event_apply(event_action="resolve", dedup_key="apply-1", actor=system_actor)
    assert resolved.incident.status == Incident.Status.RESOLVED
    assert opened.incident.id == acknowledged.incident.id == resolved.incident.id
    with pytest.raises(alerts.UnknownDedupKey):
        alerts.alert_event_apply(event_action="resolve", dedup_key="apply-2", actor=system_actor)
    with pytest.raises(ValueError):
        alerts.alert_event_apply(event_action="snooze", dedup_key="apply-1", actor=system_actor)


def test_api_created_incidents_have_no_dedup_key_and_do_not_collide(api_client, system_actor):
    incident, _ = services.incident_create(title="a", idempotency_key="a", actor=system_actor)
    other, _ = services.incident_create(title="b", idempotency_key="b", actor=system_actor)
    assert incident.dedup_key is None and other.dedup_key is None


def test_other_methods_are_405(api_client, make_incident):
    assert_api_error(api_client.get(EVENTS), 405, code="method_not_allowed")
    incident = make_incident()
    assert_api_error(api_client.put(f"/api/v1/incidents/{incident.id}/links", {}), 405)
    assert_api_error(api_client.get(f"/api/v1/incidents/{incident.id}/links/lnk_x"), 405)
