"""Downloading an image a client named by URL: inside the SSRF guard, a size cap and a deadline.

Every hop (the URL and each redirect) passes ``ssrf.check_url``, and the connection goes to
the address that check approved (the Host header and TLS server name stay the URL's), so a
DNS answer that changes between the check and the connection cannot lead to a private host.
The body is streamed and dropped the moment it passes the cap; the whole download, name
resolution included, has one deadline.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from creatix import __version__
from creatix.kit.errors import InvalidRequest
from creatix.uploads.errors import too_large
from creatix.webhooks.ssrf import CheckedUrl, UnsafeUrl, check_url, pinned_target

FETCH_TIMEOUT_SECONDS = 15.0
"""The whole download, every redirect included."""
MAX_REDIRECTS = 5
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str | None


def _failed(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: {message}", code="image_fetch_failed", param=param)


def _pinned_request(client: httpx.AsyncClient, checked: CheckedUrl) -> httpx.Request:
    """A GET that connects to the address ``check_url`` approved, not to a fresh lookup."""
    url, host, extensions = pinned_target(checked)
    headers = {
        "Accept": "image/png, image/jpeg, image/webp",
        "Accept-Encoding": "identity",
        "User-Agent": f"Creatix/{__version__} (image import)",
        **host,
    }
    return client.build_request("GET", url, headers=headers, extensions=extensions)


async def _checked_hop(current: str, first: str, *, param: str, allow_private: bool) -> CheckedUrl:
    """``current`` through the SSRF guard; a refused redirect says where it led."""
    try:
        return await check_url(current, param=param, allow_private=allow_private)
    except UnsafeUrl as exc:
        if current == first:
            raise
        raise UnsafeUrl(
            f"{param} redirected to {current!r}, which is refused: {exc.message}",
            param=param,
            code=exc.code,
        ) from exc


def _redirect_target(current: str, location: str, param: str) -> str:
    """Where a redirect from ``current`` leads; a Location no URL parser can read (an
    unbalanced bracket, say) ends the download as a 400. The target is checked next."""
    try:
        return urljoin(current, location)
    except ValueError as exc:
        message = f"the redirect from {current} goes to an invalid URL ({exc})."
        raise _failed(param, message) from exc


async def _read_capped(response: httpx.Response, param: str, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise too_large(param, max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise too_large(param, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


async def _fetch(url: str, *, allow_private: bool, param: str, max_bytes: int) -> Fetched:
    # trust_env=False: no proxy from the environment may carry the request elsewhere.
    timeout = httpx.Timeout(FETCH_TIMEOUT_SECONDS)
    async with httpx.AsyncClient(
        follow_redirects=False, trust_env=False, timeout=timeout
    ) as client:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            checked = await _checked_hop(current, url, param=param, allow_private=allow_private)
            try:
                response = await client.send(_pinned_request(client, checked), stream=True)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise _failed(param, f"could not download {current} ({exc}).") from exc
            except ValueError as exc:
                # httpx reads a redirect's Location even when not following it; an IDNA
                # error there is a ValueError of its own.
                raise _failed(param, f"the redirect from {current} is invalid ({exc}).") from exc
            try:
                if response.has_redirect_location:
                    current = _redirect_target(current, response.headers["location"], param)
                    continue
                if response.status_code != 200:
                    raise _failed(param, f"{checked.host} answered HTTP {response.status_code}.")
                data = await _read_capped(response, param, max_bytes)
                return Fetched(data, response.headers.get("content-type"))
            except httpx.HTTPError as exc:
                raise _failed(param, f"the download from {checked.host} failed ({exc}).") from exc
            finally:
                await response.aclose()
    raise _failed(param, f"more than {MAX_REDIRECTS} redirects.")


async def fetch_image(url: str, *, allow_private: bool, param: str, max_bytes: int) -> Fetched:
    """The body at ``url`` (at most ``max_bytes``), or an ``InvalidRequest`` naming ``param``:
    an unsafe URL or redirect, a failed or non-200 download, too large, too slow."""
    try:
        async with asyncio.timeout(FETCH_TIMEOUT_SECONDS):
            return await _fetch(url, allow_private=allow_private, param=param, max_bytes=max_bytes)
    except TimeoutError as exc:
        raise _failed(
            param, f"the download took longer than {FETCH_TIMEOUT_SECONDS:g} seconds."
        ) from exc
