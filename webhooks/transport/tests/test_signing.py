"""Signatures against fixed vectors: the Standard Webhooks reference vector, and values
computed independently with `openssl dgst -sha256 -hmac`."""

import base64

import pytest
from standardwebhooks import Webhook

from webhooks.transport import signing

# The reference vector published with the Standard Webhooks / Svix libraries.
REF_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
REF_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
REF_TIMESTAMP = 1614265330
REF_BODY = b'{"test": 2432232314}'
REF_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_standard_webhooks_signature_matches_the_reference_vector():
    signature = signing.standard_webhooks_signature(
        secrets=[REF_SECRET], msg_id=REF_ID, timestamp=REF_TIMESTAMP, body=REF_BODY
    )
    assert signature == REF_SIGNATURE


def test_typed_secret_signs_with_its_utf8_bytes():
    # printf '%s' 'msg_...1614265330.{"test": 2432232314}' \
    #   | openssl dgst -sha256 -hmac 'my-typed-secret-1234' -binary | base64
    signature = signing.standard_webhooks_signature(
        secrets=["my-typed-secret-1234"], msg_id=REF_ID, timestamp=REF_TIMESTAMP, body=REF_BODY
    )
    assert signature == "v1,YX3AXI5VgzH0MZbbBKG7dI+ZS6BUeM2+lzfd03Y8YP4="


def test_rotation_sends_one_signature_per_secret_newest_first():
    signature = signing.standard_webhooks_signature(
        secrets=["my-typed-secret-1234", REF_SECRET], msg_id=REF_ID, timestamp=REF_TIMESTAMP, body=REF_BODY
    )
    assert signature == "v1,YX3AXI5VgzH0MZbbBKG7dI+ZS6BUeM2+lzfd03Y8YP4= " + REF_SIGNATURE


def test_opsknight_signature_is_hex_hmac_of_the_raw_body_keyed_by_the_whole_secret():
    # printf '%s' '{"id":"evt_1","event":"incident.triggered"}' \
    #   | openssl dgst -sha256 -hmac 'whsec_plain-typed-secret-value'
    body = b'{"id":"evt_1","event":"incident.triggered"}'
    assert signing.opsknight_signature(secret="whsec_plain-typed-secret-value", body=body) == (
        "sha256=cf82c86c7a80854aeb02277559ae61ad8ecdbef596232edaa278ece471f43c36"
    )


def test_whsec_secret_that_is_not_base64_is_used_as_utf8():
    assert signing.standard_webhooks_key("whsec_plain-typed-secret-value") == b"whsec_plain-typed-secret-value"


def test_generated_secret_is_whsec_base64_of_32_bytes_and_unique():
    first, second = signing.generate_secret(), signing.generate_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32


@pytest.mark.parametrize("secret", [signing.generate_secret(), signing.generate_secret()])
def test_the_standardwebhooks_library_verifies_what_we_sign(secret):
    import time

    body = b'{"id":"evt_x","event":"incident.resolved"}'
    now = int(time.time())
    headers = {
        "webhook-id": "evt_x",
        "webhook-timestamp": str(now),
        "webhook-signature": signing.standard_webhooks_signature(
            secrets=[secret], msg_id="evt_x", timestamp=now, body=body
        ),
    }
    assert Webhook(secret).verify(body, headers) == {"id": "evt_x", "event": "incident.resolved"}
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(signing.generate_secret()).verify(body, headers)
