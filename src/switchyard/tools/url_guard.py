"""Outbound HTTP for tools without SSRF: `safe_request`.

A tool's URL comes from the model, and the model reads untrusted text, so every request is
checked where it will really go:

- only http and https; `localhost` and `*.localhost` are refused by name;
- the host is resolved once and every address it resolves to must be global: loopback,
  private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, the cloud metadata
  address 169.254.169.254, fe80::/10), carrier-grade NAT, multicast, reserved and unspecified
  addresses are refused, IPv4-mapped IPv6 included;
- the connection goes to the address that was checked (the URL's host is kept in the Host
  header and as TLS SNI), so DNS cannot answer differently between check and connect;
- redirects are followed by hand, each hop checked again, at most `max_redirects`;
- the response body is read up to `max_bytes`, the whole exchange bounded by `timeout`;
- environment proxies are ignored (a proxy would connect somewhere unchecked).

`allowed_hosts` (`name` or `name:port`) lifts the address check for hosts a deployment
trusts; it is an explicit option, never a default.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from switchyard.errors import ToolError


class UnsafeTarget(ToolError):
    """A URL the tool may not reach; the message names the rule."""


REDIRECTS = (301, 302, 303, 307, 308)


def _refused_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def _allowed(host: str, port: int, allowed_hosts: list[str]) -> bool:
    return host in allowed_hosts or f"{host}:{port}" in allowed_hosts


async def check_url(url: str, allowed_hosts: list[str]) -> tuple[httpx.URL, str]:
    """The URL to connect to (host replaced by the checked address) and the original host."""
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise UnsafeTarget(f"invalid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget(f"URL scheme '{parts.scheme}' is not allowed (http and https only)")
    host = parts.host.rstrip(".").lower()
    if not host:
        raise UnsafeTarget("the URL has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    trusted = _allowed(host, port, allowed_hosts)
    if not trusted and (host == "localhost" or host.endswith(".localhost")):
        raise UnsafeTarget(f"request to '{host}' blocked: a loopback host name")
    addresses = await _addresses(host, port)
    if not addresses:
        raise ToolError(f"cannot resolve '{host}'")
    if not trusted:
        for address in addresses:
            if _refused_address(address):
                raise UnsafeTarget(f"request to '{host}' blocked: it resolves to {address}, a loopback, "
                                   "private, link-local or reserved address (allow it with allowedHosts)")
    return parts.copy_with(host=str(addresses[0])), host


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]   # a literal address: nothing to resolve
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ToolError(f"cannot resolve '{host}': {exc.strerror or exc}") from None
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


@dataclass
class FetchedResponse:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    url: str


async def safe_request(method: str, url: str, *, headers: dict[str, str] | None = None,
                       content: bytes | None = None, timeout: float = 30.0, max_bytes: int = 5 * 1024 * 1024,
                       max_redirects: int = 5, allowed_hosts: list[str] | None = None) -> FetchedResponse:
    allowed = allowed_hosts or []
    try:
        return await asyncio.wait_for(_follow(method, url, dict(headers or {}), content, timeout,
                                              max_bytes, max_redirects, allowed), timeout)
    except asyncio.TimeoutError:
        raise ToolError(f"HTTP request timed out after {int(timeout * 1000)} ms") from None


async def _follow(method: str, url: str, headers: dict[str, str], content: bytes | None, timeout: float,
                  max_bytes: int, max_redirects: int, allowed: list[str]) -> FetchedResponse:
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=timeout) as client:
        for _hop in range(max_redirects + 1):
            target, host = await check_url(url, allowed)
            request_headers = {**headers, "Host": _host_header(url)}
            extensions: dict[str, Any] = {"sni_hostname": host} if target.scheme == "https" else {}
            request = client.build_request(method, target, headers=request_headers, content=content,
                                           extensions=extensions)
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise ToolError(f"HTTP request to '{host}' failed: {type(exc).__name__}: {exc}") from None
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    next_url = urljoin(url, location)
                    if urlsplit(next_url).hostname != urlsplit(url).hostname:
                        headers = {k: v for k, v in headers.items()
                                   if k.lower() not in ("authorization", "cookie")}
                    if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                        method, content = "GET", None
                    url = next_url
                    continue
                body = await _read_capped(response, max_bytes)
                return FetchedResponse(response.status_code, response.reason_phrase,
                                       dict(response.headers), body, url)
            finally:
                await response.aclose()
    raise ToolError(f"too many redirects (more than {max_redirects})")


def _host_header(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1]


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ToolError(f"response too large: {declared} bytes, over the {max_bytes} byte limit")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise ToolError(f"response too large: over the {max_bytes} byte limit")
    return bytes(body)


def strip_credentials(url: str) -> str:
    """The URL without user:password (for messages)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
