"""SSRF protection: every internal address form is refused, at create time and at
connect time, and the connection goes to the address that was checked."""

import ipaddress
import socket

import pytest

from webhooks import transport
from webhooks.transport.addresses import TargetRefused, check_url, is_internal, resolve_allowed, validate_url_shape

INTERNAL = [
    "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "100.100.100.200", "0.0.0.0", "255.255.255.255", "224.0.0.1", "240.0.0.1",
    "192.0.0.8", "198.18.0.1", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::1", "2002:7f00:1::1", "2002:a00:1::", "2001:0:4136:e378:8000:63bf:80ff:fffe",
]  # fmt: skip
PUBLIC = ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]


@pytest.fixture
def private_targets_refused(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = []
    return settings


@pytest.fixture
def stub_dns(monkeypatch):
    """No DNS here: answer chosen names from a table, the rest through the real resolver
    (which turns numeric spellings such as 2130706433 or 0x7f.1 into addresses)."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in table[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return table


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_internal(address, private_targets_refused):
    assert is_internal(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_not(address, private_targets_refused):
    assert not is_internal(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1", "127.1", "localhost", "[::1]"]
)
def test_numeric_spellings_and_localhost_are_refused(host, private_targets_refused):
    with pytest.raises(TargetRefused, match="internal address"):
        check_url(f"http://{host}/hook")


def test_a_name_with_one_internal_answer_among_public_ones_is_refused(private_targets_refused, stub_dns):
    stub_dns["mixed.example"] = ["93.184.215.14", "10.0.0.5"]
    with pytest.raises(TargetRefused, match="10.0.0.5"):
        resolve_allowed("mixed.example", 443)


def test_public_names_pass_and_unresolvable_ones_are_accepted_at_create(private_targets_refused, stub_dns):
    stub_dns["hooks.example"] = ["93.184.215.14"]
    check_url("https://hooks.example/in")  # no exception
    check_url("https://does-not-resolve.invalid/in")  # checked again at every connection


def test_allow_list_lets_chosen_networks_through(private_targets_refused, stub_dns):
    private_targets_refused.WEBHOOK_ALLOWED_PRIVATE_NETWORKS = ["10.20.0.0/16"]
    stub_dns["itsm.corp"] = ["10.20.1.1"]
    stub_dns["other.corp"] = ["10.30.1.1"]
    check_url("https://itsm.corp/hook")
    with pytest.raises(TargetRefused):
        check_url("https://other.corp/hook")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "http:// or https://"),
        ("https:///nohost", "no host"),
        ("http://example.com:99999/", "invalid port"),
        ("https://user:pw@example.com/", "user name or password"),
        ("example.com/hook", "http:// or https://"),
    ],
)
def test_url_shape(url, message):
    with pytest.raises(TargetRefused, match=message):
        validate_url_shape(url)


def test_send_refuses_at_connect_time_and_sends_nothing(private_targets_refused, receiver):
    result = transport.send(url=receiver.url("/x"), body=b"{}", headers={"Content-Type": "application/json"})
    assert result.error_class == "TargetRefused"
    assert "127.0.0.1" in result.error_message
    assert receiver.received() == []


def test_dns_rebinding_cannot_switch_the_address_after_the_check(private_targets_refused, monkeypatch):
    """The name is resolved once, inside the connection, and the socket is opened to the
    address that was checked: a resolver that answers public first and loopback second
    never gets its second answer used. No packet leaves: the socket layer is replaced by
    a recorder, so the test sees where the connection would have gone."""
    import urllib3.util.connection

    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    lookups, connected_to = [], []
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example":
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in next(answers)]
        return real_getaddrinfo(host, port, *args, **kwargs)

    def record_instead_of_connecting(address, *args, **kwargs):
        connected_to.append(address)
        raise OSError("not connecting in tests")

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", record_instead_of_connecting)
    result = transport.send(url="http://rebind.example:8080/x", body=b"{}", headers={})
    assert lookups == ["rebind.example"]
    assert connected_to == [("93.184.215.14", 8080)]
    assert result.error_class == "ConnectionError"


def test_allowed_private_targets_are_reached_with_the_hostname_in_the_host_header(settings, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    result = transport.send(url=f"http://localhost:{receiver.port}/x", body=b"{}", headers={})
    assert result.response_status == 200
    assert receiver.received()[0].header("Host") == f"localhost:{receiver.port}"


@pytest.mark.django_db
def test_api_refuses_internal_targets_at_create_and_update_with_a_clear_400(private_targets_refused, api_client):
    from webhooks.models import WebhookEndpoint

    response = api_client.post(
        "/api/v1/webhooks", {"name": "meta", "url": "http://169.254.169.254/latest/meta-data"}, format="json"
    )
    assert response.status_code == 400
    assert "internal address 169.254.169.254" in response.json()["error"]["fields"]["url"][0]
    assert not WebhookEndpoint.objects.exists()

    private_targets_refused.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    created = api_client.post("/api/v1/webhooks", {"name": "ok", "url": "http://127.0.0.1:9/x"}, format="json")
    assert created.status_code == 201
    private_targets_refused.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    endpoint_id = created.json()["id"]
    response = api_client.patch(f"/api/v1/webhooks/{endpoint_id}", {"url": "http://[::ffff:10.0.0.1]/"}, format="json")
    assert response.status_code == 400
    assert "internal address" in response.json()["error"]["message"]
    assert WebhookEndpoint.objects.get(pk=endpoint_id).url == "http://127.0.0.1:9/x"
