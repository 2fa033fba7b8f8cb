"""The agent file's `date` and `resources` system-prompt contributors are rendered for every
turn (as the reference renders them), on a real server: the model sees the resources' text as
it is on disk at that turn, bounded, with an unreadable resource named in its place, and the
contributors are listed by GET /api/system-prompt/contributors."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from switchyard.llm.function import FunctionModel
from switchyard.runtime import resource_prompt
from tests.support.live_server import LiveServer


@contextlib.contextmanager
def serve(folder: Path, model: FunctionModel, contributors: list[dict[str, Any]]) -> Iterator[LiveServer]:
    def factory() -> Any:
        from switchyard.config import parse_agent
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        raw = {"agentId": "notes-agent", "storage": {"database": {"type": "in-memory"}},
               "systemPrompt": {"contributors": contributors},
               "resources": [{"type": "filesystem", "paths": [str(folder)],
                              "includeExtensions": [".md", ".png"]}]}
        loaded = parse_agent(raw, env={}, agent_dir=str(folder))
        assert loaded.warnings == [], loaded.warnings      # `source: resources` is implemented
        return create_app(AgentHost([Agent(loaded, llm_client=model)]))
    server = LiveServer(factory).start()
    try:
        yield server
    finally:
        server.stop()


CONTRIBUTORS = [{"id": "persona", "type": "static", "priority": 0, "content": "You answer from the notes."},
                {"id": "now", "type": "dynamic", "priority": 5, "source": "date"},
                {"id": "notes", "type": "dynamic", "priority": 20, "source": "resources"}]


def test_resources_and_date_are_rendered_for_each_turn(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "faq.md").write_text("Opening hours: 9 to 5.")
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    model = FunctionModel(lambda messages, tools, info: "ok")
    with serve(folder, model, CONTRIBUTORS) as server, server.client() as c:
        assert c.post("/api/message-sync", json={"content": "when are you open?"}).status_code == 200
        system = model.steps[-1].info.system
        assert system.startswith("You answer from the notes.\n\nCurrent date and time: "
                                 + dt.datetime.now().astimezone().strftime("%Y-%m-%d"))
        faq = str(folder / "faq.md")
        assert f'<resource uri="{faq}" name="faq.md">Opening hours: 9 to 5.</resource>' in system
        assert "[binary content (image/png): not included]" in system
        assert system.rstrip().endswith("</resources>")

        # The next turn reads the disk again: a changed file and a new one are seen.
        (folder / "faq.md").write_text("Opening hours: 8 to 6.")
        (folder / "news.md").write_text("Closed on Monday.")
        assert c.post("/api/message-sync", json={"content": "and now?"}).status_code == 200
        system = model.steps[-1].info.system
        assert "Opening hours: 8 to 6." in system and "9 to 5" not in system
        assert "Closed on Monday." in system

        listed = c.get("/api/system-prompt/contributors").json()["contributors"]
        assert listed == [{"id": "persona", "priority": 0}, {"id": "now", "priority": 5},
                          {"id": "notes", "priority": 20}]


def test_no_resources_leave_the_section_out_and_large_ones_are_cut(tmp_path, monkeypatch):
    folder = tmp_path / "notes"
    folder.mkdir()
    model = FunctionModel(lambda messages, tools, info: "ok")
    with serve(folder, model, CONTRIBUTORS) as server, server.client() as c:
        assert c.post("/api/message-sync", json={"content": "hi"}).status_code == 200
        assert "<resources>" not in model.steps[-1].info.system

        cut = "x" * 10 + "\n[... 15 more characters not included]"
        one = len(f'<resource uri="{folder / "a.md"}" name="a.md">{cut}</resource>')
        monkeypatch.setattr(resource_prompt, "MAX_CHARS_PER_RESOURCE", 10)
        monkeypatch.setattr(resource_prompt, "MAX_TOTAL_CHARS", 2 * one + 5)
        for name in ("a.md", "b.md", "c.md"):
            (folder / name).write_text("x" * 25)
        assert c.post("/api/message-sync", json={"content": "hi again"}).status_code == 200
        system = model.steps[-1].info.system
        assert cut + "</resource>" in system and "x" * 11 not in system
        # The total holds two resources: the third is counted, not pasted.
        assert system.count("<resource ") == 2 and "[1 more resource not included]" in system
