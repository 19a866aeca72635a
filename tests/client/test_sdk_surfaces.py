"""``Creatix`` and ``AsyncCreatix`` mirror each other: every resource and method of one is
on the other, with the same parameters, the async one awaitable. The logic is written once
(``_core.py``); this keeps the two thin typed surfaces from drifting apart."""

from __future__ import annotations

import inspect
from typing import Any

import httpx

from creatix.client import AsyncCreatix, Creatix

RESOURCES = ("images", "generations", "videos", "assets", "copy", "jobs")
ASYNC_NAMES = {"close": "aclose"}
"""httpx's names: ``Client.close``, ``AsyncClient.aclose``."""


def _public_methods(owner: Any) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(type(owner), inspect.isfunction)
        if not name.startswith("_")
    }


def _parameters(function: Any) -> list[tuple[str, Any, Any, Any]]:
    signature = inspect.signature(function)
    return [
        (p.name, p.kind, p.default, p.annotation)
        for p in signature.parameters.values()
        if p.name != "self"
    ]


def _returns(function: Any) -> str:
    return str(inspect.signature(function).return_annotation)


def test_the_sync_and_async_clients_have_the_same_surface() -> None:
    sync = Creatix("http://stub", "sk_live_x", http_client=httpx.Client())
    asynchronous = AsyncCreatix("http://stub", "sk_live_x", http_client=httpx.AsyncClient())
    pairs = [(sync, asynchronous)] + [
        (getattr(sync, name), getattr(asynchronous, name)) for name in RESOURCES
    ]
    for plain, awaited in pairs:
        methods, async_methods = _public_methods(plain), _public_methods(awaited)
        named = {ASYNC_NAMES.get(name, name) for name in methods}
        assert named == async_methods.keys(), type(plain).__name__
        for name, method in methods.items():
            twin = async_methods[ASYNC_NAMES.get(name, name)]
            where = f"{type(plain).__name__}.{name}"
            assert _parameters(method) == _parameters(twin), where
            assert _returns(method) == _returns(twin), where
            assert inspect.iscoroutinefunction(twin), where
            assert not inspect.iscoroutinefunction(method), where
    sync.close()
