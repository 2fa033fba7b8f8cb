"""Compare what a client received with a stored snapshot, byte for byte after normalising
only what is random or time-based.

`Normaliser` turns ids into numbered placeholders (`<id:1>`, `<id:2>`, ...: the same id gets
the same placeholder everywhere in one snapshot, so id consistency across frames is still
checked), times into `<ms>` / `<s>` / `<iso-time>` / `<duration>`, jittered retry delays into
`<delay>` and loopback ports into `<port>`; keep-alive comments are dropped, and the keys of
members named as `unordered` (protobuf maps) are sorted. Everything else - key order,
separators, frame boundaries, blank lines - is kept as received.

`check(name, text)` compares with tests/golden/<name>; with SWITCHYARD_UPDATE_GOLDEN=1 it
(re)writes the file instead. A mismatch fails with a unified diff.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path

import httpx

GOLDEN_DIR = Path(__file__).resolve().parent
UPDATE = os.environ.get("SWITCHYARD_UPDATE_GOLDEN") == "1"

# Ids, most specific first (a dashed UUID contains hex runs the later patterns would match).
_IDS = [
    re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),  # uuid4 text
    re.compile(r"(?<![0-9a-zA-Z])[0-9a-f]{32}(?![0-9a-zA-Z])"),                     # uuid4 hex
    re.compile(r"(?<=call_)[0-9a-f]{12}(?=_\d)"),                                 # call ids the runtime makes
    re.compile(r"(?<=-)[0-9a-f]{8}(?=\")"),                                       # A2A artifact id suffix
]
# Times. Keyed ones first, so that e.g. a duration never passes for an epoch value.
_TIMES = [
    (re.compile(r'("durationMs"\s*:\s*)\d+'), r"\1<duration>"),
    (re.compile(r'("latencyMs"\s*:\s*)[\d.]+'), r"\1<duration>"),
    (re.compile(r'("delayMs"\s*:\s*)\d+'), r"\1<delay>"),                      # retry backoff has jitter
    (re.compile(r'("created"\s*:\s*)\d+'), r"\1<s>"),
    (re.compile(r"(?<![\d.])1\d{12}(?![\d.])"), "<ms>"),                          # epoch ms
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"), "<iso-time>"),
]
# Loopback servers (the test's own server, the fake LLM) listen on free ports chosen at random.
_PORT = re.compile(r"(?<=//127\.0\.0\.1:)\d+")
_KEEPALIVE = re.compile(r"(?m)^: ?keepalive\n\n")


class Normaliser:
    """One per snapshot: remembers which placeholder each id got.

    `unordered`: names of JSON members whose object value has no stable key order (a protobuf
    `Struct` such as A2A `metadata` is a map, and its JSON key order follows a per-process hash
    seed): their keys are sorted, everything inside kept byte for byte otherwise."""

    def __init__(self, unordered: tuple[str, ...] = ()) -> None:
        self.ids: dict[str, str] = {}
        self.unordered = unordered

    def _id(self, match: re.Match[str]) -> str:
        value = match.group(0)
        if value not in self.ids:
            self.ids[value] = f"<id:{len(self.ids) + 1}>"
        return self.ids[value]

    def _sort_members(self, text: str) -> str:
        decoder = json.JSONDecoder()
        for name in self.unordered:
            marker, pos = f'"{name}":', 0
            while (start := text.find(marker, pos)) >= 0:
                begin = start + len(marker)
                try:
                    value, end = decoder.raw_decode(text, begin)
                except ValueError:
                    pos = begin
                    continue
                original = text[begin:end]
                compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
                if isinstance(value, dict) and compact == original:  # only where re-encoding is exact
                    text = text[:begin] + json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                                                     sort_keys=True) + text[end:]
                pos = end
        return text

    def __call__(self, text: str) -> str:
        text = self._sort_members(text)
        text = _KEEPALIVE.sub("", text)  # how many appear depends on timing only
        text = _PORT.sub("<port>", text)
        for pattern, replacement in _TIMES:
            text = pattern.sub(replacement, text)
        for pattern in _IDS:
            text = pattern.sub(self._id, text)
        return text


def response_text(response: httpx.Response, body: str | None = None) -> str:
    """The status line, content type and body of a response as one snapshot text."""
    body = response.text if body is None else body
    return f"HTTP {response.status_code} {response.headers.get('content-type', '')}\n\n{body}"


def check(name: str, text: str, *, unordered: tuple[str, ...] = ()) -> None:
    """Compare the normalised `text` with tests/golden/<name> (or write it, when updating);
    `unordered` as for `Normaliser`."""
    text = Normaliser(unordered)(text)
    path = GOLDEN_DIR / name
    if UPDATE:
        path.write_bytes(text.encode())
        return
    assert path.exists(), f"no snapshot {path.name}: run with SWITCHYARD_UPDATE_GOLDEN=1 to create it"
    expected = path.read_bytes().decode()
    if expected != text:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), text.splitlines(keepends=True),
                                            f"golden/{name}", "received"))
        raise AssertionError(f"wire format differs from golden/{name}:\n{diff}\n"
                             "(an intended wire-format change: SWITCHYARD_UPDATE_GOLDEN=1, see tests/golden/README.md)")


def section(title: str, text: str) -> str:
    """A titled part of a snapshot made of several responses (normalised together, so an id
    that appears in two responses gets the same placeholder in both)."""
    return f"### {title}\n{text}{'' if text.endswith(chr(10)) else chr(10)}\n"
