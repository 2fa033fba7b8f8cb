"""An MCP server (official SDK v2, `MCPServer`) with prompts and resources, for the tests of
/api/prompts and /api/resources. Run over stdio: `python prompt_server.py [--name NAME]`.

Prompts: `summarize(topic, style?)` (two messages, one of them an embedded resource),
`review` (no arguments; resource links, one of a refused scheme), `greet(name)` (the same name as the demo server's,
for collisions), `blank` (no text: resolves to nothing).
Resources: a text note, a binary logo, and a template `notes://{slug}` (readable by the
server, not listed)."""

from __future__ import annotations

import argparse

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import AssistantMessage, UserMessage

LOGO = bytes(range(256)) * 4


def build(name: str = "library") -> MCPServer:
    server = MCPServer(name, log_level="WARNING")

    @server.prompt(title="Summarize a topic")
    def summarize(topic: str, style: str = "plain") -> list:
        """Summarize a topic in a style."""
        return [UserMessage(f"Summarize {topic} in a {style} style."),
                UserMessage({"type": "resource", "resource": {"uri": "notes://style-guide",
                                                              "text": "Style guide: be brief.",
                                                              "mimeType": "text/plain"}}),
                AssistantMessage("Understood.")]

    @server.prompt()
    def review() -> list:
        """Review the project notes."""
        return [UserMessage("Review the notes."),
                UserMessage({"type": "resource_link", "uri": "file:///srv/notes/project.md", "name": "project"}),
                # A scheme the reference does not let through (javascript:, data:, ...): dropped.
                UserMessage({"type": "resource_link", "uri": "javascript:alert(1)", "name": "bad"})]

    @server.prompt()
    def greet(name: str) -> str:
        """Greet someone (from the library server)."""
        return f"Library says hello to {name}."

    @server.prompt()
    def blank() -> list:
        """Resolves to no text."""
        return [UserMessage({"type": "image", "data": "aGk=", "mimeType": "image/png"})]

    @server.resource("notes://project", name="project", description="The project notes",
                     mime_type="text/markdown")
    def project() -> str:
        return "# Project\nShip the prompts API."

    @server.resource("notes://logo.bin", mime_type="application/octet-stream")
    def logo() -> bytes:
        return LOGO

    @server.resource("notes://{slug}", name="note")
    def note(slug: str) -> str:
        return f"note {slug}"

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="library")
    build(parser.parse_args().name).run()


if __name__ == "__main__":
    main()
