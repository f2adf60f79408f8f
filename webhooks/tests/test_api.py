"""The webhooks REST API: endpoints, Send Test, rotation, the delivery log, redeliver
and replay. Send Test goes to a real receiver on 127.0.0.1."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from incidents import services as incident_services
from opsknight.tests.asserts import assert_api_error
from tests.support.receiver import Reply
from webhooks.actions import endpoint_send_test
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, Event, WebhookEndpoint
from webhooks.tests.support import delivery_attempt

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/v1/webhooks"


def create(api_client, **fields):
    response = api_client.post(
        WEBHOOKS, {"name": "ITSM", "url": "https://hooks.example.com/in", **fields}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def declare(actor, key):
    incident, _ = incident_services.incident_create(title="DB down", idempotency_key=key, actor=actor)
    return incident


# --- Authentication and scopes -------------------------------------------------------

ROUTES = [
    ("get", WEBHOOKS),
    ("post", WEBHOOKS),
    ("get", f"{WEBHOOKS}/whk_x"),
    ("patch", f"{WEBHOOKS}/whk_x"),
    ("delete", f"{WEBHOOKS}/whk_x"),
    ("post", f"{WEBHOOKS}/whk_x/test"),
    ("post", f"{WEBHOOKS}/whk_x/rotate-secret"),
    ("get", f"{WEBHOOKS}/whk_x/deliveries"),
    ("post", f"{WEBHOOKS}/whk_x/replay"),
    ("get", "/api/v1/deliveries/dlv_x"),
    ("post", "/api/v1/deliveries/dlv_x/redeliver"),
]


@pytest.mark.parametrize("method, path", ROUTES)
def test_no_key_is_401(client, method, path):
    assert_api_error(getattr(client, method)(path, content_type="application/json"), 401)


@pytest.mark.parametrize("method, path", ROUTES)
def test_a_key_without_webhooks_manage_is_403(make_api_client, method, path):
    client = make_api_client(scopes=["incidents:read", "incidents:write", "incidents:read_private"])
    error = assert_api_error(getattr(client, method)(path, {}, format="json"), 403)
    assert "webhooks:manage" in error["message"]


def test_a_key_with_only_webhooks_manage_may_manage(make_api_client):
    client = make_api_client(scopes=["webhooks:manage"])
    assert client.get(WEBHOOKS).status_code == 200


# --- Create, read, update, delete ------------------------------------------------------


def test_create_shows_the_secret_once(api_client):
    response = api_client.post(
        WEBHOOKS,
        {
            "name": "ITSM",
            "url": "https://hooks.example.com/in",
            "event_types": ["incident.resolved", "incident.triggered"],
            "description": "ServiceNow",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("whk_")
    assert body["secret"].startswith("whsec_")
    assert body["event_types"] == ["incident.resolved", "incident.triggered"]
    assert body["is_active"] is True and body["description"] == "ServiceNow"
    assert body["created_at"].endswith("Z")
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert endpoint.secret == body["secret"]

    listed = api_client.get(WEBHOOKS)
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["results"]] == [body["id"]]
    assert listed.json()["next"] is None
    detail = api_client.get(f"{WEBHOOKS}/{body['id']}")
    assert detail.status_code == 200
    for answer in (listed, detail):
        assert "secret" not in json.dumps(answer.json()).replace("previous_secret_expires_at", "")
        assert body["secret"] not in answer.content.decode()
    assert detail.json()["url"] == "https://hooks.example.com/in"


def test_create_defaults_to_every_event_type(api_client):
    body = create(api_client)
    assert body["event_types"] == []
    assert WebhookEndpoint.objects.get(pk=body["id"]).is_subscribed_to("incident.escalated")


def test_a_typed_secret_is_kept(api_client):
    body = create(api_client, secret="my-own-secret-1234")
    assert body["secret"] == "my-own-secret-1234"
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == "my-own-secret-1234"


def test_a_short_typed_secret_is_400(api_client):
    response = api_client.post(WEBHOOKS, {"name": "x", "url": "https://a.example/", "secret": "short"}, format="json")
    error = assert_api_error(response, 400, code="invalid")
    assert "secret" in error["fields"]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"url": "not a url"}, "url"),
        ({"url": "ftp://files.example.com/in"}, "url"),
        ({"url": "https://hooks.example.com/" + "a" * 2048}, "url"),
        ({"url": ""}, "url"),
        ({"event_types": ["incident.exploded"]}, "event_types"),
        ({"event_types": "incident.triggered"}, "event_types"),
        ({"event_types": {"incident.triggered": True}}, "event_types"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"is_active": "perhaps"}, "is_active"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_saves_nothing(api_client, fields, field):
    data = {"name": "ITSM", "url": "https://hooks.example.com/in", **fields}
    error = assert_api_error(api_client.post(WEBHOOKS, data, format="json"), 400, code="invalid")
    assert any(name == field or name.startswith(f"{field}.") for name in error["fields"]), error
    assert field in error["message"]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("missing", ["name", "url"])
def test_required_fields(api_client, missing):
    data = {"name": "ITSM", "url": "https://hooks.example.com/in"}
    del data[missing]
    error = assert_api_error(api_client.post(WEBHOOKS, data, format="json"), 400)
    assert missing in error["fields"]


def test_non_json_body_is_refused(api_client):
    response = api_client.post(
        WEBHOOKS, "name=x&url=https://a.example/", content_type="application/x-www-form-urlencoded"
    )
    assert_api_error(response, 415)
    assert not WebhookEndpoint.objects.exists()


def test_patch_changes_fields_and_reactivating_clears_the_reason(api_client):
    endpoint_id = create(api_client)["id"]
    url = f"{WEBHOOKS}/{endpoint_id}"

    response = api_client.patch(
        url, {"name": "Renamed", "event_types": ["incident.escalated"], "url": "https://b.example/x"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Renamed"
    assert response.json()["event_types"] == ["incident.escalated"]
    assert "secret" not in response.json()
    row = WebhookEndpoint.objects.get(pk=endpoint_id)
    assert (row.name, row.url, row.event_types) == ("Renamed", "https://b.example/x", ["incident.escalated"])

    off = api_client.patch(url, {"is_active": False}, format="json").json()
    assert off["is_active"] is False and off["disabled_reason"] and off["disabled_at"]
    assert api_client.get(url).json()["disabled_reason"] == off["disabled_reason"]

    on = api_client.patch(url, {"is_active": True}, format="json").json()
    assert on["is_active"] is True
    assert on["disabled_reason"] == "" and on["disabled_at"] is None
    row = WebhookEndpoint.objects.get(pk=endpoint_id)
    assert row.is_active and row.disabled_reason == "" and row.disabled_at is None


@pytest.mark.parametrize(
    "change, field",
    [
        ({"url": "ftp://files.example.com/"}, "url"),
        ({"url": "nope"}, "url"),
        ({"event_types": ["incident.nope"]}, "event_types"),
        ({"name": ""}, "name"),
    ],
)
def test_patch_with_bad_input_is_400_and_leaves_the_row(api_client, change, field):
    endpoint_id = create(api_client)["id"]
    before = WebhookEndpoint.objects.get(pk=endpoint_id)
    error = assert_api_error(api_client.patch(f"{WEBHOOKS}/{endpoint_id}", change, format="json"), 400)
    assert any(name == field or name.startswith(f"{field}.") for name in error["fields"]), error
    after = WebhookEndpoint.objects.get(pk=endpoint_id)
    assert (after.name, after.url, after.event_types, after.updated_at) == (
        before.name,
        before.url,
        before.event_types,
        before.updated_at,
    )


def test_patch_cannot_set_the_secret(api_client):
    body = create(api_client)
    api_client.patch(f"{WEBHOOKS}/{body['id']}", {"secret": "x" * 32}, format="json")
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]


def test_delete_then_404(api_client, system_actor):
    endpoint_id = create(api_client, url="https://hooks.example.com/gone")["id"]
    declare(system_actor, "del-1")
    assert Delivery.objects.filter(endpoint_id=endpoint_id).count() == 1

    response = api_client.delete(f"{WEBHOOKS}/{endpoint_id}")
    assert response.status_code == 204
    assert response.content == b""
    assert not WebhookEndpoint.objects.filter(pk=endpoint_id).exists()
    assert not Delivery.objects.filter(endpoint_id=endpoint_id).exists()
    assert Event.objects.count() == 1  # the event stays for other endpoints and replays
    assert_api_error(api_client.get(f"{WEBHOOKS}/{endpoint_id}"), 404, code="not_found")
    assert_api_error(api_client.delete(f"{WEBHOOKS}/{endpoint_id}"), 404, code="not_found")


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", f"{WEBHOOKS}/whk_missing"),
        ("patch", f"{WEBHOOKS}/whk_missing"),
        ("post", f"{WEBHOOKS}/whk_missing/test"),
        ("post", f"{WEBHOOKS}/whk_missing/rotate-secret"),
        ("get", f"{WEBHOOKS}/whk_missing/deliveries"),
        ("post", f"{WEBHOOKS}/whk_missing/replay"),
        ("get", "/api/v1/deliveries/dlv_missing"),
        ("post", "/api/v1/deliveries/dlv_missing/redeliver"),
    ],
)
def test_unknown_ids_are_a_json_404(api_client, method, path):
    error = assert_api_error(getattr(api_client, method)(path, {}, format="json"), 404, code="not_found")
    assert "_missing" in error["message"]


def test_unsupported_method_is_405(api_client):
    assert_api_error(api_client.put(WEBHOOKS, {}, format="json"), 405)


def test_list_pages_newest_first(api_client):
    ids = [create(api_client, name=f"e{n}")["id"] for n in range(5)]
    first = api_client.get(WEBHOOKS, {"limit": 3}).json()
    assert [e["id"] for e in first["results"]] == ids[::-1][:3]
    second = api_client.get(first["next"]).json()
    assert [e["id"] for e in second["results"]] == ids[::-1][3:]
    assert second["next"] is None


# --- Send Test and rotation --------------------------------------------------------------


def test_send_test_answers_with_the_outcome(api_client, receiver):
    receiver.script("/t", [Reply(status=200, body=b"accepted")])
    endpoint_id = create(api_client, url=receiver.url("/t"))["id"]

    response = api_client.post(f"{WEBHOOKS}/{endpoint_id}/test", format="json")

    assert response.status_code == 200, response.content
    outcome = response.json()
    assert outcome["succeeded"] is True
    assert outcome["status_code"] == 200
    assert outcome["response_body_excerpt"] == "accepted"
    assert isinstance(outcome["duration_ms"], int) and outcome["duration_ms"] >= 0
    assert outcome["error"] is None
    (request,) = receiver.wait_for(1, "/t")
    assert json.loads(request.body)["event"] == "incident.triggered"
    assert request.header("webhook-id") == outcome["event_id"]
    delivery = Delivery.objects.get(pk=outcome["delivery_id"])
    assert delivery.is_test and delivery.endpoint_id == endpoint_id


def test_send_test_reports_a_failure_without_retrying(api_client, receiver):
    receiver.script("/t", [Reply(status=500, body=b"boom"), 200])
    endpoint_id = create(api_client, url=receiver.url("/t"))["id"]

    response = api_client.post(f"{WEBHOOKS}/{endpoint_id}/test", {"event_type": "incident.escalated"}, format="json")

    assert response.status_code == 200, response.content
    outcome = response.json()
    assert outcome["succeeded"] is False
    assert outcome["status_code"] == 500
    assert outcome["error"] == "HTTP 500"
    assert outcome["response_body_excerpt"] == "boom"
    delivery = Delivery.objects.get(pk=outcome["delivery_id"])
    assert delivery.status == Delivery.Status.FAILED and delivery.attempts.count() == 1
    assert delivery.next_attempt_at is None
    assert json.loads(receiver.wait_for(1, "/t")[0].body)["event"] == "incident.escalated"


def test_send_test_to_a_closed_port_reports_the_error(api_client):
    from tests.support.receiver import free_port

    endpoint_id = create(api_client, url=f"http://127.0.0.1:{free_port()}/t")["id"]
    outcome = api_client.post(f"{WEBHOOKS}/{endpoint_id}/test", format="json").json()
    assert outcome["succeeded"] is False
    assert outcome["status_code"] is None
    assert outcome["error"] == "ConnectionError: Connection refused."


def test_send_test_with_an_unknown_event_type_is_400(api_client, receiver):
    endpoint_id = create(api_client, url=receiver.url("/t"))["id"]
    response = api_client.post(f"{WEBHOOKS}/{endpoint_id}/test", {"event_type": "incident.nope"}, format="json")
    error = assert_api_error(response, 400)
    assert "event_type" in error["fields"]
    assert receiver.received() == []
    assert not Delivery.objects.exists()


def test_rotate_secret_shows_the_new_secret_once(api_client):
    created = create(api_client)
    url = f"{WEBHOOKS}/{created['id']}"

    response = api_client.post(f"{url}/rotate-secret", format="json")

    assert response.status_code == 200, response.content
    rotated = response.json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    assert rotated["previous_secret_expires_at"].endswith("Z")
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert endpoint.signing_secrets() == [rotated["secret"], created["secret"]]
    detail = api_client.get(url)
    assert "secret" not in detail.json()
    assert rotated["secret"] not in detail.content.decode()
    assert rotated["secret"] not in api_client.get(WEBHOOKS).content.decode()


def test_rotate_to_a_typed_secret_or_refuse_a_short_one(api_client):
    created = create(api_client)
    url = f"{WEBHOOKS}/{created['id']}/rotate-secret"
    error = assert_api_error(api_client.post(url, {"secret": "short"}, format="json"), 400)
    assert "secret" in error["fields"]
    assert WebhookEndpoint.objects.get(pk=created["id"]).secret == created["secret"]
    response = api_client.post(url, {"secret": "a-brand-new-secret-42"}, format="json")
    assert response.json()["secret"] == "a-brand-new-secret-42"


# --- The delivery log ------------------------------------------------------------------


@pytest.fixture
def log(api_client, receiver, system_actor):
    """An endpoint with five event deliveries (one succeeded, one failed) and two tests."""
    endpoint = endpoint_create(name="log", url=receiver.url("/log"))
    other = endpoint_create(name="other", url=receiver.url("/other"))
    incident = declare(system_actor, "log-1")
    incident = incident_services.incident_acknowledge(incident=incident, actor=system_actor)
    incident = incident_services.incident_resolve(incident=incident, actor=system_actor)
    incident = incident_services.incident_reopen(incident=incident, actor=system_actor)
    incident_services.incident_escalate(incident=incident, actor=system_actor)
    by_type = {d.event.type: d for d in Delivery.objects.filter(endpoint=endpoint).select_related("event")}
    delivery_attempt(delivery_id=by_type["incident.triggered"].id)  # succeeds
    Delivery.objects.filter(pk=by_type["incident.resolved"].pk).update(status=Delivery.Status.FAILED)
    receiver.script("/log", [200, 500])
    tests = [endpoint_send_test(endpoint=endpoint).delivery for _ in range(2)]
    return endpoint, other, by_type, tests


def list_ids(api_client, endpoint, **params):
    response = api_client.get(f"{WEBHOOKS}/{endpoint.id}/deliveries", params)
    assert response.status_code == 200, response.content
    return [d["id"] for d in response.json()["results"]]


def test_deliveries_list_and_filters(api_client, log):
    endpoint, other, by_type, tests = log
    events = [d.id for d in by_type.values()]
    test_ids = [d.id for d in tests]

    everything = list_ids(api_client, endpoint)
    assert sorted(everything) == sorted(events + test_ids)
    assert everything == sorted(everything, reverse=True)  # newest first
    assert not set(everything) & set(Delivery.objects.filter(endpoint=other).values_list("id", flat=True))

    assert sorted(list_ids(api_client, endpoint, is_test="true")) == sorted(test_ids)
    assert sorted(list_ids(api_client, endpoint, is_test="false")) == sorted(events)
    assert list_ids(api_client, endpoint, event_type="incident.resolved") == [by_type["incident.resolved"].id]
    assert list_ids(api_client, endpoint, status="failed", is_test="false") == [by_type["incident.resolved"].id]
    assert sorted(list_ids(api_client, endpoint, status="succeeded")) == sorted(
        [by_type["incident.triggered"].id, tests[0].id]
    )
    assert sorted(list_ids(api_client, endpoint, status="failed")) == sorted(
        [by_type["incident.resolved"].id, tests[1].id]
    )
    assert len(list_ids(api_client, endpoint, status="pending")) == 3

    row = api_client.get(
        f"{WEBHOOKS}/{endpoint.id}/deliveries", {"event_type": "incident.triggered", "is_test": "false"}
    ).json()
    (delivery,) = row["results"]
    assert delivery["status"] == "succeeded"
    assert delivery["event_type"] == "incident.triggered"
    assert delivery["endpoint_id"] == endpoint.id
    assert delivery["attempt_count"] == 1 and delivery["last_status_code"] == 200
    assert delivery["created_at"].endswith("Z") and delivery["completed_at"].endswith("Z")
    assert delivery["origin"] == "event" and delivery["is_test"] is False


def test_deliveries_cursor_pagination(api_client, log):
    endpoint = log[0]
    url = f"{WEBHOOKS}/{endpoint.id}/deliveries"
    seen, page = [], api_client.get(url, {"limit": 3}).json()
    while True:
        assert len(page["results"]) <= 3
        seen += [d["id"] for d in page["results"]]
        if page["next"] is None:
            break
        page = api_client.get(page["next"]).json()
    assert len(seen) == len(set(seen)) == 7
    assert seen == list_ids(api_client, endpoint)

    # Filters survive paging.
    page = api_client.get(url, {"limit": 1, "is_test": "true"}).json()
    assert "is_test=true" in page["next"]
    page2 = api_client.get(page["next"]).json()
    assert page2["results"][0]["is_test"] is True and page2["next"] is None


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "bogus"}, "status"),
        ({"event_type": "incident.nope"}, "event_type"),
        ({"is_test": "perhaps"}, "is_test"),
    ],
)
def test_deliveries_bad_filter_is_400(api_client, log, params, field):
    response = api_client.get(f"{WEBHOOKS}/{log[0].id}/deliveries", params)
    error = assert_api_error(response, 400, code="invalid")
    assert field in error["fields"]


def test_delivery_detail_has_payload_and_attempts(api_client, receiver, system_actor):
    receiver.script("/d", [Reply(status=503, body=b"busy"), Reply(status=200, body=b"fine")])
    endpoint = endpoint_create(name="d", url=receiver.url("/d"))
    declare(system_actor, "detail-1")
    delivery = Delivery.objects.get(endpoint=endpoint)
    delivery_attempt(delivery_id=delivery.id)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    delivery_attempt(delivery_id=delivery.id)

    response = api_client.get(f"/api/v1/deliveries/{delivery.id}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == delivery.id and body["status"] == "succeeded"
    assert body["payload"] == json.loads(delivery.event.payload)
    assert body["payload"]["event"] == "incident.triggered"
    attempts = body["attempts"]
    assert [(a["number"], a["response_status"], a["outcome"]) for a in attempts] == [
        (1, 503, "failed"),
        (2, 200, "succeeded"),
    ]
    assert [a["response_body_excerpt"] for a in attempts] == ["busy", "fine"]
    assert attempts[0]["request_headers"]["X-OpsKnight-Delivery"] == delivery.id
    assert attempts[0]["url"] == receiver.url("/d")
    assert attempts[0]["started_at"].endswith("Z")
    assert "secret" not in json.dumps(body).lower().replace("x-opsknight-signature", "")


def test_redeliver_is_202_with_a_new_delivery(api_client, receiver, system_actor):
    endpoint = endpoint_create(name="r", url=receiver.url("/r"))
    declare(system_actor, "redeliver-1")
    original = Delivery.objects.get(endpoint=endpoint)
    Delivery.objects.filter(pk=original.pk).update(status=Delivery.Status.FAILED, next_attempt_at=None)

    response = api_client.post(f"/api/v1/deliveries/{original.id}/redeliver")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["id"] != original.id and body["id"].startswith("dlv_")
    assert body["event_id"] == original.event_id and body["endpoint_id"] == endpoint.id
    assert body["status"] == "pending" and body["origin"] == "redeliver" and body["attempt_count"] == 0
    assert Delivery.objects.filter(event_id=original.event_id, endpoint=endpoint).count() == 2
    assert Delivery.objects.get(pk=original.pk).status == Delivery.Status.FAILED


def test_replay_since_is_202_with_the_count(api_client, receiver, system_actor):
    endpoint = endpoint_create(name="late", url=receiver.url("/late"), event_types=["incident.resolved"])
    old = declare(system_actor, "old")
    Event.objects.filter(incident=old).update(created_at=timezone.now() - timedelta(days=3))
    for key in ["a", "b"]:
        incident_services.incident_resolve(incident=declare(system_actor, key), actor=system_actor)
    endpoint_send_test(endpoint=endpoint, event_type="incident.resolved")
    before = Delivery.objects.filter(endpoint=endpoint).count()
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")

    response = api_client.post(f"{WEBHOOKS}/{endpoint.id}/replay", {"since": since}, format="json")

    assert response.status_code == 202, response.content
    assert response.json() == {"deliveries": 2}
    assert Delivery.objects.filter(endpoint=endpoint).count() == before + 2
    replayed = Delivery.objects.filter(endpoint=endpoint, origin=Delivery.Origin.REPLAY)
    assert set(replayed.values_list("event__type", flat=True)) == {"incident.resolved"}
    assert not replayed.filter(event__is_test=True).exists()

    everything = api_client.post(
        f"{WEBHOOKS}/{endpoint.id}/replay", {"since": "2000-01-01T00:00:00Z"}, format="json"
    ).json()
    assert everything == {"deliveries": 2}  # the old incident was never resolved


@pytest.mark.parametrize("data", [{}, {"since": "yesterday"}, {"since": ""}, {"since": "2024-13-45T00:00:00Z"}])
def test_replay_without_a_valid_since_is_400(api_client, data):
    endpoint_id = create(api_client)["id"]
    error = assert_api_error(api_client.post(f"{WEBHOOKS}/{endpoint_id}/replay", data, format="json"), 400)
    assert "since" in error["fields"]
    assert not Delivery.objects.exists()


# --- The schema ------------------------------------------------------------------------


def test_openapi_schema_validates_with_the_webhook_operations(tmp_path):
    target = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(target))
    schema = json.loads(target.read_text())
    operation_ids = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {
        "webhooks_list",
        "webhooks_create",
        "webhooks_retrieve",
        "webhooks_update",
        "webhooks_destroy",
        "webhooks_test",
        "webhooks_rotate_secret",
        "webhooks_deliveries_list",
        "webhooks_replay",
        "deliveries_retrieve",
        "deliveries_redeliver",
    } <= operation_ids
    endpoint_schema = schema["components"]["schemas"]["EndpointOutput"]
    assert "secret" not in endpoint_schema["properties"]
