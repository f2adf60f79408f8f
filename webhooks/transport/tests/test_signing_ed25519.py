"""`v1a` (ed25519) signatures against fixed vectors derived independently (RFC 8032's key,
the `openssl` CLI), the `whsk_`/`whpk_` key format, and the headers of an hmac, an
ed25519 and a both endpoint, verified with the spec verifier (tests/support) and, for
`v1`, the `standardwebhooks` library."""

import base64
import shutil
import subprocess
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.standard_webhooks_v1a import AsymmetricWebhook
from webhooks.transport import build_headers, signing

# RFC 8032, section 7.1, TEST 1: the secret key (seed) and the public key it derives.
RFC_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIGNING_KEY = "whsk_" + base64.b64encode(RFC_SEED + RFC_PUBLIC).decode()
RFC_PUBLIC_KEY = "whpk_" + base64.b64encode(RFC_PUBLIC).decode()

# The Standard Webhooks reference message (webhooks/transport/tests/test_signing.py).
REF_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
REF_TIMESTAMP = 1614265330
REF_BODY = b'{"test": 2432232314}'
REF_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
REF_V1 = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
# ed25519 is deterministic: computed once with the openssl CLI, from the RFC seed alone:
#   printf '302e020100300506032b657004220420%s' "$SEED" | xxd -r -p > key.der
#   openssl pkey -inform DER -in key.der -out key.pem
#   printf '%s' 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}' > msg
#   openssl pkeyutl -sign -inkey key.pem -rawin -in msg | base64 -w0
REF_V1A = "v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw=="

OPENSSL = shutil.which("openssl")


def test_the_signature_matches_the_vector_computed_with_openssl():
    signature = signing.ed25519_signature(
        signing_keys=[RFC_SIGNING_KEY], msg_id=REF_ID, timestamp=REF_TIMESTAMP, body=REF_BODY
    )
    assert signature == REF_V1A


def test_the_public_key_of_the_rfc_key_is_the_rfc_public_key():
    assert signing.public_key(RFC_SIGNING_KEY) == RFC_PUBLIC_KEY
    assert RFC_PUBLIC_KEY == "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
def test_openssl_verifies_what_we_sign_with_a_generated_key(tmp_path):
    """Another implementation, at test time: openssl checks a signature of a fresh key pair
    against its `whpk_` public key, and refuses it for a changed body."""
    signing_key, public_key = signing.generate_key_pair()
    raw_public = base64.b64decode(public_key.removeprefix("whpk_"))
    # SubjectPublicKeyInfo DER of an ed25519 key (RFC 8410): a fixed prefix, then the 32 bytes.
    (tmp_path / "pub.der").write_bytes(bytes.fromhex("302a300506032b6570032100") + raw_public)
    body = '{"id":"evt_1","event":"incident.resolved","title":"Paiement refusé"}'.encode()
    signature = signing.ed25519_signature(signing_keys=[signing_key], msg_id="evt_1", timestamp=1700000000, body=body)
    (tmp_path / "sig").write_bytes(base64.b64decode(signature.removeprefix("v1a,")))

    def openssl_verifies(content: bytes) -> bool:
        (tmp_path / "msg").write_bytes(content)
        done = subprocess.run(
            [OPENSSL, "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", str(tmp_path / "pub.der"),
             "-rawin", "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig")],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return done.returncode == 0 and "Signature Verified Successfully" in done.stdout

    assert openssl_verifies(b"evt_1.1700000000." + body)
    assert not openssl_verifies(b"evt_1.1700000001." + body)


def test_generated_key_pairs_have_the_spec_format_and_are_unique():
    first, second = signing.generate_key_pair(), signing.generate_key_pair()
    assert first != second
    signing_key, public_key = first
    raw_signing = base64.b64decode(signing_key.removeprefix("whsk_"), validate=True)
    raw_public = base64.b64decode(public_key.removeprefix("whpk_"), validate=True)
    assert signing_key.startswith("whsk_") and public_key.startswith("whpk_")
    # The secret key as libsodium and Svix serialize it: 32-byte seed, then the public key.
    assert len(raw_signing) == 64 and len(raw_public) == 32
    assert raw_signing[32:] == raw_public
    assert signing.public_key(signing_key) == public_key


@pytest.mark.parametrize(
    "bad",
    [
        "whsec_" + base64.b64encode(RFC_SEED + RFC_PUBLIC).decode(),  # another prefix
        "whsk_" + base64.b64encode(RFC_SEED).decode(),  # the seed alone
        "whsk_not base64!",
        "whsk_" + base64.b64encode(RFC_SEED + bytes(32)).decode(),  # a public half of another key
    ],
)
def test_a_malformed_signing_key_is_refused(bad):
    with pytest.raises(ValueError):
        signing.ed25519_signature(signing_keys=[bad], msg_id=REF_ID, timestamp=REF_TIMESTAMP, body=REF_BODY)


def test_rotation_sends_one_v1a_per_key_newest_first():
    new_key, new_public = signing.generate_key_pair()
    signature = signing.ed25519_signature(
        signing_keys=[new_key, RFC_SIGNING_KEY], msg_id=REF_ID, timestamp=REF_TIMESTAMP, body=REF_BODY
    )
    first, second = signature.split(" ")
    assert second == REF_V1A
    assert first.startswith("v1a,") and first != REF_V1A
    headers = {"webhook-id": REF_ID, "webhook-timestamp": str(REF_TIMESTAMP), "webhook-signature": signature}
    for public_key in (new_public, RFC_PUBLIC_KEY):
        assert AsymmetricWebhook(public_key).verify(REF_BODY, headers, now=REF_TIMESTAMP) == {"test": 2432232314}


def test_webhook_signature_puts_v1_then_v1a():
    both = signing.webhook_signature(
        secrets=[REF_SECRET], signing_keys=[RFC_SIGNING_KEY], msg_id=REF_ID, timestamp=REF_TIMESTAMP, body=REF_BODY
    )
    assert both == f"{REF_V1} {REF_V1A}"
    only_v1a = signing.webhook_signature(
        secrets=[], signing_keys=[RFC_SIGNING_KEY], msg_id=REF_ID, timestamp=REF_TIMESTAMP, body=REF_BODY
    )
    assert only_v1a == REF_V1A


# --- Headers of an hmac, an ed25519 and a both endpoint ---------------------------------

BODY = b'{"id":"evt_01HQ3ZB4RA2C4E6G8J0K2M4N6P","event":"incident.triggered"}'
SECRET = signing.generate_secret()
KEY, PUBLIC = signing.generate_key_pair()


def headers_for(*, secrets: list[str], signing_keys: list[str] | None) -> dict[str, str]:
    return build_headers(
        delivery_id="dlv_1",
        event_id="evt_01HQ3ZB4RA2C4E6G8J0K2M4N6P",
        event_type="incident.triggered",
        body=BODY,
        secrets=secrets,
        timestamp=int(time.time()),
        signing_keys=signing_keys,
    )


def versions(headers: dict[str, str]) -> list[str]:
    return [entry.split(",")[0] for entry in headers["webhook-signature"].split(" ")]


def test_hmac_headers_are_as_before_v1a_existed():
    headers = headers_for(secrets=[SECRET], signing_keys=None)
    assert versions(headers) == ["v1"]
    assert headers["X-OpsKnight-Signature"] == signing.opsknight_signature(secret=SECRET, body=BODY)
    assert Webhook(SECRET).verify(BODY, headers)["event"] == "incident.triggered"
    assert headers_for(secrets=[SECRET], signing_keys=[]) == headers


def test_ed25519_headers_carry_v1a_only_and_no_opsknight_signature():
    headers = headers_for(secrets=[], signing_keys=[KEY])
    assert versions(headers) == ["v1a"]
    assert "X-OpsKnight-Signature" not in headers
    assert AsymmetricWebhook(PUBLIC).verify(BODY, headers)["event"] == "incident.triggered"
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        AsymmetricWebhook(signing.generate_key_pair()[1]).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        AsymmetricWebhook(PUBLIC).verify(BODY.replace(b"triggered", b"resolved"), headers)
    # A v1 verifier finds nothing it can check.
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(SECRET).verify(BODY, headers)
    # The private key is nowhere in what goes out.
    assert KEY not in str(headers) and KEY.removeprefix("whsk_") not in str(headers)


def test_both_headers_verify_with_the_secret_and_with_the_public_key():
    headers = headers_for(secrets=[SECRET], signing_keys=[KEY])
    assert versions(headers) == ["v1", "v1a"]
    assert headers["X-OpsKnight-Signature"] == signing.opsknight_signature(secret=SECRET, body=BODY)
    # standardwebhooks 1.1.0 skips the v1a entry and verifies v1: receivers not yet moved keep working.
    assert Webhook(SECRET).verify(BODY, headers)["event"] == "incident.triggered"
    assert AsymmetricWebhook(PUBLIC).verify(BODY, headers)["event"] == "incident.triggered"


def test_the_spec_verifier_refuses_an_old_or_future_timestamp_and_missing_headers():
    headers = headers_for(secrets=[], signing_keys=[KEY])
    sent_at = int(headers["webhook-timestamp"])
    verifier = AsymmetricWebhook(PUBLIC)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verifier.verify(BODY, headers, now=sent_at + 301)
    with pytest.raises(WebhookVerificationError, match="too new"):
        verifier.verify(BODY, headers, now=sent_at - 301)
    assert verifier.verify(BODY, headers, now=sent_at + 299)["event"] == "incident.triggered"
    for missing in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        with pytest.raises(WebhookVerificationError, match="Missing"):
            verifier.verify(BODY, {k: v for k, v in headers.items() if k != missing})
    # Another id or timestamp than the signed ones: the signature covers them.
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verifier.verify(BODY, {**headers, "webhook-id": "evt_other"})
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verifier.verify(BODY, {**headers, "webhook-timestamp": str(sent_at + 1)})
