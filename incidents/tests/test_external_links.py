"""External links: /api/v1/incidents/{id}/links, the incident API and the admin.
(The webhook payload side is in webhooks/tests/test_external_links_payload.py.)"""

import pytest

from incidents import services
from incidents.models import ExternalLink, IncidentEvent
from opsknight.models import Scope
from opsknight.tests.asserts import assert_api_error

pytestmark = pytest.mark.django_db

JIRA = {"system": "jira", "key": "OPS-123", "url": "https://jira.example.com/browse/OPS-123"}


def links_url(incident_id: str) -> str:
    return f"/api/v1/incidents/{incident_id}/links"


def test_add_is_201_then_200_with_the_same_link(api_client, make_incident):
    incident = make_incident()

    first = api_client.post(links_url(incident.id), JIRA, format="json")
    assert first.status_code == 201, first.content
    link = first.json()
    assert link["id"].startswith("lnk_")
    assert {k: link[k] for k in ("system", "key", "url")} == JIRA
    assert link["created_at"].endswith("Z")

    # Same system and key: the first link, unchanged, even with another URL.
    again = api_client.post(links_url(incident.id), {**JIRA, "url": "https://elsewhere.example.com/"}, format="json")
    assert again.status_code == 200, again.content
    assert again.json() == link
    assert ExternalLink.objects.count() == 1


def test_system_is_stored_in_lower_case_so_two_spellings_are_one_link(api_client, make_incident):
    incident = make_incident()
    assert api_client.post(links_url(incident.id), {**JIRA, "system": "Jira"}, format="json").status_code == 201
    assert api_client.post(links_url(incident.id), JIRA, format="json").status_code == 200
    assert ExternalLink.objects.get().system == "jira"


def test_one_incident_may_link_several_systems_and_keys(api_client, make_incident):
    incident, other = make_incident(), make_incident()
    bodies = [
        JIRA,
        {**JIRA, "key": "OPS-124"},
        {"system": "servicenow", "key": "INC0010001", "url": "https://sn.example.com/x"},
    ]
    for body in bodies:
        assert api_client.post(links_url(incident.id), body, format="json").status_code == 201
    # The same system and key on another incident is another link.
    assert api_client.post(links_url(other.id), JIRA, format="json").status_code == 201

    listed = api_client.get(links_url(incident.id)).json()
    assert listed["next"] is None
    assert [(link["system"], link["key"]) for link in listed["results"]] == [(b["system"], b["key"]) for b in bodies]
    detail = api_client.get(f"/api/v1/incidents/{incident.id}").json()
    assert detail["external_links"] == listed["results"]
    in_list = api_client.get("/api/v1/incidents").json()["results"]
    assert {i["id"]: len(i["external_links"]) for i in in_list} == {incident.id: 3, other.id: 1}


def test_adding_a_link_emits_no_event_and_keeps_the_version(api_client, make_incident):
    incident = make_incident()
    api_client.post(links_url(incident.id), JIRA, format="json")
    incident.refresh_from_db()
    assert incident.version == 1
    assert IncidentEvent.objects.filter(incident=incident).count() == 1


def test_delete_removes_the_link(api_client, make_incident):
    incident = make_incident()
    link_id = api_client.post(links_url(incident.id), JIRA, format="json").json()["id"]

    assert api_client.delete(f"{links_url(incident.id)}/{link_id}").status_code == 204
    assert ExternalLink.objects.count() == 0
    assert_api_error(api_client.delete(f"{links_url(incident.id)}/{link_id}"), 404, code="not_found")
    # Another incident's link is not found through this one.
    other = make_incident()
    other_link = api_client.post(links_url(other.id), JIRA, format="json").json()["id"]
    assert_api_error(api_client.delete(f"{links_url(incident.id)}/{other_link}"), 404)
    assert ExternalLink.objects.filter(pk=other_link).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"system": ""}, "system"),
        ({"system": "my jira"}, "system"),
        ({"system": "-jira"}, "system"),
        ({"system": "j" * 51}, "system"),
        ({"key": ""}, "key"),
        ({"key": "OPS\n123"}, "key"),
        ({"key": "OPS\x00123"}, "key"),
        ({"key": "k" * 256}, "key"),
        ({"url": "ftp://jira.example.com/OPS-123"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": ""}, "url"),
        ({"url": "https://example.com/" + "a" * 2000}, "url"),
    ],
)
def test_bad_links_are_400_naming_the_field(api_client, make_incident, change, field):
    incident = make_incident()
    error = assert_api_error(api_client.post(links_url(incident.id), {**JIRA, **change}, format="json"), 400)
    assert field in error["fields"], error
    assert ExternalLink.objects.count() == 0


@pytest.mark.parametrize("missing", ["system", "key", "url"])
def test_missing_fields_are_400(api_client, make_incident, missing):
    incident = make_incident()
    body = {k: v for k, v in JIRA.items() if k != missing}
    error = assert_api_error(api_client.post(links_url(incident.id), body, format="json"), 400, code="invalid")
    assert missing in error["fields"]


def test_unknown_or_invisible_incident_is_404(make_api_client, make_incident):
    writer = make_api_client(scopes=[Scope.INCIDENTS_READ, Scope.INCIDENTS_WRITE])
    private = make_incident(visibility="private")
    for incident_id in ("inc_nope", private.id):
        assert_api_error(writer.post(links_url(incident_id), JIRA, format="json"), 404)
        assert_api_error(writer.get(links_url(incident_id)), 404)
    assert ExternalLink.objects.count() == 0


def test_links_need_scopes(make_api_client, make_incident):
    incident = make_incident()
    reader = make_api_client(scopes=[Scope.INCIDENTS_READ])
    assert_api_error(reader.post(links_url(incident.id), JIRA, format="json"), 403)
    assert reader.get(links_url(incident.id)).status_code == 200
    link, _ = services.external_link_add(incident=incident, **JIRA)
    assert_api_error(reader.delete(f"{links_url(incident.id)}/{link.id}"), 403)
    writer_only = make_api_client(scopes=[Scope.INCIDENTS_WRITE])
    assert_api_error(writer_only.get(links_url(incident.id)), 403)


def test_admin_change_page_shows_the_links(admin_client, make_incident):
    incident = make_incident()
    services.external_link_add(incident=incident, **JIRA)
    page = admin_client.get(f"/admin/incidents/incident/{incident.id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "OPS-123" in html and "https://jira.example.com/browse/OPS-123" in html
