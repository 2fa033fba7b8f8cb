"""`route --hook --server`'s plain-socket HTTP POST (routing/hook_http.py) against real loopback
servers that answer the ways HTTP servers do (Content-Length, chunked, until close) and the ways
broken ones do (garbage, a cut answer, silence)."""

from __future__ import annotations

import socket
import threading
from typing import Iterator

import pytest

from switchyard.routing.hook_http import BadHeader, HTTPFailure, post_json, split_url


class OneShotServer:
    """Accepts connections on loopback, reads one request each, sends `answer` and closes."""

    def __init__(self, answer: bytes, *, hang: bool = False) -> None:
        self.answer, self.hang = answer, hang
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + body)
                if self.hang:
                    self.stop.wait(3)
                    continue
                conn.sendall(self.answer)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator:
    servers: list[OneShotServer] = []

    def start(answer: bytes, **kw) -> OneShotServer:
        servers.append(OneShotServer(answer, **kw))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


BODY = b'{"agentId": "billing", "confidence": 0.9}'


def test_content_length_answer_and_the_request_sent(serve) -> None:
    server = serve(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                   % (len(BODY), BODY))
    status, reason, raw = post_json(server.url + "/prefix", "/api/route", b'{"content": "hi"}',
                                    {"Authorization": "Bearer k-1", "Content-Type": "application/json"}, 5)
    assert (status, reason, raw) == (200, "OK", BODY)
    [request] = server.requests
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /prefix/api/route HTTP/1.1"
    assert {"Host: " + server.url[len("http://"):], "Authorization: Bearer k-1",
            "Content-Length: 17", "Connection: close"} <= set(lines)
    assert body == b'{"content": "hi"}'


def test_chunked_answer(serve) -> None:
    server = serve(b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\n{\"mes\r\n19;ext=1\r\nsage\": \"no key was sent\"}\r\n0\r\n\r\n")
    assert post_json(server.url, "/api/route", b"{}", {}, 5) == \
        (401, "Unauthorized", b'{"message": "no key was sent"}')


def test_answer_until_close_without_length(serve) -> None:
    server = serve(b"HTTP/1.0 200 OK\r\n\r\n" + BODY)
    assert post_json(server.url, "/api/route", b"{}", {}, 5) == (200, "OK", BODY)


@pytest.mark.parametrize("answer", [b"", b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Le",
                                    b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{}",
                                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
def test_broken_answers_are_http_failures(answer: bytes, serve) -> None:
    server = serve(answer)
    with pytest.raises(HTTPFailure):
        post_json(server.url, "/api/route", b"{}", {}, 5)


def test_a_silent_server_times_out(serve) -> None:
    server = serve(b"", hang=True)
    with pytest.raises(OSError):  # socket.timeout is an OSError: the hook's "cannot reach"
        post_json(server.url, "/api/route", b"{}", {}, 0.3)


def test_nobody_listening_is_an_os_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        post_json(f"http://127.0.0.1:{port}", "/api/route", b"{}", {}, 2)


@pytest.mark.parametrize("value", ["Bearer a\r\nX-Evil: 1", "Bearer a\nb", "Bearer \0"])
def test_a_key_that_would_split_the_request_is_refused_before_connecting(value: str) -> None:
    with pytest.raises(BadHeader) as caught:
        post_json("http://127.0.0.1:9", "/api/route", b"{}", {"Authorization": value}, 2)
    assert value not in str(caught.value)


@pytest.mark.parametrize("url, parts", [
    ("http://127.0.0.1:3001", ("http", "127.0.0.1", 3001, "127.0.0.1:3001", "")),
    ("HTTP://Example.org/switchyard/", ("http", "Example.org", 80, "Example.org", "/switchyard")),
    ("https://user:pw@host:8443/a/b?x=1#f", ("https", "host", 8443, "host:8443", "/a/b")),
    ("http://[::1]:3001", ("http", "::1", 3001, "[::1]:3001", "")),
])
def test_split_url(url: str, parts: tuple) -> None:
    assert split_url(url) == parts


@pytest.mark.parametrize("url", ["ftp://host", "127.0.0.1:3001", "http://", "http://:80",
                                 "http://host:99999", "http://host:port", "http://a b"])
def test_split_url_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        split_url(url)
