"""Identifiers and timestamps shared by every layer (one definition of each)."""

from __future__ import annotations

import re
import time
import uuid

# What a caller may use as a session id, on every protocol (REST, A2A, MCP, OpenAI):
# letters, digits and `._:@-`, 1 to 200 characters.
SESSION_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,200}$"
SESSION_ID = re.compile(SESSION_ID_PATTERN)


def new_id() -> str:
    """A fresh random id (UUID4, in its usual text form)."""
    return str(uuid.uuid4())


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, as the reference's wire format carries it."""
    return int(time.time() * 1000)
