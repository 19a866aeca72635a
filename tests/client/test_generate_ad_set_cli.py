"""``creatix generate ad-set brief.yaml`` as a subprocess against the live server (preview
engines): the creatives land as ``out/<variant>/<placement>.png`` in their placements' pixel
sizes; the same file again is the same set (no second charge); a bad field is exit 2 naming
it, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from PIL import Image

from client_support import account_key, client_server
from support import LiveServer, creatix_command

__all__ = ["client_server"]  # the fixture, imported for this module

pytestmark = pytest.mark.slow


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        creatix_command("generate", "ad-set", *args),
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _setup(server: LiveServer) -> tuple[dict[str, str], str]:
    """A funded account's environment and a brand kit of its own."""
    _, secret, _ = account_key(server, credits=5000)
    answer = httpx.post(
        f"{server.url}/api/platform/brand-kits",
        json={"name": "Northwind", "defaultCta": "Shop now", "legalLine": "Terms apply."},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    env = {**os.environ, "CREATIX_BASE_URL": server.url, "CREATIX_API_KEY": secret}
    env.pop("CREATIX_API_ID", None)
    return env, answer.json()["id"]


def _brief(path: Path, kit_id: str, **changes: Any) -> Path:
    document: dict[str, Any] = {
        "brand_kit": kit_id,
        "brief": {"product": "cold brew coffee", "audience": "commuters", "offer": "20% off"},
        "placements": ["square_feed", "display_728x90", {"width": 600, "height": 500}],
        "variants": 2,
        "image_model": "creatix-flash",
        "copy_model": "gemini-2.5-flash",
        **changes,
    }
    path.write_text(yaml.safe_dump(document))
    return path


def _balance(server: LiveServer, env: dict[str, str]) -> int:
    answer = httpx.get(
        f"{server.url}/api/platform/credits",
        headers={"Authorization": f"Bearer {env['CREATIX_API_KEY']}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    balance: int = answer.json()["balance"]
    return balance


def test_a_brief_file_makes_every_creative_in_its_placements_size(
    client_server: LiveServer, tmp_path: Path
) -> None:
    env, kit_id = _setup(client_server)
    brief = _brief(tmp_path / "brief.yaml", kit_id)
    out = tmp_path / "out"
    done = _run(env, str(brief), "-o", str(out))
    assert done.returncode == 0, done.stderr
    expected = {
        "square_feed.png": (1080, 1080),
        "display_728x90.png": (728, 90),
        "custom_600x500.png": (600, 500),
    }
    for variant in ("1", "2"):
        folder = out / variant
        assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
        for name, size in expected.items():
            with Image.open(folder / name) as image:
                assert image.format == "PNG"
                assert image.size == size
    printed = done.stdout.split()
    assert sorted(printed) == sorted(str(out / v / n) for v in ("1", "2") for n in expected)
    assert "Traceback" not in done.stderr

    # The same file again follows the same set: the same id, nothing reserved again.
    before = _balance(client_server, env)
    assert before < 5000  # the first run was charged
    again = _run(env, str(brief), "-o", str(tmp_path / "again"), "--json")
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert document["status"] == "completed"
    assert len(document["creatives"]) == 6
    assert {c["variant"] for c in document["creatives"]} == {1, 2}
    assert all(c["copy"]["headline"] for c in document["creatives"])
    assert _balance(client_server, env) == before


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"placements": ["square_feed", "billboard"]}, "placements[1]"),
        ({"variants": "two"}, "variants"),
        ({"brief": {"audience": "commuters", "offer": "20% off"}}, "brief.product"),
        ({"colour": "red"}, "colour"),
        ({"brand_kit": "kit_not_mine"}, "brand_kit"),
        ({"image_model": "gemini-2.5-flash"}, "image_model"),
    ],
)
def test_a_bad_field_is_exit_2_naming_it(
    client_server: LiveServer, tmp_path: Path, changes: dict[str, Any], named: str
) -> None:
    env, kit_id = _setup(client_server)
    brief = _brief(tmp_path / "brief.yaml", kit_id, **changes)
    done = _run(env, str(brief), "-o", str(tmp_path / "out"))
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert named in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_file_and_a_refused_key_are_named(
    client_server: LiveServer, tmp_path: Path
) -> None:
    env, kit_id = _setup(client_server)
    missing = _run(env, str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert "BRIEF" in missing.stderr
    brief = _brief(tmp_path / "brief.yaml", kit_id)
    refused = _run({**env, "CREATIX_API_KEY": "sk-wrong"}, str(brief))
    assert refused.returncode == 2
    assert "--api-key" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_set_the_balance_cannot_cover_is_a_failure_exit_1(
    client_server: LiveServer, tmp_path: Path
) -> None:
    env, _ = _setup(client_server)
    _, poor, _ = account_key(client_server, credits=0)
    poor_kit = httpx.post(
        f"{client_server.url}/api/platform/brand-kits",
        json={"name": "Poor"},
        headers={"Authorization": f"Bearer {poor}"},
        timeout=30,
    ).json()["id"]
    brief = _brief(tmp_path / "brief.yaml", poor_kit)
    done = _run({**env, "CREATIX_API_KEY": poor}, str(brief), "-o", str(tmp_path / "out"))
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "HTTP 402" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
