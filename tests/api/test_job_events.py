"""``GET /v1/jobs/{id}/events`` through a real HTTP client streaming from a real server: a
job's queued, progress and terminal events in order, reconnects with Last-Event-ID, cancel
and failure, accounts kept apart, both ways of sending a key, text answers, and (on
PostgreSQL) a stream on an API-only node following a job another node's worker runs."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from PIL import Image
from sqlalchemy import update

from creatix.accounts import service as accounts
from creatix.api import job_events
from creatix.billing import service as billing
from creatix.catalog.loader import load_catalog
from creatix.jobs.models import JobRow
from support import (
    LiveServer,
    drop_postgres_database,
    make_settings,
    postgres_database,
    postgres_reachable,
)

PLATFORM = "/api/platform"
DELAY_SECONDS = 1.5
"""The preview engine's delay here: ten ticks, each a progress report."""
PREVIEW_STEPS = 11
"""A one-image preview job's steps: the delay's ten ticks, then painting the image."""


@dataclass(frozen=True)
class Event:
    id: int
    name: str
    data: dict[str, Any]


def _events(response: httpx.Response) -> Iterator[Event]:
    """The SSE events of a streaming response, as they arrive (comment lines skipped)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if fields:
                yield Event(int(fields["id"]), fields["event"], json.loads(fields["data"]))
                fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        assert name not in fields, f"a second {name!r} line in one event"
        fields[name] = value.removeprefix(" ")


def _slow_catalog(tmp_path: Path) -> Path:
    catalog = load_catalog().model_dump(mode="json")
    catalog["engines"]["preview"]["options"] = {"delay_seconds": DELAY_SECONDS}
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose preview engine takes DELAY_SECONDS per batch, reporting progress."""
    tmp = tmp_path_factory.mktemp("slow")
    live = LiveServer(make_settings(tmp / "data", catalog=_slow_catalog(tmp))).start()
    yield live
    live.stop()


@pytest.fixture
def client(slow: LiveServer) -> Iterator[httpx.Client]:
    with slow.client(slow.funded_account()[1]) as client:
        yield client


def _generate(client: httpx.Client, **fields: Any) -> str:
    body = {"prompt": "a red sneaker on a white table", "modelId": "creatix-flash", **fields}
    response = client.post(f"{PLATFORM}/generate", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _path(job_id: str) -> str:
    return f"/v1/jobs/{job_id}/events"


def _stream_all(client: httpx.Client, job_id: str, **headers: str) -> list[Event]:
    with client.stream("GET", _path(job_id), headers=headers) as response:
        assert response.status_code == 200, response.read()
        return list(_events(response))


def _assert_steps(events: list[Event], steps: int) -> None:
    """Past the start, each progress event names the engine's step of ``steps``, and its
    percent is that step's share; the steps rise."""
    counted = [e.data for e in events if e.name == "progress" and e.data["progress"] > 0]
    assert counted, [e.name for e in events]
    assert {data["steps"] for data in counted} == {steps}, counted
    reached = [data["step"] for data in counted]
    assert reached == sorted(set(reached)), reached
    assert reached[0] >= 1, reached
    assert reached[-1] < steps, reached
    for data in counted:
        assert data["progress"] == round(100 * data["step"] / steps, 2), data
    started = [e.data for e in events if e.name == "progress" and e.data["progress"] == 0]
    assert all((data["step"], data["steps"]) == (None, None) for data in started), started


def _assert_progress(events: list[Event]) -> None:
    """Ids rise; percents never fall; every progress event is well formed."""
    ids = [event.id for event in events]
    assert ids == sorted(set(ids)), ids
    percents = [event.data["progress"] for event in events if event.name == "progress"]
    assert percents == sorted(percents), percents
    for event in events:
        if event.name == "progress":
            assert event.data.keys() == {"job_id", "status", "progress", "step", "steps"}
            assert event.data["status"] == "running"
            assert event.id == 1 + round(event.data["progress"])
            assert 0 <= event.data["progress"] <= 100


def test_an_image_job_streams_progress_then_completes(
    slow: LiveServer, client: httpx.Client
) -> None:
    job_id = _generate(client)
    with client.stream("GET", _path(job_id)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        events = list(_events(response))  # ends: the server closed the stream
    names = [event.name for event in events]
    assert names[-1] == "completed", names
    assert set(names[:-1]) <= {"queued", "progress"}
    if names[0] == "queued":
        assert events[0].id == 0
        assert events[0].data == {"job_id": job_id, "status": "queued", "position": 1}
    _assert_progress(events)
    progress = [event for event in events if event.name == "progress"]
    assert len(progress) >= 3, names
    _assert_steps(events, PREVIEW_STEPS)
    assert all(event.data["job_id"] == job_id for event in events)
    done = events[-1]
    assert done.id == 1000
    assert done.data.keys() == {
        "job_id",
        "status",
        "kind",
        "model",
        "credits_charged",
        "assets",
        "text",
    }
    assert done.data["status"] == "succeeded"
    assert (done.data["kind"], done.data["model"], done.data["text"]) == (
        "image",
        "creatix-flash",
        None,
    )
    assert isinstance(done.data["credits_charged"], int)
    [asset] = done.data["assets"]
    assert asset.keys() == {
        "id",
        "kind",
        "mime_type",
        "width",
        "height",
        "duration_seconds",
        "bytes",
        "url",
    }
    downloaded = httpx.get(asset["url"], timeout=30)
    assert downloaded.status_code == 200
    assert len(downloaded.content) == asset["bytes"]
    assert downloaded.headers["content-type"] == asset["mime_type"]
    image = Image.open(io.BytesIO(downloaded.content))
    assert image.size == (asset["width"], asset["height"])


def test_a_reconnect_gets_only_later_events(client: httpx.Client) -> None:
    job_id = _generate(client)
    with client.stream("GET", _path(job_id)) as response:
        for event in _events(response):
            if event.name == "progress" and event.id > 1:
                seen = event.id
                break
        else:
            pytest.fail("the job ended before any progress was seen")
    rest = _stream_all(client, job_id, **{"Last-Event-ID": str(seen)})
    assert rest, "a reconnect gets at least the terminal event"
    assert all(event.id > seen for event in rest), [event.id for event in rest]
    assert rest[-1].name == "completed"
    _assert_progress(rest)
    # Once it has ended: only the terminal event, whatever progress the client saw ...
    for last in (None, "-1", "0", "41", "101", "999", "nonsense"):
        headers = {} if last is None else {"Last-Event-ID": last}
        again = _stream_all(client, job_id, **headers)
        assert [(e.id, e.name) for e in again] == [(1000, "completed")], last
    # ... and nothing once it saw that: a 204, which stops an EventSource reconnecting.
    for last in ("1000", "5000"):
        response = client.get(_path(job_id), headers={"Last-Event-ID": last})
        assert response.status_code == 204, response.text
        assert response.content == b""


def test_a_job_canceled_while_running_ends_failed_canceled(
    slow: LiveServer, client: httpx.Client
) -> None:
    job_id = _generate(client)
    events: list[Event] = []
    with client.stream("GET", _path(job_id)) as response:
        for event in _events(response):
            events.append(event)
            progressed = [e for e in events if e.name == "progress" and e.id > 1]
            if progressed == [event]:
                # Deleting a generation still processing cancels it.
                deleted = client.delete(f"{PLATFORM}/generations/{job_id}")
                assert deleted.json() == {"deleted": True}
    assert events[-1].name == "failed", [e.name for e in events]
    assert events[-1].id == 1000
    assert events[-1].data == {
        "job_id": job_id,
        "status": "canceled",
        "error": {"code": "canceled", "message": "The job was canceled."},
    }


def test_a_failing_job_ends_failed_with_its_code(slow: LiveServer, client: httpx.Client) -> None:
    png = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(png, format="PNG")
    uploaded = client.post(
        f"{PLATFORM}/upload", files={"file": ("p.png", png.getvalue(), "image/png")}
    )
    assert uploaded.status_code == 201, uploaded.text
    path = uploaded.json()["path"]
    assert slow.runtime is not None
    slow.call(slow.runtime.storage.delete(path))  # recorded, but its file is gone
    job_id = _generate(client, modelId="creatix-pro", inputImagePath=path)
    events = _stream_all(client, job_id)
    failed = events[-1]
    assert (failed.id, failed.name) == (1000, "failed")
    assert failed.data["job_id"] == job_id
    assert failed.data["status"] == "failed"
    assert failed.data["error"].keys() == {"code", "message"}
    assert failed.data["error"]["code"] not in ("", "failed", "canceled")
    assert failed.data["error"]["message"]
    _assert_progress(events)


def _assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("not_found", "id")
    assert error["message"]


def test_another_accounts_job_and_unknown_ids_are_404(
    slow: LiveServer, client: httpx.Client
) -> None:
    job_id = _generate(client)
    with slow.client(slow.funded_account()[1]) as stranger:
        _assert_not_found(stranger.get(_path(job_id)))
        _assert_not_found(stranger.get(_path(str(uuid.uuid4()))))
        _assert_not_found(stranger.get(_path("job_" + "a" * 24)))
        _assert_not_found(stranger.get(_path("nonsense")))
    with slow.client() as anonymous:
        response = anonymous.get(_path(job_id))
        assert response.status_code == 401
        assert response.json()["error"]["code"]
    _stream_all(client, job_id)  # let it finish before the module's server stops


def test_the_api_id_and_key_pair_works_and_a_text_job_carries_its_text(
    slow: LiveServer,
) -> None:
    assert slow.runtime is not None
    account = f"acct-{uuid.uuid4().hex[:10]}"
    slow.call(accounts.ensure_account(slow.runtime.db, account, "paid", "free"))
    slow.call(billing.grant(slow.runtime.db, account, 10_000, None))
    key = slow.call(accounts.create_key(slow.runtime.db, account))
    headers = {"X-API-ID": key.key_id, "X-API-KEY": key.secret}
    with httpx.Client(base_url=slow.url, headers=headers, timeout=60) as client:
        body = {
            "model_name": "gemini-2.5-flash",
            "messages": [{"role": "user", "content": "Write a tagline for a red sneaker."}],
        }
        created = client.post("/api/text_generator/", json=body)
        assert created.status_code in (200, 201, 202), created.text
        task_id = created.json()["id"]
        events = _stream_all(client, task_id)
        done = events[-1]
        assert done.name == "completed"
        assert done.data["kind"] == "text"
        assert done.data["assets"] == []
        assert isinstance(done.data["text"], str)
        assert done.data["text"]
        task = client.get(f"/api/text_generator/{task_id}/").json()
        assert done.data["text"] == task["response_text"]
        # A wrong secret with a real id is a 401, not a stream.
        bad = client.get(_path(task_id), headers={"X-API-KEY": "sk_live_wrong"})
        assert bad.status_code == 401


def test_a_legacy_job_id_resolves(slow: LiveServer, client: httpx.Client) -> None:
    job_id = _generate(client)
    _stream_all(client, job_id)
    legacy = "job_" + uuid.uuid4().hex[:24]
    assert slow.runtime is not None
    slow.call(
        slow.runtime.db.write(
            lambda session: session.execute(
                update(JobRow).where(JobRow.id == job_id).values(legacy_id=legacy)
            )
        )
    )
    events = _stream_all(client, legacy)
    assert [(e.id, e.name, e.data["job_id"]) for e in events] == [(1000, "completed", job_id)]


def test_queued_jobs_say_their_place_and_idle_streams_keep_alive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_events, "KEEP_ALIVE_SECONDS", 0.3)
    idle = LiveServer(make_settings(tmp_path / "data", run_worker=False)).start()
    try:
        with idle.client(idle.funded_account()[1]) as client:
            first, second = _generate(client), _generate(client)
            for job_id, place in ((first, 1), (second, 2)):
                with client.stream("GET", _path(job_id)) as response:
                    lines = response.iter_lines()
                    queued = [next(lines), next(lines), next(lines), next(lines)]
                    assert queued[:2] == ["id: 0", "event: queued"]
                    assert json.loads(queued[2].removeprefix("data: ")) == {
                        "job_id": job_id,
                        "status": "queued",
                        "position": place,
                    }
                    assert queued[3] == ""
                    assert next(lines) == ": keep-alive"
                # A reconnect that saw the queued event gets only keep-alives.
                with client.stream(
                    "GET", _path(job_id), headers={"Last-Event-ID": "0"}
                ) as response:
                    assert next(response.iter_lines()) == ": keep-alive"
            # Canceled while queued: the stream ends failed/canceled.
            with client.stream("GET", _path(second)) as response:
                events = _events(response)
                assert next(events).name == "queued"
                client.delete(f"{PLATFORM}/generations/{second}")
                rest = list(events)
            assert [(e.id, e.name, e.data["status"]) for e in rest] == [
                (1000, "failed", "canceled")
            ]
            client.delete(f"{PLATFORM}/generations/{first}")
    finally:
        idle.stop()


@pytest.mark.skipif(not postgres_reachable(), reason="no PostgreSQL reachable")
def test_a_stream_on_an_api_node_follows_another_nodes_worker(tmp_path: Path) -> None:
    url = postgres_database()
    assert url is not None
    catalog = _slow_catalog(tmp_path)
    worker = api = None
    try:
        worker = LiveServer(
            make_settings(tmp_path / "worker", database_url=url, catalog=catalog)
        ).start()
        settings = make_settings(
            tmp_path / "api", database_url=url, catalog=catalog, run_worker=False
        )
        # Streams there learn only from notifications: no poll within the test's time.
        settings.poll_interval_seconds = 60
        api = LiveServer(settings).start()
        with api.client(api.funded_account()[1]) as client:
            job_id = _generate(client)
            started = time.monotonic()
            with client.stream("GET", _path(job_id)) as response:
                events = [(time.monotonic() - started, event) for event in _events(response)]
        assert events[-1][0] < 30, "the end came from a notification, not the 60 s poll"
        names = [event.name for _, event in events]
        assert names[-1] == "completed", names
        progress = [event for _, event in events if event.name == "progress"]
        assert len(progress) >= 2, names
        _assert_progress([event for _, event in events])
        # The steps came through the creatix_progress notifications.
        _assert_steps([event for _, event in events], PREVIEW_STEPS)
        assert events[-1][1].data["assets"][0]["url"].startswith(api.url)
    finally:
        for live in (api, worker):
            if live is not None:
                live.stop()
        drop_postgres_database(url)
