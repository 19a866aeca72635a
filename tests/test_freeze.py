"""A job that freezes its server is retried at most ``max_attempts`` times, then fails for
good (``worker_lost``), refunded, and the restarted server stays up.

Issue 13: a request whose job froze the process (a regular expression holding the GIL) was
requeued after the crash and froze the restarted server again. Here a real ``creatix serve``
runs a test-only engine that freezes it the same way (``freezing_server.py``); each time the
job's attempt has frozen the server, it is killed and started again, as a supervisor would.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from support import ServerProcess, creatix_command, free_port

pytestmark = pytest.mark.slow
MAX_ATTEMPTS = 3
CREDITS = 10_000
MODEL = "frozen-copy"
LAUNCHER = Path(__file__).with_name("freezing_server.py")
ENV = {
    "CREATIX_LEASE_SECONDS": "1",
    "CREATIX_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "CREATIX_WORKER_CONCURRENCY": "1",
}


def _catalog(path: Path) -> Path:
    catalog = {
        "extends": "shipped",
        "engines": {"freezer": {"type": "freezing"}},
        "models": [
            {
                "id": MODEL,
                "kind": "text",
                "engine": "freezer",
                "display_name": "Frozen copy",
                "credits_per_1k_input_tokens": 1,
                "credits_per_1k_output_tokens": 3,
                "max_output_tokens": 1000,
            }
        ],
    }
    path.write_text(yaml.safe_dump(catalog))
    return path


class FreezingServer(ServerProcess):
    """``creatix serve`` with the freezing engine; ``launch`` does not wait for health (a
    restart may freeze before it answers)."""

    def launch(self) -> FreezingServer:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, str(LAUNCHER), "serve", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir), *self.args]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=log)
        return self


def _job(db: Path) -> tuple[str, int, str | None]:
    with sqlite3.connect(db) as connection:
        [(status, attempts, error)] = connection.execute(
            "SELECT status, attempts, error_code FROM jobs"
        ).fetchall()
    return status, attempts, error


def _answers(url: str, timeout: float = 1) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=timeout).status_code == 200
    except httpx.TransportError:
        return False


def _wait_for(what: str, condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def test_a_job_that_freezes_its_server_fails_for_good_after_max_attempts(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    catalog = _catalog(tmp_path / "catalog.yaml")
    created = subprocess.run(
        creatix_command(
            "keys",
            "create",
            "--account",
            "frozen",
            "--plan",
            "paid",
            "--json",
            "--data-dir",
            str(data_dir),
        ),
        check=True,
        capture_output=True,
        text=True,
    )
    key = json.loads(created.stdout)
    subprocess.run(
        creatix_command("credits", "grant", "frozen", str(CREDITS), "--data-dir", str(data_dir)),
        check=True,
        capture_output=True,
    )
    db = data_dir / "creatix.db"
    headers = {"X-API-ID": key["key_id"], "X-API-KEY": key["secret"]}
    body = {"model_name": MODEL, "messages": [{"role": "user", "content": "Freeze, please."}]}

    servers: list[FreezingServer] = []

    def start() -> FreezingServer:
        servers.append(FreezingServer(data_dir, "--catalog", str(catalog), env=ENV).launch())
        return servers[-1]

    try:
        server = start()
        _wait_for("the first server to answer", lambda: _answers(server.url))
        with contextlib.suppress(httpx.TransportError):  # it may freeze before its 201 is sent
            httpx.post(f"{server.url}/api/text_generator/", json=body, headers=headers, timeout=5)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            _wait_for(f"attempt {attempt} to run", lambda n=attempt: _job(db)[:2] == ("running", n))
            frozen = server.url
            _wait_for("the server to freeze", lambda url=frozen: not _answers(url), seconds=10)
            server.kill()
            server = start()

        _wait_for("the job to fail for good", lambda: _job(db)[0] == "failed")
        status, attempts, error = _job(db)
        assert (status, attempts, error) == ("failed", MAX_ATTEMPTS, "worker_lost")
        # The job may fail for good (the restarted server's requeue) before that server
        # answers at all: wait for it, then it stays up, nothing running the job again. A
        # frozen server never answers, so 5 s only spares a slow answer on a loaded machine.
        _wait_for("the restarted server to answer", lambda: _answers(server.url))
        for _ in range(10):
            assert _answers(server.url, timeout=5)
            time.sleep(0.2)
        assert _job(db) == (status, attempts, error)
        task = httpx.get(f"{server.url}/api/text_generator/", headers=headers, timeout=5).json()
        [result] = task["results"]
        assert result["status"] == "failed"
        assert result["credits_used"] == 0
        assert f"stopped responding {MAX_ATTEMPTS} times" in result["failed_reason"]
        with sqlite3.connect(db) as connection:
            kinds = sorted(k for (k,) in connection.execute("SELECT kind FROM ledger_entries"))
            [(balance,)] = connection.execute("SELECT balance FROM credit_balances").fetchall()
        assert kinds == ["grant", "refund", "reserve"], "settled once: refunded"
        assert balance == CREDITS
    finally:
        for running in servers:  # a frozen server takes no SIGTERM
            if running.process is not None and running.process.poll() is None:
                running.kill()
