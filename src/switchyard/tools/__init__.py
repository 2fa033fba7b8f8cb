"""Tools: in-process function tools (base.py), MCP connections, approval policy."""
