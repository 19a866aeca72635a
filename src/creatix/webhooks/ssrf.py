"""The SSRF guard: the server fetches no user-given URL that resolves to a private address.

A URL a user gave (a webhook, an image to import) must be http(s) and every address its host
resolves to must be public: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
link-local (169.254/16 — cloud metadata — and fe80::/10), carrier-grade NAT, multicast,
reserved and unspecified addresses are refused, unless the operator allows private URLs
(``CREATIX_ALLOW_PRIVATE_URLS=true``).

Every fetch of a checked URL goes through ``pinned_target``: it connects to the address the
check approved, not to a second resolution of the name, so a DNS answer that changes in
between (rebinding) cannot slip past the guard.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from creatix.kit.errors import InvalidRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(InvalidRequest):
    default_code = "unsafe_url"


@dataclass(frozen=True)
class CheckedUrl:
    url: str
    host: str
    port: int
    address: str
    """The resolved address that passed the check: connect to this one."""


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_url(url: str, *, param: str, allow_private: bool) -> CheckedUrl:
    """``url`` if it may be fetched, with the address to connect to; ``UnsafeUrl`` if not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl(f"{param} must be an http or https URL.", param=param)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await _resolve(parts.hostname, port)
    except OSError as exc:
        raise UnsafeUrl(f"{param}: cannot resolve {parts.hostname}.", param=param) from exc
    if not addresses:
        raise UnsafeUrl(f"{param}: {parts.hostname} has no address.", param=param)
    if not allow_private:
        for text in addresses:
            if not is_public(ipaddress.ip_address(text.split("%", 1)[0])):
                raise UnsafeUrl(
                    f"{param} resolves to {text}, a private, loopback or link-local address; "
                    "this server does not fetch such URLs.",
                    param=param,
                )
    return CheckedUrl(url=url, host=parts.hostname, port=port, address=addresses[0])


def pinned_target(checked: CheckedUrl) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The URL rewritten to connect to the checked address, with the original's Host header
    and, for https, its TLS server name: what the request should be sent to."""
    url = httpx.URL(checked.url)
    if "%" in checked.address:  # a zoned link-local IPv6 address is only reachable by name
        return url, {}, {}
    extensions: dict[str, Any] = {}
    if url.scheme == "https":
        extensions["sni_hostname"] = url.host
    return url.copy_with(host=checked.address), {"Host": url.netloc.decode("ascii")}, extensions
