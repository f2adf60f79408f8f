"""WEBHOOK_PROXY_URL: every webhook goes through the egress proxy (CONNECT for https,
forwarding for http), certificates are still checked against the receiver's name, and
the address check still refuses what resolves to an internal address here."""

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from tests.support.proxy import Proxy
from webhooks import transport


@pytest.fixture
def proxy(settings):
    server = Proxy()
    settings.WEBHOOK_PROXY_URL = server.url
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_CONNECT_TIMEOUT = 2.0
    settings.WEBHOOK_READ_TIMEOUT = 2.0
    yield server
    server.close()


@pytest.fixture
def tls_receiver(tmp_path, settings):
    """An HTTPS receiver on 127.0.0.1 with a certificate for `localhost` from a test CA."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    settings.WEBHOOK_CA_BUNDLE = str(tmp_path / "ca.pem")
    hosts = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            hosts.append(self.headers["Host"])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.hosts = hosts
    yield server
    server.shutdown()
    server.server_close()


def test_https_goes_through_the_proxy_with_connect_and_the_certificate_of_the_name(proxy, tls_receiver):
    port = tls_receiver.server_address[1]
    result = transport.send(url=f"https://localhost:{port}/hook", body=b"{}", headers={})
    assert (result.response_status, result.error_class) == (204, "")
    assert proxy.requests == [f"CONNECT localhost:{port}"]
    assert tls_receiver.hosts == [f"localhost:{port}"]


def test_through_the_proxy_an_untrusted_certificate_is_still_refused(proxy, tls_receiver, settings):
    settings.WEBHOOK_CA_BUNDLE = ""  # the default bundle does not know the test CA
    result = transport.send(url=f"https://localhost:{tls_receiver.server_address[1]}/hook", body=b"{}", headers={})
    assert result.error_class == "SSLError"
    assert "not from a trusted CA" in result.error_message


def test_http_is_forwarded_by_the_proxy(proxy, receiver):
    result = transport.send(url=receiver.url("/via-proxy"), body=b'{"a":1}', headers={"X-Test": "1"})
    assert result.response_status == 200
    assert proxy.requests == [f"POST {receiver.url('/via-proxy')}"]
    (request,) = receiver.received()
    assert request.body == b'{"a":1}' and request.header("Host") == f"127.0.0.1:{receiver.port}"


def test_with_a_proxy_an_internal_target_is_still_refused_here(proxy, receiver, settings):
    """The proxy itself may be on an internal address; the receiver may not."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    result = transport.send(url=receiver.url("/internal"), body=b"{}", headers={})
    assert result.error_class == "TargetRefused"
    assert proxy.requests == [] and receiver.received() == []
