"""The SSRF guard: the server fetches no user-given URL that resolves to a private address.

A URL a user gave (a webhook, an image to import) must be an http(s) URL that parses one way
only, and every address its host resolves to must be public: loopback, private (10/8,
172.16/12, 192.168/16, fc00::/7), link-local (169.254/16 — cloud metadata — and fe80::/10),
carrier-grade NAT, multicast, documentation, reserved and unspecified addresses are refused,
unless the operator allows private URLs (``CREATIX_ALLOW_PRIVATE_URLS=true``).

An IPv6 address that carries an IPv4 address (IPv4-mapped ``::ffff:0:0/96``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo ``2001::/32``) reaches that IPv4 host through
the socket layer, a translator or a tunnel, so it is judged by the IPv4 address it carries
(both of them, for Teredo: server and client). The deprecated IPv4-compatible ``::/96`` and
the local-use NAT64 prefix ``64:ff9b:1::/48`` are refused whatever they carry. Any other IPv6
address must be global unicast (``2000::/3``) outside the special-purpose blocks IANA marks
not globally reachable.

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

_V6 = ipaddress.IPv6Network
_NAT64 = _V6("64:ff9b::/96")
_IPV4_COMPATIBLE = _V6("::/96")
_GLOBAL_UNICAST = _V6("2000::/3")
_TEREDO = _V6("2001::/32")
_NOT_GLOBAL_V6 = (
    _V6("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215)
    _V6("2001::/23"),  # IETF protocol assignments (Teredo, decoded above, sits inside)
    _V6("2001:db8::/32"),  # documentation
    _V6("3fff::/20"),  # documentation (RFC 9637)
)
"""IANA special-purpose blocks inside ``2000::/3`` (and NAT64's local-use prefix) that are
not globally reachable; Python's ``is_global`` misses some of them in older versions."""


class UnsafeUrl(InvalidRequest):
    default_code = "unsafe_url"


@dataclass(frozen=True)
class CheckedUrl:
    url: str
    host: str
    port: int
    address: str
    """The resolved address that passed the check: connect to this one."""


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...] | None:
    """The IPv4 addresses an IPv6 address carries to a translator or tunnel: one for
    IPv4-mapped, IPv4-compatible, NAT64 and 6to4; Teredo's server and client; None when it
    carries none."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return (ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF),)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        server, client = address.teredo  # Python undoes the client's obfuscation (XOR)
        return (server, client)
    return None


def _public_v4(address: ipaddress.IPv4Address) -> bool:
    return address.is_global and not address.is_multicast


def _public_v6(address: ipaddress.IPv6Address) -> bool:
    return (
        address in _GLOBAL_UNICAST
        and not any(address in block for block in _NOT_GLOBAL_V6)
        and address.is_global
    )


def is_public(address: Address) -> bool:
    """Whether ``address`` (or the IPv4 address it carries) is a public unicast address."""
    if isinstance(address, ipaddress.IPv4Address):
        return _public_v4(address)
    if address in _IPV4_COMPATIBLE:
        return False  # deprecated (RFC 4291), routed nowhere; :: and ::1 are in it too
    if any(address in block for block in _NOT_GLOBAL_V6) and address not in _TEREDO:
        return False
    embedded = embedded_ipv4(address)
    if embedded is not None:
        return all(_public_v4(v4) for v4 in embedded)
    return _public_v6(address)


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _invalid(param: str, reason: str) -> UnsafeUrl:
    return UnsafeUrl(f"{param} is not a valid URL: {reason}.", param=param, code="invalid_url")


def _authority(url: str) -> str:
    """The raw authority (``user@host:port``) of ``url``, as written."""
    rest = url.split("//", 1)[1] if "//" in url else ""
    for end in "/?#":
        rest = rest.split(end, 1)[0]
    return rest


def parse_url(url: str, *, param: str) -> tuple[httpx.URL, int]:
    """``url`` as httpx (which makes the request) reads it, and its port; an ``UnsafeUrl``
    naming ``param`` for anything but an http(s) URL with a host and a port in 1..65535
    that every common parser reads the same way."""
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decoding an IDNA host can fail
        _ = urlsplit(url).port  # urllib's checks (brackets, port range) must pass too
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise _invalid(param, str(exc).rstrip(".")) from None
    if parsed.scheme not in ("http", "https") or not host:
        raise UnsafeUrl(f"{param} must be an http or https URL.", param=param)
    authority = _authority(url)
    if "\\" in authority or authority.count("@") > 1:
        # Browsers read a backslash as a slash and other clients split on another '@':
        # such a URL names a different host to different readers.
        raise _invalid(param, "its host part is ambiguous ('\\' or more than one '@')")
    port = parsed.port if parsed.port is not None else 443 if parsed.scheme == "https" else 80
    if not 0 < port < 65536:
        raise _invalid(param, f"port {port} is outside 1-65535")
    return parsed, port


def _refuse_private(text: str, param: str) -> None:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if is_public(address):
        return
    embedded = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    carried = f" (carrying {', '.join(map(str, embedded))})" if embedded else ""
    raise UnsafeUrl(
        f"{param} resolves to {text}{carried}, a private, loopback or link-local address; "
        "this server does not fetch such URLs.",
        param=param,
    )


async def check_url(url: str, *, param: str, allow_private: bool) -> CheckedUrl:
    """``url`` if it may be fetched, with the address to connect to; ``UnsafeUrl`` if not."""
    parsed, port = parse_url(url, param=param)
    host = parsed.host
    try:
        addresses = await _resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"{param}: cannot resolve {host}.", param=param) from exc
    if not addresses:
        raise UnsafeUrl(f"{param}: {host} has no address.", param=param)
    if not allow_private:
        for text in addresses:
            _refuse_private(text, param)
    return CheckedUrl(url=url, host=host, port=port, address=addresses[0])


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
