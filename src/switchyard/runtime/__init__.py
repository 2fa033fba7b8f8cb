"""The agent runtime: the tool loop, sessions and typed events (no HTTP here)."""
