"""``creatix generate``: images, videos and ad copy from a Creatix server, through the SDK
(``creatix.client``) only: this module imports nothing of the server.

``generate image|video|copy --batch prompts.csv`` runs one row per creative,
``--concurrency`` at a time, into an output folder with ``manifest.jsonl``: a line per
finished row (its files, job id and credits, or its error) and, for a video or copy row, a
``created`` line (its key and job id) as soon as the server accepted its job. One runner
serves the three kinds; a ``BatchKind`` says what differs (the columns, their checks, how a
row is made). Each row's ``Idempotency-Key`` is derived from its kind and content, so a row
sent again after a crash or Ctrl-C is the server's replay of the same job, never a second
charge.

A rerun goes by each row's manifest lines:

- a ``succeeded`` line: the row is skipped;
- a job id whose job did not end badly (a ``created`` line, or a failure while waiting or
  saving): the row is not created again; this run waits on that job, saves its files and
  writes the row's ``succeeded`` line. A video from a local image needs this: its upload has
  a fresh signed URL each time, so creating it again would be a different body under the
  same key, which the server refuses (409 ``idempotency_key_reused``);
- a job that ended failed or canceled, or is gone (its ``failed`` line has the job id and
  that status, or ``gone``, as its code): the run counts the row failed; the next rerun
  creates it afresh under a new key (``…-retry1``, ``…-retry2``: one more per such job),
  since the old key would only replay the failed job (or, for a local image, be refused);
- otherwise (no line, or a failure before any job was accepted) the row is created under its
  key, which the server replays if an earlier try did get through.

An interrupt between the server accepting a job and its ``created`` line being written leaves
one window: a rerun creates the row again under the same key, which is a replay for a row
from a generation id but a 409 for a video from a local image: that row fails (never charged
twice), its first job unrecorded, until the row is changed or the key's window has passed.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from creatix.cli.generate_ad_set import ad_set
from creatix.client import (
    AsyncCreatix,
    BadRequest,
    Copy,
    Creatix,
    CreatixError,
    InsufficientCredits,
    JobEvent,
    MissingApiId,
    NotFound,
    Video,
)

app = typer.Typer(
    no_args_is_help=True,
    help="Generate images, videos and ad copy on a Creatix server (CREATIX_BASE_URL).",
)
app.command("ad-set")(ad_set)
err = Console(stderr=True, soft_wrap=True)

SIZES = ("512x512", "1024x1024", "2048x2048")
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "1:4", "4:1")
QUALITIES = ("standard", "hd")
FORMATS = ("png", "jpeg", "webp")
MANIFEST = "manifest.jsonl"

BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="CREATIX_BASE_URL",
        help="The server's URL.",
        show_default="http://127.0.0.1:8000",
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key", envvar="CREATIX_API_KEY", help="The key's secret.", show_default="none"
    ),
]
ApiId = Annotated[
    str | None,
    typer.Option(
        "--api-id",
        envvar="CREATIX_API_ID",
        help="The key's id, which the text generator and a video from a local image send as "
        "X-API-ID.",
        show_default="asked of the server",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]
Concurrency = Annotated[int, typer.Option(min=1, max=64, help="Rows at a time.")]


def _batch_option(columns: str) -> Any:
    return typer.Option(
        help=f"A CSV or JSONL file: one creative per row, {columns} and any option as a "
        "column; results and manifest.jsonl go to --output, and a rerun skips rows done.",
        show_default="none",
    )


Output = Annotated[
    Path, typer.Option("--output", "-o", help="The folder files are saved in.", show_default="here")
]


# -- output and errors -----------------------------------------------------------------------


def _refuse(message: str) -> NoReturn:
    """A usage error: one line, exit 2."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code=2)


def _fail(message: str) -> NoReturn:
    """A failure: one line, exit 1."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code=1)


def _api_failure(exc: CreatixError) -> NoReturn:
    where = f" ({exc.param})" if exc.param else ""
    message = f"{exc.message}{where}"
    if isinstance(exc, BadRequest | MissingApiId):
        _refuse(message)
    _fail(message)


def _emit(as_json: bool, document: dict[str, Any], lines: list[str]) -> None:
    if as_json:
        print(json.dumps(document))
        return
    for line in lines:
        print(line)


def _progress(*, as_json: bool, total: float | None = 100) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%") if total else MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=as_json or not err.is_terminal,
    )


def _on_event(progress: Progress, task: TaskID) -> Callable[[JobEvent], None]:
    """The bar of one job: its place in the queue, then the engine's steps."""

    def update(event: JobEvent) -> None:
        if event.event == "queued" or event.status == "queued":
            position = event.position
            where = f" (position {position})" if position is not None else ""
            progress.update(task, description=f"queued{where}")
        elif event.step is not None and event.steps:
            description = f"step {event.step}/{event.steps}"
            progress.update(task, description=description, completed=event.progress or 0)
        else:
            progress.update(task, description="generating", completed=event.progress or 0)

    return update


# -- generate image --------------------------------------------------------------------------


@app.command("image")
def image(
    prompt: Annotated[
        str | None, typer.Argument(help="What to draw (or use --batch).", show_default="none")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="The model id.", show_default="creatix-flash")
    ] = None,
    size: Annotated[
        str | None, typer.Option(help=f"One of {', '.join(SIZES)}.", show_default="1024x1024")
    ] = None,
    aspect_ratio: Annotated[
        str | None,
        typer.Option(
            "--aspect-ratio", help=f"One of {', '.join(ASPECT_RATIOS)}.", show_default="1:1"
        ),
    ] = None,
    n: Annotated[
        int | None, typer.Option("-n", help="Images per prompt, 1 to 4.", show_default="1")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Same seed and options, same image.", show_default="random")
    ] = None,
    style: Annotated[
        str | None, typer.Option(help="A style id of the catalog.", show_default="none")
    ] = None,
    output: Output = Path("."),
    batch: Annotated[Path | None, _batch_option("a 'prompt' column")] = None,
    concurrency: Concurrency = 8,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    api_id: ApiId = None,
    as_json: AsJson = False,
) -> None:
    """Make images and save them. With --size or --seed through Creatix v1 (synchronous);
    otherwise through the platform API, with the queue position and progress shown."""
    defaults = {
        "model": model,
        "size": size,
        "aspect_ratio": aspect_ratio,
        "n": n,
        "seed": seed,
        "style": style,
    }
    defaults = {k: v for k, v in defaults.items() if v is not None}
    if batch is not None:
        if prompt is not None:
            _refuse("give a prompt or --batch, not both")
        connection = Connection(base_url, api_key, api_id)
        _run_batch(IMAGE_BATCH, batch, defaults, output, concurrency, connection, as_json)
        return
    if prompt is None:
        _refuse("give a prompt (or --batch FILE)")
    options = _checked_options(
        defaults, lambda column, problem: f"--{column.replace('_', '-')} {problem}"
    )
    with Creatix(base_url, api_key, api_id) as client:
        try:
            files, job_id = _one_image(client, prompt, options, output, as_json)
        except CreatixError as exc:
            _api_failure(exc)
    _emit(
        as_json,
        {"job_id": job_id, "status": "succeeded", "files": [str(f) for f in files]},
        [str(f) for f in files],
    )


def _one_image(
    client: Creatix, prompt: str, options: dict[str, Any], output: Path, as_json: bool
) -> tuple[list[Path], str | None]:
    output.mkdir(parents=True, exist_ok=True)
    synchronous = "seed" in options or options.get("size", "1024x1024") != "1024x1024"
    with _progress(as_json=as_json) as progress:
        task = progress.add_task("submitting", total=100)
        if synchronous:
            progress.update(task, description="generating")
            result = client.images.generate(prompt, **options)
            assets, job_id = result.assets, result.job_id
        else:
            generation = client.generations.create(
                prompt,
                model=options.get("model", "creatix-flash"),
                **{k: options[k] for k in ("aspect_ratio", "n", "style") if k in options},
            )
            progress.update(task, description="queued")
            done = client.generations.wait(generation.id, on_progress=_on_event(progress, task))
            if done.status != "succeeded":
                raise CreatixError(done.error or f"the generation {done.status}", code=done.status)
            assets, job_id = done.assets, done.id
        progress.update(task, description="saving", completed=100)
        files = [client.download(asset, output) for asset in assets]
    return files, job_id


# -- options and rows ------------------------------------------------------------------------

ProblemAt = Callable[[str, str], str]
"""Where a bad value is, in a user's words: (column, problem) → a one-line message."""

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
RESOLUTIONS = ("720p", "1080p")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")
DEFAULT_VIDEO_PROMPT = "Smooth camera motion"


def _whole(value: Any, low: int, high: int, column: str, problem_at: ProblemAt) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        _refuse(problem_at(column, f"must be a whole number, not {value!r}"))
    if not low <= number <= high:
        _refuse(problem_at(column, f"must be {low} to {high}, not {number}"))
    return number


def _text(value: Any, column: str, problem_at: ProblemAt, choices: tuple[str, ...] = ()) -> str:
    if not isinstance(value, str):
        _refuse(problem_at(column, f"must be text, not {value!r}"))
    if choices and value not in choices:
        _refuse(problem_at(column, f"must be one of {', '.join(choices)}, not {value!r}"))
    return value


def _checked_options(raw: dict[str, Any], problem_at: ProblemAt) -> dict[str, Any]:
    """Options as ``images.generate`` takes them; a usage error naming the first bad one."""
    options: dict[str, Any] = {}
    for column, value in raw.items():
        if value is None or value == "":
            continue
        if column in ("n", "seed"):
            low, high = (1, 4) if column == "n" else (0, 2**32 - 1)
            options[column] = _whole(value, low, high, column, problem_at)
            continue
        choices = {
            "size": SIZES,
            "aspect_ratio": ASPECT_RATIOS,
            "quality": QUALITIES,
            "output_format": FORMATS,
        }.get(column, ())
        options[column] = _text(value, column, problem_at, choices)
    return options


def _video_options(raw: dict[str, Any], problem_at: ProblemAt) -> dict[str, Any]:
    """A video row's options; ``from`` becomes ``image`` (an image file there is) or
    ``source_generation_id`` (anything else: a generation's id)."""
    options: dict[str, Any] = {}
    for column, value in raw.items():
        if value is None or value == "":
            continue
        if column == "from":
            source = _text(value, column, problem_at)
            name = "image" if Path(source).is_file() else "source_generation_id"
            options[name] = source
        elif column == "duration":
            options[column] = _whole(value, 1, 60, column, problem_at)
        elif column == "audio":
            # As --audio: asked for, or left out (a model without sound takes no "false").
            if _yes(value, column, problem_at):
                options[column] = True
        else:
            choices = RESOLUTIONS if column == "resolution" else ()
            options[column] = _text(value, column, problem_at, choices)
    return options


def _yes(value: Any, column: str, problem_at: ProblemAt) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        _refuse(problem_at(column, f"must be true or false, not {value!r}"))
    return word in TRUE_WORDS


def _copy_options(raw: dict[str, Any], problem_at: ProblemAt) -> dict[str, Any]:
    """A copy row's options; ``schema`` names a JSON Schema file, read here (an object in a
    JSONL row is taken as the schema itself)."""
    options: dict[str, Any] = {}
    for column, value in raw.items():
        if value is None or value == "":
            continue
        if column == "schema":
            options[column] = _schema(value, problem_at)
        elif column == "temperature":
            try:
                temperature = float(value)
            except (TypeError, ValueError):
                _refuse(problem_at(column, f"must be a number, not {value!r}"))
            if not 0.0 <= temperature <= 2.0:
                _refuse(problem_at(column, f"must be 0 to 2, not {temperature}"))
            options[column] = temperature
        elif column == "max_output_tokens":
            options[column] = _whole(value, 1, 1_000_000, column, problem_at)
        else:
            options[column] = _text(value, column, problem_at)
    return options


def _schema(value: Any, problem_at: ProblemAt) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    path = Path(_text(value, "schema", problem_at))
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _refuse(problem_at("schema", f"cannot read a JSON Schema from {path}: {exc}"))
    if not isinstance(schema, dict):
        _refuse(problem_at("schema", f"{path} must hold a JSON object"))
    return schema


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
        _refuse(f"cannot read {path}: {exc}")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        number = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            number += 1
            try:
                record = json.loads(line)
            except ValueError as exc:
                _refuse(f"{path.name} row {number}: not JSON ({exc})")
            if not isinstance(record, dict):
                _refuse(f"{path.name} row {number}: must be a JSON object")
            yield number, record
        return
    reader = csv.DictReader(text.splitlines())
    for number, record in enumerate(reader, start=1):
        if None in record:
            _refuse(f"{path.name} row {number}: more values than the header has columns")
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


def _rows(path: Path, defaults: dict[str, Any], kind: BatchKind) -> list[Row]:
    """Every row checked before anything is sent; its idempotency key derived from its kind
    and content (and, for identical rows, which of them it is)."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, record in _read_rows(path):
        for column in record:
            if column not in kind.columns:
                _refuse(
                    f"{path.name} row {number}, column {column!r}: not an option; columns: "
                    f"{', '.join(kind.columns)}"
                )

        def at(column: str, problem: str, number: int = number) -> str:
            return f"{path.name} row {number}, column {column!r}: {problem}"

        merged = {**defaults, **{k: v for k, v in record.items() if v is not None and v != ""}}
        required = merged.get(kind.required)
        if not isinstance(required, str) or not required.strip():
            _refuse(at(kind.required, "is empty"))
        prompt = merged.pop("prompt", DEFAULT_VIDEO_PROMPT)
        if not isinstance(prompt, str):
            _refuse(at("prompt", f"must be text, not {prompt!r}"))
        options = kind.check(merged, at)
        normalized = json.dumps(
            {"kind": kind.name, "prompt": prompt, **options}, sort_keys=True, default=str
        )
        digest = hashlib.sha256(normalized.encode()).hexdigest()
        seen[digest] = seen.get(digest, 0) + 1
        key = f"creatix-batch-{digest[:48]}-{seen[digest]}"
        rows.append(Row(number, prompt, options, key))
    if not rows:
        _refuse(f"{path.name} has no rows")
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


IMAGE_BATCH = BatchKind("image", "images", IMAGE_COLUMNS, "prompt", _checked_options, _make_image)
VIDEO_BATCH = BatchKind("video", "videos", VIDEO_COLUMNS, "from", _video_options, _make_video)
COPY_BATCH = BatchKind("copy", "copy", COPY_COLUMNS, "prompt", _copy_options, _make_copy)


# -- the batch -------------------------------------------------------------------------------


GONE = "gone"
"""A ``failed`` line's code when the job the row waited on is not found (deleted since)."""
ENDED_BADLY = ("failed", "canceled", GONE)
"""A job's ends, as a ``failed`` line's code, after which the row is created afresh."""


def _history(manifest: Path) -> dict[str, list[dict[str, Any]]]:
    """Each row's manifest lines by key, oldest first (a torn line is ignored)."""
    lines: dict[str, list[dict[str, Any]]] = {}
    if not manifest.exists():
        return lines
    for line in manifest.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            lines.setdefault(entry["key"], []).append(entry)
    return lines


def _torn(manifest: Path) -> bool:
    """Whether the manifest's last line lacks its newline (a run killed mid-write)."""
    with manifest.open("rb") as raw:
        if raw.seek(0, 2) == 0:
            return False
        raw.seek(-1, 2)
        return raw.read(1) != b"\n"


def _job_ended_badly(entry: dict[str, Any]) -> bool:
    error = entry.get("error")
    return (
        entry.get("status") == "failed"
        and bool(entry.get("job_id"))
        and isinstance(error, dict)
        and error.get("code") in ENDED_BADLY
    )


def _this_run(row: Row, lines: list[dict[str, Any]]) -> Row | None:
    """The row as this run takes it (see the module's docstring): None when an earlier run
    did it; else waiting on the job an earlier run created, or created (afresh, under a new
    key, once an earlier job of it ended badly)."""
    if any(entry.get("status") == "succeeded" for entry in lines):
        return None
    retry = sum(1 for entry in lines if _job_ended_badly(entry))
    latest = lines[-1] if lines else {}
    job_id = latest.get("job_id")
    if isinstance(job_id, str) and job_id and not _job_ended_badly(latest):
        return replace(row, job_id=job_id, retry=retry)
    return replace(row, retry=retry)


@dataclass
class BatchState:
    manifest: Any
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    stopped: str | None = None
    failures: list[str] = field(default_factory=list)

    def record(self, entry: dict[str, Any]) -> None:
        self.manifest.write(json.dumps(entry) + "\n")
        self.manifest.flush()


async def _one_row(
    client: AsyncCreatix, kind: BatchKind, row: Row, output: Path, state: BatchState
) -> None:
    entry: dict[str, Any] = {"row": row.number, "key": row.key, "prompt": row.prompt}
    if row.job_id is not None:
        entry["job_id"] = row.job_id

    def started(job_id: str) -> None:
        entry["job_id"] = job_id
        state.record({**entry, "status": "created"})

    try:
        made = await kind.make(client, row, output, started)
    except InsufficientCredits as exc:
        if state.stopped is None:
            state.stopped = f"row {row.number}: {exc.message}"
        return
    except CreatixError as exc:
        state.failed += 1
        state.failures.append(f"row {row.number}: {exc.message}")
        code = GONE if isinstance(exc, NotFound) and "job_id" in entry else exc.code
        state.record({**entry, "status": "failed", "error": {"code": code, "message": exc.message}})
        return
    state.succeeded += 1
    done = {"status": "succeeded", "job_id": made.job_id, "files": made.files}
    if made.text is not None:
        done["text"] = made.text
    state.record({**entry, **done, "credits": made.credits})


async def _batch(
    kind: BatchKind,
    rows: list[Row],
    output: Path,
    concurrency: int,
    client: AsyncCreatix,
    as_json: bool,
    state: BatchState,
) -> None:
    limit = asyncio.Semaphore(concurrency)
    with _progress(as_json=as_json, total=None) as progress:
        task = progress.add_task(
            kind.noun, total=len(rows) + state.skipped, completed=state.skipped
        )

        async def run(row: Row) -> None:
            async with limit:
                if state.stopped is not None:
                    return
                await _one_row(client, kind, row, output, state)
                progress.advance(task)

        async with asyncio.TaskGroup() as group:
            for row in rows:
                group.create_task(run(row))


@dataclass(frozen=True)
class Connection:
    base_url: str | None
    api_key: str | None
    api_id: str | None


def _run_batch(
    kind: BatchKind,
    path: Path,
    defaults: dict[str, Any],
    output: Path,
    concurrency: int,
    connection: Connection,
    as_json: bool,
) -> None:
    kind.check(defaults, lambda c, p: f"--{c.replace('_', '-')} {p}")  # a usage error names it
    rows = _rows(path, defaults, kind)
    output.mkdir(parents=True, exist_ok=True)
    manifest = output / MANIFEST
    history = _history(manifest)
    todo = [
        this_run
        for row in rows
        if (this_run := _this_run(row, history.get(row.key, []))) is not None
    ]
    with manifest.open("a", encoding="utf-8") as out:
        if _torn(manifest):
            out.write("\n")  # ends the torn line, so the next one is whole
        state = BatchState(out, skipped=len(rows) - len(todo))

        async def main() -> None:
            async with AsyncCreatix(
                connection.base_url, connection.api_key, connection.api_id
            ) as client:
                await _batch(kind, todo, output, concurrency, client, as_json, state)

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            _fail(
                f"interrupted: {state.succeeded} rows done this run; rerun the same command "
                "to finish (no row is charged twice)"
            )
        except (OSError, ExceptionGroup) as exc:
            first = exc.exceptions[0] if isinstance(exc, ExceptionGroup) else exc
            _fail(f"the batch stopped: {first}")
    summary = {
        "rows": len(rows),
        "succeeded": state.succeeded + state.skipped,
        "skipped": state.skipped,
        "failed": state.failed,
        "manifest": str(manifest),
    }
    if state.stopped is not None:
        _fail(
            f"insufficient credits at {state.stopped}; the batch stopped with "
            f"{summary['succeeded']} of {len(rows)} rows done. Add credits and rerun to finish."
        )
    _emit(
        as_json,
        summary,
        [
            f"{summary['succeeded']} of {len(rows)} rows done ({state.skipped} from an earlier "
            f"run), {state.failed} failed; manifest: {manifest}"
        ],
    )
    if state.failed:
        for failure in state.failures[:5]:
            err.print(f"[red]failed:[/red] {escape(failure)}", highlight=False)
        raise typer.Exit(code=1)


# -- generate video --------------------------------------------------------------------------


@app.command("video")
def video(
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="An image generation's id, or a local PNG/JPEG/WebP file (or --batch).",
            show_default="none",
        ),
    ] = None,
    prompt: Annotated[str, typer.Option(help="How it moves.")] = DEFAULT_VIDEO_PROMPT,
    model: Annotated[
        str | None, typer.Option(help="The video model id.", show_default="kling-v2.5-turbo")
    ] = None,
    duration: Annotated[int, typer.Option(help="Seconds.")] = 5,
    resolution: Annotated[
        str | None, typer.Option(help="720p or 1080p.", show_default="the model's")
    ] = None,
    audio: Annotated[bool, typer.Option("--audio", help="Generate an audio track.")] = False,
    output: Output = Path("."),
    batch: Annotated[Path | None, _batch_option("a 'from' column (an id or an image file)")] = None,
    concurrency: Concurrency = 4,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    api_id: ApiId = None,
    as_json: AsJson = False,
) -> None:
    """Animate an image into a video and save it."""
    if batch is not None:
        defaults = {
            "from": source,
            "prompt": prompt,
            "model": model,
            "duration": duration,
            "resolution": resolution,
            "audio": True if audio else None,
        }
        defaults = {k: v for k, v in defaults.items() if v is not None}
        connection = Connection(base_url, api_key, api_id)
        _run_batch(VIDEO_BATCH, batch, defaults, output, concurrency, connection, as_json)
        return
    if source is None:
        _refuse("give --from (a generation's id or an image file), or --batch FILE")
    local = Path(source)
    options: dict[str, Any] = {"duration": duration}
    if local.is_file():
        options["image"] = local
    else:
        options["source_generation_id"] = source
    if model:
        options["model"] = model
    if resolution:
        options["resolution"] = resolution
    if audio:
        options["audio"] = True
    output.mkdir(parents=True, exist_ok=True)
    with Creatix(base_url, api_key, api_id) as client:
        try:
            with _progress(as_json=as_json) as progress:
                task = progress.add_task("submitting", total=100)
                created = client.videos.create(prompt, **options)
                progress.update(task, description="queued")
                done = client.videos.wait(created.id, on_progress=_on_event(progress, task))
                if done.status != "succeeded":
                    _fail(f"the video {done.status}: {done.error or 'no reason given'}")
                progress.update(task, description="saving", completed=100)
                files = [client.download(a, output) for a in done.assets if a.kind == "video"]
        except CreatixError as exc:
            _api_failure(exc)
    _emit(
        as_json,
        {"video_id": done.id, "status": done.status, "files": [str(f) for f in files]},
        [str(f) for f in files],
    )


# -- generate copy ---------------------------------------------------------------------------


@app.command("copy")
def copy(
    prompt: Annotated[
        str | None, typer.Argument(help="What to write (or use --batch).", show_default="none")
    ] = None,
    schema: Annotated[
        Path | None,
        typer.Option(help="A JSON Schema file the answer must satisfy.", show_default="plain text"),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="The text model id.", show_default="gemini-2.5-flash")
    ] = None,
    output: Output = Path("."),
    batch: Annotated[Path | None, _batch_option("a 'prompt' column")] = None,
    concurrency: Concurrency = 8,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    api_id: ApiId = None,
    as_json: AsJson = False,
) -> None:
    """Write ad copy with the text generator; prints the answer (with --batch: saves each
    row's answer under --output)."""
    if batch is not None:
        if prompt is not None:
            _refuse("give a prompt or --batch, not both")
        defaults = {"model": model, "schema": str(schema) if schema is not None else None}
        defaults = {k: v for k, v in defaults.items() if v is not None}
        connection = Connection(base_url, api_key, api_id)
        _run_batch(COPY_BATCH, batch, defaults, output, concurrency, connection, as_json)
        return
    if prompt is None:
        _refuse("give a prompt (or --batch FILE)")
    options: dict[str, Any] = {}
    if schema is not None:
        try:
            options["schema"] = json.loads(schema.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            _refuse(f"--schema {schema}: {exc}")
    if model:
        options["model"] = model
    with Creatix(base_url, api_key, api_id) as client:
        try:
            with _progress(as_json=as_json) as progress:
                task = progress.add_task("submitting", total=100)
                created = client.copy.create(prompt, **options)
                done = client.copy.wait(created.id, on_progress=_on_event(progress, task))
        except CreatixError as exc:
            _api_failure(exc)
    if done.status != "succeeded":
        _fail(f"the task {done.status}: {done.error or 'no reason given'}")
    answer: Any = done.text
    if schema is not None and done.text is not None:
        answer = done.json()
    if as_json:
        print(
            json.dumps(
                {
                    "task_id": done.id,
                    "status": done.status,
                    "credits": done.credits,
                    "text": done.text,
                    "json": answer if schema is not None else None,
                }
            )
        )
    else:
        sys.stdout.write((done.text or "") + "\n")
