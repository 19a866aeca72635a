"""Every image and video the worker stores carries the invisible mark, naming this server
and the job, and the payload is recorded so it leads back to the job."""

from __future__ import annotations

import io
import time
from itertools import islice
from typing import Any

import av
import httpx
from PIL import Image
from sqlalchemy.orm import Session

from creatix.provenance import mark, repository
from creatix.provenance.service import job_payload
from support import LiveServer

VIDEO_MODEL = "kling-video/v1.6/pro/image-to-video"


def _jobs_marked(server: LiveServer, payload: bytes) -> list[str]:
    assert server.runtime is not None

    def read(session: Session) -> list[str]:
        return repository.jobs_marked(session, payload)

    return server.call(server.runtime.db.read(read))


def test_images_carry_the_server_and_job_and_lead_back_to_the_job(server: LiveServer) -> None:
    assert server.runtime is not None
    server_id = server.runtime.settings.resolved_server_id()
    with server.client(server.key()) as client:
        response = client.post(
            "/v1/images/generations",
            json={"prompt": "a blue bicycle", "size": "512x512", "n": 2, "output_format": "jpeg"},
        )
    assert response.status_code == 200, response.text
    job_id = response.headers["X-Creatix-Job-Id"]
    expected = job_payload(server_id, job_id)
    assert expected[:3] == bytes.fromhex(server_id)
    for item in response.json()["data"]:
        picture = Image.open(io.BytesIO(httpx.get(item["url"]).content))
        assert mark.detect(picture) == expected
    assert _jobs_marked(server, expected) == [job_id]


def test_the_server_id_is_kept_in_the_data_dir(server: LiveServer) -> None:
    assert server.runtime is not None
    settings = server.runtime.settings
    first = settings.resolved_server_id()
    assert (settings.data_dir / "server-id").read_text().strip() == first
    assert settings.resolved_server_id() == first
    assert len(bytes.fromhex(first)) == 3


def _poll(client: httpx.Client, url: str, field: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        body: dict[str, Any] = client.get(url).json()[field]
        if body["status"] != "processing":
            assert body["status"] == "completed", body
            return body
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_video_frames_carry_the_mark(server: LiveServer) -> None:
    assert server.runtime is not None
    server_id = server.runtime.settings.resolved_server_id()
    _, secret = server.funded_account(credits=10_000, plan="paid")
    with server.client(secret) as client:
        response = client.post(
            "/api/platform/generate",
            json={"prompt": "a red sneaker", "modelId": "creatix-flash", "aspectRatio": "16:9"},
        )
        assert response.status_code == 202, response.text
        source = response.json()["id"]
        _poll(client, f"/api/platform/generations/{source}", "generation")
        response = client.post(
            "/api/platform/videos",
            json={
                "sourceGenerationId": source,
                "prompt": "slow push in",
                "modelId": VIDEO_MODEL,
                "durationSeconds": 5,
            },
        )
        assert response.status_code == 202, response.text
        video_id = response.json()["id"]
        video = _poll(client, f"/api/platform/videos/{video_id}", "video")
    data = httpx.get(video["video_url"], timeout=60).content
    with av.open(io.BytesIO(data)) as container:
        frames = [frame.to_image() for frame in islice(container.decode(video=0), 3)]
    expected = job_payload(server_id, video_id)
    assert [mark.detect(frame) for frame in frames] == [expected] * 3
    assert _jobs_marked(server, expected) == [video_id]
