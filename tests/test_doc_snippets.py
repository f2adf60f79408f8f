"""The verification snippets in docs/snippets/ accept what the sender signs and refuse
what they must refuse, and docs/webhooks.md shows them verbatim (no drift).

No database: `build_headers` and the signing functions are pure."""

import base64
import hashlib
import importlib.util
import json
import random
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from webhooks.formats import opsknight as opsknight_format
from webhooks.models import EVENT_TYPES
from webhooks.transport import build_headers, signing

DOCS = Path(__file__).resolve().parents[1] / "docs"
SNIPPETS = DOCS / "snippets"
WEBHOOKS_MD = DOCS / "webhooks.md"


def load_snippet(filename: str):
    spec = importlib.util.spec_from_file_location(f"doc_snippet_{Path(filename).stem}", SNIPPETS / filename)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


standard = load_snippet("verify_standardwebhooks.py")
opsknight = load_snippet("verify_opsknight_signature.py")

EVENT_ID = "evt_01HQ3ZB4RA2C4E6G8J0K2M4N6P"
# Non-ASCII on purpose: the body is UTF-8 (ensure_ascii=False) and must verify byte for byte.
BODY = opsknight_format.event_body(
    event_id=EVENT_ID,
    event_type="incident.triggered",
    timestamp=datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
    actor={"type": "user", "id": "7", "name": "Zoë Ørsted"},
    incident={"id": "inc_01HQ3ZB4R7T9V1X3Z5B7D9F1H3", "title": "Paiement refusé — 5xx ↑", "version": 1},
)
TAMPERED = BODY.replace(b'"version":1', b'"version":2')

OLD, NEW = signing.generate_secret(), signing.generate_secret()
# name -> the endpoint's signing secrets, newest first (as WebhookEndpoint.signing_secrets gives them)
CASES = {
    "generated": [signing.generate_secret()],
    "typed": ["my-typed-secret-1234"],
    "typed whsec_ that is not base64": ["whsec_plain-typed-secret-value"],
    "rotation": [NEW, OLD],
}


def sign(secrets: list[str], *, body: bytes = BODY, age: int = 0) -> dict[str, str]:
    return build_headers(
        delivery_id="dlv_01HQ3ZB4S0V2X4Z6B8D0F2H4J6",
        event_id=EVENT_ID,
        event_type="incident.triggered",
        body=body,
        secrets=secrets,
        timestamp=int(time.time()) - age,
    )


# --- (a) the Python snippets ---------------------------------------------------------


@pytest.mark.parametrize("secrets", CASES.values(), ids=CASES.keys())
def test_standardwebhooks_snippet_accepts_every_active_secret(secrets):
    headers = sign(secrets)
    for secret in secrets:
        assert standard.verify(BODY, headers, secret) == json.loads(BODY)
    # Header names in any case (frameworks differ).
    assert standard.verify(BODY, {k.title(): v for k, v in headers.items()}, secrets[0])["id"] == EVENT_ID


@pytest.mark.parametrize("secrets", CASES.values(), ids=CASES.keys())
def test_standardwebhooks_snippet_refuses_tampered_body_wrong_secret_and_old_timestamp(secrets):
    headers = sign(secrets)
    with pytest.raises(WebhookVerificationError):
        standard.verify(TAMPERED, headers, secrets[0])
    with pytest.raises(WebhookVerificationError):
        standard.verify(BODY, headers, signing.generate_secret())
    with pytest.raises(WebhookVerificationError):
        standard.verify(BODY, headers, "another-typed-secret")
    with pytest.raises(WebhookVerificationError, match="too old"):
        standard.verify(BODY, sign(secrets, age=600), secrets[0])


def test_standardwebhooks_needs_typed_secrets_as_bytes():
    """Why the snippet passes `secret.encode()` for typed secrets: given the string, the
    library base64-decodes it and gets a different key."""
    secret = "my-typed-secret-1234"
    headers = sign([secret])
    with pytest.raises(Exception):  # noqa: B017 - a decoding error or a signature mismatch
        Webhook(secret).verify(BODY, headers)
    assert Webhook(secret.encode()).verify(BODY, headers)["id"] == EVENT_ID
    assert standard.webhook_secret(secret) == secret.encode()
    assert standard.webhook_secret(OLD) == OLD


@pytest.mark.parametrize("secrets", CASES.values(), ids=CASES.keys())
def test_opsknight_snippet_accepts_the_current_secret(secrets):
    headers = sign(secrets)
    assert opsknight.verify(BODY, headers, [secrets[0]])
    assert opsknight.verify(BODY, {k.lower(): v for k, v in headers.items()}, secrets)
    # The signature covers the body only: an old webhook-timestamp does not matter to it.
    assert opsknight.verify(BODY, sign(secrets, age=600), [secrets[0]])


@pytest.mark.parametrize("secrets", CASES.values(), ids=CASES.keys())
def test_opsknight_snippet_refuses_tampered_body_and_wrong_secret(secrets):
    headers = sign(secrets)
    assert not opsknight.verify(TAMPERED, headers, secrets)
    assert not opsknight.verify(BODY, headers, [signing.generate_secret(), "another-typed-secret"])
    assert not opsknight.verify(BODY, {**headers, "X-OpsKnight-Signature": "sha256=é"}, secrets)
    assert not opsknight.verify(BODY, {}, secrets)


def test_during_rotation_only_the_new_secret_signs_x_opsknight_signature():
    """As documented: webhook-signature carries both secrets' signatures during the
    overlap, X-OpsKnight-Signature only the new secret's."""
    headers = sign([NEW, OLD])
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert standard.verify(BODY, headers, OLD)["id"] == EVENT_ID
    assert not opsknight.verify(BODY, headers, [OLD])
    assert opsknight.verify(BODY, headers, [OLD, NEW])


# --- (b) the Node snippet --------------------------------------------------------------

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")
VERIFY_JS = SNIPPETS / "verify.js"


def run_node(request: dict, *, as_file: Path | None = None) -> dict:
    if as_file is not None:
        as_file.write_text(json.dumps(request))
        command, stdin = [NODE, str(VERIFY_JS), str(as_file)], None
    else:
        command, stdin = [NODE, str(VERIFY_JS)], json.dumps(request)
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=30, check=False)
    result = json.loads(done.stdout)
    assert done.returncode == (0 if all(result.values()) else 1), done.stderr
    return result


def node_request(headers: dict, secrets: list[str], body: bytes = BODY) -> dict:
    # Node's http module hands headers over lower-cased.
    return {"body": body.decode(), "headers": {k.lower(): v for k, v in headers.items()}, "secrets": secrets}


BOTH = {"webhookSignature": True, "opsknightSignature": True}
NEITHER = {"webhookSignature": False, "opsknightSignature": False}


@needs_node
@pytest.mark.parametrize("secrets", CASES.values(), ids=CASES.keys())
def test_node_snippet_accepts_and_refuses(secrets, tmp_path):
    headers = sign(secrets)
    assert run_node(node_request(headers, [secrets[0]])) == BOTH
    assert run_node(node_request(headers, secrets), as_file=tmp_path / "request.json") == BOTH
    assert run_node({"body": BODY.decode(), "headers": headers, "secret": secrets[0]}) == BOTH
    assert run_node(node_request(headers, secrets, body=TAMPERED)) == NEITHER
    assert run_node(node_request(headers, [signing.generate_secret()])) == NEITHER
    assert run_node(node_request(headers, ["another-typed-secret"])) == NEITHER
    old = run_node(node_request(sign(secrets, age=600), [secrets[0]]))
    assert old == {"webhookSignature": False, "opsknightSignature": True}


@needs_node
def test_node_snippet_during_rotation():
    headers = sign([NEW, OLD])
    assert run_node(node_request(headers, [NEW])) == BOTH
    assert run_node(node_request(headers, [OLD])) == {"webhookSignature": True, "opsknightSignature": False}


@needs_node
def test_node_signing_key_matches_the_server_for_any_secret():
    """signingKey() in verify.js reads a secret as the server does (base64 after
    `whsec_`, else UTF-8), also for odd typed secrets."""
    rng = random.Random(20240115)
    alphabet = "ABCDEFabcdef0123456789+/=-_ é"
    secrets = [signing.generate_secret() for _ in range(5)]
    secrets += ["my-typed-secret-1234", "whsec_plain-typed-secret-value", "whsec_AAAAAAAAAAAAAAAAAAAA", "whsec_AAAA="]
    secrets += ["whsec_" + "".join(rng.choice(alphabet) for _ in range(rng.randint(10, 30))) for _ in range(400)]
    script = (
        f"const {{ signingKey }} = require({json.dumps(str(VERIFY_JS))});"
        "const secrets = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(secrets.map((s) => signingKey(s).toString('base64'))));"
    )
    done = subprocess.run(
        [NODE, "-e", script], input=json.dumps(secrets), capture_output=True, text=True, timeout=30, check=True
    )
    node_keys = json.loads(done.stdout)
    server_keys = [base64.b64encode(signing.standard_webhooks_key(s)).decode() for s in secrets]
    mismatches = [s for s, n, p in zip(secrets, node_keys, server_keys, strict=True) if n != p]
    assert mismatches == []


# --- (c) docs/webhooks.md shows the snippets verbatim ----------------------------------


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    """(language, text) of every fenced block; text ends with a newline, like a file."""
    return [(lang, text) for lang, text in re.findall(r"^```(\w*)\n(.*?)^```$", markdown, flags=re.M | re.S)]


@pytest.mark.parametrize(
    ("filename", "language"),
    [("verify_standardwebhooks.py", "python"), ("verify_opsknight_signature.py", "python"), ("verify.js", "js")],
)
def test_webhooks_md_shows_each_snippet_file_verbatim(filename, language):
    snippet = (SNIPPETS / filename).read_text()
    blocks = code_blocks(WEBHOOKS_MD.read_text())
    assert (language, snippet) in blocks, f"docs/webhooks.md has no ```{language} block equal to {filename}"


def test_example_bodies_in_webhooks_md_have_the_payload_shape():
    """Every example event body in the docs has the keys opsknight_format.py writes, in its
    order; the one-line ones are byte-for-byte compact JSON as sent."""
    from incidents.models import Incident
    from incidents.responders import Person

    public_keys = list(opsknight_format.incident_payload(Incident(title="x")))
    examples = []
    for language, text in code_blocks(WEBHOOKS_MD.read_text()):
        if language != "json":
            continue
        try:
            document = json.loads(text)
        except ValueError:
            continue
        if isinstance(document, dict) and "event" in document and "incident" in document:
            examples.append((text, document))
    assert len(examples) >= 6
    event_types = set()
    for text, document in examples:
        assert list(document) == ["id", "event", "timestamp", "actor", "incident"]
        event_types.add(document["event"])
        incident = document["incident"]
        if incident.get("visibility") == "private":
            assert incident == {"id": incident["id"], "visibility": "private"}
            assert list(document["actor"]) == ["type"]  # no names of people
        else:
            assert list(incident) == public_keys
            assert list(document["actor"]) == ["type", "id", "name"]
            assert list(incident["createdBy"]) == ["type", "id", "name"]
            assert incident["reference"] == f"INC-{incident['number']}"
            if incident["assignee"] is not None:
                assert list(incident["assignee"]) == list(opsknight_format.person_payload(Person(None, "x")))
        for value in (document["timestamp"], incident.get("createdAt"), incident.get("updatedAt")):
            assert value is None or re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value)
        if "\n" not in text.rstrip("\n"):
            assert text.rstrip("\n") == json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    assert event_types == set(EVENT_TYPES.values)


def test_example_request_in_webhooks_md_is_signed_correctly():
    """The worked example (secret, body, headers) in the docs verifies."""
    text = WEBHOOKS_MD.read_text()
    secret = "whsec_" + base64.b64encode(hashlib.sha256(b"opsknight docs example secret").digest()).decode()
    assert secret in text
    body_line = next(line for line in text.splitlines() if line.startswith('{"id":"evt_01HQ3ZB4RA2C4E6G8J0K2M4N6P"'))
    headers = build_headers(
        delivery_id="dlv_01HQ3ZB4S0V2X4Z6B8D0F2H4J6",
        event_id="evt_01HQ3ZB4RA2C4E6G8J0K2M4N6P",
        event_type="incident.triggered",
        body=body_line.encode(),
        secrets=[secret],
        timestamp=1705314601,
    )
    for name in ("X-OpsKnight-Signature", "webhook-id", "webhook-timestamp", "webhook-signature"):
        assert f"{name}: {headers[name]}" in text, name


@needs_node
def test_node_snippet_verifies_the_example_request_at_its_time():
    secret = "whsec_" + base64.b64encode(hashlib.sha256(b"opsknight docs example secret").digest()).decode()
    (request,) = [text for language, text in code_blocks(WEBHOOKS_MD.read_text()) if language == "http"]
    head, body = request.rstrip("\n").split("\n\n")
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in head.splitlines()[1:])}
    assert headers["content-length"] == str(len(body.encode()))
    script = (
        f"const v = require({json.dumps(str(VERIFY_JS))});"
        "const [body, headers, secret] = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));"
        "const raw = Buffer.from(body, 'utf8');"
        "console.log(JSON.stringify([v.verifyWebhookSignature(raw, headers, secret, 1705314601),"
        " v.verifyWebhookSignature(raw, headers, secret), v.verifyOpsKnightSignature(raw, headers, [secret])]));"
    )
    done = subprocess.run(
        [NODE, "-e", script], input=json.dumps([body, headers, secret]), capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == [True, False, True]
