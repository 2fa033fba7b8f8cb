"""The `@` mention grammar and resolution order of runtime/resource_mentions.py (the reference's
reference-parser rules); the expansion itself is tested end to end in
tests/e2e/test_resource_mentions.py."""

from __future__ import annotations

import asyncio

from switchyard.runtime.resource_mentions import expand_mentions, media_types_of, parse_mentions, resolve


def forms(text: str) -> list[tuple[str, str, str, str | None]]:
    return [(m.original, m.kind, m.identifier, m.server) for m in parse_mentions(text)]


def test_what_is_a_mention():
    assert forms("@README.md please") == [("@README.md", "name", "README.md", None)]
    assert forms("see @docs:guide/intro.md and @</srv/a b.md>") == [
        ("@docs:guide/intro.md", "server-scoped", "guide/intro.md", "docs"),
        ("@</srv/a b.md>", "uri", "/srv/a b.md", None)]
    assert forms("mail me@example.com or x@y") == []          # not after whitespace
    assert forms("trailing @file.md.") == [("@file.md.", "name", "file.md.", None)]
    assert forms("(@notes)") == []                             # `(` is not whitespace
    assert forms("@a@b") == []                                 # an @ right after: not a mention
    assert forms("line one\n@todo") == [("@todo", "name", "todo", None)]


ENTRIES = {
    "/p/README.md": {"uri": "/p/README.md", "name": "README.md", "metadata": {"originalUri": "/p/README.md"}},
    "/p/notes/readme-old.txt": {"uri": "/p/notes/readme-old.txt", "name": "readme-old.txt"},
    "mcp:docs:file:///guide.md": {"uri": "mcp:docs:file:///guide.md", "name": "Guide", "serverName": "docs",
                                  "metadata": {"originalUri": "file:///guide.md"}},
    "mcp:other:file:///guide.md": {"uri": "mcp:other:file:///guide.md", "name": "Guide", "serverName": "other",
                                   "metadata": {"originalUri": "file:///guide.md"}},
}


def resolved(text: str) -> str | None:
    [mention] = parse_mentions(text)
    return resolve(mention, ENTRIES)


def test_resolution_follows_the_references_order():
    assert resolved("@readme") == "/p/README.md"                  # first whose name holds it
    assert resolved("@readme-old") == "/p/notes/readme-old.txt"
    assert resolved("@notes") == "/p/notes/readme-old.txt"        # then by URI
    assert resolved("@other:guide") == "mcp:other:file:///guide.md"
    assert resolved("@<file:///guide.md>") == "mcp:docs:file:///guide.md"   # by originalUri
    assert resolved("@<mcp:other:file:///guide.md>") == "mcp:other:file:///guide.md"
    assert resolved("@nothing") is None and resolved("@nosuch:guide") is None


class Catalog:
    def __init__(self, contents):
        self.contents = contents

    async def list(self):
        return [{"uri": uri, "name": uri.rsplit("/", 1)[-1]} for uri in self.contents]

    async def read(self, uri, *, listed=False):
        assert listed, "a mention resolves to a listed resource: read without listing again"
        item = self.contents[uri]
        if isinstance(item, Exception):
            raise item
        return {"contents": [item]}


def test_media_and_failures():
    catalog = Catalog({"/p/a.png": {"uri": "/p/a.png", "mimeType": "image/png", "blob": "AAAA"},
                       "/p/b.md": RuntimeError("server went away")})
    out = asyncio.run(expand_mentions(catalog, "look @a.png and @b.md", ["image/*"]))
    assert out == [{"type": "text", "text": "look and @b.md"},
                   {"type": "image", "image": "AAAA", "mimeType": "image/png"}]
    described = asyncio.run(expand_mentions(catalog, "@a.png", []))
    assert "[Binary content: image/png, 4 bytes]" in described
    assert asyncio.run(expand_mentions(catalog, "only @b.md", ["image/*"])) == "only @b.md"
    parts = [{"type": "text", "text": "@a.png"}, {"type": "file", "data": "x", "mimeType": "application/pdf"}]
    assert asyncio.run(expand_mentions(catalog, parts, ["image/*"])) == [
        parts[1], {"type": "image", "image": "AAAA", "mimeType": "image/png"}]


def test_media_types_come_from_the_models_file_types():
    assert "image/*" in media_types_of("openai", "gpt-4o-mini")
    assert media_types_of("no-such-provider", "x") == []
