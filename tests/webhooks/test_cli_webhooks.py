"""``creatix webhooks``, run as real subprocesses against a real database."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from harness import Hooks
from receiver import Receiver
from standardwebhooks import Webhook

from support import creatix_command, sqlite_only

pytestmark = pytest.mark.slow


def _creatix(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        creatix_command("webhooks", *args, "--data-dir", str(data_dir)),
        capture_output=True,
        text=True,
        env={**os.environ, "CREATIX_SECRET_KEY": "test-secret", "COLUMNS": "200"},
        check=False,
    )


@sqlite_only
async def test_secret_is_made_once_rotated_on_demand_and_signs_deliveries(
    tmp_path: Path, receiver: Receiver
) -> None:
    hooks = Hooks(tmp_path, allow_private_urls=True)
    try:
        receiver.status = 503
        delivery = await hooks.delivery_to(receiver.url)
        assert await hooks.deliverer.run_due() == 1
    finally:
        await hooks.close()

    shown = _creatix(tmp_path, "secret", "hooks", "--json")
    assert shown.returncode == 0, shown.stderr
    secret = json.loads(shown.stdout)
    assert secret["account"] == "hooks"
    assert secret["secret"].startswith("whsec_")
    [received] = receiver.received
    Webhook(secret["secret"]).verify(received.body, received.headers)

    rotated = _creatix(tmp_path, "secret", "hooks", "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "whsec_" in rotated.stdout
    assert secret["secret"] not in rotated.stdout

    listed = _creatix(tmp_path, "deliveries", delivery.job_id, "--json")
    assert listed.returncode == 0, listed.stderr
    [shown_delivery] = json.loads(listed.stdout)
    assert shown_delivery["id"] == delivery.id
    assert shown_delivery["status"] == "pending"
    assert shown_delivery["next_attempt_at"] is not None
    [attempt] = shown_delivery["attempt_log"]
    assert attempt["status_code"] == 503
    assert attempt["duration_ms"] >= 0

    human = _creatix(tmp_path, "deliveries", delivery.job_id)
    assert human.returncode == 0, human.stderr
    assert delivery.id in human.stdout
    assert "503" in human.stdout
    assert "job.canceled" in human.stdout

    unknown = _creatix(tmp_path, "deliveries", "job_nope")
    assert unknown.returncode == 2
    assert "No job found" in unknown.stdout
