"""One webhook delivery attempt: a signed JSON POST to a checked, pinned address.

The host is resolved and checked at every attempt (urls.py) and the request goes to the very
address that was checked (the URL's host stays in the Host header and, for https, in the TLS
server name, so the certificate is still verified against it): a DNS answer that changes
between the check and the connection cannot send the request elsewhere. Redirects are not
followed: a 3xx is a failed delivery.

Headers (see signing.py for the signature):

    Switchyard-Webhook-Id, Switchyard-Delivery-Id, Switchyard-Event, Switchyard-Timestamp,
    Switchyard-Signature: t=<ts>,v1=<hex>
    X-Dexto-Event-Type, X-Dexto-Event-Id, X-Dexto-Delivery-Attempt, X-Dexto-Signature-256
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from typing import Any

from switchyard import __version__
from switchyard.automation.signing import DEXTO_SIGNATURE_HEADER, SIGNATURE_HEADER, dexto_signature, signature
from switchyard.automation.urls import Resolver, TargetRefused, UrlPolicy


@dataclass(frozen=True)
class Attempt:
    """How one POST went. `retryable`: a 5xx, 408, 429, a timeout or a connection failure."""

    success: bool
    status_code: int | None = None
    error: str | None = None
    response_ms: int = 0
    retryable: bool = False

    def to_result(self) -> dict[str, Any]:
        """The reference's test result shape."""
        out: dict[str, Any] = {"success": self.success, "responseTime": self.response_ms}
        if self.status_code is not None:
            out["statusCode"] = self.status_code
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class Outbound:
    webhook_id: str
    url: str
    secret: str
    delivery_id: str
    event_id: str
    event_type: str
    body: bytes
    attempt: int


def _netloc(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return shown if port == default else f"{shown}:{port}"


async def post_signed(client: Any, policy: UrlPolicy, out: Outbound, *, timeout: float,
                      resolver: Resolver | None = None) -> Attempt:
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = policy.check_url(out.url)
        address = await policy.resolve_target(target, resolver)
    except TargetRefused as exc:
        return Attempt(False, error=f"refused: {exc.message}", response_ms=took())
    timestamp = int(time.time())
    headers = {
        "Host": _netloc(target.host, target.port, target.scheme),
        "Content-Type": "application/json",
        "User-Agent": f"Switchyard-Webhooks/{__version__}",
        "Switchyard-Webhook-Id": out.webhook_id,
        "Switchyard-Delivery-Id": out.delivery_id,
        "Switchyard-Event": out.event_type,
        "Switchyard-Timestamp": str(timestamp),
        SIGNATURE_HEADER: signature(out.secret, timestamp, out.body),
        "X-Dexto-Event-Type": out.event_type,
        "X-Dexto-Event-Id": out.event_id,
        "X-Dexto-Delivery-Attempt": str(out.attempt),
        DEXTO_SIGNATURE_HEADER: dexto_signature(out.secret, out.body),
    }
    pinned = f"{target.scheme}://{_netloc(address, target.port, target.scheme)}{target.path}"
    is_name = _is_name(target.host)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" and is_name else {}
    import httpx
    try:
        response = await client.post(pinned, content=out.body, headers=headers, timeout=timeout,
                                      extensions=extensions)
    except httpx.TimeoutException:
        return Attempt(False, error=f"timed out after {timeout:g}s", response_ms=took(), retryable=True)
    except httpx.HTTPError as exc:
        return Attempt(False, error=f"{type(exc).__name__}: {exc}"[:300], response_ms=took(), retryable=True)
    status = response.status_code
    if 200 <= status < 300:
        return Attempt(True, status, response_ms=took())
    reason = f"HTTP {status}: {response.reason_phrase}".rstrip(": ")
    if 300 <= status < 400:
        reason += " (redirects are not followed)"
    return Attempt(False, status, reason, took(), retryable=status >= 500 or status in (408, 429))


def _is_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return False
    except ValueError:
        return True
