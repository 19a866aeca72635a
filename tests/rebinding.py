"""DNS rebinding, staged in-process, for tests of the SSRF guard's pinning.

``RebindingName`` makes one host name answer ``first`` to its first lookup and ``then`` to
every later one, wherever the server looks it up: the guard's resolver (``ssrf._resolve``)
and httpcore's connection by name (``AnyIOBackend.connect_tcp``, which otherwise resolves on
the event loop, uvloop's included). The first answer is ``STAND_IN_PUBLIC``, a loopback
address the guard is told is public (``treat_as_public``), so a test can listen on it; the
later answer is 127.0.0.1, where a second server listens on the same port. A fetch that
connects to the address the guard approved reaches the first server and never looks the
name up again; one that connects to the URL's name looks it up again and reaches the second.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import httpcore
import pytest

from creatix.webhooks import ssrf

STAND_IN_PUBLIC = "127.0.0.2"
"""Stands in for a public address: reachable here (Linux routes all of 127/8 to the loopback
interface), and called public by ``treat_as_public``."""
REBOUND = "127.0.0.1"
NAME = "rebinding.example"


class RebindingName:
    def __init__(self, name: str = NAME, first: str = STAND_IN_PUBLIC, then: str = REBOUND):
        self.name = name
        self.first = first
        self.then = then
        self.answers: list[str] = []
        """The address given at each lookup of the name, in order."""
        self.connected_to: list[str] = []
        """The host of every connection httpcore opened, name or address, in order."""

    def _answer(self) -> str:
        address = self.then if self.answers else self.first
        self.answers.append(address)
        return address

    def install(self, monkeypatch: pytest.MonkeyPatch) -> RebindingName:
        resolve = ssrf._resolve
        connect = httpcore.AnyIOBackend.connect_tcp

        async def guard_resolves(host: str, port: int) -> list[str]:
            return [self._answer()] if host == self.name else await resolve(host, port)

        async def connect_by_name(
            backend: httpcore.AnyIOBackend, host: str, port: int, *args: Any, **kwargs: Any
        ) -> httpcore.AsyncNetworkStream:
            self.connected_to.append(host)
            address = self._answer() if host == self.name else host
            return await connect(backend, address, port, *args, **kwargs)

        monkeypatch.setattr(ssrf, "_resolve", guard_resolves)
        monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", connect_by_name)
        return self


def treat_as_public(monkeypatch: pytest.MonkeyPatch, address: str = STAND_IN_PUBLIC) -> None:
    """Make the SSRF guard take ``address`` for a public one (and nothing else)."""
    real = ssrf.is_public
    stand_in = ipaddress.ip_address(address)
    monkeypatch.setattr(ssrf, "is_public", lambda a: a == stand_in or real(a))


class Listener(Protocol):
    port: int

    def stop(self) -> None: ...


L = TypeVar("L", bound=Listener)


def on_one_port(listen: Callable[[str, int], L]) -> tuple[L, L]:
    """Two listeners on one port: on ``STAND_IN_PUBLIC`` and on ``REBOUND``; the test is
    skipped where ``STAND_IN_PUBLIC`` is not a local address (not Linux)."""
    for _ in range(20):
        try:
            pinned = listen(STAND_IN_PUBLIC, 0)
        except OSError as exc:
            pytest.skip(f"{STAND_IN_PUBLIC} is not a local address here ({exc})")
        try:
            return pinned, listen(REBOUND, pinned.port)
        except OSError:
            pinned.stop()  # the port is taken on 127.0.0.1: try another
    raise RuntimeError("no port free on both loopback addresses")
