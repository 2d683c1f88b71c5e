"""Slow and oversized clients over real sockets: they are timed out or refused, and never lock others out.

Bounded: every timeout here is 1 s, and each socket has a 10 s read timeout of its own.
"""

import socket
import time

import pytest

from tests.support.services import wait_until

SLOW_TIMEOUT_S = 1.0
BODY = b'{"text": "A slow client sends this."}'


@pytest.fixture
def guarded(start_server, make_settings):
    return start_server(make_settings(
        max_concurrent_requests=2,
        header_timeout_seconds=SLOW_TIMEOUT_S,
        body_timeout_seconds=SLOW_TIMEOUT_S,
        max_header_bytes=8192,
        max_body_bytes=65536,
    ))


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.thread.port), timeout=10)
    return sock


def post_head(length: int, extra: bytes = b"") -> bytes:
    return (
        b"POST /v1/avatar/render HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n%s\r\n" % (length, extra)
    )


def response_of(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return (int(head.split(b" ", 2)[1]) if head else 0), body


def test_slow_clients_hold_no_slot_and_are_timed_out(guarded):
    # Ten clients sending their bodies slowly and five sending their headers slowly: twice the in-flight limit.
    slow_bodies = [connect(guarded) for _ in range(10)]
    for sock in slow_bodies:
        sock.sendall(post_head(len(BODY)) + BODY[:5])
    slow_heads = [connect(guarded) for _ in range(5)]
    for sock in slow_heads:
        sock.sendall(b"POST /v1/avatar/render HTTP/1.1\r\nHost: t\r\n")
    time.sleep(0.2)

    started = time.monotonic()
    response = guarded.render("Others still get through.")
    assert response.status_code == 200, response.text  # it was 503 while slow clients held every slot

    for sock in slow_bodies:
        status, body = response_of(sock)
        assert status == 408 and b"BODY_TIMEOUT_SECONDS" in body, body
    for sock in slow_heads:
        status, body = response_of(sock)
        assert status == 408 and b"HEADER_TIMEOUT_SECONDS" in body, body
    assert time.monotonic() - started < 10


def test_a_connection_that_sends_nothing_is_closed(guarded):
    sock = connect(guarded)
    started = time.monotonic()
    assert sock.recv(1) == b""  # closed by the server
    assert SLOW_TIMEOUT_S * 0.8 <= time.monotonic() - started < 5


def test_a_trickled_head_is_timed_out_even_while_bytes_keep_coming(guarded):
    sock = connect(guarded)
    sock.sendall(b"GET /health HTTP/1.1\r\n")
    started = time.monotonic()
    with pytest.raises(OSError):  # the server closes mid-trickle (EPIPE / reset)
        for _ in range(50):
            sock.sendall(b"X-Slow: 1\r\n")
            time.sleep(0.1)
    assert time.monotonic() - started < 5
    sock.close()


def test_oversized_header_is_431(guarded):
    sock = connect(guarded)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    status, body = response_of(sock)
    assert status == 431 and b"MAX_HEADER_BYTES" in body
    assert guarded.client.get("/health").status_code == 200


def test_oversized_declared_body_is_413_before_it_is_read(guarded):
    sock = connect(guarded)
    sock.sendall(post_head(100 * 1024 * 1024) + b"{")
    status, body = response_of(sock)
    assert status == 413 and b"MAX_BODY_BYTES" in body and b'"field":"body"' in body


def test_oversized_chunked_body_is_413(guarded):
    sock = connect(guarded)
    sock.sendall(
        b"POST /v1/avatar/render HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"a" * 16384
    try:
        for _ in range(8):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        pass  # the server may close as soon as it has answered
    status, body = response_of(sock)
    assert status == 413 and b"MAX_BODY_BYTES" in body


def test_keep_alive_connections_serve_several_requests(guarded):
    # The head limits restart per request on one connection; a long wait between requests is not a slow head.
    sock = connect(guarded)
    for _ in range(3):
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        data = wait_until(lambda: sock.recv(65536), timeout=5, what="a response")
        assert data.startswith(b"HTTP/1.1 200")
        time.sleep(SLOW_TIMEOUT_S * 0.6)
    sock.close()
