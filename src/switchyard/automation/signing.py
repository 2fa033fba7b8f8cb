"""How a webhook delivery is signed, and how a receiver checks it (the README shows the same).

    Switchyard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The timestamp is signed with the body so that a captured delivery cannot be replayed later:
a receiver refuses a signature older than a few minutes (`verify`, tolerance 300 s). The
Dexto-compatible `X-Dexto-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>` is sent
too, for receivers written for the reference.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Switchyard-Signature"
DEXTO_SIGNATURE_HEADER = "X-Dexto-Signature-256"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def dexto_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, header: str, body: bytes, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether `header` (a Switchyard-Signature value) signs `body` with `secret`, recently."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)
