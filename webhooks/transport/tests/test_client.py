"""The transport against receivers that misbehave: huge answers, answers dripped a
byte at a time, resets and TLS errors. Real sockets on 127.0.0.1."""

import socket
import struct
import subprocess
import threading
import time

import pytest

from tests.support.receiver import Reply
from webhooks import transport


@pytest.fixture(autouse=True)
def fast(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_CONNECT_TIMEOUT = 1.0
    settings.WEBHOOK_READ_TIMEOUT = 1.0
    return settings


def serve_once(handler) -> int:
    """A one-connection raw TCP server on 127.0.0.1 running `handler(conn)`; returns the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run():
        conn, _ = listener.accept()
        try:
            handler(conn)
        finally:
            conn.close()
            listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


def read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)


def test_a_10_mb_answer_is_cut_to_the_excerpt_quickly(receiver):
    receiver.script("/big", [Reply(status=200, body=b"x" * (10 * 1024 * 1024))])
    started = time.monotonic()
    result = transport.send(url=receiver.url("/big"), body=b"{}", headers={})
    assert result.succeeded
    assert result.response_body_excerpt == "x" * 2048
    assert time.monotonic() - started < 2


def test_an_answer_dripped_byte_by_byte_stops_at_the_attempt_deadline():
    def drip(conn):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        try:
            for _ in range(100):  # one byte every 0.3 s: each read is within the 1 s timeout
                conn.sendall(b"y")
                time.sleep(0.3)
        except OSError:
            pass  # the sender hung up: that is the point

    port = serve_once(drip)
    started = time.monotonic()
    result = transport.send(url=f"http://127.0.0.1:{port}/", body=b"{}", headers={})
    elapsed = time.monotonic() - started
    assert result.response_status == 200
    assert 1.5 <= elapsed <= 4.0  # connect + read timeout (2 s), plus at most one read
    assert 3 <= len(result.response_body_excerpt) <= 15


def test_a_connection_reset_is_a_failed_attempt_with_a_clear_error():
    def reset(conn):
        read_request(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close → RST

    port = serve_once(reset)
    result = transport.send(url=f"http://127.0.0.1:{port}/", body=b"{}", headers={})
    assert not result.succeeded
    assert result.error_class == "ConnectionError"
    # Whether the client reads the RST or the end of the stream first is a race.
    assert result.error_message in (
        "Connection reset by the receiver.",
        "The receiver closed the connection without answering.",
    )


def test_a_tls_error_is_a_failed_attempt(tmp_path):
    """A receiver with a self-signed certificate: verification fails, nothing is sent."""
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    received = []

    def tls(conn):
        try:
            with context.wrap_socket(conn, server_side=True) as tls_conn:
                received.append(tls_conn.recv(65536))
        except (ssl.SSLError, OSError):
            pass  # the client refused our certificate

    port = serve_once(tls)
    result = transport.send(url=f"https://localhost:{port}/", body=b"{}", headers={})
    assert result.error_class == "SSLError"
    assert "certificate" in result.error_message.lower()
    assert received == []


def test_the_request_on_the_wire_is_exactly_one_post_with_its_length_and_headers():
    seen = {}

    def capture(conn):
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        while len(rest) < 7:  # the body may come in a later segment
            rest += conn.recv(65536)
        seen["head"], seen["body"] = head.decode(), rest
        conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    port = serve_once(capture)
    url = f"http://127.0.0.1:{port}/hooks/ops?tenant=a%20b"
    result = transport.send(url=url, body=b'{"a":1}', headers={"X-OpsKnight-Event": "incident.triggered"})
    assert result.response_status == 204 and result.succeeded
    request_line, *header_lines = seen["head"].split("\r\n")
    assert request_line == "POST /hooks/ops?tenant=a%20b HTTP/1.1"
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in header_lines)}
    assert headers["content-length"] == "7"
    assert headers["host"] == f"127.0.0.1:{port}"
    assert headers["x-opsknight-event"] == "incident.triggered"
    assert "cookie" not in headers
    assert seen["body"] == b'{"a":1}'


def test_a_header_value_that_would_split_the_request_is_a_failed_attempt_not_a_crash(receiver):
    result = transport.send(url=receiver.url("/split"), body=b"{}", headers={"X-Custom": "a\r\nX-Injected: 1"})
    assert not result.succeeded
    assert result.error_class == "InvalidHeader"
    assert receiver.received("/split") == []
