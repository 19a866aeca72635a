"""``creatix serve`` and ``creatix worker`` refuse to start, naming the setting, when the C2PA
signing identity cannot be used (never silently unsigned output), and say at start when
outputs are signed with the development certificate."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from support import ServerProcess, creatix_command, free_port


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        creatix_command(*args, "--data-dir", str(tmp_path / "data")),
        env={**os.environ, "CREATIX_SECRET_KEY": "test-secret", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["worker"]])
def test_an_unreadable_certificate_stops_the_start_naming_the_setting(
    tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "signer.key").write_text("not a key", encoding="utf-8")
    done = _run(
        tmp_path,
        *command,
        CREATIX_C2PA_CERT=str(tmp_path / "missing.pem"),
        CREATIX_C2PA_KEY=str(tmp_path / "signer.key"),
    )
    assert done.returncode == 2, done.stdout
    assert "CREATIX_C2PA_CERT" in done.stdout
    assert "missing.pem" in done.stdout
    assert "Traceback" not in done.stdout


def test_a_certificate_without_its_key_names_the_missing_setting(tmp_path: Path) -> None:
    (tmp_path / "chain.pem").write_text("", encoding="utf-8")
    done = _run(
        tmp_path, "serve", "--port", str(free_port()), CREATIX_C2PA_CERT=str(tmp_path / "chain.pem")
    )
    assert done.returncode == 2, done.stdout
    assert "CREATIX_C2PA_KEY is not set" in done.stdout


def test_serve_says_outputs_are_signed_with_the_development_certificate(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        banner = server.log_path.read_text(encoding="utf-8")
    finally:
        server.stop()
    assert "DEVELOPMENT certificate" in banner
    assert str(tmp_path / "data" / "c2pa" / "ca.pem") in banner.replace("\n", "")
    assert (tmp_path / "data" / "c2pa" / "ca.pem").is_file()
