"""Every image and video the worker stores carries the invisible mark, naming this server
and the job (the payload is recorded so it leads back to the job), and a C2PA manifest signed
by this server's identity, read back with c2pa-python and trusted against its CA."""

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
from creatix.provenance.credentials import COMPOSITE, TRAINED
from creatix.provenance.service import job_payload
from creatix.provenance.verify import FileReport, inspect_file
from support import LiveServer
from tampering import png_with_one_pixel_changed

VIDEO_MODEL = "kling-video/v1.6/pro/image-to-video"


def _jobs_marked(server: LiveServer, payload: bytes) -> list[str]:
    assert server.runtime is not None

    def read(session: Session) -> list[str]:
        return [job_id for job_id, *_ in repository.marked_jobs(session, payload)]

    return server.call(server.runtime.db.read(read))


def _inspected(server: LiveServer, data: bytes) -> FileReport:
    assert server.runtime is not None
    return inspect_file(data, server.runtime.provenance.identity.trust_anchors_pem)


def _assert_signed(report: FileReport, model: str, source_type: str) -> None:
    manifest = report.manifest
    assert manifest.trusted, manifest
    assert manifest.action == "c2pa.created"
    assert manifest.digital_source_type == source_type
    assert manifest.model == model
    assert manifest.engine
    assert manifest.development_certificate is True
    assert manifest.claim_generator is not None
    assert manifest.claim_generator.startswith("Creatix ")


def test_images_carry_the_server_and_job_and_lead_back_to_the_job(server: LiveServer) -> None:
    assert server.runtime is not None
    server_id = server.runtime.settings.resolved_server_id()
    with server.client(server.key()) as client:
        response = client.post(
            "/v1/images/generations",
            json={
                "model": "creatix-flash",
                "prompt": "a blue bicycle",
                "size": "512x512",
                "n": 2,
                "output_format": "jpeg",
            },
        )
    assert response.status_code == 200, response.text
    job_id = response.headers["X-Creatix-Job-Id"]
    expected = job_payload(server_id, job_id)
    assert expected[:3] == bytes.fromhex(server_id)
    for item in response.json()["data"]:
        data = httpx.get(item["url"]).content
        picture = Image.open(io.BytesIO(data))
        assert picture.format == "JPEG"
        assert mark.detect(picture) == expected
        report = _inspected(server, data)
        assert report.payload == expected
        _assert_signed(report, "creatix-flash", TRAINED)
        assert report.xmp_digital_source_type == TRAINED
    assert _jobs_marked(server, expected) == [job_id]


def test_a_changed_pixel_breaks_the_stored_images_credentials(server: LiveServer) -> None:
    with server.client(server.key()) as client:
        response = client.post(
            "/v1/images/generations",
            json={"prompt": "a green kite", "size": "512x512", "output_format": "png"},
        )
    assert response.status_code == 200, response.text
    data = httpx.get(response.json()["data"][0]["url"]).content
    assert _inspected(server, data).manifest.trusted
    tampered = _inspected(server, png_with_one_pixel_changed(data)).manifest
    assert tampered.present
    assert not tampered.valid
    assert not tampered.trusted
    assert tampered.failures


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
    report = _inspected(server, data)
    assert report.mime_type == "video/mp4"
    _assert_signed(report, VIDEO_MODEL, COMPOSITE)
    [source_image] = report.manifest.ingredients  # the generation it animates
    assert source_image.endswith((".png", ".jpg", ".jpeg", ".webp"))
