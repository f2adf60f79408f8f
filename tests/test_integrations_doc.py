"""docs/integrations.md runs as written: its curl commands against a live server, its
ITSM receiver (docs/snippets/itsm_receiver.py, shown verbatim) end to end with a real
Celery worker, and its Alertmanager configuration's shape against the Events API.

A command marked `<!-- test: NAME -->` runs in bash with the documented host replaced by
the live server's, `$KEY` (and the documented shell variables) in its environment, and
`--write-out` added to read the status code."""

import hashlib
import hmac
import importlib.util
import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from incidents.models import ExternalLink, Incident, Service
from opsknight.models import Scope
from opsknight.services import api_key_create
from tests.support.receiver import free_port
from webhooks.models import Event

DOCS = Path(__file__).resolve().parents[1] / "docs"
INTEGRATIONS_MD = DOCS / "integrations.md"
RECEIVER_SNIPPET = DOCS / "snippets" / "itsm_receiver.py"
DOC_HOST = "http://127.0.0.1:8000"
DOC_RECEIVER = "http://127.0.0.1:8080"

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def marked_commands() -> dict[str, str]:
    text = INTEGRATIONS_MD.read_text()
    return dict(re.findall(r"^<!-- test: ([\w-]+) -->\n```sh\n(.*?)^```$", text, flags=re.M | re.S))


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", INTEGRATIONS_MD.read_text(), flags=re.M | re.S)


COMMANDS = marked_commands()


@pytest.fixture
def curl(live_server):
    """curl(name, **variables) → (status, parsed JSON body) of the documented command."""
    _, raw_key = api_key_create(name="docs", scopes=list(Scope.values))

    def run(name: str, **variables) -> tuple[int, dict]:
        command = COMMANDS[name].replace(DOC_HOST, live_server.url)
        if "receiver_url" in variables:
            command = command.replace(DOC_RECEIVER, variables.pop("receiver_url"))
        assert command.startswith("curl "), command
        command = "curl --write-out '\\n%{http_code}' " + command.removeprefix("curl ")
        env = {"PATH": os.environ["PATH"], "KEY": raw_key, **variables}
        done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=30)
        body, _, status = done.stdout.rpartition("\n")
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        return int(status), json.loads(body) if body else {}

    return run


def test_the_doc_marks_every_curl_command_it_shows():
    names = set(COMMANDS)
    assert names == {
        "zendesk-trigger",
        "events-service",
        "events-trigger",
        "events-acknowledge",
        "events-resolve",
        "itsm-subscribe",
        "itsm-declare",
        "itsm-links",
        "itsm-acknowledge",
        "itsm-resolve",
    }
    shown = [block for block in code_blocks("sh") if "curl " in block]
    assert sorted(shown) == sorted(COMMANDS.values()), "a curl command in the doc is not marked for testing"


def test_the_doc_shows_the_receiver_snippet_verbatim():
    assert RECEIVER_SNIPPET.read_text() in code_blocks("python")


# --- Recipes ---------------------------------------------------------------------------------


@needs_curl
def test_zendesk_trigger_recipe_declares_once(curl):
    status, first = curl("zendesk-trigger")
    assert status == 201, first
    assert (first["title"], first["severity"], first["idempotency_key"]) == (
        "Checkout fails for EU customers",
        "critical",
        "zendesk-4711",
    )
    # The template in the doc sends the same fields the curl command does.
    (template,) = [block for block in code_blocks("json") if "{{ticket.id}}" in block]
    assert set(json.loads(template)) == set(json.loads(re.search(r"-d '(.*)'", COMMANDS["zendesk-trigger"])[1]))

    status, again = curl("zendesk-trigger")
    assert status == 200
    assert again["id"] == first["id"]
    assert Incident.objects.count() == 1


@needs_curl
def test_events_recipe_triggers_acknowledges_and_resolves(curl):
    status, service = curl("events-service")
    assert status == 201, service

    status, triggered = curl("events-trigger", SERVICE_ID=service["id"])
    assert status == 202, triggered
    assert triggered["status"] == "success" and triggered["message"] == "Event processed"
    assert triggered["dedup_key"] == "db-1/disk-full"
    incident = Incident.objects.get(pk=triggered["incident_id"])
    assert incident.title == "Disk almost full on db-1 (97%)"
    assert (incident.severity, incident.status) == ("critical", "triggered")
    assert incident.service == Service.objects.get(name="Databases")
    # The summary reads as the doc shows it.
    (summary,) = [block for block in code_blocks("text") if block.startswith("Source: ")]
    assert incident.summary == summary.rstrip("\n")

    # A monitoring tool re-sends while the alert fires: same incident.
    assert curl("events-trigger", SERVICE_ID=service["id"])[1]["incident_id"] == incident.id

    status, acknowledged = curl("events-acknowledge")
    assert (status, acknowledged["incident_id"]) == (202, incident.id)
    incident.refresh_from_db()
    assert incident.status == "acknowledged"

    for _ in range(2):  # a repeated resolve succeeds too
        status, resolved = curl("events-resolve")
        assert (status, resolved["incident_id"]) == (202, incident.id)
    incident.refresh_from_db()
    assert (incident.status, incident.version) == ("resolved", 3)


@pytest.mark.django_db
def test_alertmanager_configuration_and_body_work(api_client):
    """The doc's Alertmanager receiver points at the Events API with a bearer key; a body
    shaped like the one Alertmanager's PagerDuty notifier sends opens and resolves one incident."""
    (config,) = [yaml.safe_load(block) for block in code_blocks("yaml")]
    pagerduty = config["receivers"][0]["pagerduty_configs"][0]
    assert pagerduty["url"] == f"{DOC_HOST}/api/v1/events"
    assert pagerduty["http_config"]["authorization"]["type"] == "Bearer"
    assert pagerduty["routing_key"].startswith("svc_")

    service = Service.objects.create(name="Databases")
    dedup_key = "5d3f0c2a" * 8  # Alertmanager: a SHA-256 of the alert group's key
    body = {
        "routing_key": service.id,
        "dedup_key": dedup_key,
        "event_action": "trigger",
        "payload": {
            "summary": "[FIRING:1] DiskAlmostFull db-1 (critical)",
            "source": "http://alertmanager.example.com",
            "severity": "critical",
            "custom_details": {"firing": "Labels:\n - alertname = DiskAlmostFull\n", "num_firing": "1"},
        },
        "client": "Alertmanager",
        "client_url": "http://alertmanager.example.com/#/alerts",
        "links": [{"href": "http://prometheus.example.com/graph", "text": "Source"}],
        "images": [],
    }
    first = api_client.post("/api/v1/events", body, format="json")
    again = api_client.post("/api/v1/events", body, format="json")
    assert first.status_code == again.status_code == 202, first.content
    assert first.json()["incident_id"] == again.json()["incident_id"]
    resolved = api_client.post("/api/v1/events", {**body, "event_action": "resolve"}, format="json")
    assert resolved.status_code == 202
    incident = Incident.objects.get()
    assert (incident.status, incident.service, incident.dedup_key) == ("resolved", service, dedup_key)


# --- The ITSM walk-through, end to end -------------------------------------------------------


def load_receiver_snippet():
    spec = importlib.util.spec_from_file_location("doc_snippet_itsm_receiver", RECEIVER_SNIPPET)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_until(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def itsm_receiver(live_server):
    """start(secret) → (receiver module, desk); the receiver listens on a free port."""
    itsm = load_receiver_snippet()
    port = free_port()
    servers = []
    _, receiver_key = api_key_create(name="itsm receiver", scopes=[Scope.INCIDENTS_WRITE])

    def start(secret: str):
        desk = itsm.TicketDesk()
        server = itsm.make_server(
            host="127.0.0.1",
            port=port,
            secret=secret,
            desk=desk,
            opsknight=itsm.OpsKnight(live_server.url, receiver_key),
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return desk

    start.url = f"http://127.0.0.1:{port}"
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
@needs_curl
def test_itsm_walkthrough_end_to_end(e2e, curl, itsm_receiver):
    status, endpoint = curl("itsm-subscribe", receiver_url=itsm_receiver.url)
    assert status == 201, endpoint
    desk = itsm_receiver(endpoint["secret"])

    status, incident = curl("itsm-declare")
    assert status == 201, incident
    incident_id = incident["id"]

    # The receiver opens ITSM-1 and links it back.
    links = wait_until(lambda: curl("itsm-links", INCIDENT_ID=incident_id)[1]["results"])
    assert [(link["system"], link["key"]) for link in links] == [("itsm", "ITSM-1")]
    assert links[0]["url"] == "https://itsm.example.com/tickets/ITSM-1"
    assert desk.tickets["ITSM-1"]["status"] == "New"
    assert desk.tickets["ITSM-1"]["title"] == "Payments API returns 502"

    status, acknowledged = curl("itsm-acknowledge", INCIDENT_ID=incident_id)
    assert (status, acknowledged["status"]) == (200, "acknowledged")
    assert acknowledged["external_links"] == links
    wait_until(lambda: desk.tickets["ITSM-1"]["status"] == "In Progress")

    status, resolved = curl("itsm-resolve", INCIDENT_ID=incident_id)
    assert (status, resolved["status"]) == (200, "resolved")
    wait_until(lambda: desk.tickets["ITSM-1"]["status"] == "Resolved")

    # The receiver found its ticket through the payloads, not through the fallback search.
    for event_type in ("incident.acknowledged", "incident.resolved"):
        payload = json.loads(Event.objects.get(incident_id=incident_id, type=event_type).payload)
        assert payload["incident"]["externalLinks"] == [
            {"system": "itsm", "key": "ITSM-1", "url": "https://itsm.example.com/tickets/ITSM-1"}
        ]
    assert list(desk.tickets) == ["ITSM-1"]
    assert ExternalLink.objects.count() == 1


def test_receiver_snippet_opens_one_ticket_per_incident_and_falls_back_when_the_link_is_missing():
    """The two safety details the doc promises, without a server: a retried
    incident.triggered opens no second ticket, and an event without the link still
    finds the ticket."""
    itsm = load_receiver_snippet()
    desk = itsm.TicketDesk()
    linked = []

    class FakeOpsKnight:  # the links API itself is exercised in the walk-through above
        def link(self, incident_id, *, key, url):
            linked.append((incident_id, key))

    incident = {"id": "inc_1", "title": "t", "externalLinks": []}
    for _ in range(2):
        itsm.handle({"event": "incident.triggered", "incident": incident}, desk=desk, opsknight=FakeOpsKnight())
    assert list(desk.tickets) == ["ITSM-1"]
    assert linked == [("inc_1", "ITSM-1"), ("inc_1", "ITSM-1")]

    itsm.handle({"event": "incident.acknowledged", "incident": incident}, desk=desk, opsknight=FakeOpsKnight())
    assert desk.tickets["ITSM-1"]["status"] == "In Progress"
    # A private incident's payload (id only) is skipped.
    private = {"id": "inc_1", "visibility": "private"}
    itsm.handle({"event": "incident.resolved", "incident": private}, desk=desk, opsknight=None)
    assert desk.tickets["ITSM-1"]["status"] == "In Progress"


def test_receiver_snippet_checks_the_signature():
    itsm = load_receiver_snippet()
    body = b'{"event":"incident.triggered"}'
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert itsm.signature_ok(body, good, "s3cret")
    assert not itsm.signature_ok(body, good, "other")
    assert not itsm.signature_ok(body + b" ", good, "s3cret")
    assert not itsm.signature_ok(body, None, "s3cret")
