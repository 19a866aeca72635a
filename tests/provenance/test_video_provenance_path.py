"""A video's marks through the real worker path: the preview engine draws the catalog's
visible mark (when the policy gives one) and the invisible mark into its frames inside its own
encode, so the video is encoded once and never marked twice; a video that comes finished from
its engine is decoded, marked and encoded again, so none ships unmarked. Checked in the stored
MP4's pixels, its invisible mark, its C2PA manifest and the H.264 encoder's own settings."""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from PIL import Image

import creatix.worker.outputs as worker_outputs
from creatix.engines.base import VideoOutput
from creatix.engines.preview_video.engine import PreviewVideoEngine
from creatix.jobs.specs import Job
from creatix.media.video import CRF as REENCODE_CRF
from creatix.media.watermark import watermark_box
from creatix.provenance import mark
from creatix.provenance.credentials import COMPOSITE
from creatix.provenance.service import job_payload
from creatix.provenance.verify import inspect_file
from support import LiveServer, poll_within_rate_limit

VIDEO_MODEL = "kling-video/v1.6/pro/image-to-video"
MARKED_BOX_MEAN = 20.0
"""Least mean difference (levels) inside the mark's box of a frame with the visible mark."""
CLEAN_MEAN = 4.0
"""Most mean difference inside the box of a frame without it (the invisible mark and the
encoder's noise stay well below)."""


def _poll(client: httpx.Client, url: str, field: str) -> dict[str, Any]:
    def done(response: httpx.Response) -> bool:
        assert field in response.json(), response.text
        return bool(response.json()[field]["status"] != "processing")

    body: dict[str, Any] = poll_within_rate_limit(client, url, done, timeout=120).json()[field]
    assert body["status"] == "completed", body
    return body


def _made_video(server: LiveServer, plan: str) -> tuple[str, bytes]:
    """A platform-dialect video of a fresh generation, on an account of ``plan``."""
    _, secret = server.funded_account(credits=10_000, plan=plan)
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
        video_id: str = response.json()["id"]
        video = _poll(client, f"/api/platform/videos/{video_id}", "video")
    return video_id, httpx.get(video["video_url"], timeout=60).content


def _frames(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _x264_crf(data: bytes) -> float:
    """The CRF in the x264 settings the last encoder wrote into the stream (its SEI)."""
    found = re.search(rb"x264 - core .*? crf=(\d+\.\d+)", data, re.DOTALL)
    assert found is not None, "no x264 settings in the stream"
    return float(found.group(1))


def _engine_video_unmarked(server: LiveServer, job_id: str) -> list[np.ndarray]:
    """The same job's video as the preview engine makes it without any marks."""
    runtime = server.runtime
    assert runtime is not None
    job: Job = server.call(runtime.jobs.get(job_id))
    model = runtime.jobs.catalog.model(job.model)
    assert model is not None
    route = runtime.engines.route_for(model)
    spec = job.video_spec

    async def make(folder: Path) -> bytes:
        assert spec.source_image is not None
        data = await runtime.storage.get(spec.source_image)
        source = Image.open(io.BytesIO(data)).convert("RGB")
        made = await route.video_engine.generate_video(
            route.engine_model, spec, source, folder, params=route.params
        )
        return made.path.read_bytes()

    with tempfile.TemporaryDirectory() as folder:
        return _frames(server.call(make(Path(folder))))


def _calls_of(
    monkeypatch: pytest.MonkeyPatch, name: str, module: Any = worker_outputs
) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    original: Callable[..., Any] = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def _assert_provenance(server: LiveServer, video_id: str, data: bytes) -> list[np.ndarray]:
    """The invisible mark in the first, middle and last frames, and a valid, trusted manifest
    naming the model; returns the frames."""
    runtime = server.runtime
    assert runtime is not None
    expected = job_payload(runtime.settings.resolved_server_id(), video_id)
    frames = _frames(data)
    for index in (0, len(frames) // 2, len(frames) - 1):
        assert mark.detect(Image.fromarray(frames[index])) == expected, f"frame {index}"
    report = inspect_file(data, runtime.provenance.identity.trust_anchors_pem)
    assert report.mime_type == "video/mp4"
    assert report.payload == expected
    assert report.manifest.trusted, report.manifest
    assert report.manifest.model == VIDEO_MODEL
    assert report.manifest.digital_source_type == COMPOSITE
    return frames


def _plate_difference(frames: list[np.ndarray], unmarked: list[np.ndarray]) -> float:
    """Mean difference inside the visible mark's box, over the first, middle and last frames."""
    height, width = frames[0].shape[:2]
    left, top, right, bottom = watermark_box(width, height)
    picks = (0, len(frames) // 2, len(frames) - 1)
    return float(
        np.mean(
            [
                np.abs(
                    frames[i][top:bottom, left:right].astype(np.float64)
                    - unmarked[i][top:bottom, left:right]
                ).mean()
                for i in picks
            ]
        )
    )


@pytest.mark.parametrize(("plan", "visible"), [("free", True), ("paid", False)])
def test_the_engine_draws_the_marks_inside_its_one_encode(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, plan: str, visible: bool
) -> None:
    reencodes = _calls_of(monkeypatch, "mark_video")
    video_id, data = _made_video(server, plan)
    frames = _assert_provenance(server, video_id, data)
    # Encoded once, by the engine: the worker never decoded and encoded it again, and the
    # stream carries the engine's x264 settings (crf 23), not the re-encode's (crf 18).
    assert reencodes == []
    assert _x264_crf(data) == PreviewVideoEngine().options.crf != REENCODE_CRF
    unmarked = _engine_video_unmarked(server, video_id)
    assert len(unmarked) == len(frames)
    inside = _plate_difference(frames, unmarked)
    if visible:
        assert inside > MARKED_BOX_MEAN, f"no visible mark (mean difference {inside:.1f})"
    else:
        assert inside < CLEAN_MEAN, f"a visible mark where none belongs ({inside:.1f})"


def test_a_finished_video_is_marked_after_the_engine_once(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine that hands back a finished MP4 (as an upstream provider does) ignores the
    marker: the worker marks the frames in one decode-mark-encode pass."""
    original = PreviewVideoEngine.generate_video

    async def finished(self: PreviewVideoEngine, *args: Any, **kwargs: Any) -> VideoOutput:
        kwargs.pop("marker", None)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(PreviewVideoEngine, "generate_video", finished)
    reencodes = _calls_of(monkeypatch, "mark_video")
    video_id, data = _made_video(server, "free")
    frames = _assert_provenance(server, video_id, data)
    assert len(reencodes) == 1
    assert _x264_crf(data) == REENCODE_CRF
    unmarked = _engine_video_unmarked(server, video_id)
    assert _plate_difference(frames, unmarked) > MARKED_BOX_MEAN
