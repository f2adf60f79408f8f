"""Through the real pipeline: an incident at maximum length with hostile text, its
events rendered by the outbox and sent by the worker to each platform's simulator; every
delivery succeeds. And the simulators refuse what each platform refuses, as it answers."""

import json

import pytest

from incidents import services as incident_services
from tests.support.chat_platforms import PlatformSimulator, check_body
from webhooks.delivery.worker import deliveries_attempt
from webhooks.endpoints import endpoint_create
from webhooks.formats.tests.chat_cases import CHAT_FORMATS, MAX, OPTIONS, VARIANTS, fill
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.tests.support import declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulators():
    running = {name: PlatformSimulator(name) for name in CHAT_FORMATS}
    yield running
    for simulator in running.values():
        simulator.close()


def test_hostile_incident_is_delivered_to_every_platform(system_actor, simulators, settings):
    settings.PUBLIC_BASE_URL = "https://ops.example.com"
    endpoints = {
        name: endpoint_create(name=name, url=simulators[name].url(), format=name, format_options=OPTIONS[name][0])
        for name in CHAT_FORMATS
    }
    text = VARIANTS["mixed"]
    service = incident_services.service_create(name=fill(text, MAX["service"]))
    incident = declare(
        system_actor,
        title=fill(text, MAX["title"]),
        summary=fill(text, MAX["summary"]),
        service=service,
        assignee=fill(text, MAX["assignee"]),
        severity="critical",
    )
    incident_services.incident_acknowledge(incident=incident, actor=system_actor)
    incident_services.incident_escalate(incident=incident, actor=system_actor)
    incident_services.incident_resolve(incident=incident, actor=system_actor)
    declare(system_actor, key="k2", title=fill(text, MAX["title"]), visibility="private")

    deliveries = list(Delivery.objects.filter(endpoint__in=endpoints.values()).values_list("id", flat=True))
    assert len(deliveries) == 5 * len(CHAT_FORMATS)
    attempts = deliveries_attempt(delivery_ids=deliveries)

    assert len(attempts) == len(deliveries)
    refused = [(attempt.url, attempt.response_status, attempt.response_body_excerpt) for attempt in attempts
               if attempt.outcome != DeliveryAttempt.Outcome.SUCCEEDED]  # fmt: skip
    assert refused == []
    for name in CHAT_FORMATS:
        assert len(simulators[name].accepted) == 5, name
        assert not simulators[name].refused
        title_line = fill(text, MAX["title"]).strip().replace("\u200b", "")
        assert any(title_line in seen.text for seen in simulators[name].accepted), name


# --- The simulators refuse what the platforms refuse ------------------------------------


def refused(platform: str, body) -> tuple[int, bytes]:
    verdict = check_body(platform, json.dumps(body).encode())
    assert not verdict.ok
    return verdict.status, verdict.body


def test_slack_answers_invalid_blocks_and_no_text():
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    assert refused("slack", {"text": "t", "blocks": [header]}) == (400, b"invalid_blocks")
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    assert refused("slack", {"text": "t", "blocks": [section] * 51}) == (400, b"invalid_blocks")
    assert refused("slack", {"text": ""}) == (400, b"no_text")
    assert check_body("slack", b"{").body == b"invalid_payload"


def test_discord_answers_50035_with_the_field():
    status, body = refused("discord", {"content": "x" * 2001})
    assert status == 400
    answer = json.loads(body)
    assert answer["code"] == 50035 and answer["message"] == "Invalid Form Body"
    assert answer["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    fields = [{"name": "n", "value": "v" * 1000}] * 6
    assert json.loads(refused("discord", {"embeds": [{"fields": fields}]})[1])["errors"]["embeds"]["_errors"]
    both = {"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}}
    assert json.loads(refused("discord", both)[1])["code"] == 50035


def test_telegram_answers_too_long_and_bad_markup():
    status, body = refused("telegram", {"chat_id": 1, "text": "😀" * 2049, "parse_mode": "HTML"})
    assert (status, json.loads(body)) == (
        400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"},
    )  # fmt: skip
    for text in ("<script>x</script>", "a < b", "&nbsp;", "<b>open"):
        description = json.loads(refused("telegram", {"chat_id": 1, "text": text, "parse_mode": "HTML"})[1])
        assert description["description"].startswith("Bad Request: can't parse entities"), text


def test_teams_checks_the_card_schema_size_and_mentions():
    def message(card: dict) -> dict:
        card = {"type": "AdaptiveCard", "version": "1.5", **card}
        return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                    "content": card}]}  # fmt: skip

    ok = message({"body": [{"type": "TextBlock", "text": "hi"}]})
    assert check_body("msteams", json.dumps(ok).encode()).ok
    assert refused("msteams", message({"body": [{"type": "TextBlock", "txt": "hi"}]}))[0] == 400
    assert refused("msteams", message({"version": "1.6", "body": []}))[0] == 400
    big = message({"body": [{"type": "TextBlock", "text": "x" * 15_000}]})
    assert refused("msteams", big)[0] == 413
    lost = {"entities": [{"type": "mention", "text": "<at>Ada</at>", "mentioned": {"id": "a@b.example", "name": "A"}}]}
    assert refused("msteams", message({"body": [{"type": "TextBlock", "text": "no at"}], "msteams": lost}))[0] == 400


def test_google_chat_answers_invalid_argument():
    status, body = refused("google_chat", {"text": "x" * 4097})
    assert status == 400 and json.loads(body)["error"]["status"] == "INVALID_ARGUMENT"
    assert refused("google_chat", {"text": "x" * 4000, "cardsV2": [{"card": {"sections": [
        {"widgets": [{"textParagraph": {"text": "y" * 3000}}] * 10}]}}]})[0] == 400  # fmt: skip
