"""The rows of ``creatix generate image|video|copy --batch FILE``: a CSV or JSONL file read,
and every row checked before anything is sent (a usage error, exit 2, naming the row and
column), its ``Idempotency-Key`` derived from its kind and content. A ``BatchKind`` says what
differs between the three kinds: a row's columns, how its options are checked, and how one
row is made on ``AsyncCreatix``. ``batch_runner`` runs the rows."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creatix.cli.generate_options import (
    DEFAULT_VIDEO_PROMPT,
    ProblemAt,
    copy_options,
    image_options,
    video_options,
)
from creatix.cli.generate_output import refuse
from creatix.client import AsyncCreatix, Copy, CreatixError, Video

IMAGE_COLUMNS = (
    "prompt",
    "model",
    "size",
    "aspect_ratio",
    "n",
    "seed",
    "style",
    "quality",
    "negative_prompt",
    "output_format",
)
VIDEO_COLUMNS = ("from", "prompt", "model", "duration", "resolution", "audio", "negative_prompt")
COPY_COLUMNS = ("prompt", "model", "schema", "system", "temperature", "max_output_tokens")


@dataclass
class Row:
    number: int
    prompt: str
    options: dict[str, Any]
    key: str = ""
    """The row's identity in the manifest, and its Idempotency-Key on a first try."""
    job_id: str | None = None
    """A job an earlier run created for the row, which this run waits on."""
    retry: int = 0
    """How many earlier jobs of the row ended failed or canceled."""

    @property
    def idempotency_key(self) -> str:
        return self.key if not self.retry else f"{self.key}-retry{self.retry}"


def _read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number from 1, the row's columns); a usage error for an unreadable file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        refuse(f"cannot read {path}: {exc}")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        number = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            number += 1
            try:
                record = json.loads(line)
            except ValueError as exc:
                refuse(f"{path.name} row {number}: not JSON ({exc})")
            if not isinstance(record, dict):
                refuse(f"{path.name} row {number}: must be a JSON object")
            yield number, record
        return
    reader = csv.DictReader(text.splitlines())
    for number, record in enumerate(reader, start=1):
        if None in record:
            refuse(f"{path.name} row {number}: more values than the header has columns")
        yield number, dict(record)


@dataclass(frozen=True)
class Made:
    """What one row made: its job, the files saved, what it cost, and (copy) the answer."""

    job_id: str | None
    files: list[str]
    credits: float | None
    text: str | None = None


Started = Callable[[str], None]
"""Told a row's job id once the server accepted its creation (to write its ``created`` line)."""


@dataclass(frozen=True)
class BatchKind:
    """What differs between ``generate image|video|copy --batch``: a row's columns (the
    ``required`` one must be filled), how its options are checked, and how it is made."""

    name: str
    noun: str
    """What the overall progress bar counts."""
    columns: tuple[str, ...]
    required: str
    check: Callable[[dict[str, Any], ProblemAt], dict[str, Any]]
    make: Callable[[AsyncCreatix, Row, Path, Started], Awaitable[Made]]


def checked_rows(path: Path, defaults: dict[str, Any], kind: BatchKind) -> list[Row]:
    """Every row checked before anything is sent; its idempotency key derived from its kind
    and content (and, for identical rows, which of them it is)."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, record in _read_rows(path):
        for column in record:
            if column not in kind.columns:
                refuse(
                    f"{path.name} row {number}, column {column!r}: not an option; columns: "
                    f"{', '.join(kind.columns)}"
                )

        def at(column: str, problem: str, number: int = number) -> str:
            return f"{path.name} row {number}, column {column!r}: {problem}"

        merged = {**defaults, **{k: v for k, v in record.items() if v is not None and v != ""}}
        required = merged.get(kind.required)
        if not isinstance(required, str) or not required.strip():
            refuse(at(kind.required, "is empty"))
        prompt = merged.pop("prompt", DEFAULT_VIDEO_PROMPT)
        if not isinstance(prompt, str):
            refuse(at("prompt", f"must be text, not {prompt!r}"))
        options = kind.check(merged, at)
        normalized = json.dumps(
            {"kind": kind.name, "prompt": prompt, **options}, sort_keys=True, default=str
        )
        digest = hashlib.sha256(normalized.encode()).hexdigest()
        seen[digest] = seen.get(digest, 0) + 1
        key = f"creatix-batch-{digest[:48]}-{seen[digest]}"
        rows.append(Row(number, prompt, options, key))
    if not rows:
        refuse(f"{path.name} has no rows")
    return rows


# -- making one row of each kind ---------------------------------------------------------------


def _ended(status: str, error: str | None, what: str) -> None:
    """A wait that ended other than succeeded, as the row's failure."""
    if status != "succeeded":
        raise CreatixError(error or f"the {what} {status}", code=status)


async def _make_image(client: AsyncCreatix, row: Row, output: Path, _: Started) -> Made:
    # Synchronous: no job to wait on apart from its creation, which the key replays.
    result = await client.images.generate(
        row.prompt, idempotency_key=row.idempotency_key, **row.options
    )
    files = []
    for index, asset in enumerate(result.assets, start=1):
        suffix = Path(asset.url.split("?", 1)[0]).suffix or ".png"
        name = f"row-{row.number:05d}-{index}{suffix}"
        files.append(str(await client.download(asset, output / name)))
    return Made(result.job_id, files, result.credits_charged)


async def _recorded_or_created(
    row: Row, create: Callable[..., Awaitable[Video | Copy]], started: Started
) -> str:
    """The id of the job an earlier run created for ``row``, else of one created now (and
    told to ``started``)."""
    if row.job_id is not None:
        return row.job_id
    created = await create(row.prompt, idempotency_key=row.idempotency_key, **row.options)
    started(created.id)
    return created.id


async def _make_video(client: AsyncCreatix, row: Row, output: Path, started: Started) -> Made:
    job_id = await _recorded_or_created(row, client.videos.create, started)
    done = await client.videos.wait(job_id)
    _ended(done.status, done.error, "video")
    files = []
    for index, asset in enumerate((a for a in done.assets if a.kind == "video"), start=1):
        suffix = "" if index == 1 else f"-{index}"
        name = f"row-{row.number:05d}{suffix}.mp4"
        files.append(str(await client.download(asset, output / name)))
    # Neither the platform's video nor the asset generator's task says what it cost.
    job = await client.jobs.get(done.id)
    return Made(done.id, files, job.credits_charged)


async def _make_copy(client: AsyncCreatix, row: Row, output: Path, started: Started) -> Made:
    job_id = await _recorded_or_created(row, client.copy.create, started)
    done = await client.copy.wait(job_id)
    _ended(done.status, done.error, "task")
    suffix = ".json" if "schema" in row.options else ".txt"
    path = output / f"row-{row.number:05d}{suffix}"
    path.write_text((done.text or "") + "\n", encoding="utf-8")
    return Made(done.id, [str(path)], done.credits, done.text)


IMAGE_BATCH = BatchKind("image", "images", IMAGE_COLUMNS, "prompt", image_options, _make_image)
VIDEO_BATCH = BatchKind("video", "videos", VIDEO_COLUMNS, "from", video_options, _make_video)
COPY_BATCH = BatchKind("copy", "copy", COPY_COLUMNS, "prompt", copy_options, _make_copy)


# -- the batch -------------------------------------------------------------------------------
