"""The receiver examples in docs/receivers/ run as real processes on 127.0.0.1, get real
deliveries from the Celery worker, and fetch incidents from the live API. What each one
did is read from its journal (RECEIVER_LOG, one JSON object a line).

The examples serve plain HTTP; the main test also runs each of them behind a TLS front
(tests/support/tls_front.py, as a load balancer terminating TLS would be) at
https://receiver.opsknight.test:<port>/, with a certificate from the test CA."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from opsknight.services import api_key_create
from tests.support import testhosts
from tests.support.receiver import free_port
from tests.support.waiting import declare, wait_until
from webhooks.actions import delivery_redeliver, endpoint_send_test
from webhooks.endpoints import endpoint_create, endpoint_rotate_secret
from webhooks.models import Delivery, Event
from webhooks.transport import build_headers, signing

pytestmark = pytest.mark.e2e

RECEIVERS = Path(__file__).resolve().parents[2] / "docs" / "receivers"
NODE_EXAMPLE = RECEIVERS / "node-express"
NODE, NPM = shutil.which("node"), shutil.which("npm")
EXAMPLES = ["python-django", "python-flask", "node-express"]
LIFECYCLE = ["acknowledge", "escalate", "resolve", "reopen"]
TOLERANCE_SECONDS = 120  # below the 300 s default, to show that it is configurable


@pytest.fixture(scope="session")
def node_dependencies():
    """Express installed in docs/receivers/node-express (npm ci from its lock file, once),
    or the Node example is skipped, saying why."""
    if NODE is None or NPM is None:
        pytest.skip("node and npm are not installed: the Express example is not run")
    if not (NODE_EXAMPLE / "node_modules" / "express").is_dir():
        command = [NPM, "ci", "--no-audit", "--no-fund", "--loglevel", "error"]
        done = subprocess.run(command, cwd=NODE_EXAMPLE, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            pytest.skip(f"npm ci failed in {NODE_EXAMPLE.name}, so the Express example is not run:\n{done.stderr}")


class RunningExample:
    """One example as a process of its own, configured through the environment only."""

    def __init__(self, name: str, *, port: int, env: dict[str, str], tmp: Path):
        self.name, self.port = name, port
        self.journal_path = tmp / f"{name}.jsonl"
        self.output_path = tmp / f"{name}.out"
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", str(tmp)),
            "PYTHONDONTWRITEBYTECODE": "1",
            "RECEIVER_LOG": str(self.journal_path),
            "RECEIVER_DB": str(tmp / f"{name}.sqlite3"),
            "PORT": str(port),
            **env,
        }
        commands = {
            "python-django": [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            "python-flask": [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)],
            "node-express": [NODE, "server.js"],
        }
        self.output = open(self.output_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            commands[name], cwd=RECEIVERS / name, env=env, stdout=self.output, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while not self._listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start:\n{self.output_path.read_text()}")
            time.sleep(0.1)

    def _listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/opsknight"

    def journal(self, kind: str | None = None) -> list[dict]:
        if not self.journal_path.exists():
            return []
        entries = [json.loads(line) for line in self.journal_path.read_text().splitlines()]
        return [entry for entry in entries if kind is None or entry["kind"] == kind]

    def wait_for(self, kind: str, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(entries := self.journal(kind)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: {len(entries)} of {count} '{kind}' entries; journal: {self.journal()}\n"
                    + self.output_path.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.1)
        return entries

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()


@pytest.fixture(params=EXAMPLES)
def start_example(request, e2e, live_server, tmp_path):
    """start_example(port=..., secret=...) runs the example of this test's parameter
    against the live API (unless api_url is given), with a key that may read private
    incidents (unless api_key is given)."""
    if request.param == "node-express":
        request.getfixturevalue("node_dependencies")
    _, raw_key = api_key_create(name="receiver example", scopes=["incidents:read", "incidents:read_private"])
    started = []

    def start(
        *,
        port: int,
        secret: str,
        old_secret: str = "",
        api_key: str = raw_key,
        api_url: str = "",
        retry_delays="0.2,0.5",
        allowed_hosts: str = "127.0.0.1,localhost",
    ) -> RunningExample:
        env = {
            "DJANGO_ALLOWED_HOSTS": allowed_hosts,  # the Django example's ALLOWED_HOSTS
            "OPSKNIGHT_WEBHOOK_SECRET": secret,
            "OPSKNIGHT_WEBHOOK_OLD_SECRET": old_secret,
            "OPSKNIGHT_API_URL": api_url or live_server.url,
            "OPSKNIGHT_API_KEY": api_key,
            "WEBHOOK_TOLERANCE_SECONDS": str(TOLERANCE_SECONDS),
            "API_RETRY_DELAYS": retry_delays,
        }
        example = RunningExample(request.param, port=port, env=env, tmp=tmp_path)
        started.append(example)
        return example

    yield start
    for example in started:
        example.stop()


@pytest.fixture
def tls_front(request):
    """tls_front(backend_port) → a TlsFront at https://receiver.opsknight.test:<port>/ for
    an example listening on 127.0.0.1:<backend_port>; the test CA is trusted (in this
    process for Send Test, in the worker through its environment)."""
    from tests.support import tls
    from tests.support.tls_front import TlsFront

    testhosts.require()
    request.getfixturevalue("tls_ca_bundle")
    fronts = []

    def start(backend_port: int) -> TlsFront:
        fronts.append(TlsFront(backend_port, tls.receiver_cert(), name=testhosts.RECEIVER))
        return fronts[-1]

    yield start
    for front in fronts:
        front.close()


def endpoint_for(name: str, port: int, url: str = ""):
    return endpoint_create(name=name, url=url or f"http://127.0.0.1:{port}/hooks/opsknight")


def without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key != name}


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_example_verifies_dedupes_and_syncs_real_deliveries(start_example, api_client, scheme, request):
    port = free_port()
    if scheme == "https":
        # HTTPS by name through a TLS front; the Django example accepts only that Host.
        front = request.getfixturevalue("tls_front")(port)
        endpoint = endpoint_for("receiver example", port, url=front.url("/hooks/opsknight"))
        allowed_hosts = testhosts.RECEIVER
    else:
        endpoint = endpoint_for("receiver example", port)
        allowed_hosts = "127.0.0.1,localhost"
    new_secret = signing.generate_secret()
    # Configured for a rotation with no gap: the secret to come, and the one in use.
    example = start_example(port=port, secret=new_secret, old_secret=endpoint.secret, allowed_hosts=allowed_hosts)

    public_id = declare(api_client, "receiver-public")
    for action in LIFECYCLE:
        assert api_client.post(f"/api/v1/incidents/{public_id}/{action}").status_code == 200
    endpoint_rotate_secret(endpoint=endpoint, secret=new_secret)
    private_id = declare(api_client, "receiver-private", visibility="private", summary="card numbers in logs")
    assert api_client.post(f"/api/v1/incidents/{private_id}/acknowledge").status_code == 200

    events = {event.id: event for event in Event.objects.filter(incident_id__in=[public_id, private_id])}
    assert len(events) == 7
    processed = example.wait_for("processed", 7)

    # Every genuine delivery was accepted at once (202, first attempt).
    wait_until(lambda: Delivery.objects.filter(endpoint=endpoint, status="succeeded").count() == 7)
    for delivery in Delivery.objects.filter(endpoint=endpoint):
        (attempt,) = delivery.attempts.all()
        assert attempt.response_status == 202
        assert attempt.duration_ms < 1000

    # Each event processed once, with the incident as the API has it (snake_case fields,
    # which the webhook payload does not have), private details included.
    assert sorted(entry["webhook_id"] for entry in processed) == sorted(events)
    for entry in processed:
        event = events[entry["webhook_id"]]
        assert entry["event"] == event.type
        assert entry["incident"]["id"] == event.incident_id
        assert entry["incident"]["version"] >= json.loads(event.payload)["incident"].get("version", 1)
        assert "escalation_level" in entry["incident"]
    private = [entry["incident"] for entry in processed if entry["incident"]["id"] == private_id]
    assert {incident["summary"] for incident in private} == {"card numbers in logs"}
    assert {json.loads(events[e["webhook_id"]].payload)["incident"]["visibility"] for e in processed} == {
        "public",
        "private",
    }
    # The local copy only moves forward, and ends at the incident's last version.
    applied = [e["incident"] for e in processed if e["applied"] and e["incident"]["id"] == public_id]
    assert [incident["version"] for incident in applied] == sorted({incident["version"] for incident in applied})
    assert (applied[-1]["version"], applied[-1]["status"], applied[-1]["escalation_level"]) == (5, "triggered", 1)

    # A redelivery carries the same webhook-id: answered 2xx, not processed again.
    triggered = next(event for event in events.values() if event.type == "incident.triggered")
    original = Delivery.objects.get(event=triggered, endpoint=endpoint)
    redelivery = delivery_redeliver(delivery=original)
    redelivered = wait_until(lambda: Delivery.objects.filter(pk=redelivery.pk, status="succeeded").first())
    assert redelivered.last_status_code == 200
    assert [e["webhook_id"] for e in example.wait_for("duplicate", 1)] == [triggered.id]
    time.sleep(0.5)
    assert [e["webhook_id"] for e in example.journal("processed")].count(triggered.id) == 1

    # Send Test: accepted, recognized as a sample, nothing fetched.
    assert endpoint_send_test(endpoint=endpoint).response_status == 202
    assert example.wait_for("test", 1)[0]["event"] == "incident.triggered"

    if scheme == "https":
        # Every connection (worker and Send Test) asked for the name, and verified it.
        assert front.connections
        assert {(c.sni, c.error) for c in front.connections} == {(testhosts.RECEIVER, "")}


def test_example_refuses_forged_stale_and_malformed_requests(start_example, api_client):
    port = free_port()
    endpoint = endpoint_for("receiver example", port)
    example = start_example(port=port, secret=endpoint.secret)
    incident_id = declare(api_client, "receiver-refusals")
    (accepted,) = example.wait_for("processed", 1)
    event = Event.objects.get(incident_id=incident_id)
    body = event.payload.encode()

    def signed(*, secret: str = endpoint.secret, age: int = 0, signed_body: bytes = body) -> dict[str, str]:
        return build_headers(
            delivery_id="dlv_01HQ3ZB4S0V2X4Z6B8D0F2H4J6",
            event_id=event.id,
            event_type=event.type,
            body=signed_body,
            secrets=[secret],
            timestamp=int(time.time()) - age,
        )

    def post(headers: dict[str, str], data: bytes = body) -> requests.Response:
        return requests.post(example.url, data=data, headers=headers, timeout=5)

    other_secret = signing.generate_secret()
    genuine, forged = signed(), signed(secret=other_secret)
    tampered = body.replace(b'"event":"incident.triggered"', b'"event":"incident.resolved"')
    assert tampered != body
    # case: (headers, body, the status expected)
    refusals = {
        "tampered body": (genuine, tampered, 401),
        "another secret": (forged, body, 401),
        "a typed secret's signature": (signed(secret="a-typed-secret-1234"), body, 401),
        "only webhook-signature genuine": (
            {**genuine, "X-OpsKnight-Signature": forged["X-OpsKnight-Signature"]},
            body,
            401,
        ),
        "only X-OpsKnight-Signature genuine": (
            {**genuine, "webhook-signature": forged["webhook-signature"]},
            body,
            401,
        ),
        "malformed webhook-signature": ({**genuine, "webhook-signature": "garbage"}, body, 401),
        "10 minutes old": (signed(age=600), body, 401),
        "older than the configured tolerance": (signed(age=TOLERANCE_SECONDS + 60), body, 401),
        "10 minutes ahead": (signed(age=-600), body, 401),
        "no webhook-signature": (without(genuine, "webhook-signature"), body, 400),
        "no X-OpsKnight-Signature": (without(genuine, "X-OpsKnight-Signature"), body, 400),
        "timestamp not a number": ({**genuine, "webhook-timestamp": "soon"}, body, 400),
    }
    answers = {case: post(headers, data) for case, (headers, data, _) in refusals.items()}
    assert {case: answer.status_code for case, answer in answers.items()} == {
        case: status for case, (_, _, status) in refusals.items()
    }
    for answer in answers.values():
        assert "error" in answer.json()
    refused = example.wait_for("refused", len(refusals))
    assert sum("too old or too far ahead" in entry["reason"] for entry in refused) == 3

    # The same request, genuine and within the tolerance, gets through (as a duplicate).
    assert post(signed(age=TOLERANCE_SECONDS - 30)).status_code == 200
    time.sleep(0.3)
    assert example.journal("processed") == [accepted]
    assert len(example.journal("refused")) == len(refusals)


def test_a_failed_processing_lets_the_redelivery_through(start_example, api_client):
    """The answer does not wait for the API: with a key the API refuses, the delivery is
    still answered 202; the processing fails, and the webhook id is forgotten, so that a
    redelivery by hand is processed again instead of being skipped as a duplicate."""
    port = free_port()
    endpoint = endpoint_for("receiver example", port)
    example = start_example(port=port, secret=endpoint.secret, api_key="opsk_not_a_valid_key")
    incident_id = declare(api_client, "receiver-api-refuses")

    (failed,) = example.wait_for("failed", 1)
    event = Event.objects.get(incident_id=incident_id)
    assert failed["webhook_id"] == event.id
    assert "401" in failed["error"]
    delivery = wait_until(lambda: Delivery.objects.filter(endpoint=endpoint, status="succeeded").first())
    assert delivery.last_status_code == 202

    delivery_redeliver(delivery=delivery)
    example.wait_for("failed", 2)
    assert [e["webhook_id"] for e in example.journal("accepted")] == [event.id, event.id]
    assert example.journal("duplicate") == []


def test_the_answer_does_not_wait_for_the_processing(start_example, api_client):
    """With the API down, processing takes its retries (3 s here), yet the delivery is
    answered 202 within the sender's 1 s read timeout, before the processing gives up."""
    port = free_port()
    endpoint = endpoint_for("receiver example", port)
    down = f"http://127.0.0.1:{free_port()}"
    example = start_example(port=port, secret=endpoint.secret, api_url=down, retry_delays="3")
    declare(api_client, "receiver-api-down")

    delivery = wait_until(lambda: Delivery.objects.filter(endpoint=endpoint, status="succeeded").first())
    assert delivery.last_status_code == 202
    assert [entry["kind"] for entry in example.journal()] == ["accepted"]  # still processing
    (failed,) = example.wait_for("failed", 1)
    assert failed["webhook_id"] == delivery.event_id
