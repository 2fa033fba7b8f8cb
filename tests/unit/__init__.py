"""Unit tests: the code under test runs in the test's process, with test doubles (the scripted
fake LLM on loopback counts as one) and no Switchyard server, MCP server or Postgres/Redis."""
