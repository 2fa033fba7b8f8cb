"""What the tests share (no tests here).

fake_llm.py        the scripted fake OpenAI / Anthropic LLM server over real HTTP (steps in
                   fake_llm_steps.py); benchmarks use it too (bench/_fake_llm.py)
live_server.py     a real uvicorn server on a free loopback port (LiveServer, serve_agents)
fixtures.py        the pytest fixtures: fake_llm, fake_llm_server, live_server
net.py             free_port, closed_port_url, wait_for_port
sse.py             the SSE reader (iter_sse, sse_events)
security.py        the security tests' app, keys and switches
tools.py           the tools / MCP / approvals tests' agents and servers
mcp_servers/       real MCP servers the tests start (stdio and streamable HTTP)

For an in-process model without HTTP, tests use switchyard.llm.function.FunctionModel.
"""
