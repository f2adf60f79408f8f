"""The transport on the network as it is: host names resolved by the system resolver
(tests/support/testhosts.py), HTTPS with certificates for those names from a test CA
(tests/support/tls.py, trusted through WEBHOOK_CA_BUNDLE), several names on one address,
keep-alive connections. Every request is checked where it lands: the SNI name the
receiver saw, the `Host` header, and the connection it came on."""

import re

import pytest

from tests.support import testhosts, tls
from tests.support.receiver import Receiver
from webhooks import transport

ALPHA, BETA, RECEIVER = testhosts.ALPHA, testhosts.BETA, testhosts.RECEIVER


@pytest.fixture(autouse=True)
def names():
    testhosts.require()


@pytest.fixture
def serve():
    """serve(**Receiver kwargs) → a running Receiver, closed after the test."""
    started = []

    def start(**kwargs) -> Receiver:
        started.append(Receiver(**kwargs))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


def post(url: str):
    return transport.send(url=url, body=b'{"event": "tls"}', headers={"Content-Type": "application/json"})


def assert_delivered(result, receiver: Receiver, name: str, count: int = 1):
    assert result.error_class == "", f"{result.error_class}: {result.error_message}"
    assert result.response_status == 200
    request = receiver.received()[-1]
    assert request.header("Host") == receiver.netloc(name)
    return request


def test_https_by_name_sends_the_name_as_sni_and_host(serve, tls_ca_bundle):
    receiver = serve(tls=tls.server_cert(RECEIVER), name=RECEIVER)
    result = post(receiver.url("/hook"))
    request = assert_delivered(result, receiver, RECEIVER)
    assert request.sni == RECEIVER
    assert request.header("Host") == f"{RECEIVER}:{receiver.port}"
    assert request.body == b'{"event": "tls"}'


def test_two_names_on_one_address_each_get_their_own_certificate(serve, tls_ca_bundle):
    """127.0.0.2 serves alpha and beta with a certificate each, chosen by SNI: each
    request verifies against its own name, and a connection opened for one name is never
    used for the other (a pool keyed by the address would mix them up)."""
    receiver = serve(host="127.0.0.2", tls={ALPHA: tls.server_cert(ALPHA), BETA: tls.server_cert(BETA)}, name=ALPHA)
    for name in [ALPHA, BETA, ALPHA, BETA, BETA, ALPHA]:
        assert_delivered(post(receiver.url("/vhost", name=name)), receiver, name)

    requests = receiver.received("/vhost")
    assert len(requests) == 6
    for request in requests:
        name = request.header("Host").rsplit(":", 1)[0]
        assert request.sni == name, (request.sni, request.header("Host"))
    connections = {name: {r.connection_id for r in requests if r.sni == name} for name in (ALPHA, BETA)}
    assert len(connections[ALPHA]) == 1 and len(connections[BETA]) == 1, connections
    assert connections[ALPHA] != connections[BETA]
    assert receiver.tls_failures == []


def test_a_certificate_for_another_name_is_refused_as_a_tls_error(serve, tls_ca_bundle):
    receiver = serve(host="127.0.0.3", tls=tls.wrong_name_cert(), name=testhosts.WRONG)
    result = post(receiver.url("/hook"))
    assert result.response_status is None
    assert result.error_class == "SSLError", f"{result.error_class}: {result.error_message}"
    message = result.error_message.lower()
    assert "certificate" in message
    assert re.search(r"hostname|not valid for|match", message), result.error_message
    assert not result.succeeded
    assert receiver.received() == []  # nothing was sent over the refused connection
    assert receiver.wait_for_tls_failures(1)[0].sni == testhosts.WRONG


def test_an_expired_certificate_is_refused(serve, tls_ca_bundle):
    receiver = serve(host="127.0.0.3", tls=tls.expired_cert(testhosts.EXPIRED), name=testhosts.EXPIRED)
    result = post(receiver.url("/hook"))
    assert result.response_status is None
    assert result.error_class == "SSLError", f"{result.error_class}: {result.error_message}"
    assert "expired" in result.error_message.lower(), result.error_message
    assert receiver.received() == []


def test_without_the_ca_bundle_the_test_ca_is_not_trusted(serve, settings):
    """The default bundle (certifi) does not know the test CA: refused, never sent."""
    settings.WEBHOOK_CA_BUNDLE = ""
    receiver = serve(tls=tls.server_cert(RECEIVER), name=RECEIVER)
    result = post(receiver.url("/hook"))
    assert result.error_class == "SSLError", f"{result.error_class}: {result.error_message}"
    assert "certificate" in result.error_message.lower()
    assert receiver.received() == []


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_host_is_right_on_every_request_of_a_keep_alive_connection(serve, tls_ca_bundle, scheme):
    if scheme == "http":
        receiver = serve(name=RECEIVER)
    else:
        receiver = serve(host="127.0.0.2", tls={ALPHA: tls.server_cert(ALPHA)}, name=ALPHA)
    for _ in range(5):
        assert_delivered(post(receiver.url("/keepalive")), receiver, receiver.name)

    requests = receiver.received("/keepalive")
    assert len(requests) == 5
    assert {r.connection_id for r in requests} == {requests[0].connection_id}, "not one keep-alive connection"
    assert [r.header("Host") for r in requests] == [f"{receiver.name}:{receiver.port}"] * 5
    if scheme == "https":
        assert {r.sni for r in requests} == {ALPHA}


def test_an_ip_literal_url_is_verified_against_the_ip(serve, tls_ca_bundle):
    receiver = serve(tls=tls.server_cert("127.0.0.1"))
    url = receiver.url("/ip")
    assert url.startswith("https://127.0.0.1:")
    request = assert_delivered(post(url), receiver, "127.0.0.1")
    assert request.sni is None  # no SNI for an IP address (RFC 6066)
    # And a certificate for a name does not pass for the IP.
    named = serve(tls=tls.server_cert(RECEIVER))
    refused = post(named.url("/ip"))
    assert refused.error_class == "SSLError", f"{refused.error_class}: {refused.error_message}"
    assert named.received() == []


def test_https_by_name_over_ipv6(serve, tls_ca_bundle):
    testhosts.require(ipv6=True)
    receiver = serve(host="::1", tls=tls.server_cert(testhosts.IPV6), name=testhosts.IPV6)
    for _ in range(2):
        request = assert_delivered(post(receiver.url("/v6")), receiver, testhosts.IPV6)
        assert request.sni == testhosts.IPV6
        assert request.header("Host") == f"{testhosts.IPV6}:{receiver.port}"


def test_the_address_check_runs_on_what_the_name_resolves_to(serve, tls_ca_bundle, settings):
    """Internal targets refused, 127.0.0.2/32 allowed: alpha (127.0.0.2) gets through;
    wrong.opsknight.test (127.0.0.3, valid certificate) and receiver.opsknight.test
    (127.0.0.1) are refused before any connection is made."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.2/32"]
    allowed = serve(host="127.0.0.2", tls=tls.server_cert(ALPHA), name=ALPHA)
    assert_delivered(post(allowed.url("/checked")), allowed, ALPHA)

    for host, name in [("127.0.0.3", testhosts.WRONG), ("127.0.0.1", RECEIVER)]:
        refused = serve(host=host, tls=tls.server_cert(name), name=name)
        result = post(refused.url("/checked"))
        assert result.error_class == "TargetRefused", f"{result.error_class}: {result.error_message}"
        assert host in result.error_message and name in result.error_message
        assert refused.received() == [] and refused.tls_failures == []
