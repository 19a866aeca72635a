"""Rate limits counted in Redis are shared by every API node. Skipped without Redis."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest
import yaml

from creatix.accounts import service as accounts
from creatix.catalog.loader import load_catalog
from support import LiveServer, make_settings

REDIS = ("127.0.0.1", 6379)


def _redis_running() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_running(), reason="no Redis on 127.0.0.1:6379")


def test_two_api_nodes_share_one_keys_limit(tmp_path: Path) -> None:
    catalog = load_catalog().model_dump(mode="json")
    for plan in catalog["plans"]:
        plan["requests_per_minute"] = 4
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    # One database for both nodes (as a cluster has); a fresh Redis database index is not
    # needed: the limiter's keys name the API key, which is new.
    shared = {
        "catalog": tmp_path / "catalog.yaml",
        "redis_url": f"redis://{REDIS[0]}:{REDIS[1]}/0",
    }
    first = LiveServer(make_settings(tmp_path / "data", **shared)).start()
    second = LiveServer(
        make_settings(
            tmp_path / "data", database_url=first.settings.resolved_database_url, **shared
        )
    ).start()
    try:
        assert first.runtime is not None
        name = f"acct-{uuid.uuid4().hex[:8]}"
        first.call(accounts.ensure_account(first.runtime.db, name, "paid", "free"))
        secret = first.call(accounts.create_key(first.runtime.db, name)).secret
        statuses = []
        for node in (first, second, first, second, first, second):
            with node.client(secret) as client:
                statuses.append(client.get("/v1/models").status_code)
        assert statuses == [200, 200, 200, 200, 429, 429]
        assert first.client().get("/readyz").json()["checks"]["redis"] == "ok"
    finally:
        second.stop()
        first.stop()
