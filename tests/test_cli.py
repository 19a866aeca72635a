"""The CLI contract scripts rely on, run as real subprocesses."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest

from support import ServerProcess, creatix_command

pytestmark = pytest.mark.slow


def _creatix(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        creatix_command(*args),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_keys_create_list_revoke_with_secrets_stored_hashed(tmp_path: Path) -> None:
    env = {"CREATIX_DATA_DIR": str(tmp_path)}
    created = _creatix("keys", "create", "--account", "acme", "--plan", "free", "--json", env=env)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert key["account"] == "acme"
    assert key["plan"] == "free"
    assert key["secret"].startswith("sk_live_")
    assert key["key_id"].startswith("key_")

    with sqlite3.connect(tmp_path / "creatix.db") as db:
        [(stored,)] = db.execute("SELECT secret_hash FROM api_keys").fetchall()
    assert stored == hashlib.sha256(key["secret"].encode()).hexdigest()
    assert key["secret"].encode() not in (tmp_path / "creatix.db").read_bytes()

    listed = json.loads(_creatix("keys", "list", "--json", env=env).stdout)
    assert [k["key_id"] for k in listed] == [key["key_id"]]
    assert "secret" not in listed[0]
    assert listed[0]["revoked_at"] is None

    human = _creatix("keys", "list", env=env)
    assert key["key_id"] in human.stdout
    assert key["secret"] not in human.stdout

    assert _creatix("keys", "revoke", key["key_id"], env=env).returncode == 0
    [revoked] = json.loads(_creatix("keys", "list", "--json", env=env).stdout)
    assert revoked["revoked_at"] is not None
    again = _creatix("keys", "revoke", key["key_id"], env=env)
    assert again.returncode == 2


def test_keys_create_refuses_an_unknown_plan(tmp_path: Path) -> None:
    result = _creatix(
        "keys", "create", "--account", "a", "--plan", "gold", "--data-dir", str(tmp_path)
    )
    assert result.returncode == 2
    assert "unknown plan 'gold'" in result.stdout


def test_human_output_shows_the_secret_once(tmp_path: Path) -> None:
    result = _creatix("keys", "create", "--account", "acme", "--data-dir", str(tmp_path))
    assert result.returncode == 0
    assert "sk_live_" in result.stdout
    assert "not shown again" in result.stdout


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    for _ in range(2):
        result = _creatix("db", "upgrade", "--database-url", url)
        assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "ops.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"accounts", "api_keys", "jobs", "assets", "quota_usage"} <= tables


def test_serve_prints_where_it_listens_and_which_engine_serves_each_model(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()
    banner = server.log_path.read_text()
    assert f"listening on http://127.0.0.1:{server.port}" in banner
    assert str((tmp_path / "data").resolve()) in banner
    assert "creatix-flash" in banner
    assert "preview" in banner
    assert "creatix keys create" in banner
    assert (tmp_path / "data" / "creatix.db").exists()
