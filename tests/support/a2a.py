"""A2A request pieces shared by the protocol tests."""

from __future__ import annotations

import time
from typing import Any


def msg03(text: str, **extra: Any) -> dict[str, Any]:
    """A user message in the A2A 0.3 JSON shape (the reference's), with a fresh messageId."""
    return {"kind": "message", "role": "user", "messageId": f"m-{time.monotonic_ns()}",
            "parts": [{"kind": "text", "text": text}], **extra}
