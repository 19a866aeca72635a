"""``creatix accounts`` and ``creatix credits``, run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support import creatix_command

pytestmark = pytest.mark.slow


def _creatix(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        creatix_command(*args),
        capture_output=True,
        text=True,
        env={**os.environ, "CREATIX_DATA_DIR": str(data_dir)},
        check=False,
    )


def _json(data_dir: Path, *args: str) -> Any:
    result = _creatix(data_dir, *args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_accounts_create_list_and_refuse_a_taken_name(tmp_path: Path) -> None:
    acme = _json(tmp_path, "accounts", "create", "acme")
    assert acme["name"] == "acme"
    assert acme["plan"] == "free"
    assert acme["unlimited"] is False
    assert acme["id"].startswith("acct_")

    vip = _json(tmp_path, "accounts", "create", "vip", "--plan", "paid", "--unlimited")
    assert (vip["plan"], vip["unlimited"]) == ("paid", True)

    taken = _creatix(tmp_path, "accounts", "create", "acme", "--plan", "paid")
    assert taken.returncode == 2
    assert "already exists" in taken.stdout

    listed = _json(tmp_path, "accounts", "list")
    assert listed == [acme, vip]

    human = _creatix(tmp_path, "accounts", "list")
    assert human.returncode == 0, human.stderr
    for account in (acme, vip):
        assert account["name"] in human.stdout
        assert account["id"] in human.stdout


def test_accounts_set_plan_and_unlimited(tmp_path: Path) -> None:
    created = _json(tmp_path, "accounts", "create", "acme")

    moved = _json(tmp_path, "accounts", "set-plan", "acme", "paid")
    assert moved == {**created, "plan": "paid"}

    unknown_plan = _creatix(tmp_path, "accounts", "set-plan", "acme", "gold")
    assert unknown_plan.returncode == 2
    assert "unknown plan 'gold'" in unknown_plan.stdout
    unknown_account = _creatix(tmp_path, "accounts", "set-plan", "nobody", "paid")
    assert unknown_account.returncode == 2
    assert "no account named 'nobody'" in unknown_account.stdout

    assert _json(tmp_path, "accounts", "set-unlimited", "acme")["unlimited"] is True
    cleared = _json(tmp_path, "accounts", "set-unlimited", "acme", "--off")
    assert cleared == {**created, "plan": "paid", "unlimited": False}
    assert _json(tmp_path, "accounts", "list") == [cleared]


def test_accounts_set_policy_overrides_the_plans_and_plan_undoes_it(tmp_path: Path) -> None:
    created = _json(tmp_path, "accounts", "create", "acme")
    assert created["content_policy"] is None

    strict = _json(tmp_path, "accounts", "set-policy", "acme", "strict")
    assert strict == {**created, "content_policy": "strict"}
    assert _json(tmp_path, "accounts", "list") == [strict]
    said = _creatix(tmp_path, "accounts", "set-policy", "acme", "off")
    assert said.returncode == 0, said.stdout + said.stderr
    assert "content policy off" in said.stdout

    unknown = _creatix(tmp_path, "accounts", "set-policy", "acme", "lenient")
    assert unknown.returncode == 2
    assert "unknown content policy 'lenient'" in unknown.stdout
    assert "standard" in unknown.stdout
    nobody = _creatix(tmp_path, "accounts", "set-policy", "nobody", "strict")
    assert nobody.returncode == 2

    assert _json(tmp_path, "accounts", "set-policy", "acme", "plan") == created


def test_credits_grant_and_show(tmp_path: Path) -> None:
    _json(tmp_path, "accounts", "create", "acme")
    first = _json(tmp_path, "credits", "grant", "acme", "100", "--note", "welcome")
    assert first["balance"] == 100

    second = _creatix(tmp_path, "credits", "grant", "acme", "25", "--note", "top-up")
    assert second.returncode == 0, second.stderr
    assert "balance now 125" in second.stdout

    statement = _json(tmp_path, "credits", "show", "acme")
    assert statement["account"] == "acme"
    assert statement["unlimited"] is False
    assert statement["balance"] == statement["lifetime_purchased"] == 125
    assert statement["lifetime_used"] == 0
    entries = statement["entries"]
    assert [(e["kind"], e["amount"], e["note"]) for e in entries] == [
        ("grant", 25, "top-up"),
        ("grant", 100, "welcome"),
    ]

    human = _creatix(tmp_path, "credits", "show", "acme", "--limit", "1")
    assert human.returncode == 0, human.stderr
    assert "125" in human.stdout
    assert "top-up" in human.stdout
    assert "welcome" not in human.stdout

    unknown = _creatix(tmp_path, "credits", "grant", "ghost", "5")
    assert unknown.returncode == 2
    assert "no account named 'ghost'" in unknown.stdout
    zero = _creatix(tmp_path, "credits", "grant", "acme", "0")
    assert zero.returncode != 0
    assert _json(tmp_path, "credits", "show", "acme")["balance"] == 125
