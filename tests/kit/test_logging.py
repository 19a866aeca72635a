"""Log lines are stamped in UTC with milliseconds, and one request can be followed end to end:
its X-Request-ID is stored on the job, and a ``creatix worker`` in another process logs under
it while it processes the job and while it calls the job's provider."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from creatix.kit.logging import JsonFormatter
from fakes.fal import FakeFal
from support import LiveServer, creatix_command, make_settings

FAL_KEY = "fal-key-for-tests"
FAST = {
    "attempts": 2,
    "retry_base_delay": 0.01,
    "retry_max_delay": 0.05,
    "poll_interval_seconds": 0.02,
    "timeout_seconds": 5.0,
}


@pytest.fixture
def new_york() -> Iterator[None]:
    """The process's local time zone is not UTC (what ``time.localtime`` would use)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("new_york")
def test_timestamps_are_utc_iso_8601_with_milliseconds() -> None:
    record = logging.makeLogRecord({"msg": "hello", "levelname": "INFO", "name": "t"})
    record.created = 1767225600.1239  # 2026-01-01T00:00:00.1239 UTC
    line = json.loads(JsonFormatter().format(record))
    assert line["ts"] == "2026-01-01T00:00:00.123Z"


def _catalog(path: Path) -> Path:
    catalog = {
        "extends": "shipped",
        "engines": {"fal": {"type": "fal", "options": FAST}},
        "models": [
            {
                "id": "creatix-flash",
                "engine": "fal",
                "engine_model": "fal-ai/flux/schnell",
                "display_name": "Creatix Flash",
            }
        ],
    }
    path.write_text(yaml.safe_dump(catalog))
    return path


def _completed(client: httpx.Client, generation_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        response = client.get(f"/api/platform/generations/{generation_id}")
        generation: dict[str, Any] = response.json()["generation"]
        if generation["status"] != "processing":
            return generation
        assert time.monotonic() < deadline, "the worker did not finish the job in 60 s"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_request_id_is_followed_through_the_worker_to_the_provider(tmp_path: Path) -> None:
    fal = FakeFal(key=FAL_KEY)
    fal.start()
    settings = make_settings(
        tmp_path / "data",
        catalog=_catalog(tmp_path / "catalog.yaml"),
        run_worker=False,
        fal_key=FAL_KEY,
        fal_base_url=fal.url,
    )
    api = LiveServer(settings).start()
    env = {
        **os.environ,
        "CREATIX_DATA_DIR": str(settings.data_dir),
        "CREATIX_DATABASE_URL": settings.resolved_database_url,
        "CREATIX_CATALOG": str(settings.catalog),
        "CREATIX_SECRET_KEY": "test-secret",
        "CREATIX_FAL_KEY": FAL_KEY,
        "CREATIX_FAL_BASE_URL": fal.url,
        "CREATIX_POLL_INTERVAL_SECONDS": "0.2",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(creatix_command("worker"), env=env, stdout=log, stderr=log)
    try:
        with api.client(api.funded_account()[1]) as client:
            response = client.post(
                "/api/platform/generate",
                json={"prompt": "a red bicycle", "modelId": "creatix-flash"},
                headers={"X-Request-ID": "abc"},
            )
            assert response.status_code == 202, response.text
            assert response.headers["X-Request-ID"] == "abc"
            assert _completed(client, response.json()["id"])["status"] == "completed"
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        api.stop()
        fal.stop()
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    processing = [line for line in lines if line["msg"] == "processing jobs"]
    assert [line.get("request_id") for line in processing] == ["abc"], lines
    submits = [
        line
        for line in lines
        if line["msg"] == "provider call" and line["method"] == "POST" and line["provider"] == "fal"
    ]
    assert submits, lines
    assert {line.get("request_id") for line in submits} == {"abc"}
    assert submits[0]["path"] == "/fal-ai/flux/schnell"
    assert submits[0]["ts"].endswith("Z")
