"""Which webhook targets may be called: the SSRF defence.

A URL is checked twice. When a webhook is made (`check_url`): http(s) only, https in
production, no credentials in it, and no host that is refused by name or literal address.
At every delivery (`resolve_target`): the host is resolved and every address it resolves to
must be allowed; the request then goes to that very address (the caller pins it, see
delivery.py), so a DNS answer that changes between the check and the connection (rebinding)
cannot redirect it. Redirects are never followed.

Refused unless `allow_networks` holds them: loopback, private (RFC 1918, unique local),
link-local (which holds the cloud metadata address 169.254.169.254), carrier-grade NAT,
multicast, reserved and unspecified addresses: everything that is not globally routable.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Awaitable, Callable
from urllib.parse import urlsplit

from switchyard.errors import RequestError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Resolves a host name to its addresses (tests give a fake one; the default asks the system).
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Names that are internal whatever they resolve to.
_REFUSED_NAMES = ("localhost", "metadata.google.internal", "metadata")
_REFUSED_SUFFIXES = (".localhost", ".internal", ".local")


class TargetRefused(RequestError):
    """A webhook URL, or an address its host resolved to, is not allowed."""

    code = "webhook_url_refused"


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str          # as written (a name, or a literal address without brackets)
    port: int
    path: str          # path and query


@dataclass(frozen=True)
class UrlPolicy:
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    require_https: bool = False

    def allows(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in net for net in self.allow_networks):
            return True
        return address.is_global and not address.is_multicast

    def check_url(self, url: str, field: str = "url") -> Target:
        """The parsed target, or TargetRefused naming what is wrong."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as exc:
            raise TargetRefused(f"{field}: not a valid URL ({exc})", details={"field": field}) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TargetRefused(f"{field}: must be an http(s) URL with a host", details={"field": field})
        if self.require_https and parts.scheme != "https":
            raise TargetRefused(f"{field}: https is required in production (SWITCHYARD_WEBHOOK_ALLOW_HTTP)",
                                details={"field": field})
        if parts.username or parts.password:
            raise TargetRefused(f"{field}: credentials in the URL are not allowed (use the secret)",
                                details={"field": field})
        host = parts.hostname.lower().rstrip(".")
        literal = _literal(host)
        if literal is not None:
            if not self.allows(literal):
                raise TargetRefused(f"{field}: address {host} is not allowed (private, loopback, link-local "
                                    "or reserved; see SWITCHYARD_WEBHOOK_ALLOW_NETWORKS)",
                                    details={"field": field})
        elif not self.allow_networks and (host in _REFUSED_NAMES or host.endswith(_REFUSED_SUFFIXES)):
            raise TargetRefused(f"{field}: host {host} is internal", details={"field": field})
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path)

    async def resolve_target(self, target: Target, resolver: Resolver | None = None) -> str:
        """The address to connect to: every address the host resolves to must be allowed."""
        literal = _literal(target.host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = await (resolver or system_resolver)(target.host, target.port)
            except OSError as exc:
                raise TargetRefused(f"could not resolve {target.host}: {exc}") from None
        if not addresses:
            raise TargetRefused(f"{target.host} resolved to no address")
        for address in addresses:
            parsed = _literal(address)
            if parsed is None or not self.allows(parsed):
                raise TargetRefused(f"{target.host} resolved to {address}, which is not allowed")
        return addresses[0]


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen
