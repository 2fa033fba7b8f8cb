"""Every operation of the reference server (tests/e2e/data/reference_operations.txt, its 110
method + path pairs) is served and documented: it is in our /openapi.json under the same method
and the same path template (parameter names aside), except the vendor-specific ones the project
leaves out (`/api/dexto-auth/*`, `/api/openrouter/*`). A route may be documented under one of
several spellings of its path: `{resourceId}` and `{uri}` are the same template here."""

from __future__ import annotations

import re
from pathlib import Path

from switchyard.config import parse_agent
from switchyard.llm.function import FunctionModel
from tests.support.live_server import LiveServer

OPERATIONS = Path(__file__).parent / "data" / "reference_operations.txt"
LEFT_OUT = ("/api/dexto-auth/", "/api/openrouter/")


def _template(path: str) -> str:
    """The path with each parameter written `{}`: `/api/memory/{id}` -> `/api/memory/{}`."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def reference_operations() -> list[tuple[str, str]]:
    pairs = []
    for line in OPERATIONS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            method, path = line.split()
            pairs.append((method, path))
    return pairs


def test_the_list_is_the_references_whole_api():
    assert len(reference_operations()) == 110
    assert len(set(reference_operations())) == 110


def test_every_reference_operation_is_served_and_documented():
    def factory():
        from switchyard.runtime.agent import Agent
        from switchyard.runtime.host import AgentHost
        from switchyard.server.app import create_app
        agent = Agent(parse_agent({"agentId": "cover", "storage": {"database": {"type": "in-memory"}}}, env={}),
                      llm_client=FunctionModel(lambda m, t, i: "ok"))
        return create_app(AgentHost([agent]))

    server = LiveServer(factory).start()
    try:
        with server.client() as c:
            document = c.get("/openapi.json").json()
    finally:
        server.stop()
    served = {(method.upper(), _template(path)) for path, item in document["paths"].items()
              for method in item if method in ("get", "post", "put", "patch", "delete")}
    missing = [f"{method} {path}" for method, path in reference_operations()
               if not path.startswith(LEFT_OUT) and (method, _template(path)) not in served]
    assert missing == [], f"{len(missing)} reference operations are not served: {missing}"
