"""The incident and service REST API (/api/v1/)."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from incidents.models import Incident, IncidentEvent
from opsknight.models import Scope
from opsknight.tests.asserts import assert_api_error

INCIDENTS = "/api/v1/incidents"
SERVICES = "/api/v1/services"
ACTIONS = ["acknowledge", "resolve", "escalate", "reopen"]
PUBLIC_READER = [Scope.INCIDENTS_READ, Scope.INCIDENTS_WRITE]
S = Incident.Status


def create(client, **body):
    body.setdefault("title", "Checkout is failing")
    body.setdefault("idempotency_key", "alert-1")
    return client.post(INCIDENTS, body, format="json")


def follow_pages(client, url):
    """Every result across pages, and the number of pages."""
    results, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"results", "next"}
        results.extend(body["results"])
        pages += 1
        url = body["next"]
        assert pages < 100
    return results, pages


def is_utc_iso(value: str) -> bool:
    return value.endswith("Z") and datetime.fromisoformat(value).utcoffset() == timedelta(0)


# --- create ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_returns_201_with_the_incident(api_client, service):
    response = create(
        api_client, severity="critical", service_id=service.id, summary="5xx on /pay", assignee="oncall@example.com"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("inc_")
    assert body["title"] == "Checkout is failing"
    assert body["status"] == "triggered"
    assert body["severity"] == "critical"
    assert body["service"] == {"id": service.id, "name": "API Gateway"}
    # An email that matches no responder is kept as a name (responders: test_responders.py).
    assert body["assignee"] == {
        "id": None,
        "name": "oncall@example.com",
        "email": "oncall@example.com",
        "slack_user_id": None,
        "teams_upn": None,
        "discord_user_id": None,
        "telegram_username": None,
    }
    assert body["number"] == Incident.objects.get().number and body["reference"] == f"INC-{body['number']}"
    assert body["visibility"] == "public"
    assert body["escalation_level"] == 0
    assert body["version"] == 1
    assert body["idempotency_key"] == "alert-1"
    assert body["created_by_key"] == api_client.api_key.id
    assert is_utc_iso(body["created_at"]) and is_utc_iso(body["updated_at"])
    assert body["acknowledged_at"] is None and body["resolved_at"] is None
    event = IncidentEvent.objects.get(incident_id=body["id"])
    assert (event.type, event.actor_type, event.actor_id) == ("incident.triggered", "api_key", api_client.api_key.id)


@pytest.mark.django_db
def test_create_defaults(api_client):
    body = create(api_client).json()
    assert (body["severity"], body["visibility"], body["service"], body["assignee"], body["summary"]) == (
        "high", "public", None, None, "",
    )  # fmt: skip


@pytest.mark.django_db
def test_create_again_with_the_same_key_is_200_and_emits_nothing(api_client):
    first = create(api_client)
    second = create(api_client, title="A different title")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert Incident.objects.count() == 1
    assert IncidentEvent.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("visibility", ["public", "private"])
def test_another_keys_idempotency_key_declares_a_new_incident_and_reveals_nothing(make_api_client, visibility):
    """Issue 15: a write-only key replaying another key's idempotency_key got the full body
    of a public incident (200), and learnt that a private one holds the key (409)."""
    owner = make_api_client()
    theirs = create(owner, title="Payroll export leaks salaries", visibility=visibility).json()

    writer = make_api_client(scopes=[Scope.INCIDENTS_WRITE])
    response = create(writer, title="Mine")

    assert response.status_code == 201, response.content
    mine = response.json()
    assert mine["id"] != theirs["id"] and mine["title"] == "Mine" and mine["visibility"] == "public"
    assert mine["created_by_key"] == writer.api_key.id
    assert theirs["id"] not in response.content.decode() and "Payroll" not in response.content.decode()
    # Each key replays its own.
    assert create(writer, title="again").json()["id"] == mine["id"]
    assert create(owner, title="again").json()["id"] == theirs["id"]
    assert Incident.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("missing", ["title", "idempotency_key"])
def test_create_without_a_required_field_is_400_naming_it(api_client, missing):
    body = {"title": "x", "idempotency_key": "k"}
    del body[missing]
    error = assert_api_error(api_client.post(INCIDENTS, body, format="json"), 400, code="invalid")
    assert set(error["fields"]) == {missing}
    assert missing in error["message"]
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_create_ignores_unknown_fields(api_client):
    response = create(api_client, priority="P1", labels={"team": "payments"}, status="resolved", version=7)
    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["version"]) == ("triggered", 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides, bad_field",
    [
        ({"title": {"text": "nested"}}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"severity": "urgent"}, "severity"),
        ({"visibility": "secret"}, "visibility"),
        ({"idempotency_key": ["a", "b"]}, "idempotency_key"),
        ({"service_id": "svc_unknown"}, "service_id"),
    ],
)
def test_create_with_invalid_values_is_400_with_fields(api_client, overrides, bad_field):
    error = assert_api_error(create(api_client, **overrides), 400, code="invalid")
    assert bad_field in error["fields"]
    assert all(isinstance(m, str) for m in error["fields"][bad_field])
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_create_with_an_unknown_service_names_it(api_client):
    error = assert_api_error(create(api_client, service_id="svc_nope"), 400)
    assert "svc_nope" in error["fields"]["service_id"][0]


@pytest.mark.django_db
def test_create_with_a_json_array_body_is_400(api_client):
    assert_api_error(api_client.post(INCIDENTS, ["title"], format="json"), 400)


@pytest.mark.django_db
def test_malformed_json_is_400(api_client):
    response = api_client.post(INCIDENTS, data='{"title": "x", ', content_type="application/json")
    assert_api_error(response, 400, code="parse_error")
    assert not Incident.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type, data",
    [("application/x-www-form-urlencoded", "title=x&idempotency_key=k"), ("text/plain", '{"title": "x"}')],
)
def test_non_json_content_type_is_415(api_client, content_type, data):
    response = api_client.post(INCIDENTS, data=data, content_type=content_type)
    error = assert_api_error(response, 415, code="unsupported_media_type")
    assert content_type in error["message"]
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_body_over_one_mebibyte_is_413(api_client):
    response = create(api_client, summary="x" * (1024 * 1024))
    assert_api_error(response, 413, code="request_too_large")
    assert not Incident.objects.exists()


# --- read ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_detail(api_client, make_incident):
    incident = make_incident(title="Disk full")
    response = api_client.get(f"{INCIDENTS}/{incident.id}")
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["title"]) == (incident.id, "Disk full")


@pytest.mark.django_db
@pytest.mark.parametrize("suffix, method", [("", "get"), ("/events", "get")] + [(f"/{a}", "post") for a in ACTIONS])
def test_unknown_incident_is_404(api_client, suffix, method):
    response = getattr(api_client, method)(f"{INCIDENTS}/inc_unknown{suffix}")
    error = assert_api_error(response, 404, code="not_found")
    assert "inc_unknown" in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, path",
    [
        ("delete", "/incidents/{id}"),
        ("put", "/incidents/{id}"),
        ("patch", "/incidents/{id}"),
        ("post", "/incidents/{id}"),
        ("get", "/incidents/{id}/acknowledge"),
        ("post", "/incidents/{id}/events"),
        ("delete", "/incidents"),
        ("put", "/services"),
    ],
)
def test_wrong_method_is_405(api_client, make_incident, method, path):
    incident = make_incident()
    url = "/api/v1" + path.format(id=incident.id)
    assert_api_error(getattr(api_client, method)(url), 405, code="method_not_allowed")
    assert Incident.objects.get(pk=incident.pk).version == 1


# --- private incidents -------------------------------------------------------------------------


@pytest.mark.django_db
def test_private_incidents_are_invisible_without_read_private(make_api_client, make_incident):
    public = make_incident(title="public one")
    private = make_incident(title="private one", visibility="private")
    client = make_api_client(scopes=PUBLIC_READER)

    ids = [i["id"] for i in client.get(INCIDENTS).json()["results"]]
    assert ids == [public.id]
    assert_api_error(client.get(f"{INCIDENTS}/{private.id}"), 404)
    assert_api_error(client.get(f"{INCIDENTS}/{private.id}/events"), 404)
    for action in ACTIONS:
        assert_api_error(client.post(f"{INCIDENTS}/{private.id}/{action}"), 404)
    assert Incident.objects.get(pk=private.pk).version == 1

    # The same requests with a key that may read private incidents.
    reader = make_api_client(scopes=[*PUBLIC_READER, Scope.INCIDENTS_READ_PRIVATE])
    ids = {i["id"] for i in reader.get(INCIDENTS).json()["results"]}
    assert ids == {public.id, private.id}
    assert reader.get(f"{INCIDENTS}/{private.id}").json()["visibility"] == "private"
    assert reader.get(f"{INCIDENTS}/{private.id}/events").status_code == 200
    assert reader.post(f"{INCIDENTS}/{private.id}/acknowledge").json()["status"] == "acknowledged"


@pytest.mark.django_db
def test_404_for_private_and_unknown_incidents_read_the_same(make_api_client, make_incident):
    private = make_incident(visibility="private")
    client = make_api_client(scopes=PUBLIC_READER)
    hidden = client.get(f"{INCIDENTS}/{private.id}").json()["error"]
    unknown = client.get(f"{INCIDENTS}/inc_unknown").json()["error"]
    assert hidden["code"] == unknown["code"]
    assert hidden["message"].replace(private.id, "X") == unknown["message"].replace("inc_unknown", "X")


# --- filters and pagination --------------------------------------------------------------


@pytest.mark.django_db
def test_filters(api_client, make_incident, service):
    other = make_incident(title="other service", severity="low")
    critical = make_incident(title="critical", severity="critical", service=service)
    acked = make_incident(title="acked", status=S.ACKNOWLEDGED, service=service)
    resolved = make_incident(title="resolved", status=S.RESOLVED)

    def ids(query):
        response = api_client.get(INCIDENTS, query)
        assert response.status_code == 200, response.content
        return {i["id"] for i in response.json()["results"]}

    assert ids({}) == {other.id, critical.id, acked.id, resolved.id}
    assert ids({"status": "triggered"}) == {other.id, critical.id}
    assert ids({"status": "acknowledged"}) == {acked.id}
    assert ids({"status": "resolved"}) == {resolved.id}
    assert ids({"severity": "critical"}) == {critical.id}
    assert ids({"severity": "low"}) == {other.id}
    assert ids({"service_id": service.id}) == {critical.id, acked.id}
    assert ids({"service_id": "svc_unknown"}) == set()
    assert ids({"status": "triggered", "service_id": service.id}) == {critical.id}


@pytest.mark.django_db
def test_created_after_filter(api_client, make_incident):
    base = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    old, middle, new = make_incident(), make_incident(), make_incident()
    for offset, incident in enumerate([old, middle, new]):
        Incident.objects.filter(pk=incident.pk).update(created_at=base + timedelta(hours=offset))

    def ids(created_after):
        response = api_client.get(INCIDENTS, {"created_after": created_after})
        assert response.status_code == 200, response.content
        return {i["id"] for i in response.json()["results"]}

    assert ids("2024-01-15T10:00:00Z") == {old.id, middle.id, new.id}
    assert ids("2024-01-15T10:30:00Z") == {middle.id, new.id}  # strictly after
    assert ids("2024-01-15T11:45:00Z") == {new.id}
    assert ids("2024-01-15T13:00:00+01:00") == {new.id}  # 12:00 UTC
    assert ids("2024-01-15T12:30:00Z") == set()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, field",
    [
        ({"status": "open"}, "status"),
        ({"severity": "urgent"}, "severity"),
        ({"created_after": "yesterday"}, "created_after"),
    ],
)
def test_invalid_filter_is_400(api_client, make_incident, query, field):
    make_incident()
    error = assert_api_error(api_client.get(INCIDENTS, query), 400, code="invalid")
    assert field in error["fields"]


@pytest.mark.django_db
def test_pagination_newest_first_with_no_duplicates_or_gaps(api_client, make_incident):
    created = [make_incident(title=f"incident {n}").id for n in range(11)]

    results, pages = follow_pages(api_client, f"{INCIDENTS}?limit=3")

    ids = [i["id"] for i in results]
    assert pages == 4
    assert ids == list(reversed(created))
    assert len(set(ids)) == 11


@pytest.mark.django_db
def test_pagination_next_keeps_the_filters(api_client, make_incident):
    triggered = [make_incident(title=f"t{n}").id for n in range(5)]
    for n in range(4):
        make_incident(title=f"r{n}", status=S.RESOLVED)

    first = api_client.get(INCIDENTS, {"status": "triggered", "limit": 2}).json()
    assert "status=triggered" in urlsplit(first["next"]).query
    results, _ = follow_pages(api_client, first["next"])
    assert [i["id"] for i in first["results"] + results] == list(reversed(triggered))


@pytest.mark.django_db
def test_pages_do_not_shift_when_incidents_arrive_between_requests(api_client, make_incident):
    older = [make_incident(title=f"old {n}").id for n in range(4)]
    first = api_client.get(INCIDENTS, {"limit": 2}).json()
    make_incident(title="arrived in between")
    rest, _ = follow_pages(api_client, first["next"])
    assert [i["id"] for i in first["results"] + rest] == list(reversed(older))


@pytest.mark.django_db
def test_last_page_has_null_next(api_client, make_incident):
    make_incident()
    body = api_client.get(INCIDENTS).json()
    assert body["next"] is None and len(body["results"]) == 1


# --- timeline -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_timeline_lists_every_change_with_its_actor(api_client, make_api_client):
    incident_id = create(api_client).json()["id"]
    other = make_api_client(name="escalation bot")
    assert api_client.post(f"{INCIDENTS}/{incident_id}/acknowledge").status_code == 200
    assert other.post(f"{INCIDENTS}/{incident_id}/escalate").status_code == 200
    assert other.post(f"{INCIDENTS}/{incident_id}/acknowledge").status_code == 409  # not on the timeline
    assert api_client.post(f"{INCIDENTS}/{incident_id}/resolve").status_code == 200

    response = api_client.get(f"{INCIDENTS}/{incident_id}/events")

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    entries = body["results"]
    assert [(e["type"], e["version"]) for e in entries] == [
        ("incident.triggered", 1), ("incident.acknowledged", 2), ("incident.escalated", 3), ("incident.resolved", 4),
    ]  # fmt: skip
    assert all(set(e) == {"type", "version", "occurred_at", "actor"} for e in entries)
    assert all(is_utc_iso(e["occurred_at"]) for e in entries)
    key, bot = api_client.api_key, other.api_key
    assert entries[0]["actor"] == {"type": "api_key", "id": key.id, "name": key.name}
    assert entries[2]["actor"] == {"type": "api_key", "id": bot.id, "name": "escalation bot"}


@pytest.mark.django_db
def test_timeline_paginates_oldest_first(api_client, make_incident, system_actor):
    from incidents import services

    incident = make_incident()
    for _ in range(4):
        incident = services.incident_escalate(incident=incident, actor=system_actor)

    results, pages = follow_pages(api_client, f"{INCIDENTS}/{incident.id}/events?limit=2")
    assert pages == 3
    assert [e["version"] for e in results] == [1, 2, 3, 4, 5]
    assert results[0]["actor"] == {"type": "system", "id": "", "name": "tests"}


# --- transitions ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_transitions_over_the_api(api_client):
    incident_id = create(api_client).json()["id"]

    def post(action):
        return api_client.post(f"{INCIDENTS}/{incident_id}/{action}")

    body = post("acknowledge").json()
    assert (body["status"], body["version"]) == ("acknowledged", 2)
    assert is_utc_iso(body["acknowledged_at"]) and body["acknowledged_at"] == body["updated_at"]
    body = post("escalate").json()
    assert (body["status"], body["escalation_level"], body["version"]) == ("acknowledged", 1, 3)
    body = post("resolve").json()
    assert (body["status"], body["version"]) == ("resolved", 4)
    assert body["resolved_at"] == body["updated_at"]
    body = post("reopen").json()
    assert (body["status"], body["version"], body["acknowledged_at"], body["resolved_at"]) == (
        "triggered", 5, None, None,
    )  # fmt: skip
    assert api_client.get(f"{INCIDENTS}/{incident_id}").json() == body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status, action",
    [
        (S.TRIGGERED, "reopen"),
        (S.ACKNOWLEDGED, "acknowledge"),
        (S.ACKNOWLEDGED, "reopen"),
        (S.RESOLVED, "acknowledge"),
        (S.RESOLVED, "resolve"),
        (S.RESOLVED, "escalate"),
    ],
)
def test_refused_transition_is_409_naming_the_status(api_client, make_incident, status, action):
    incident = make_incident(status=status)
    events = IncidentEvent.objects.filter(incident=incident).count()

    response = api_client.post(f"{INCIDENTS}/{incident.id}/{action}")

    error = assert_api_error(response, 409, code="invalid_transition")
    assert f"'{status}'" in error["message"]
    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.status, stored.version) == (status, incident.version)
    assert IncidentEvent.objects.filter(incident=incident).count() == events


@pytest.mark.django_db
def test_transitions_need_the_write_scope(make_api_client, make_incident):
    incident = make_incident()
    reader = make_api_client(scopes=[Scope.INCIDENTS_READ, Scope.INCIDENTS_READ_PRIVATE])
    error = assert_api_error(reader.post(f"{INCIDENTS}/{incident.id}/acknowledge"), 403)
    assert "incidents:write" in error["message"]
    assert Incident.objects.get(pk=incident.pk).status == S.TRIGGERED


@pytest.mark.django_db
def test_transitions_ignore_a_body(api_client, make_incident):
    incident = make_incident()
    response = api_client.post(f"{INCIDENTS}/{incident.id}/escalate", {"escalation_level": 9}, format="json")
    assert response.json()["escalation_level"] == 1


# --- services ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_service_create_list_and_detail(api_client):
    response = api_client.post(SERVICES, {"name": "Payments", "description": "Card flows"}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["id"].startswith("svc_")
    assert (created["name"], created["description"]) == ("Payments", "Card flows")
    assert is_utc_iso(created["created_at"])
    second = api_client.post(SERVICES, {"name": "Search"}, format="json").json()
    assert second["description"] == ""

    listed = api_client.get(SERVICES).json()
    assert [s["id"] for s in listed["results"]] == [second["id"], created["id"]]
    assert listed["next"] is None
    assert api_client.get(f"{SERVICES}/{created['id']}").json() == created
    assert_api_error(api_client.get(f"{SERVICES}/svc_unknown"), 404, code="not_found")


@pytest.mark.django_db
def test_service_duplicate_name_is_400(api_client, service):
    error = assert_api_error(api_client.post(SERVICES, {"name": service.name}, format="json"), 400, code="invalid")
    assert "name" in error["fields"]
    assert "already exists" in error["fields"]["name"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [({}, "name"), ({"name": ""}, "name"), ({"name": {"a": 1}}, "name")])
def test_service_create_validates(api_client, body, field):
    error = assert_api_error(api_client.post(SERVICES, body, format="json"), 400)
    assert field in error["fields"]


@pytest.mark.django_db
def test_services_need_scopes(make_api_client):
    client = make_api_client(scopes=[Scope.WEBHOOKS_MANAGE])
    assert "incidents:read" in assert_api_error(client.get(SERVICES), 403)["message"]
    assert "incidents:write" in assert_api_error(client.post(SERVICES, {"name": "x"}, format="json"), 403)["message"]
