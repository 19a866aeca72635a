"""``creatix generate``: images, videos and ad copy from a Creatix server, through the SDK
(``creatix.client``) only: this module, like the ``generate_*`` and ``batch_*`` modules it
uses, imports nothing of the server.

``generate image|video|copy`` makes one creative with its progress on stderr;
``--batch FILE`` hands a file of them to ``batch_runner.run_batch`` (the rows read and
checked by ``batch_rows``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, TaskID

from creatix.cli.batch_rows import COPY_BATCH, IMAGE_BATCH, VIDEO_BATCH
from creatix.cli.batch_runner import Connection, run_batch
from creatix.cli.generate_ad_set import ad_set
from creatix.cli.generate_options import (
    ASPECT_RATIOS,
    DEFAULT_VIDEO_PROMPT,
    SIZES,
    image_options,
)
from creatix.cli.generate_output import api_failure, emit, fail, progress_on_stderr, refuse
from creatix.client import Creatix, CreatixError, JobEvent

app = typer.Typer(
    no_args_is_help=True,
    help="Generate images, videos and ad copy on a Creatix server (CREATIX_BASE_URL).",
)
app.command("ad-set")(ad_set)

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
            refuse("give a prompt or --batch, not both")
        connection = Connection(base_url, api_key, api_id)
        run_batch(IMAGE_BATCH, batch, defaults, output, concurrency, connection, as_json)
        return
    if prompt is None:
        refuse("give a prompt (or --batch FILE)")
    options = image_options(
        defaults, lambda column, problem: f"--{column.replace('_', '-')} {problem}"
    )
    with Creatix(base_url, api_key, api_id) as client:
        try:
            files, job_id = _one_image(client, prompt, options, output, as_json)
        except CreatixError as exc:
            api_failure(exc)
    emit(
        as_json,
        {"job_id": job_id, "status": "succeeded", "files": [str(f) for f in files]},
        [str(f) for f in files],
    )


def _one_image(
    client: Creatix, prompt: str, options: dict[str, Any], output: Path, as_json: bool
) -> tuple[list[Path], str | None]:
    output.mkdir(parents=True, exist_ok=True)
    synchronous = "seed" in options or options.get("size", "1024x1024") != "1024x1024"
    with progress_on_stderr(as_json=as_json) as progress:
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
        run_batch(VIDEO_BATCH, batch, defaults, output, concurrency, connection, as_json)
        return
    if source is None:
        refuse("give --from (a generation's id or an image file), or --batch FILE")
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
            with progress_on_stderr(as_json=as_json) as progress:
                task = progress.add_task("submitting", total=100)
                created = client.videos.create(prompt, **options)
                progress.update(task, description="queued")
                done = client.videos.wait(created.id, on_progress=_on_event(progress, task))
                if done.status != "succeeded":
                    fail(f"the video {done.status}: {done.error or 'no reason given'}")
                progress.update(task, description="saving", completed=100)
                files = [client.download(a, output) for a in done.assets if a.kind == "video"]
        except CreatixError as exc:
            api_failure(exc)
    emit(
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
            refuse("give a prompt or --batch, not both")
        defaults = {"model": model, "schema": str(schema) if schema is not None else None}
        defaults = {k: v for k, v in defaults.items() if v is not None}
        connection = Connection(base_url, api_key, api_id)
        run_batch(COPY_BATCH, batch, defaults, output, concurrency, connection, as_json)
        return
    if prompt is None:
        refuse("give a prompt (or --batch FILE)")
    options: dict[str, Any] = {}
    if schema is not None:
        try:
            options["schema"] = json.loads(schema.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            refuse(f"--schema {schema}: {exc}")
    if model:
        options["model"] = model
    with Creatix(base_url, api_key, api_id) as client:
        try:
            with progress_on_stderr(as_json=as_json) as progress:
                task = progress.add_task("submitting", total=100)
                created = client.copy.create(prompt, **options)
                done = client.copy.wait(created.id, on_progress=_on_event(progress, task))
        except CreatixError as exc:
            api_failure(exc)
    if done.status != "succeeded":
        fail(f"the task {done.status}: {done.error or 'no reason given'}")
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
