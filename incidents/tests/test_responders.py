"""The responder directory through the API (/api/v1/responders): create, list, read,
change, delete; validation with the platforms' own id formats; scopes; OpenAPI."""

import pytest

from incidents.models import Responder
from opsknight.models import Scope
from opsknight.tests.asserts import assert_api_error

RESPONDERS = "/api/v1/responders"

# Handles as each platform documents them:
# - Slack user ids: https://api.slack.com/changelog/2016-08-11-user-id-format-changes
#   ("U" or "W", upper-case letters and digits; U02AYNF2XJM is the example).
# - Discord snowflakes: https://discord.com/developers/docs/reference#snowflakes
#   (the docs' example user id is 80351110224678912).
# - Telegram usernames: https://core.telegram.org/method/account.updateUsername
#   ("a-z, 0-9 and underscores", 5 to 32 characters).
# - Teams: a Microsoft Entra user principal name, email-shaped (learn.microsoft.com, "userPrincipalName").
ADA = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "slack_user_id": "U02AYNF2XJM",
    "teams_upn": "ada@contoso.onmicrosoft.com",
    "discord_user_id": "80351110224678912",
    "telegram_username": "ada_lovelace",
}

pytestmark = pytest.mark.django_db


def add(client, **fields):
    return client.post(RESPONDERS, {**ADA, **fields}, format="json")


def test_create_returns_201_with_every_field(api_client):
    response = add(api_client)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("rsp_") and len(body["id"]) == 30
    assert {name: body[name] for name in ADA} == ADA
    assert body["created_at"].endswith("Z")
    assert set(body) == {"id", *ADA, "created_at"}
    assert Responder.objects.get().email == "ada@example.com"


def test_only_name_and_email_are_required_and_blank_handles_are_null(api_client):
    response = api_client.post(
        RESPONDERS,
        {"name": "Grace", "email": "grace@example.com", "slack_user_id": "", "telegram_username": None},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [body[name] for name in ("slack_user_id", "teams_upn", "discord_user_id", "telegram_username")] == [None] * 4


def test_a_telegram_username_may_be_given_with_its_at(api_client):
    assert add(api_client, telegram_username="@ada_lovelace").json()["telegram_username"] == "ada_lovelace"


@pytest.mark.parametrize("missing", ["name", "email"])
def test_create_without_a_required_field_is_400_naming_it(api_client, missing):
    body = dict(ADA)
    del body[missing]
    error = assert_api_error(api_client.post(RESPONDERS, body, format="json"), 400, code="invalid")
    assert missing in error["fields"]
    assert not Responder.objects.exists()


@pytest.mark.parametrize(
    "field, value",
    [
        ("email", "not-an-email"),
        ("name", ""),
        ("name", "line\nbreak"),
        ("slack_user_id", "ada"),  # a display name, not an id
        ("slack_user_id", "u02aynf2xjm"),  # ids are upper case
        ("slack_user_id", "C024BE91L"),  # a channel id
        ("discord_user_id", "ada#1234"),  # the old tag, not the id
        ("discord_user_id", "1234"),
        ("telegram_username", "ada"),  # under 5 characters
        ("telegram_username", "1ada_lovelace"),
        ("telegram_username", "ada-lovelace"),
        ("teams_upn", "Ada Lovelace"),
    ],
)
def test_invalid_values_are_400_naming_the_field(api_client, field, value):
    error = assert_api_error(add(api_client, **{field: value}), 400, code="invalid")
    assert field in error["fields"], error
    assert not Responder.objects.exists()


def test_email_is_unique_whatever_its_case(api_client):
    assert add(api_client).status_code == 201
    error = assert_api_error(add(api_client, email="ADA@Example.COM", slack_user_id=None), 400, code="invalid")
    assert "already exists" in error["message"]
    assert Responder.objects.count() == 1


def test_slack_user_id_is_unique(api_client):
    assert add(api_client).status_code == 201
    error = assert_api_error(add(api_client, email="other@example.com"), 400, code="invalid")
    assert "slack_user_id" in error["fields"]


def test_list_detail_patch_and_delete(api_client):
    ada = add(api_client).json()
    grace = add(api_client, name="Grace Hopper", email="grace@example.com", slack_user_id="W012A3CDE").json()

    listed = api_client.get(RESPONDERS).json()
    assert set(listed) == {"results", "next"}
    assert [r["id"] for r in listed["results"]] == [grace["id"], ada["id"]]  # newest first
    assert api_client.get(f"{RESPONDERS}/{ada['id']}").json() == ada

    changed = api_client.patch(f"{RESPONDERS}/{ada['id']}", {"name": "Ada King", "slack_user_id": None}, format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["name"], changed.json()["slack_user_id"], changed.json()["email"]) == (
        "Ada King", None, "ada@example.com",
    )  # fmt: skip
    refused = api_client.patch(f"{RESPONDERS}/{ada['id']}", {"email": "GRACE@example.com"}, format="json")
    assert_api_error(refused, 400, code="invalid")
    assert Responder.objects.get(pk=ada["id"]).email == "ada@example.com"
    # Changing one's own email's case is no clash with oneself.
    assert api_client.patch(f"{RESPONDERS}/{ada['id']}", {"email": "Ada@example.com"}, format="json").status_code == 200

    assert api_client.delete(f"{RESPONDERS}/{ada['id']}").status_code == 204
    assert_api_error(api_client.get(f"{RESPONDERS}/{ada['id']}"), 404, code="not_found")
    assert_api_error(api_client.delete(f"{RESPONDERS}/{ada['id']}"), 404, code="not_found")
    assert_api_error(api_client.patch(f"{RESPONDERS}/rsp_unknown", {"name": "x"}, format="json"), 404)


def test_reading_needs_incidents_read_and_changing_incidents_write(make_api_client, api_client):
    ada_id = add(api_client).json()["id"]
    reader = make_api_client(scopes=[Scope.INCIDENTS_READ])
    assert reader.get(RESPONDERS).status_code == 200
    assert reader.get(f"{RESPONDERS}/{ada_id}").status_code == 200
    for response in (
        add(reader, email="x@example.com", slack_user_id=None),
        reader.patch(f"{RESPONDERS}/{ada_id}", {"name": "x"}, format="json"),
        reader.delete(f"{RESPONDERS}/{ada_id}"),
    ):
        assert "incidents:write" in assert_api_error(response, 403)["message"]
    outsider = make_api_client(scopes=[Scope.WEBHOOKS_MANAGE])
    assert "incidents:read" in assert_api_error(outsider.get(RESPONDERS), 403)["message"]
    assert Responder.objects.get().name == "Ada Lovelace"


def test_unauthenticated_is_401(client):
    assert_api_error(client.get(RESPONDERS), 401)


def test_openapi_documents_each_operation(client):
    schema = client.get("/api/v1/schema").json()
    operations = {
        (path, method): operation
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/responders")
        for method, operation in item.items()
    }
    assert {(path, method, op["operationId"]) for (path, method), op in operations.items()} == {
        ("/api/v1/responders", "get", "responders_list"),
        ("/api/v1/responders", "post", "responders_create"),
        ("/api/v1/responders/{responder_id}", "get", "responders_retrieve"),
        ("/api/v1/responders/{responder_id}", "patch", "responders_update"),
        ("/api/v1/responders/{responder_id}", "delete", "responders_destroy"),
    }
    assert all(op.get("summary") for op in operations.values())
    assert "400" in operations[("/api/v1/responders", "post")]["responses"]
    acknowledge = schema["paths"]["/api/v1/incidents/{incident_id}/acknowledge"]["post"]
    assert "requestBody" in acknowledge and acknowledge["requestBody"].get("required") is not True


# --- The admin ------------------------------------------------------------------------------


def test_admin_adds_changes_and_deletes_responders_through_the_services(admin_client):
    from django.urls import reverse

    add_url = reverse("admin:incidents_responder_add")
    assert admin_client.get(add_url).status_code == 200
    form = {**ADA, "telegram_username": "@ada_lovelace"}
    response = admin_client.post(add_url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    ada = Responder.objects.get()
    assert (ada.id[:4], ada.telegram_username) == ("rsp_", "ada_lovelace")

    duplicate = admin_client.post(add_url, {**ADA, "email": "ADA@example.com", "slack_user_id": ""})
    assert duplicate.status_code == 200 and "already exists" in duplicate.content.decode()
    assert Responder.objects.count() == 1

    change_url = reverse("admin:incidents_responder_change", args=[ada.pk])
    assert admin_client.post(change_url, {**ADA, "name": "Ada King", "discord_user_id": ""}).status_code == 302
    ada.refresh_from_db()
    assert (ada.name, ada.discord_user_id) == ("Ada King", None)

    changelist = admin_client.get(reverse("admin:incidents_responder_changelist"), {"q": "U02AYNF2XJM"})
    assert changelist.context["cl"].result_count == 1

    delete_url = reverse("admin:incidents_responder_delete", args=[ada.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not Responder.objects.exists()
