"""One total deadline per attempt (connect + read timeout), also when a receiver drips
its status line or headers, and answers of every shape made storable. Raw sockets on
127.0.0.1; the tests of hostile receivers end to end are in tests/hostile/."""

import time

import pytest

from webhooks import transport
from webhooks.transport import storable
from webhooks.transport.tests.test_client import read_request, serve_once


@pytest.fixture(autouse=True)
def fast(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_CONNECT_TIMEOUT = 0.5
    settings.WEBHOOK_READ_TIMEOUT = 1.0  # each read is quicker than this: only the deadline can end it
    return settings


def dripping(answer: bytes, every: float = 0.1):
    def drip(conn):
        read_request(conn)
        try:
            for byte in answer:
                conn.sendall(bytes([byte]))
                time.sleep(every)
        except OSError:
            pass  # the sender hung up at its deadline

    return drip


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",  # status line a byte at a time
        b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"z" * 60 + b"\r\n\r\n",  # headers a byte at a time
        b"HTTP/1.1 200 O" + b"K" * 60 + b"\r\n\r\n",  # the code arrived, the line is never finished
    ],
    ids=["status-line", "headers", "status-line-past-the-code"],
)
def test_a_dripped_status_line_or_header_block_ends_at_the_deadline_as_a_timeout(answer):
    port = serve_once(dripping(answer))
    started = time.monotonic()
    result = transport.send(url=f"http://127.0.0.1:{port}/", body=b"{}", headers={})
    elapsed = time.monotonic() - started
    assert 1.4 <= elapsed <= 2.2  # the 1.5 s deadline, not 0.1 s × the answer's length
    assert (result.response_status, result.error_class) == (None, "ReadTimeout")
    assert "deadline of 1.5 s" in result.error_message
    assert not result.succeeded


def test_the_deadline_is_never_later_than_the_callers_lease():
    port = serve_once(dripping(b"HTTP/1.1 200 OK\r\n\r\n"))
    started = time.monotonic()
    result = transport.send(url=f"http://127.0.0.1:{port}/", body=b"{}", headers={}, not_after=started + 0.6)
    assert time.monotonic() - started < 1.0
    assert result.error_class == "ReadTimeout"


def test_a_request_whose_lease_is_already_over_is_not_sent(receiver):
    result = transport.send(url=receiver.url("/late"), body=b"{}", headers={}, not_after=time.monotonic() - 1)
    assert result.error_class == "NotSent"
    assert receiver.received("/late") == []


def test_informational_answers_before_the_final_one_are_skipped():
    def early_hints(conn):
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"
            b"HTTP/1.1 102 Processing\r\n\r\n"
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"
        )

    result = transport.send(url=f"http://127.0.0.1:{serve_once(early_hints)}/", body=b"{}", headers={})
    assert (result.response_status, result.response_body_excerpt, result.succeeded) == (202, "ok", True)


def test_nul_bytes_and_invalid_utf8_in_the_answer_become_storable_text():
    def odd(conn):
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 500 Oops\r\nX-Nul: a\x00b\r\nX-Bytes: caf\xc3\xa9 \xff\r\nContent-Length: 6\r\n\r\nx\x00y\xfez!"
        )

    result = transport.send(url=f"http://127.0.0.1:{serve_once(odd)}/", body=b"{}", headers={})
    assert result.response_status == 500
    assert result.response_headers["X-Nul"] == "a\\x00b"
    assert result.response_headers["X-Bytes"] == "café \ufffd"  # UTF-8 as meant; the stray byte replaced
    assert result.response_body_excerpt == "x\\x00y\ufffdz!"


def test_a_truncated_body_keeps_the_receivers_status_and_says_what_broke():
    """The status line is the verdict: a 200 whose body breaks off is not sent again."""

    def truncated(conn):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")

    result = transport.send(url=f"http://127.0.0.1:{serve_once(truncated)}/", body=b"{}", headers={})
    assert (result.response_status, result.succeeded, result.response_body_excerpt) == (200, True, "0123456789")
    assert result.error_message.startswith("The body could not be read")


def test_bad_gzip_is_noted_and_does_not_escape_send():
    def bad_gzip(conn):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 502 Bad\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n0123456789")

    result = transport.send(url=f"http://127.0.0.1:{serve_once(bad_gzip)}/", body=b"{}", headers={})
    assert result.response_status == 502 and not result.succeeded
    assert "DecodeError" in result.error_message


def test_storable_bounds_and_cleans_what_it_is_given():
    assert storable.text("a\x00" * 10, 5) == "a\\x00"
    assert storable.text("\ud800x", 10) == "?x"  # a lone surrogate cannot be stored as UTF-8
    assert storable.text(b"\xffok", 10) == "\ufffdok"
    many = {f"X-{n}": "v" * 10_000 for n in range(500)}
    stored = storable.headers(many)
    assert len(stored) == storable.MAX_HEADERS
    assert max(len(value) for value in stored.values()) == storable.MAX_HEADER_VALUE
