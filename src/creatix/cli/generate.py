"""``creatix generate``: images, videos and ad copy from a Creatix server, through the SDK
(``creatix.client``) only: this module imports nothing of the server.

``generate image --batch prompts.csv`` runs one row per creative, ``--concurrency`` at a
time, into an output folder with ``manifest.jsonl`` (one line per finished row). A rerun
skips the rows the manifest has as succeeded; each row's ``Idempotency-Key`` is derived from
its content, so a row sent again after a crash or Ctrl-C is the server's replay of the same
job, never a second charge.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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

from creatix.client import (
    AsyncCreatix,
    BadRequest,
    Creatix,
    CreatixError,
    InsufficientCredits,
    JobEvent,
    MissingApiId,
)

app = typer.Typer(
    no_args_is_help=True,
    help="Generate images, videos and ad copy on a Creatix server (CREATIX_BASE_URL).",
)
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
        help="The key's id (`creatix keys list`): the text generator and a video from a local "
        "image need it.",
        show_default="none",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]
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
    def update(event: JobEvent) -> None:
        if event.event == "queued" or event.status == "queued":
            position = event.position
            where = f" (position {position})" if position is not None else ""
            progress.update(task, description=f"queued{where}")
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
    batch: Annotated[
        Path | None,
        typer.Option(
            help="A CSV or JSONL file: one creative per row, a 'prompt' column and "
            "any option as a column.",
            show_default="none",
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Rows at a time.")] = 8,
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
        _run_batch(batch, defaults, output, concurrency, base_url, api_key, api_id, as_json)
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

COLUMNS = (
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


def _checked_options(raw: dict[str, Any], problem_at: Callable[[str, str], str]) -> dict[str, Any]:
    """Options as ``images.generate`` takes them; a usage error naming the first bad one."""
    options: dict[str, Any] = {}
    for column, value in raw.items():
        if value is None or value == "":
            continue
        if column in ("n", "seed"):
            try:
                number = int(value)
            except (TypeError, ValueError):
                _refuse(problem_at(column, f"must be a whole number, not {value!r}"))
            low, high = (1, 4) if column == "n" else (0, 2**32 - 1)
            if not low <= number <= high:
                _refuse(problem_at(column, f"must be {low} to {high}, not {number}"))
            options[column] = number
            continue
        if not isinstance(value, str):
            _refuse(problem_at(column, f"must be text, not {value!r}"))
        choices = {
            "size": SIZES,
            "aspect_ratio": ASPECT_RATIOS,
            "quality": QUALITIES,
            "output_format": FORMATS,
        }.get(column)
        if choices is not None and value not in choices:
            _refuse(problem_at(column, f"must be one of {', '.join(choices)}, not {value!r}"))
        options[column] = value
    return options


@dataclass
class Row:
    number: int
    prompt: str
    options: dict[str, Any]
    key: str = ""


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


def _rows(path: Path, defaults: dict[str, Any]) -> list[Row]:
    """Every row checked before anything is sent; its idempotency key derived from its
    content (and, for identical rows, which of them it is)."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, record in _read_rows(path):
        for column in record:
            if column not in COLUMNS:
                _refuse(
                    f"{path.name} row {number}, column {column!r}: not an option; columns: "
                    f"{', '.join(COLUMNS)}"
                )

        def at(column: str, problem: str, number: int = number) -> str:
            return f"{path.name} row {number}, column {column!r}: {problem}"

        prompt = record.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            _refuse(at("prompt", "is empty"))
        options = {
            **defaults,
            **_checked_options({k: v for k, v in record.items() if k != "prompt"}, at),
        }
        normalized = json.dumps({"prompt": prompt, **options}, sort_keys=True)
        digest = hashlib.sha256(normalized.encode()).hexdigest()
        seen[digest] = seen.get(digest, 0) + 1
        key = f"creatix-batch-{digest[:48]}-{seen[digest]}"
        rows.append(Row(number, prompt, options, key))
    if not rows:
        _refuse(f"{path.name} has no rows")
    return rows


# -- the batch -------------------------------------------------------------------------------


def _done_keys(manifest: Path) -> dict[str, dict[str, Any]]:
    """The rows the manifest has as succeeded, by key (a torn last line is ignored)."""
    done: dict[str, dict[str, Any]] = {}
    if not manifest.exists():
        return done
    for line in manifest.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("status") == "succeeded":
            done[str(entry.get("key"))] = entry
    return done


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


async def _one_row(client: AsyncCreatix, row: Row, output: Path, state: BatchState) -> None:
    entry: dict[str, Any] = {"row": row.number, "key": row.key, "prompt": row.prompt}
    try:
        result = await client.images.generate(row.prompt, idempotency_key=row.key, **row.options)
        files = []
        for index, asset in enumerate(result.assets, start=1):
            suffix = Path(asset.url.split("?", 1)[0]).suffix or ".png"
            name = f"row-{row.number:05d}-{index}{suffix}"
            files.append(str(await client.download(asset, output / name)))
    except InsufficientCredits as exc:
        if state.stopped is None:
            state.stopped = f"row {row.number}: {exc.message}"
        return
    except CreatixError as exc:
        state.failed += 1
        state.failures.append(f"row {row.number}: {exc.message}")
        state.record(
            {**entry, "status": "failed", "error": {"code": exc.code, "message": exc.message}}
        )
        return
    state.succeeded += 1
    state.record(
        {**entry, "status": "succeeded", "job_id": result.job_id, "files": files, "credits": None}
    )


async def _batch(
    rows: list[Row],
    output: Path,
    concurrency: int,
    client: AsyncCreatix,
    as_json: bool,
    state: BatchState,
) -> None:
    limit = asyncio.Semaphore(concurrency)
    with _progress(as_json=as_json, total=None) as progress:
        task = progress.add_task("images", total=len(rows) + state.skipped, completed=state.skipped)

        async def run(row: Row) -> None:
            async with limit:
                if state.stopped is not None:
                    return
                await _one_row(client, row, output, state)
                progress.advance(task)

        async with asyncio.TaskGroup() as group:
            for row in rows:
                group.create_task(run(row))


def _run_batch(
    path: Path,
    defaults: dict[str, Any],
    output: Path,
    concurrency: int,
    base_url: str | None,
    api_key: str | None,
    api_id: str | None,
    as_json: bool,
) -> None:
    defaults = _checked_options(defaults, lambda c, p: f"--{c.replace('_', '-')} {p}")
    rows = _rows(path, defaults)
    output.mkdir(parents=True, exist_ok=True)
    manifest = output / MANIFEST
    done = _done_keys(manifest)
    todo = [row for row in rows if row.key not in done]
    with manifest.open("a", encoding="utf-8") as out:
        state = BatchState(out, skipped=len(rows) - len(todo))

        async def main() -> None:
            async with AsyncCreatix(base_url, api_key, api_id) as client:
                await _batch(todo, output, concurrency, client, as_json, state)

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
        str,
        typer.Option("--from", help="An image generation's id, or a local PNG/JPEG/WebP file."),
    ],
    prompt: Annotated[str, typer.Option(help="How it moves.")] = "Smooth camera motion",
    model: Annotated[
        str | None, typer.Option(help="The video model id.", show_default="kling-v2.5-turbo")
    ] = None,
    duration: Annotated[int, typer.Option(help="Seconds.")] = 5,
    resolution: Annotated[
        str | None, typer.Option(help="720p or 1080p.", show_default="the model's")
    ] = None,
    audio: Annotated[bool, typer.Option("--audio", help="Generate an audio track.")] = False,
    output: Output = Path("."),
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    api_id: ApiId = None,
    as_json: AsJson = False,
) -> None:
    """Animate an image into a video and save it."""
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
    prompt: Annotated[str, typer.Argument(help="What to write.")],
    schema: Annotated[
        Path | None,
        typer.Option(help="A JSON Schema file the answer must satisfy.", show_default="plain text"),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="The text model id.", show_default="gemini-2.5-flash")
    ] = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    api_id: ApiId = None,
    as_json: AsJson = False,
) -> None:
    """Write ad copy with the text generator; prints the answer."""
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
