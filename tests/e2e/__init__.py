"""End-to-end tests: a real Switchyard server over HTTP, real MCP servers as subprocesses,
Postgres and Redis when their URLs are set."""
