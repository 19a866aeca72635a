"""A job's outputs between the engine and the queue: the marks decided for them, images
and videos marked, signed and stored, and the input images an engine is given."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import secrets
from collections.abc import Sequence
from pathlib import Path

from PIL.Image import Image
from sqlalchemy.orm import Session

from creatix.catalog.schemas import VisibleMarkStyle
from creatix.engines.base import VideoOutput
from creatix.engines.registry import ResolvedRoute
from creatix.jobs import marking
from creatix.jobs.records import THUMBNAIL
from creatix.jobs.service import JobService
from creatix.jobs.specs import FILE_EXTENSIONS, MIME_TYPES, Job, StoredOutput
from creatix.jobs.sweeper import IMAGES_FOLDER, VIDEOS_FOLDER
from creatix.media.finishing import decode_image, finished_image_bytes
from creatix.media.video import FrameMarks, mark_video
from creatix.provenance import repository as provenance_repository
from creatix.provenance.credentials import Claims, Ingredient, image_mime_type
from creatix.provenance.mark import VideoMark
from creatix.provenance.service import OutputProvenance
from creatix.provenance.xmp import digital_source_xmp
from creatix.storage.base import ObjectNotFound, Storage
from creatix.worker.recording import Recorder
from creatix.worker.running import Lease

Marks = tuple[VisibleMarkStyle | None, bytes | None]
"""A job's visible mark (None: none) and its invisible mark's payload (None: none)."""


class Outputs:
    def __init__(
        self,
        jobs: JobService,
        storage: Storage,
        recorder: Recorder,
        provenance: OutputProvenance | None,
    ) -> None:
        self.jobs = jobs
        self.storage = storage
        self.recorder = recorder
        self.provenance = provenance
        """Who the invisible marks and content credentials name (None: outputs carry
        neither)."""

    async def marks(self, batch: Sequence[Job], lease: Lease) -> dict[str, Marks]:
        """Per job of ``batch``, the visible mark the policy gives its outputs and its
        invisible payload, the payload recorded (so that verification finds the job from it)
        before any output carrying it is stored: one transaction for the batch."""
        provenance, catalog = self.provenance, self.jobs.catalog
        payloads = {job.id: provenance.payload(job.id) if provenance else None for job in batch}

        def decide(session: Session) -> dict[str, Marks]:
            marks = {}
            for job in batch:
                payload = payloads[job.id]
                if payload is not None:
                    provenance_repository.record(session, job.id, payload)
                marks[job.id] = (marking.visible_mark(session, catalog, job), payload)
            return marks

        decided, _ = await self.recorder.retrying(
            lambda: self.jobs.db.write(decide), self.recorder.deadline(lease)
        )
        return decided

    async def input_images(self, batch: Sequence[Job]) -> list[Image | None] | None:
        if all(job.image_spec.input_image is None for job in batch):
            return None
        return [await self.load_image(job.image_spec.input_image) for job in batch]

    async def load_image(self, key: str | None) -> Image | None:
        if key is None:
            return None
        data = await self.storage.get(key)
        return await asyncio.to_thread(decode_image, data)

    async def store_images(
        self, job: Job, images: Sequence[Image], route: ResolvedRoute, marks: Marks
    ) -> list[StoredOutput]:
        """Each image finished (marks, metadata, content credentials) and stored; on a
        failure, those already stored are deleted."""
        metadata = {
            "engine": route.engine.name,
            "model": job.model,
            "seed": str(job.image_spec.seed),
        }
        ingredient = await self._ingredient(job.image_spec.input_image)
        stored: list[StoredOutput] = []
        try:
            for image in images:
                stored.append(await self._store_image(job, image, metadata, marks, ingredient))
        except BaseException:
            await self.recorder.delete_keys([output.storage_key for output in stored])
            raise
        return stored

    async def _store_image(
        self,
        job: Job,
        image: Image,
        metadata: dict[str, str],
        marks: Marks,
        ingredient: Ingredient | None,
    ) -> StoredOutput:
        fmt = job.image_spec.output_format
        name = f"{secrets.token_hex(8)}.{FILE_EXTENSIONS[fmt]}"
        claims = Claims(
            title=name,
            model=job.model,
            engine=metadata["engine"],
            composite=job.image_spec.input_image is not None,
            ingredient=ingredient,
        )
        xmp = digital_source_xmp(composite=claims.composite)
        mark, payload = marks

        def finish() -> bytes:
            data = finished_image_bytes(image, fmt, metadata, mark=mark, payload=payload, xmp=xmp)
            if self.provenance is None:
                return data
            return self.provenance.signed_image(data, MIME_TYPES[fmt], claims)

        data = await asyncio.to_thread(finish)
        key = f"{IMAGES_FOLDER}{job.account_id}/{job.id}/{name}"
        await self.storage.put(key, data, MIME_TYPES[fmt])
        return StoredOutput(
            kind="image",
            storage_key=key,
            mime_type=MIME_TYPES[fmt],
            size_bytes=len(data),
            checksum=_sha256(data),
            width=image.width,
            height=image.height,
        )

    @staticmethod
    def frame_marks(marks: Marks) -> FrameMarks | None:
        """What every frame of a video carries: the policy's visible mark and the invisible
        mark of the payload (None: the video carries neither)."""
        mark, payload = marks
        if mark is None and payload is None:
            return None
        return FrameMarks(mark, VideoMark(payload) if payload is not None else None)

    async def marked_video(self, video: VideoOutput, marker: FrameMarks | None) -> VideoOutput:
        """The engine's video with ``marker`` in every frame: as it is when the engine drew
        it before its own encode (``video.marked``) or there is nothing to draw; otherwise
        decoded, marked and encoded again (a finished video: an upstream provider's)."""
        if marker is None or video.marked:
            return video
        target = video.path.with_name(f"marked-{video.path.name}")
        marked = await asyncio.to_thread(mark_video, video.path, target, marker)
        video.path.unlink(missing_ok=True)
        return dataclasses.replace(video, path=target, thumbnail=marked.thumbnail, marked=True)

    async def signed_video(self, job: Job, video: VideoOutput, route: ResolvedRoute) -> VideoOutput:
        """The video with its content credentials (made from a source generation)."""
        if self.provenance is None:
            return video
        claims = Claims(
            title=video.path.name,
            model=job.model,
            engine=route.engine.name,
            composite=True,
            ingredient=await self._ingredient(job.video_spec.source_image),
        )
        signed = await asyncio.to_thread(self.provenance.signed_video, video.path, claims)
        return dataclasses.replace(video, path=signed)

    async def store_video(self, job: Job, video: VideoOutput) -> list[StoredOutput]:
        """The video, streamed from its file, and its thumbnail."""
        base = f"{VIDEOS_FOLDER}{job.account_id}/{job.id}/{secrets.token_hex(8)}"
        size = await self.storage.put_file(f"{base}.mp4", video.path, "video/mp4")
        try:
            checksum = await asyncio.to_thread(_file_sha256, video.path)
            await self.storage.put(f"{base}.jpg", video.thumbnail, "image/jpeg")
        except BaseException:
            await self.recorder.delete_keys([f"{base}.mp4"])
            raise
        return [
            StoredOutput(
                kind="video",
                storage_key=f"{base}.mp4",
                mime_type="video/mp4",
                size_bytes=size,
                checksum=checksum,
                width=video.width,
                height=video.height,
                duration_seconds=video.duration_seconds,
            ),
            StoredOutput(
                kind=THUMBNAIL,
                storage_key=f"{base}.jpg",
                mime_type="image/jpeg",
                size_bytes=len(video.thumbnail),
                checksum=_sha256(video.thumbnail),
                width=video.width,
                height=video.height,
            ),
        ]

    async def _ingredient(self, key: str | None) -> Ingredient | None:
        """The input image stored at ``key``, for the manifest (None without a signer, an
        input, or when the input is gone by now)."""
        if self.provenance is None or key is None:
            return None
        try:
            data = await self.storage.get(key)
        except ObjectNotFound:
            return None
        return Ingredient(data, image_mime_type(data), key.rsplit("/", 1)[-1])


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()
