"""The `v1a` receiver snippet (docs/snippets/verify_v1a.py) accepts what the sender signs
with ed25519, refuses what it must refuse, agrees with the spec verifier
(tests/support/standard_webhooks_v1a.py), and docs/webhooks.md shows it verbatim. The
`v1` snippets keep working on an endpoint that signs `both`."""

import json
import time

import pytest

from tests.support.standard_webhooks_v1a import AsymmetricWebhook, WebhookVerificationError
from tests.test_doc_snippets import BODY, EVENT_ID, SNIPPETS, TAMPERED, WEBHOOKS_MD, code_blocks, load_snippet, sign
from webhooks.transport import build_headers, signing

v1a = load_snippet("verify_v1a.py")
standard = load_snippet("verify_standardwebhooks.py")
opsknight = load_snippet("verify_opsknight_signature.py")

OLD_KEY, OLD_PUBLIC = signing.generate_key_pair()
NEW_KEY, NEW_PUBLIC = signing.generate_key_pair()
SECRET = signing.generate_secret()


def sign_v1a(signing_keys: list[str], *, secrets: list[str] = (), body: bytes = BODY, age: int = 0) -> dict:
    return build_headers(
        delivery_id="dlv_01HQ3ZB4S0V2X4Z6B8D0F2H4J6",
        event_id=EVENT_ID,
        event_type="incident.triggered",
        body=body,
        secrets=list(secrets),
        timestamp=int(time.time()) - age,
        signing_keys=signing_keys,
    )


def test_the_snippet_accepts_ed25519_and_both():
    for headers in (sign_v1a([NEW_KEY]), sign_v1a([NEW_KEY], secrets=[SECRET])):
        assert v1a.verify(BODY, headers, [NEW_PUBLIC]) == json.loads(BODY)
        assert v1a.verify(BODY, {k.upper(): v for k, v in headers.items()}, [NEW_PUBLIC])["id"] == EVENT_ID


def test_during_a_key_rotation_either_public_key_verifies():
    headers = sign_v1a([NEW_KEY, OLD_KEY])
    assert v1a.verify(BODY, headers, [OLD_PUBLIC])["id"] == EVENT_ID
    assert v1a.verify(BODY, headers, [NEW_PUBLIC])["id"] == EVENT_ID
    assert v1a.verify(BODY, sign_v1a([NEW_KEY]), [OLD_PUBLIC, NEW_PUBLIC])["id"] == EVENT_ID
    with pytest.raises(v1a.VerificationError, match="trusted public key"):
        v1a.verify(BODY, sign_v1a([NEW_KEY]), [OLD_PUBLIC])


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("tampered body", "trusted public key"),
        ("another key", "trusted public key"),
        ("hmac only", "trusted public key"),
        ("too old", "5 minutes"),
        ("from the future", "5 minutes"),
        ("no webhook-id", "Missing"),
        ("no signature", "Missing"),
        ("timestamp not a number", "not a number"),
        ("signed for another id", "trusted public key"),
        ("garbled entries", "trusted public key"),
    ],
)
def test_the_snippet_refuses(case, message):
    body, headers, keys = BODY, sign_v1a([NEW_KEY]), [NEW_PUBLIC]
    if case == "tampered body":
        body = TAMPERED
    elif case == "another key":
        keys = [OLD_PUBLIC]
    elif case == "hmac only":
        headers = sign([SECRET])
    elif case == "too old":
        headers = sign_v1a([NEW_KEY], age=301)
    elif case == "from the future":
        headers = sign_v1a([NEW_KEY], age=-301)
    elif case == "no webhook-id":
        del headers["webhook-id"]
    elif case == "no signature":
        del headers["webhook-signature"]
    elif case == "timestamp not a number":
        headers["webhook-timestamp"] = "1e9"
    elif case == "signed for another id":
        headers["webhook-id"] = "evt_other"
    elif case == "garbled entries":
        headers["webhook-signature"] = "v1a v1a,%%% v1a,AAAA v2,xyz , " + headers["webhook-signature"][:20]
    with pytest.raises(v1a.VerificationError, match=message):
        v1a.verify(body, headers, keys)
    # The spec verifier comes to the same answer.
    with pytest.raises(WebhookVerificationError):
        AsymmetricWebhook(keys[0]).verify(body, headers)


def test_a_public_key_without_its_prefix_is_refused():
    with pytest.raises(ValueError, match="whpk_"):
        v1a.verify(BODY, sign_v1a([NEW_KEY]), [NEW_PUBLIC.removeprefix("whpk_")])


def test_v1_snippets_still_verify_an_endpoint_that_signs_both():
    """A receiver not yet moved to v1a is not disturbed by the v1a entry."""
    headers = sign_v1a([NEW_KEY], secrets=[SECRET])
    assert standard.verify(BODY, headers, SECRET)["id"] == EVENT_ID
    assert opsknight.verify(BODY, headers, [SECRET])


def test_webhooks_md_shows_the_snippet_verbatim():
    snippet = (SNIPPETS / "verify_v1a.py").read_text()
    assert ("python", snippet) in code_blocks(WEBHOOKS_MD.read_text())


@pytest.mark.django_db
def test_the_snippet_verifies_a_real_delivery(system_actor, receiver):
    from webhooks.endpoints import endpoint_create
    from webhooks.tests.support import declare, delivery_attempt, only_delivery

    endpoint = endpoint_create(name="v1a", url=receiver.url("/v1a"), signing="ed25519")
    declare(system_actor)
    assert delivery_attempt(delivery_id=only_delivery(endpoint).id).outcome == "succeeded"
    (request,) = receiver.wait_for(1, "/v1a")
    assert v1a.verify(request.body, request.headers, [endpoint.public_key])["incident"]["title"] == "DB down"
