"""The agent runtime (no HTTP here): the Agent and its parts, runs and the tool loop, live
sessions. The events a run emits are switchyard/events.py."""
