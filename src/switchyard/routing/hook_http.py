"""One JSON POST for `route --hook --server URL`, with as little to import as possible.

The hook runs on every prompt; `http.client` imports the `email` package, `ssl` and
`urllib.parse` (~25 ms of CPU per prompt on the 2-core dev machine), which is a third of the
hook's budget. An `http://` server (the usual case: a Switchyard on loopback) is asked over a
plain socket with HTTP/1.1 and `Connection: close`; `https://` goes through `http.client`.
Every transport failure is an OSError (`HTTPFailure` for a malformed answer).
"""

from __future__ import annotations

MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class HTTPFailure(OSError):
    """The server's answer is not HTTP we can read."""


class BadHeader(ValueError):
    """A header value (the API key) that cannot be sent: it would split the request."""


def split_url(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, netloc, path prefix) of an http(s) URL; ValueError otherwise."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise ValueError("not an http:// or https:// URL")
    for cut in "?#":
        rest = rest.partition(cut)[0]
    netloc, slash, path = rest.partition("/")
    netloc = netloc.rpartition("@")[2]  # user:password@ is not ours to send
    if netloc.startswith("["):
        host, _, after = netloc[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else ""
    else:
        host, _, port_text = netloc.partition(":")
    if not host or any(c.isspace() for c in netloc):
        raise ValueError("no host name")
    port = int(port_text) if port_text else (443 if scheme == "https" else 80)
    if not 0 < port < 65536:
        raise ValueError("port out of range")
    return scheme, host, port, netloc, ("/" + path).rstrip("/") if slash else ""


def post_json(url: str, path: str, body: bytes, headers: dict[str, str],
              timeout: float) -> tuple[int, str, bytes]:
    """POST `body` to `url` + `path`: (status, reason, response body)."""
    scheme, host, port, netloc, prefix = split_url(url)
    for name, value in headers.items():
        if any(c in value for c in "\r\n\0") or any(c in name for c in "\r\n\0: "):
            raise BadHeader(f"the {name} header would contain a line break or NUL")
    if scheme == "https":
        return _post_https(host, port, prefix + path, body, headers, timeout)
    import socket

    head = [f"POST {prefix}{path} HTTP/1.1", f"Host: {netloc}",
            f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    chunks: list[bytes] = []
    received = 0
    # An ASCII host name goes as bytes: a str is IDNA-encoded first (+3 imports, unicodedata).
    address = host.encode("ascii") if host.isascii() else host
    with socket.create_connection((address, port), timeout=timeout) as sock:
        sock.sendall(request)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
            if received > MAX_RESPONSE_BYTES:
                raise HTTPFailure(f"the answer is larger than {MAX_RESPONSE_BYTES} bytes")
    return _parse_response(b"".join(chunks))


def _parse_response(raw: bytes) -> tuple[int, str, bytes]:
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        raise HTTPFailure("the server closed the connection before a complete HTTP answer")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise HTTPFailure(f"not an HTTP answer: {lines[0][:80]!r}")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "chunked" in fields.get("transfer-encoding", "").lower():
        rest = _unchunk(rest)
    elif fields.get("content-length", "").isdigit():
        length = int(fields["content-length"])
        if len(rest) < length:
            raise HTTPFailure("the server closed the connection in the middle of its answer")
        rest = rest[:length]
    return int(parts[1]), parts[2] if len(parts) > 2 else "", rest


def _unchunk(data: bytes) -> bytes:
    out = []
    while True:
        size_line, sep, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip(), 16)
        except ValueError:
            raise HTTPFailure("a malformed chunked answer") from None
        if not sep or len(data) < size:
            raise HTTPFailure("the server closed the connection in the middle of its answer")
        if size == 0:
            return b"".join(out)
        out.append(data[:size])
        data = data[size + 2:]


def _post_https(host: str, port: int, target: str, body: bytes, headers: dict[str, str],
                timeout: float) -> tuple[int, str, bytes]:
    import http.client

    try:
        connection = http.client.HTTPSConnection(host, port, timeout=timeout)
        try:
            connection.request("POST", target, headers=headers, body=body)
            response = connection.getresponse()
            return response.status, response.reason, response.read()
        finally:
            connection.close()
    except http.client.HTTPException as exc:
        raise HTTPFailure(str(exc) or type(exc).__name__) from None
