"""``DiffusersEngine``: local diffusers pipelines, one call per batch of compatible image
requests, one call per video (``video.py`` has the video families and their rules)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL.Image import Image

from creatix.engines.base import (
    EngineError,
    EngineParams,
    EngineRejected,
    FrameMarker,
    ProgressCallback,
    VideoOutput,
)
from creatix.engines.diffusers import batching, loading, video
from creatix.engines.diffusers.batching import Item
from creatix.engines.diffusers.config import DiffusersOptions, model_dir
from creatix.engines.diffusers.config import weights_problem as _weights_problem
from creatix.engines.diffusers.residency import Residency, Resident
from creatix.engines.diffusers.video import VideoPlan, VideoRules
from creatix.engines.options import OptionValue
from creatix.jobs.specs import ImageSpec, VideoSpec

log = logging.getLogger(__name__)

IMAGE_TO_IMAGE = "img2img"
IMAGE_TO_VIDEO = "img2video"
DENOISING_SHARE = 0.9
"""Of a video call's progress: the denoising steps; writing the MP4 is the rest."""
DECODE_CHUNK = 8
"""Frames SVD's VAE decodes at once (all of them at once takes the most memory)."""
MESSAGE_CHARS = 240
KEPT_CALLS = 1000


@dataclass(frozen=True)
class PipelineCall:
    """One call into a pipeline, as logged (a video call: one spec, its frames as images)."""

    model: str
    specs: int
    images: int
    seconds: float


def _short(exc: BaseException, path: Path | None = None, model: str = "") -> str:
    """An exception as one short line for a job's message (the log has the full story)."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if path is not None:
        text = text.replace(str(path), model)
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


class _PipelineLoader:
    """Loads a model folder for ``Residency``, mapping failures to ``EngineError``s."""

    def __init__(self, device: torch.device, dtype: torch.dtype, compile_model: bool) -> None:
        self.device = device
        self.dtype = dtype
        self.compile_model = compile_model

    def load(self, key: str) -> Any:
        path = Path(key)
        try:
            return loading.load_pipeline(path, self.dtype)
        except Exception as exc:
            raise self._error(exc, path, "loading") from exc

    def nbytes(self, pipeline: Any) -> int:
        return loading.parameter_bytes(pipeline)

    def place(self, pipeline: Any) -> Any:
        try:
            return loading.place(pipeline, self.device, self.compile_model)
        except Exception as exc:
            raise self._error(exc, None, f"moving to {self.device}") from exc

    def release(self) -> None:
        loading.free_memory(self.device)

    def _error(self, exc: Exception, path: Path | None, doing: str) -> EngineError:
        if loading.is_out_of_memory(exc):
            loading.free_memory(self.device)
            log.warning("out of memory %s a pipeline", doing, extra={"path": str(path)})
            return EngineError(
                f"Out of memory on {self.device.type} while {doing} the model.",
                code="out_of_memory",
                retryable=False,
            )
        log.exception("pipeline failed to load", extra={"path": str(path)})
        name = path.name if path is not None else "model"
        return EngineError(
            f"The model could not be loaded ({_short(exc, path, name)}).",
            code="model_load_failed",
            retryable=False,
        )


class DiffusersEngine:
    """Text-to-image (and image-to-image) and image-to-video with local diffusers pipelines:
    an ``ImageEngine`` and a ``VideoEngine``.

    Image specs with one batch key become one pipeline call (up to ``max_batch`` images); a
    video is one call. Image and video pipelines share one residency: loaded pipelines stay
    resident within one memory budget. See ``config.py`` for the options and ``video.py`` for
    the video families.
    """

    name = "diffusers"

    def __init__(self, options: DiffusersOptions | None = None) -> None:
        self.options = options or DiffusersOptions()
        self.max_batch = self.options.max_batch
        self.device = loading.pick_device(self.options.requested_device())
        self.dtype = loading.pick_dtype(self.options.dtype, self.device)
        budget = (
            self.options.budget_bytes()
            if self.options.vram_budget_gb is not None
            else loading.default_budget_bytes(self.device)
        )
        self.residency = Residency(
            _PipelineLoader(self.device, self.dtype, self.options.compile), budget
        )
        self.calls: deque[PipelineCall] = deque(maxlen=KEPT_CALLS)
        """The latest pipeline calls, oldest first."""
        self._multiples: dict[Path, int] = {}
        self._video_rules: dict[Path, tuple[int, VideoRules | None]] = {}
        """Each folder's video rules, with the ``model_index.json`` modification time read."""
        log.info(
            "diffusers engine ready",
            extra={
                "device": str(self.device),
                "dtype": str(self.dtype).removeprefix("torch."),
                "budget_gb": loading.gigabytes(budget),
                "max_batch": self.max_batch,
                "steps": self.options.steps,
            },
        )

    @classmethod
    def from_options(cls, options: Mapping[str, OptionValue]) -> DiffusersEngine:
        return cls(DiffusersOptions.parse(options))

    # -- the protocol ------------------------------------------------------------------------

    def model_dir(self, model: str) -> Path:
        return model_dir(model, self.options.models_dir)

    def batch_key(self, model: str, spec: ImageSpec) -> str:
        return batching.batch_key(
            model,
            spec,
            steps=self.options.steps,
            guidance_scale=self.options.guidance_scale,
            strength=self.options.strength,
        )

    def unavailable_reason(self, model: str) -> str | None:
        problem = _weights_problem(self.model_dir(model))
        if problem is not None:
            return problem
        rules = self.video_rules(model)
        missing = rules.missing_packages() if rules is not None else []
        if rules is not None and missing:
            names = ", ".join(missing)
            return f"{rules.pipeline_class} needs {names}: pip install {' '.join(missing)}"
        return None

    def pull(self, model: str) -> Path:
        """Download the hub id ``model`` into ``models_dir`` (``PullsWeights``; never called
        at request time). Raises ``PullError`` with a message for a person."""
        from creatix.engines.diffusers.weights import pull_pipeline  # noqa: PLC0415

        return pull_pipeline(model, self.options.models_dir)

    def size_multiple(self, model: str) -> int:
        """What width and height must be multiples of: from the loaded pipeline, else from
        the folder's configs."""
        path = self.model_dir(model)
        resident = self.residency.get(str(path))
        if resident is not None and resident.pipeline is not None:
            return loading.size_multiple(resident.pipeline)
        if path not in self._multiples:
            self._multiples[path] = loading.size_multiple_on_disk(path)
        return self._multiples[path]

    def video_rules(self, model: str) -> VideoRules | None:
        """What the model's image-to-video pipeline makes, from its folder's configs; None
        when the folder holds no pipeline of a video family (or nothing yet)."""
        path = self.model_dir(model)
        try:
            stamp = (path / video.MODEL_INDEX).stat().st_mtime_ns
        except OSError:
            return None
        cached = self._video_rules.get(path)
        if cached is None or cached[0] != stamp:
            cached = (stamp, video.rules_on_disk(path))
            self._video_rules[path] = cached
        return cached[1]

    def validate(self, model: str, spec: ImageSpec | VideoSpec) -> None:
        """Raise ``EngineRejected`` for a spec the model cannot serve (at submit)."""
        if isinstance(spec, VideoSpec):
            self._validate_video(model, spec)
            return
        rules = self.video_rules(model)
        if rules is not None:
            raise EngineRejected(
                f"this model is an image-to-video pipeline ({rules.pipeline_class}); "
                "it makes videos, not images.",
                param="model",
            )
        multiple = self.size_multiple(model)
        if spec.width % multiple or spec.height % multiple:
            raise EngineRejected(
                f"width and height must be multiples of {multiple} for this model; "
                f"{spec.width}x{spec.height} is not.",
                param="size",
            )

    async def generate(
        self,
        model: str,
        specs: Sequence[ImageSpec],
        input_images: Sequence[Image | None] | None = None,
        progress: ProgressCallback | None = None,
        params: EngineParams | None = None,
    ) -> list[list[Image]]:
        if not specs:
            return []
        sources = list(input_images) if input_images is not None else [None] * len(specs)
        if len(sources) != len(specs):
            raise EngineError(f"{len(sources)} input images were given for {len(specs)} specs.")
        path = self.model_dir(model)
        problem = _weights_problem(path)
        if problem is not None:  # removed since the job was submitted
            log.warning("model weights missing", extra={"model": model, "reason": problem})
            raise EngineError("The model's weights are no longer there.", code="model_load_failed")
        items = await asyncio.to_thread(batching.flatten, specs, sources)
        drawn: list[tuple[Item, Image]] = []
        calls = list(batching.calls(items, self.max_batch))
        async with self.residency.use(str(path)) as resident:
            for done, call in enumerate(calls):
                steps = _StepReporter(progress, done, len(calls))
                images = await self._call(model, resident, call, steps)
                drawn.extend(zip(call, images, strict=True))
        return batching.split(specs, drawn)

    async def close(self) -> None:
        await self.residency.close()

    # -- one pipeline call -------------------------------------------------------------------

    def _pipeline_for(self, resident: Resident, image_to_image: bool) -> Any:
        if not image_to_image:
            return resident.pipeline
        if IMAGE_TO_IMAGE not in resident.derived:
            try:
                resident.derived[IMAGE_TO_IMAGE] = loading.image_to_image(resident.pipeline)
            except Exception as exc:
                log.exception("no image-to-image pipeline", extra={"model": resident.key})
                raise EngineError(
                    "This model cannot start from an input image "
                    f"({type(resident.pipeline).__name__} has no image-to-image variant).",
                    code="unsupported_input_image",
                ) from exc
        return resident.derived[IMAGE_TO_IMAGE]

    def _arguments(self, pipeline: Any, items: Sequence[Item]) -> dict[str, Any]:
        accepted = loading.accepts(pipeline)
        first = items[0]
        steps = self.options.steps
        arguments: dict[str, Any] = {"prompt": [item.prompt for item in items]}
        if first.input_image is not None:
            arguments["image"] = [item.input_image for item in items]
            arguments["strength"] = self.options.strength
            # Image-to-image runs steps × strength steps; at least one.
            steps = max(steps, math.ceil(1 / self.options.strength))
        if "height" in accepted:
            arguments["height"] = first.height
            arguments["width"] = first.width
        if "negative_prompt" in accepted and any(item.negative_prompt for item in items):
            arguments["negative_prompt"] = [item.negative_prompt or "" for item in items]
        arguments["num_inference_steps"] = steps
        if "guidance_scale" in accepted:
            arguments["guidance_scale"] = self.options.guidance_scale
        arguments["output_type"] = "pil"
        return arguments

    def _run(
        self, resident: Resident, pipeline: Any, arguments: dict[str, Any], seeds: list[int]
    ) -> list[Image]:
        """The blocking call, in a worker thread."""
        with resident.thread_lock, torch.inference_mode():
            output = pipeline(generator=loading.generators(self.device, seeds), **arguments)
        images: list[Image] = list(output.images)
        return images

    async def _call(
        self, model: str, resident: Resident, items: Sequence[Item], steps: _StepReporter
    ) -> list[Image]:
        pipeline = self._pipeline_for(resident, items[0].input_image is not None)
        arguments = self._arguments(pipeline, items)
        if steps.wanted and "callback_on_step_end" in loading.accepts(pipeline):
            arguments["callback_on_step_end"] = steps
        seeds = [item.seed for item in items]
        async with resident.lock:
            started = time.perf_counter()
            try:
                images = await asyncio.to_thread(self._run, resident, pipeline, arguments, seeds)
            except Exception as exc:
                raise await self._failure(
                    exc, model, resident, f"drawing {len(items)} images at once"
                ) from exc
            seconds = time.perf_counter() - started
        if len(images) != len(items):
            raise EngineError(
                f"The pipeline made {len(images)} images where {len(items)} were asked.",
                code="engine_error",
                retryable=True,
            )
        call = PipelineCall(
            model=model,
            specs=len({item.spec_index for item in items}),
            images=len(items),
            seconds=round(seconds, 4),
        )
        self.calls.append(call)
        log.info(
            "pipeline call",
            extra={
                "engine": self.name,
                "model": model,
                "specs": call.specs,
                "images": call.images,
                "seconds": call.seconds,
            },
        )
        return [
            _exact(image, item.width, item.height)
            for image, item in zip(images, items, strict=True)
        ]

    async def _failure(
        self, exc: Exception, model: str, resident: Resident, doing: str
    ) -> EngineError:
        if loading.is_out_of_memory(exc):
            log.warning(
                "out of memory in a pipeline call",
                extra={"engine": self.name, "model": model, "doing": doing},
            )
            await self.residency.unload_idle(keep=resident.key)
            await asyncio.to_thread(loading.free_memory, self.device)
            return EngineError(
                f"Out of memory on {self.device.type} {doing}.",
                code="out_of_memory",
                retryable=False,
            )
        log.exception("pipeline call failed", extra={"engine": self.name, "model": model})
        return EngineError(
            f"The pipeline failed ({_short(exc, Path(resident.key), Path(resident.key).name)}).",
            code="engine_error",
            retryable=True,
        )

    # -- videos ------------------------------------------------------------------------------

    def _validate_video(self, model: str, spec: VideoSpec) -> None:
        rules = self.video_rules(model)
        if rules is None:
            found = video.pipeline_class(self.model_dir(model))
            raise EngineRejected(
                "this model is not an image-to-video pipeline" + (f" ({found})." if found else "."),
                param="model",
            )
        for name, side in (("width", spec.width), ("height", spec.height)):
            if side % 2:
                raise EngineRejected(
                    f"{name} {side} is odd; H.264 video needs even sides.", param=name
                )
            if side < rules.size_multiple:
                raise EngineRejected(
                    f"{name} {side} is below {rules.size_multiple} pixels, the least this "
                    "model draws.",
                    param=name,
                )
        if spec.generate_audio:
            raise EngineRejected("this model makes silent videos.", param="generate_audio")
        if spec.background_music:
            raise EngineRejected("this model makes silent videos.", param="background_music")

    async def generate_video(
        self,
        model: str,
        spec: VideoSpec,
        source: Image,
        workdir: Path,
        *,
        progress: ProgressCallback | None = None,
        params: EngineParams | None = None,
        marker: FrameMarker | None = None,
    ) -> VideoOutput:
        """One image-to-video pipeline call, its frames written to an MP4 in ``workdir``
        (``marker`` drawn into each before it is encoded).

        The frame count is the nearest the pipeline makes to ``duration_seconds × fps`` and
        the video's ``duration_seconds`` is the real one, ``frames / fps``. Progress: the
        denoising steps take it to 0.9, writing the file to 1. ``params`` (a route's
        ``engine_params``) are not used: steps and guidance are the engine instance's.
        """
        path = self.model_dir(model)
        problem = _weights_problem(path)
        if problem is not None:  # removed since the job was submitted
            log.warning("model weights missing", extra={"model": model, "reason": problem})
            raise EngineError("The model's weights are no longer there.", code="model_load_failed")
        self._validate_video(model, spec)
        rules = self.video_rules(model)
        assert rules is not None  # validated
        plan = video.plan(spec, rules, self.options.guidance_scale)
        image = await asyncio.to_thread(batching.fit_input, source, plan.width, plan.height)
        async with self.residency.use(str(path)) as resident:
            frames = await self._video_call(
                model, resident, rules=rules, spec=spec, plan=plan, image=image, progress=progress
            )
        size = (spec.width, spec.height)
        file = workdir / f"diffusers-video-{uuid.uuid4().hex}.mp4"
        thumbnail = await self._write(frames, file, size, spec.fps, progress, marker=marker)
        if progress is not None:
            progress(1.0)
        return VideoOutput(
            path=file,
            thumbnail=thumbnail,
            width=spec.width,
            height=spec.height,
            duration_seconds=len(frames) / spec.fps,
            has_audio=False,
            marked=marker is not None,
        )

    def _video_pipeline_for(self, resident: Resident, rules: VideoRules) -> Any:
        if IMAGE_TO_VIDEO not in resident.derived:
            try:
                resident.derived[IMAGE_TO_VIDEO] = loading.image_to_video(
                    resident.pipeline, rules.family.image_to_video
                )
            except Exception as exc:
                log.exception("no image-to-video pipeline", extra={"model": resident.key})
                raise EngineError(
                    f"This model cannot animate an image ({rules.pipeline_class} has no "
                    f"{rules.family.image_to_video} variant: {_short(exc)}).",
                    code="model_load_failed",
                ) from exc
        return resident.derived[IMAGE_TO_VIDEO]

    def _video_arguments(
        self, pipeline: Any, spec: VideoSpec, plan: VideoPlan, image: Image
    ) -> dict[str, Any]:
        accepted = loading.accepts(pipeline)
        arguments: dict[str, Any] = {
            "image": image,
            "height": plan.height,
            "width": plan.width,
            "num_frames": plan.frames,
            "num_inference_steps": self.options.steps,
            "output_type": "pil",
        }
        if "prompt" in accepted:
            arguments["prompt"] = spec.prompt
        if "negative_prompt" in accepted and spec.negative_prompt:
            arguments["negative_prompt"] = spec.negative_prompt
        if "guidance_scale" in accepted:
            arguments["guidance_scale"] = plan.guidance_scale
        if "max_guidance_scale" in accepted:  # SVD: guidance ramps over the frames
            arguments["max_guidance_scale"] = plan.guidance_scale
            arguments["min_guidance_scale"] = min(1.0, plan.guidance_scale)
        if "motion_bucket_id" in accepted:
            arguments["motion_bucket_id"] = plan.motion_bucket_id
        if "fps" in accepted:  # SVD's micro-conditioning
            arguments["fps"] = spec.fps
        if "frame_rate" in accepted:  # LTX's rope scale over time
            arguments["frame_rate"] = spec.fps
        if "decode_chunk_size" in accepted:
            arguments["decode_chunk_size"] = min(plan.frames, DECODE_CHUNK)
        return arguments

    def _run_video(
        self, resident: Resident, pipeline: Any, arguments: dict[str, Any], seed: int
    ) -> list[Image]:
        """The blocking call, in a worker thread."""
        [generator] = loading.generators(self.device, [seed])
        with resident.thread_lock, torch.inference_mode():
            output = pipeline(generator=generator, **arguments)
        frames: list[Image] = loading.video_frames(output)
        return frames

    async def _video_call(
        self,
        model: str,
        resident: Resident,
        *,
        rules: VideoRules,
        spec: VideoSpec,
        plan: VideoPlan,
        image: Image,
        progress: ProgressCallback | None,
    ) -> list[Image]:
        pipeline = self._video_pipeline_for(resident, rules)
        arguments = self._video_arguments(pipeline, spec, plan, image)
        if progress is not None and "callback_on_step_end" in loading.accepts(pipeline):
            arguments["callback_on_step_end"] = _StepReporter(progress, 0, 1, share=DENOISING_SHARE)
        async with resident.lock:
            started = time.perf_counter()
            try:
                frames = await asyncio.to_thread(
                    self._run_video, resident, pipeline, arguments, spec.seed
                )
            except Exception as exc:
                doing = f"making {plan.frames} frames at {plan.width}x{plan.height}"
                raise await self._failure(exc, model, resident, doing) from exc
            seconds = time.perf_counter() - started
        if not frames:
            raise EngineError("The pipeline made no frames.", code="engine_error", retryable=True)
        call = PipelineCall(model=model, specs=1, images=len(frames), seconds=round(seconds, 4))
        self.calls.append(call)
        log.info(
            "pipeline call",
            extra={
                "engine": self.name,
                "model": model,
                "specs": 1,
                "frames": len(frames),
                "asked_frames": spec.duration_seconds * spec.fps,
                "size": f"{plan.width}x{plan.height}",
                "seconds": call.seconds,
            },
        )
        return frames

    async def _write(
        self,
        frames: list[Image],
        file: Path,
        size: tuple[int, int],
        fps: int,
        progress: ProgressCallback | None,
        *,
        marker: FrameMarker | None,
    ) -> bytes:
        """The MP4, written in a thread; a cancelled caller stops it between frames and
        waits for the partial file to be removed."""

        def written(done: float) -> None:
            if progress is not None:
                progress(DENOISING_SHARE + (1 - DENOISING_SHARE) * 0.99 * done)

        stop = threading.Event()
        work = asyncio.ensure_future(
            asyncio.to_thread(
                video.write_mp4,
                frames,
                file,
                size,
                fps,
                progress=written,
                stop=stop,
                marker=marker,
            )
        )
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            stop.set()
            with contextlib.suppress(Exception):
                await work
            raise
        except Exception as exc:
            log.exception("writing the video failed", extra={"engine": self.name})
            raise EngineError(
                f"The video could not be written ({_short(exc, file.parent, 'workdir')}).",
                code="engine_error",
                retryable=True,
            ) from exc


class _StepReporter:
    """A pipeline's ``callback_on_step_end``: reports call ``done`` of ``calls`` per step, as
    step ``done × N + n`` of ``calls × N`` (N the call's denoising steps), the steps taking
    ``share`` of the progress."""

    def __init__(
        self, progress: ProgressCallback | None, done: int, calls: int, *, share: float = 1.0
    ) -> None:
        self.progress = progress
        self.done = done
        self.calls = calls
        self.share = share

    @property
    def wanted(self) -> bool:
        return self.progress is not None

    def __call__(
        self, pipeline: Any, step: int, timestep: Any, tensors: dict[str, Any]
    ) -> dict[str, Any]:
        if self.progress is not None:
            # Image-to-image runs fewer steps than asked; the pipeline knows how many.
            total = max(step + 1, _denoising_steps(pipeline))
            fraction = (self.done + (step + 1) / total) / self.calls
            self.progress(
                self.share * fraction,
                step=self.done * total + step + 1,
                steps=self.calls * total,
            )
        return tensors


def _denoising_steps(pipeline: Any) -> int:
    """The steps of the pipeline's running call: its ``num_timesteps``, else its
    scheduler's timesteps; 0 when it tells neither."""
    steps = getattr(pipeline, "num_timesteps", None)
    if isinstance(steps, int) and steps > 0:
        return steps
    timesteps = getattr(getattr(pipeline, "scheduler", None), "timesteps", None)
    try:
        return len(timesteps) if timesteps is not None else 0
    except TypeError:
        return 0


def _exact(image: Image, width: int, height: int) -> Image:
    """The image as RGB at exactly the asked size (image-to-image may round the size)."""
    image = image.convert("RGB") if image.mode != "RGB" else image
    if image.size != (width, height):
        image = image.resize((width, height))
    return image
