"""The CLI contract scripts rely on, run as real subprocesses."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url
from typer.main import get_command
from typer.testing import CliRunner

from creatix.cli import app
from creatix.cli.serve import for_listener
from creatix.config import Settings
from support import ServerProcess, creatix_command, drop_postgres_database, postgres_database

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

    revoked_now = _creatix("keys", "revoke", key["key_id"], "--json", env=env)
    assert revoked_now.returncode == 0, revoked_now.stderr
    assert json.loads(revoked_now.stdout) == {"key_id": key["key_id"], "revoked": True}
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
        result = _creatix("db", "upgrade", "--database-url", url, "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"database": url, "up_to_date": True}
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


def _commands() -> list[tuple[str, ...]]:
    """Every command's path (``("keys", "create")``), from the assembled Typer app."""
    found: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if children is None:
            found.append(path)
            return
        for name, child in children.items():
            walk(child, (*path, name))

    walk(get_command(app), ())
    return found


def _command(path: tuple[str, ...]) -> Any:
    command: Any = get_command(app)
    for name in path:
        command = command.commands[name]
    return command


SERVERS = {("serve",), ("worker",)}
"""The long-running commands: they print a banner and logs, not one JSON document."""


def test_every_command_takes_json_and_a_data_dir() -> None:
    commands = _commands()
    assert {("keys", "revoke"), ("db", "upgrade"), ("models", "list")} <= set(commands)
    for path in commands:
        options = {name for param in _command(path).params for name in param.opts}
        if path[0] == "generate":  # a client of a server (the SDK): its URL, not a data dir
            assert "--base-url" in options, path
            assert "--json" in options, path
            continue
        assert "--data-dir" in options, path
        if path not in SERVERS:
            assert "--json" in options, path


def test_help_shows_defaults_and_has_no_stray_spaces() -> None:
    runner = CliRunner()
    for path in [(), *_commands()]:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}, color=False)
        assert result.exit_code == 0, (path, result.output)
        text = " ".join(result.output.split())
        for stray in (" .", " ,", " ;", " )", "( "):
            assert stray not in text, (path, stray, text)
        for param in _command(path).params:
            if getattr(param, "is_flag", True) or param.required or param.name == "help":
                continue
            shown = param.default is not None or isinstance(param.show_default, str)
            assert param.show_default, (path, param.name)
            assert shown, (path, param.name)
    serve = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}, color=False).output
    assert "[default: (127.0.0.1)]" in serve
    assert "[default: (creatix-data)]" in serve


def test_a_data_dir_whose_parent_is_missing_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "data"
    flag = _creatix("keys", "create", "--account", "acme", "--data-dir", str(missing))
    assert flag.returncode == 2
    assert flag.stdout.splitlines() == [
        f"error: --data-dir {missing}: its parent directory {missing.parent} does not exist"
    ]
    env = _creatix("accounts", "list", env={"CREATIX_DATA_DIR": str(missing)})
    assert env.returncode == 2
    assert env.stdout.startswith(f"error: CREATIX_DATA_DIR {missing}: its parent directory")
    assert not missing.parent.exists()


def test_changes_say_which_data_dir_and_database_they_were_made_in(tmp_path: Path) -> None:
    env = {"CREATIX_DATA_DIR": str(tmp_path)}
    where = f"data dir {tmp_path}, database sqlite:///{tmp_path / 'creatix.db'}"
    key = _creatix("keys", "create", "--account", "acme", "--plan", "paid", "--json", env=env)
    granted = _creatix("credits", "grant", "acme", "100", "--json", env=env)
    created = _creatix("accounts", "create", "other", env=env)
    for result in (key, granted, created):
        assert result.returncode == 0, result.stderr
        assert where in result.stderr.splitlines()
    assert json.loads(key.stdout)["plan"] == "paid"
    assert json.loads(granted.stdout)["balance"] == 100
    listed = _creatix("keys", "list", "--json", env=env)
    assert where not in listed.stderr, "only changes say where they were made"


def test_a_database_password_is_never_printed(tmp_path: Path) -> None:
    url = postgres_database()
    if url is None:
        pytest.skip("no PostgreSQL reachable")
    parsed = make_url(url)
    if parsed.password is None:
        parsed = parsed.set(password="hunter2")  # trust auth ignores it
    secret_url = parsed.render_as_string(hide_password=False)
    password = str(parsed.password)
    try:
        env = {"CREATIX_DATA_DIR": str(tmp_path), "CREATIX_DATABASE_URL": secret_url}
        created = _creatix("accounts", "create", "acme", env=env)
        upgraded = _creatix("db", "upgrade", env=env)
    finally:
        drop_postgres_database(url)
    for result in (created, upgraded):
        assert result.returncode == 0, result.stdout + result.stderr
        assert password not in result.stdout + result.stderr
    assert "***" in created.stderr
    assert "***" in upgraded.stdout


@pytest.mark.parametrize(
    ("host", "configured", "public_url", "allowed"),
    [
        ("127.0.0.1", None, None, True),
        ("localhost", None, None, True),
        ("::1", None, None, True),
        ("127.0.0.1", "false", None, False),
        ("127.0.0.1", None, "https://api.example.com", False),
        ("0.0.0.0", None, None, False),
        ("192.168.1.20", None, None, False),
        ("my-laptop", None, None, False),
        ("0.0.0.0", "true", None, True),
    ],
)
def test_serve_allows_private_urls_only_on_loopback_unless_configured(
    monkeypatch: pytest.MonkeyPatch,
    host: str,
    configured: str | None,
    public_url: str | None,
    allowed: bool,
) -> None:
    monkeypatch.delenv("CREATIX_PUBLIC_URL", raising=False)
    monkeypatch.delenv("CREATIX_ALLOW_PRIVATE_URLS", raising=False)
    if configured is not None:
        monkeypatch.setenv("CREATIX_ALLOW_PRIVATE_URLS", configured)
    settings = Settings(host=host, public_url=public_url)
    assert for_listener(settings).allow_private_urls is allowed


def test_serve_on_loopback_animates_its_own_file_url(tmp_path: Path) -> None:
    """The quick start's image-to-video flow on a real ``creatix serve`` on 127.0.0.1: an
    image is generated, then the asset generator fetches it back from the server's own
    (loopback, so private) file URL and animates it."""
    env = {"CREATIX_DATA_DIR": str(tmp_path / "data")}
    made = _creatix("keys", "create", "--account", "acme", "--plan", "paid", "--json", env=env)
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert _creatix("credits", "grant", "acme", "1000", env=env).returncode == 0
    server = ServerProcess(tmp_path / "data").start()
    headers = {"X-API-ID": key["key_id"], "X-API-KEY": key["secret"]}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            image = client.post(
                "/v1/images/generations",
                json={"prompt": "a red sneaker on a white table", "size": "512x512"},
                headers={"Authorization": f"Bearer {key['secret']}"},
            )
            assert image.status_code == 200, image.text
            image_url = image.json()["data"][0]["url"]
            assert image_url.startswith(server.url)
            task = client.post(
                "/api/asset_generator/",
                json={
                    "model_name": "kling-v2.5-turbo",
                    "input_params": {"prompt": "a slow push-in", "image_url": image_url},
                },
            )
            assert task.status_code == 200, task.text
            done = _task_done(client, task.json()["id"])
    finally:
        server.stop()
    assert done["status"] == "done", done
    assert "private URLs allowed" in server.log_path.read_text()


def _task_done(client: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        task: dict[str, Any] = client.get(f"/api/asset_generator/{task_id}/").json()
        if task["status"] not in ("pending", "running"):
            return task
        assert time.monotonic() < deadline, f"task still {task['status']} after 120 s"
        time.sleep(0.2)


CATALOGS = Path(__file__).resolve().parents[1] / "catalogs"


@pytest.mark.parametrize("catalog", [None, CATALOGS / "providers.yaml"])
def test_models_list_fits_an_80_column_terminal(tmp_path: Path, catalog: Path | None) -> None:
    data_dir = tmp_path / ("a-rather-long-data-directory-name-" * 2)
    flags = ["--catalog", str(catalog)] if catalog else []
    env = {"COLUMNS": "80", "CREATIX_DATA_DIR": str(data_dir)}
    for name in ("FAL_KEY", "REPLICATE_API_TOKEN", "GEMINI_API_KEY", "OPENAI_API_KEY"):
        env[f"CREATIX_{name}"] = ""  # unavailable models: their reasons are the longest cells
    result = _creatix("models", "list", *flags, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    folded = "".join(line.strip() for line in lines)
    assert str(data_dir / "models") in folded.replace("model cache", "")
    assert "creatix-flash" in result.stdout
