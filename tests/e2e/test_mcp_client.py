"""MCP client tests against real servers (tests/support/mcp_servers/demo_server.py) over stdio,
streamable HTTP and SSE on 127.0.0.1. Starting a Python MCP server costs ~1 s, so one stdio
connection is shared by the module and the HTTP servers run once per module."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_asyncio

from switchyard.config.schema import HttpServerConfig, StdioServerConfig
from switchyard.errors import ConflictError, NotFoundError, RequestError
from switchyard.tools.base import FunctionTool, ToolSet
from switchyard.tools.context import ToolCallContext
from switchyard.tools.mcp_client import ConnectionOptions, MCPConnection, MCPConnectionError
from switchyard.tools.mcp_manager import MCPManager
from tests.support.net import free_port, wait_for_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVER = str(Path(__file__).parents[1] / "support" / "mcp_servers" / "demo_server.py")
FAST = ConnectionOptions(backoff_initial=0.2, backoff_max=1.0, max_attempts=3,
                         health_interval=0.2, stop_timeout=3.0)
SECRET = "SWITCHYARD_TEST_SECRET_KEY"
CALL = ToolCallContext(call_id="call-1", session_id="s1")   # a direct call, outside any turn


def stdio(timeout_ms: int = 1500, **kw) -> StdioServerConfig:
    return StdioServerConfig(command=sys.executable, args=[SERVER], timeout=timeout_ms, **kw)


def missing(mode: str = "lenient") -> StdioServerConfig:
    return StdioServerConfig(command="/nonexistent/switchyard-no-such-server", connectionMode=mode)


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def text(result) -> str:
    return result.as_text()


# --- fixtures ----------------------------------------------------------------------------

@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def conn():
    # A secret in our environment must not reach the server; the config's env must.
    os.environ[SECRET] = "sk-do-not-leak"
    try:
        connection = MCPConnection("demo", stdio(env={"DEMO_SETTING": "1"}), options=FAST)
        await connection.start()
    finally:
        os.environ.pop(SECRET, None)
    assert connection.status == "connected", connection.last_error
    yield connection
    await connection.stop()


@pytest.fixture(scope="module")
def http_servers():
    """The demo server over streamable HTTP and over SSE, as subprocesses on random ports."""
    procs, urls = [], {}
    for transport, path in (("streamable-http", "/mcp"), ("sse", "/sse")):
        port = free_port()
        procs.append(subprocess.Popen(
            [sys.executable, SERVER, "--transport", transport, "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls[transport] = (port, f"http://127.0.0.1:{port}{path}")
    try:
        for port, _ in urls.values():
            wait_for_port(port)
        yield {"http": urls["streamable-http"][1], "sse": urls["sse"][1]}
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def http(url: str, **kw) -> HttpServerConfig:
    return HttpServerConfig(type="http", url=url, timeout=5000, **kw)


# --- one connection ------------------------------------------------------------------------

async def test_discovers_tools_resources_and_prompts(conn):
    names = {t.name for t in conn.tools}
    assert {"add", "echo", "get_weather", "slow", "crash", "env_keys"} <= names
    weather = next(t for t in conn.tools if t.name == "get_weather")
    assert weather.source == "mcp" and weather.server_name == "demo"
    assert weather.input_schema["required"] == ["city"]
    assert [r["uri"] for r in await conn.resources()] == ["demo://greeting"]
    assert (await conn.read_resource("demo://greeting"))[0]["text"] == "Hello from the demo server"
    prompts = await conn.prompts()
    assert prompts[0]["name"] == "greet"
    prompt = await conn.get_prompt("greet", {"name": "Ada"})
    assert prompt["messages"][0]["content"]["text"] == "Please greet Ada warmly."


async def test_call_returns_content_and_structured_result(conn):
    add = next(t for t in conn.tools if t.name == "add")
    result = await add.call({"a": 2, "b": 40}, CALL)
    assert not result.is_error
    assert text(result) == "42"
    assert result.raw == {"result": 42}


async def test_concurrent_calls_do_not_wait_for_each_other(conn):
    tools = {t.name: t for t in conn.tools}
    slow = asyncio.create_task(tools["slow"].call({"seconds": 1.4}, CALL))   # the timeout: 1.5 s
    results = await asyncio.gather(*(tools["add"].call({"a": i, "b": 1}, CALL) for i in range(10)))
    assert [text(r) for r in results] == [str(i + 1) for i in range(10)]
    # An order, not a duration: all ten answered while the slow call was still running.
    assert not slow.done(), "fast calls waited behind the slow one"
    assert text(await slow) == "slept 1.4"


async def test_invalid_arguments_are_rejected_naming_the_field(conn):
    tools = {t.name: t for t in conn.tools}
    missing_city = await tools["get_weather"].call({}, CALL)
    assert missing_city.is_error
    assert "'city' is a required property" in text(missing_city)
    wrong_type = await tools["add"].call({"a": "two", "b": 2}, CALL)
    assert wrong_type.is_error
    assert "at 'a': 'two' is not of type 'integer'" in text(wrong_type)
    not_object = await tools["add"].call(["a"], CALL)
    assert not_object.is_error and "expected a JSON object" in text(not_object)


async def test_unknown_tool_is_a_tool_error(conn):
    result = await conn.call_tool("no_such_tool", {})
    assert result.is_error
    assert "no_such_tool" in text(result)


async def test_slow_tool_times_out_and_connection_survives(conn):
    slow = next(t for t in conn.tools if t.name == "slow")
    started = time.monotonic()
    result = await slow.call({"seconds": 10}, CALL)
    assert result.is_error
    assert text(result) == "MCP tool 'slow' on server 'demo' timed out after 1500 ms"
    assert time.monotonic() - started < 4
    assert conn.status == "connected"
    assert text(await conn.call_tool("echo", {"text": "still here"})) == "still here"


async def test_stdio_server_gets_minimal_environment(conn):
    keys = set((await conn.call_tool("env_keys", {})).raw["result"])
    assert "DEMO_SETTING" in keys and "PATH" in keys
    assert SECRET not in keys
    parent_only = set(os.environ) - keys - {"PYTEST_CURRENT_TEST"}
    assert parent_only, "expected the parent to have variables the server does not see"


async def test_crashing_server_is_restarted_and_fails_clearly_meanwhile():
    options = ConnectionOptions(backoff_initial=0.6, backoff_max=1.0, max_attempts=3,
                                health_interval=0.2, stop_timeout=3.0)
    connection = MCPConnection("fragile", stdio(), options=options)
    await connection.start()
    try:
        first_pid = (await connection.call_tool("pid", {})).raw["result"]
        crashed = await connection.call_tool("crash", {})
        assert crashed.is_error and "fragile" in text(crashed)

        down = await connection.call_tool("add", {"a": 1, "b": 1})
        assert down.is_error
        assert text(down).startswith("MCP server 'fragile' is not connected: ")
        assert connection.status in ("error", "connecting")
        assert {t.name for t in connection.tools} >= {"add"}, "tools stay listed while down"

        await until(lambda: connection.status == "connected")
        assert text(await connection.call_tool("add", {"a": 1, "b": 1})) == "2"
        assert (await connection.call_tool("pid", {})).raw["result"] != first_pid
    finally:
        await connection.stop()
    assert connection.status == "disabled"
    stopped = await connection.call_tool("add", {"a": 1, "b": 1})
    assert stopped.is_error and "not connected" in text(stopped)


async def test_missing_command_gives_up_after_max_attempts():
    options = ConnectionOptions(backoff_initial=0.05, backoff_max=0.1, max_attempts=2)
    connection = MCPConnection("ghost", missing(), options=options)
    await connection.start()
    assert connection.status == "error"
    assert "No such file or directory" in connection.last_error
    await asyncio.wait_for(connection._task, 5)   # the retries end on their own
    assert connection.status == "error"
    result = await connection.call_tool("anything", {})
    assert result.is_error and "MCP server 'ghost' is not connected" in text(result)
    await connection.stop()


# --- HTTP transports ---------------------------------------------------------------------

async def test_streamable_http_transport(http_servers):
    connection = MCPConnection("web", http(http_servers["http"], headers={"X-Test": "1"}),
                               options=FAST)
    await connection.start()
    try:
        assert connection.status == "connected", connection.last_error
        assert "get_weather" in {t.name for t in connection.tools}
        weather = next(t for t in connection.tools if t.name == "get_weather")
        assert text(await weather.call({"city": "Oslo"}, CALL)) == "Sunny in Oslo, 21 C"
    finally:
        await connection.stop()


async def test_sse_transport(http_servers):
    connection = MCPConnection("legacy", HttpServerConfig(type="sse", url=http_servers["sse"]),
                               options=FAST)
    await connection.start()
    try:
        assert connection.status == "connected", connection.last_error
        assert text(await connection.call_tool("echo", {"text": "over sse"})) == "over sse"
    finally:
        await connection.stop()


async def test_unreachable_http_server_is_an_error_status():
    port = free_port()
    options = ConnectionOptions(backoff_initial=0.05, max_attempts=1)
    connection = MCPConnection("down", http(f"http://127.0.0.1:{port}/mcp"), options=options)
    await connection.start()
    assert connection.status == "error" and connection.last_error
    await connection.stop()


# --- the manager ---------------------------------------------------------------------------

async def test_strict_start_fails_naming_the_server(http_servers):
    manager = MCPManager({"web": http(http_servers["http"]), "ghost": missing("strict")},
                         options=FAST)
    with pytest.raises(MCPConnectionError) as info:
        await manager.start()
    assert "'ghost'" in str(info.value) and "No such file or directory" in str(info.value)
    assert all(s["status"] == "disabled" for s in manager.servers()), "startup must stop everything"


async def test_lenient_start_continues_and_reports_the_error(http_servers):
    manager = MCPManager({"web": http(http_servers["http"]), "ghost": missing("lenient")},
                         options=FAST)
    await manager.start()
    try:
        servers = {s["name"]: s for s in manager.servers()}
        assert servers["web"] == {"id": "web", "name": "web", "status": "connected"}
        assert servers["ghost"]["status"] in ("error", "connecting")
        assert "No such file or directory" in servers["ghost"]["error"]
        assert all(t.server_name == "web" for t in manager.tools())
    finally:
        await manager.stop()


async def test_name_collisions_are_prefixed_and_toolset_stays_in_sync(http_servers):
    def echo(text: str) -> str:
        """A local echo."""
        return f"local:{text}"

    toolset = ToolSet([FunctionTool(echo)])
    changes = []
    manager = MCPManager({"one": http(http_servers["http"])}, toolset=toolset, options=FAST,
                         on_change=lambda: changes.append(1))
    await manager.start()
    try:
        # One server: only the name that clashes with the local tool is prefixed.
        assert {"echo", "one--echo", "add", "get_weather"} <= toolset.names()
        assert toolset.get("echo").source == "local"
        assert text(await toolset.get("one--echo").call({"text": "hi"}, CALL)) == "hi"

        # A second server with the same tools: every shared name gets its server's prefix.
        await manager.add("two", HttpServerConfig(type="sse", url=http_servers["sse"]))
        names = toolset.names()
        assert {"one--add", "two--add", "one--echo", "two--echo", "echo"} <= names
        assert "add" not in names
        result = await toolset.get("two--add").call({"a": 1, "b": 2}, CALL)
        assert text(result) == "3"
        assert toolset.get("two--add").server_name == "two"

        await manager.remove("two")
        assert {"add", "one--echo", "echo"} <= toolset.names()
        assert "two--add" not in toolset.names() and "one--add" not in toolset.names()
        assert changes, "on_change must fire"
    finally:
        await manager.stop()
    assert toolset.names() == {"echo"}


async def test_manager_add_update_remove_restart_and_errors(http_servers):
    manager = MCPManager(options=FAST)
    await manager.start()
    try:
        await manager.add("web", {"url": http_servers["http"]})   # a JSON body, type inferred
        assert manager.get("web").status == "connected"
        with pytest.raises(ConflictError):
            await manager.add("web", {"url": http_servers["http"]})
        with pytest.raises(RequestError, match="url"):
            await manager.add("bad", {"type": "http", "url": "ftp://nope"})
        with pytest.raises(MCPConnectionError, match="'ghost'"):
            await manager.add("ghost", missing("strict"))
        assert "ghost" not in manager

        await manager.restart("web")
        assert manager.get("web").status == "connected"
        await manager.update("web", HttpServerConfig(type="sse", url=http_servers["sse"]))
        assert manager.get("web").config.type == "sse"
        assert manager.get("web").status == "connected"
        # A strict update that cannot connect is refused and the working config stays.
        with pytest.raises(MCPConnectionError, match="'web'"):
            await manager.update("web", missing("strict"))
        assert manager.get("web").config.type == "sse" and manager.get("web").status == "connected"
        assert [t for t in manager.tools() if t.server_name == "web"]

        await manager.add("off", http(http_servers["http"], enabled=False))
        assert manager.get("off").status == "disabled"
        assert not [t for t in manager.tools() if t.server_name == "off"]

        await manager.remove("web")
        with pytest.raises(NotFoundError):
            manager.get("web")
        with pytest.raises(NotFoundError):
            await manager.remove("web")
    finally:
        await manager.stop()


async def test_tool_list_change_reaches_the_manager_toolset(http_servers):
    toolset = ToolSet()
    manager = MCPManager({"web": http(http_servers["http"])}, toolset=toolset, options=FAST)
    await manager.start()
    try:
        name = f"fresh_{os.getpid()}"   # the HTTP server outlives this test; keep it unique
        assert text(await toolset.get("grow").call({"tool_name": name}, CALL)) == f"added {name}"
        await until(lambda: toolset.get(name) is not None, timeout=5)
        assert text(await toolset.get(name).call({}, CALL)) == "hello"
    finally:
        await manager.stop()
