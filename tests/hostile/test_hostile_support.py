"""The hostile receiver itself does what the suite relies on: it drips at its pace,
resets with an RST, records when an exchange ended, and stops by itself."""

import socket
import time

import pytest

from tests.support.hostile import HostileReceiver, HostileRequest, overlapping

REQUEST = b"POST /hook HTTP/1.1\r\nHost: x\r\nX-OpsKnight-Delivery: dlv_1\r\nContent-Length: 2\r\n\r\n{}"


def connect(receiver: HostileReceiver) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", receiver.port), timeout=5)
    sock.sendall(REQUEST)
    return sock


def test_a_dripped_status_line_comes_a_byte_per_interval_and_the_exchange_ends_when_the_sender_hangs_up():
    receiver = HostileReceiver("drip_status", interval=0.2, drip_for=5)
    try:
        sock = connect(receiver)
        started = time.monotonic()
        got = b""
        while len(got) < 4:
            got += sock.recv(1)
        assert got == b"HTTP"
        assert 0.5 <= time.monotonic() - started <= 1.2
        sock.close()
        (request,) = receiver.wait_for(1)
        assert receiver.wait_ended(request, timeout=1)
        assert request.peer_closed
        assert request.body == b"{}" and request.header("X-OpsKnight-Delivery") == "dlv_1"
        assert 0.5 <= request.open_seconds <= 1.3
    finally:
        receiver.close()


def test_a_complete_answer_names_the_request_it_answers_and_keeps_the_connection():
    receiver = HostileReceiver("nul_header")
    try:
        sock = connect(receiver)
        answer = b""
        while not answer.endswith(b'{"ok":true}'):
            answer += sock.recv(65536)
        assert b"X-Nul: before\x00after\r\n" in answer
        assert b"X-Answer-To: dlv_1\r\n" in answer
        sock.sendall(REQUEST)  # a second request on the same connection
        assert len(receiver.wait_for(2)) == 2
        assert {r.connection for r in receiver.received()} == {1}
        sock.close()
    finally:
        receiver.close()


def test_a_reset_is_an_rst():
    receiver = HostileReceiver("reset_in_body")
    try:
        sock = connect(receiver)
        with pytest.raises(ConnectionResetError):
            while sock.recv(65536):
                pass
        sock.close()
    finally:
        receiver.close()


def test_the_receiver_stops_by_itself_after_its_lifetime():
    receiver = HostileReceiver("endless_headers", interval=0.05, lifetime=0.5)
    sock = connect(receiver)
    time.sleep(1.0)
    # The open exchange was cut, and nobody listens any more.
    receiver.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", receiver.port), timeout=1)
    sock.close()


def test_overlapping_finds_a_request_sent_while_another_is_open():
    def request(at, ended):
        return HostileRequest(1, b"", b"", at, at, ended)

    assert overlapping([request(0, 2), request(2.5, 3)]) == []
    assert overlapping([request(0, 8), request(5.4, 6)]) == [(0, 1)]
    assert overlapping([request(0, None), request(5.4, 6)]) == [(0, 1)]
