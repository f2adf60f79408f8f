"""An incident's assignee as a person: given as a responder id, an email or a Slack user
id it links the responder; anything else is kept as text, as before; acknowledge may
say who takes the incident."""

import pytest

from incidents import responders, services
from incidents.models import Incident, IncidentEvent
from opsknight.tests.asserts import assert_api_error

INCIDENTS = "/api/v1/incidents"

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(db):
    return responders.responder_create(
        name="Ada Lovelace", email="Ada@Example.com", slack_user_id="U02AYNF2XJM", discord_user_id="80351110224678912"
    )


def declare(client, **fields):
    fields.setdefault("title", "Checkout is failing")
    fields.setdefault("idempotency_key", f"k-{Incident.objects.count()}")
    response = client.post(INCIDENTS, fields, format="json")
    assert response.status_code == 201, response.content
    return response.json()


ADA_OUT = {
    "name": "Ada Lovelace",
    "email": "Ada@Example.com",
    "slack_user_id": "U02AYNF2XJM",
    "teams_upn": None,
    "discord_user_id": "80351110224678912",
    "telegram_username": None,
}


@pytest.mark.parametrize("given", ["id", "Ada@Example.com", "ada@example.com", "ADA@EXAMPLE.COM", "U02AYNF2XJM"])
def test_an_assignee_that_names_a_responder_links_it(api_client, ada, given):
    body = declare(api_client, assignee=ada.id if given == "id" else given)
    assert body["assignee"] == {"id": ada.id, **ADA_OUT}
    incident = Incident.objects.get(pk=body["id"])
    assert incident.assignee_responder_id == ada.id
    assert incident.assignee == "Ada@Example.com"  # the responder's email, kept as text
    assert api_client.get(f"{INCIDENTS}/{body['id']}").json()["assignee"] == body["assignee"]


@pytest.mark.parametrize(
    "given, email, slack_user_id",
    [
        ("grace@example.com", "grace@example.com", None),  # an email no responder has
        ("W0123ABCDE", None, "W0123ABCDE"),  # a Slack id no responder has
        ("Grace Hopper", None, None),
        ("u02aynf2xjm", None, None),  # not a Slack id (lower case), and not Ada's
        ("@ada", None, None),
    ],
)
def test_an_assignee_that_matches_no_responder_is_kept_as_a_name(api_client, ada, given, email, slack_user_id):
    body = declare(api_client, assignee=given)
    assert body["assignee"] == {
        "id": None,
        "name": given,
        "email": email,
        "slack_user_id": slack_user_id,
        "teams_upn": None,
        "discord_user_id": None,
        "telegram_username": None,
    }
    incident = Incident.objects.get(pk=body["id"])
    assert (incident.assignee, incident.assignee_responder) == (given, None)


def test_no_assignee_is_null(api_client):
    assert declare(api_client)["assignee"] is None
    assert declare(api_client, assignee="")["assignee"] is None
    assert declare(api_client, assignee=None)["assignee"] is None


def test_an_unknown_responder_id_is_a_400_and_nothing_is_declared(api_client):
    response = api_client.post(INCIDENTS, {"title": "x", "idempotency_key": "k", "assignee": "rsp_NOPE"}, format="json")
    error = assert_api_error(response, 400, code="invalid")
    assert "rsp_NOPE" in error["fields"]["assignee"][0]
    assert not Incident.objects.exists() and not IncidentEvent.objects.exists()


def test_a_deleted_responder_leaves_its_email_as_the_assignee(api_client, ada):
    incident_id = declare(api_client, assignee="U02AYNF2XJM")["id"]
    assert api_client.delete(f"/api/v1/responders/{ada.id}").status_code == 204
    assignee = api_client.get(f"{INCIDENTS}/{incident_id}").json()["assignee"]
    assert (assignee["id"], assignee["name"], assignee["email"]) == (None, "Ada@Example.com", "Ada@Example.com")


def test_a_changed_responder_shows_in_its_incidents(api_client, ada):
    incident_id = declare(api_client, assignee=ada.id)["id"]
    api_client.patch(f"/api/v1/responders/{ada.id}", {"name": "Ada King"}, format="json")
    assert api_client.get(f"{INCIDENTS}/{incident_id}").json()["assignee"]["name"] == "Ada King"


def test_listing_incidents_reads_assignees_in_the_same_query(api_client, ada, django_assert_max_num_queries):
    for _ in range(5):
        declare(api_client, assignee=ada.id)
    declare(api_client, assignee="someone else")
    # key lookup, last-used update, the incidents (with service and responder), their links
    with django_assert_max_num_queries(4):
        results = api_client.get(INCIDENTS).json()["results"]
    assert [r["assignee"]["id"] for r in results] == [None] + [ada.id] * 5


# --- acknowledge with an assignee ---------------------------------------------------------


def test_acknowledge_with_an_assignee_assigns_it_in_the_same_change(api_client, ada):
    incident_id = declare(api_client, assignee="someone else")["id"]
    response = api_client.post(f"{INCIDENTS}/{incident_id}/acknowledge", {"assignee": "ada@example.com"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["version"], body["assignee"]["id"]) == ("acknowledged", 2, ada.id)
    assert IncidentEvent.objects.filter(incident_id=incident_id).count() == 2  # one change, one event


@pytest.mark.parametrize("body", [None, {}, {"assignee": None}, {"assignee": ""}])
def test_acknowledge_without_an_assignee_keeps_it(api_client, ada, body):
    incident_id = declare(api_client, assignee=ada.id)["id"]
    url = f"{INCIDENTS}/{incident_id}/acknowledge"
    response = api_client.post(url) if body is None else api_client.post(url, body, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["assignee"]["id"]) == ("acknowledged", ada.id)


def test_acknowledge_with_an_unknown_responder_id_is_400_and_changes_nothing(api_client):
    incident_id = declare(api_client)["id"]
    response = api_client.post(f"{INCIDENTS}/{incident_id}/acknowledge", {"assignee": "rsp_NOPE"}, format="json")
    assert "assignee" in assert_api_error(response, 400, code="invalid")["fields"]
    incident = Incident.objects.get(pk=incident_id)
    assert (incident.status, incident.version, incident.assignee) == ("triggered", 1, None)


def test_acknowledge_with_an_assignee_of_the_wrong_type_is_400(api_client):
    incident_id = declare(api_client)["id"]
    response = api_client.post(f"{INCIDENTS}/{incident_id}/acknowledge", {"assignee": ["a"]}, format="json")
    assert "assignee" in assert_api_error(response, 400)["fields"]


def test_a_refused_acknowledge_does_not_assign(api_client, ada, system_actor):
    incident_id = declare(api_client)["id"]
    services.incident_resolve(incident=Incident.objects.get(pk=incident_id), actor=system_actor)
    response = api_client.post(f"{INCIDENTS}/{incident_id}/acknowledge", {"assignee": ada.id}, format="json")
    assert_api_error(response, 409)
    assert Incident.objects.get(pk=incident_id).assignee_responder is None


def test_the_admin_add_form_refuses_an_unknown_responder_id(admin_client):
    from django.urls import reverse

    response = admin_client.post(
        reverse("admin:incidents_incident_add"),
        {"title": "x", "severity": "high", "visibility": "public", "assignee": "rsp_NOPE", "summary": ""},
    )
    assert response.status_code == 200  # the form again, with the error
    assert "No responder with id" in response.content.decode()
    assert not Incident.objects.exists()


def test_the_admin_add_form_links_a_responder(admin_client, ada):
    from django.urls import reverse

    response = admin_client.post(
        reverse("admin:incidents_incident_add"),
        {"title": "x", "severity": "high", "visibility": "public", "assignee": "U02AYNF2XJM", "summary": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    incident = Incident.objects.get()
    assert incident.assignee_responder == ada
    assert (incident.creator_type, incident.creator_name) == ("user", "admin")  # pytest-django's admin_client
