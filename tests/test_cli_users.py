"""``creatix users``: real subprocesses (and the password prompt through typer's runner)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from creatix.cli import app
from creatix.config import Settings
from creatix.kit.db import Database
from creatix.people.service import People, SessionPolicy
from support import creatix_command

pytestmark = pytest.mark.slow

STRONG = "correct horse battery staple 42"
OTHER_STRONG = "violet otters juggle copper lanterns"


def _creatix(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        creatix_command(*args),
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, "CREATIX_DATA_DIR": str(data_dir)},
        check=False,
    )


def _json(data_dir: Path, *args: str, stdin: str = "") -> Any:
    result = _creatix(data_dir, *args, "--json", stdin=stdin)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _people(data_dir: Path) -> tuple[People, Database]:
    settings = Settings(data_dir=data_dir)
    db = Database(settings.resolved_database_url)
    return People(db, SessionPolicy.from_settings(settings)), db


def _sign_in(data_dir: Path, email: str, password: str) -> str:
    """Sign in through the service the API uses; the session's person id."""

    async def run() -> str:
        people, db = _people(data_dir)
        try:
            signed = await people.sign_in(email, password, address=None, user_agent=None)
            return signed.person.id
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_users_create_an_operator_and_an_owner_then_list(tmp_path: Path) -> None:
    operator = _json(
        tmp_path,
        "users",
        "create",
        "Root@Example.com",
        "--operator",
        "--password-stdin",
        stdin=STRONG + "\n",
    )
    assert operator["operator"] is True
    assert operator["status"] == "active"
    assert operator["id"].startswith("psn_")
    assert _sign_in(tmp_path, "root@example.com", STRONG) == operator["id"]

    account = _json(tmp_path, "accounts", "create", "acme")
    owner = _json(
        tmp_path,
        "users",
        "create",
        "owner@example.com",
        "--account",
        "acme",
        "--role",
        "owner",
        "--password-stdin",
        stdin=OTHER_STRONG + "\n",
    )
    assert owner["memberships"] == [
        {"account_id": account["id"], "account_name": "acme", "role": "owner"}
    ]

    everyone = _json(tmp_path, "users", "list")
    assert [p["email"] for p in everyone] == ["owner@example.com", "Root@Example.com"]
    assert [p["id"] for p in _json(tmp_path, "users", "list", "--account", "acme")] == [owner["id"]]
    human = _creatix(tmp_path, "users", "list")
    assert human.returncode == 0, human.stderr
    assert "Root@Example.com" in human.stdout
    assert "acme (owner)" in human.stdout

    # Refusals: exit 2 with a reason.
    taken = _creatix(
        tmp_path, "users", "create", "ROOT@example.com", "--password-stdin", stdin=STRONG + "\n"
    )
    assert taken.returncode == 2
    assert "already" in taken.stdout
    weak = _creatix(
        tmp_path,
        "users",
        "create",
        "weak@example.com",
        "--password-stdin",
        stdin="password1234\n",
    )
    assert weak.returncode == 2
    assert "too weak" in weak.stdout
    nowhere = _creatix(
        tmp_path,
        "users",
        "create",
        "x@example.com",
        "--account",
        "nope",
        "--password-stdin",
        stdin=STRONG + "\n",
    )
    assert nowhere.returncode == 2
    assert "no account named 'nope'" in nowhere.stdout
    orphan_role = _creatix(tmp_path, "users", "create", "y@example.com", "--role", "owner")
    assert orphan_role.returncode == 2
    assert [p["email"] for p in _json(tmp_path, "users", "list")] == [
        "owner@example.com",
        "Root@Example.com",
    ]


def test_users_reset_password_prints_a_one_time_token(tmp_path: Path) -> None:
    _json(tmp_path, "users", "create", "ada@example.com", "--password-stdin", stdin=STRONG)
    reset = _json(tmp_path, "users", "reset-password", "ADA@example.com")
    assert reset["token"]

    async def accept() -> None:
        people, db = _people(tmp_path)
        try:
            await people.accept_invitation(
                reset["token"], OTHER_STRONG, address=None, user_agent=None
            )
        finally:
            await db.dispose()

    asyncio.run(accept())
    assert _sign_in(tmp_path, "ada@example.com", OTHER_STRONG) == reset["person_id"]

    human = _creatix(tmp_path, "users", "reset-password", "ada@example.com")
    assert human.returncode == 0, human.stderr
    assert human.stdout.strip().splitlines()[-1].strip()  # the token, on a line of its own
    unknown = _creatix(tmp_path, "users", "reset-password", "nobody@example.com")
    assert unknown.returncode == 2
    assert "No person" in unknown.stdout


def test_users_disable(tmp_path: Path) -> None:
    _json(tmp_path, "users", "create", "ada@example.com", "--password-stdin", stdin=STRONG)
    disabled = _json(tmp_path, "users", "disable", "ada@example.com")
    assert disabled["status"] == "disabled"
    assert disabled["disabled_at"] is not None
    from creatix.kit.errors import Unauthorized

    with pytest.raises(Unauthorized):
        _sign_in(tmp_path, "ada@example.com", STRONG)


def test_users_create_prompts_twice_for_a_hidden_password(tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = str(tmp_path / "data")
    mismatch = runner.invoke(
        app,
        ["users", "create", "ada@example.com", "--json", "--data-dir", data_dir],
        input=f"{STRONG}\n{OTHER_STRONG}\n{STRONG}\n{STRONG}\n",
    )
    assert mismatch.exit_code == 0, mismatch.output
    assert STRONG not in mismatch.output  # hidden
    assert "Repeat for confirmation" in mismatch.output
    assert "do not match" in mismatch.output.lower()
    created = json.loads(mismatch.output.strip().splitlines()[-1])
    assert created["email"] == "ada@example.com"
    assert _sign_in(tmp_path / "data", "ada@example.com", STRONG) == created["id"]
