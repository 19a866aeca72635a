"""The diffusers engine draws the worker's frame marks inside its one encode: every frame of
its MP4 (and the thumbnail) carries the visible and the invisible mark, and it says so.

The tiny random pipeline draws noise, in which no mark of this strength is read at 256x192;
so its frames are replaced by a smooth moving picture (the pipeline call is not what this
tests: ``test_diffusers_video.py`` runs it), and the engine's own planning, scaling and MP4
writing run as they are."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
import av
import numpy as np
from PIL import Image

from creatix.engines.diffusers import DiffusersEngine
from creatix.jobs.specs import VideoSpec
from creatix.media.video import FrameMarks
from creatix.media.watermark import DEFAULT_STYLE, watermark_box
from creatix.provenance import mark
from creatix.provenance.mark import VideoMark
from tiny_diffusers import build_tiny_svd

pytestmark = pytest.mark.usefixtures("one_torch_thread")
PAYLOAD = bytes.fromhex("c0ffee0123456789")
SIZE = (256, 192)


@pytest.fixture(scope="module")
def tiny_svd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_svd(tmp_path_factory.mktemp("models") / "tiny-svd")


@pytest.fixture
async def engine() -> AsyncIterator[DiffusersEngine]:
    engine = DiffusersEngine.from_options({"steps": 2, "guidance_scale": 3.0, "device": "cpu"})
    yield engine
    await engine.close()


def _spec() -> VideoSpec:
    values: dict[str, Any] = {
        "prompt": "the disc rolls to the right",
        "source_image": "uploads/acct/source.png",
        "duration_seconds": 1,
        "width": SIZE[0],
        "height": SIZE[1],
        "fps": 4,
        "seed": 7,
    }
    return VideoSpec.model_validate(values)


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _smooth_frames(count: int) -> list[Image.Image]:
    """A soft diagonal gradient with a disc moving across it."""
    yy, xx = np.mgrid[0 : SIZE[1], 0 : SIZE[0]].astype(np.float64)
    frames = []
    for index in range(count):
        picture = np.stack([60 + xx * 0.5, 80 + yy * 0.6, 140 + (xx + yy) * 0.15], axis=-1)
        disc = (yy - 96) ** 2 + (xx - 60 - 30 * index) ** 2 < 40**2
        picture[disc] = (200, 70, 50)
        frames.append(Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)))
    return frames


async def test_the_frames_are_marked_before_the_one_encode(
    engine: DiffusersEngine, tiny_svd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def smooth(*args: Any, plan: Any, **kwargs: Any) -> list[Image.Image]:
        return _smooth_frames(plan.frames)

    monkeypatch.setattr(engine, "_video_call", smooth)
    source = Image.new("RGB", SIZE, (90, 120, 160))
    plain = await engine.generate_video(str(tiny_svd), _spec(), source, tmp_path)
    marker = FrameMarks(DEFAULT_STYLE, VideoMark(PAYLOAD))
    marked = await engine.generate_video(str(tiny_svd), _spec(), source, tmp_path, marker=marker)
    assert (plain.marked, marked.marked) == (False, True)
    clean, frames = _frames(plain.path), _frames(marked.path)
    assert len(frames) == len(clean) == 4
    assert [mark.detect(Image.fromarray(frame)) for frame in frames] == [PAYLOAD] * 4
    assert mark.detect(Image.fromarray(clean[0])) is None
    left, top, right, bottom = watermark_box(*SIZE)
    for before, after in zip(clean, frames, strict=True):
        box = np.abs(after.astype(np.float64) - before)[top:bottom, left:right]
        assert box.mean() > 20, "the visible mark is drawn in every frame"
    thumbnail = np.asarray(Image.open(io.BytesIO(marked.thumbnail)).convert("RGB"))
    plain_thumbnail = np.asarray(Image.open(io.BytesIO(plain.thumbnail)).convert("RGB"))
    box = np.abs(thumbnail.astype(np.float64) - plain_thumbnail)[top:bottom, left:right]
    assert box.mean() > 20, "and in the thumbnail"
