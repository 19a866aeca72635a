"""The run of ``creatix generate image|video|copy --batch prompts.csv``: one row per
creative (read and checked by ``batch_rows``), ``--concurrency`` at a time, into an output
folder with ``manifest.jsonl``: a line per finished row (its files, job id and credits, or its
error) and, for a video or copy row, a ``created`` line (its key and job id) as soon as the
server accepted its job. One runner serves the three kinds; a ``BatchKind`` says what differs
(the columns, their checks, how a row is made). Each row's ``Idempotency-Key`` is derived
from its kind and content, so a row sent again after a crash or Ctrl-C is the server's replay
of the same job, never a second charge.

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
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from creatix.cli.batch_rows import BatchKind, Row, checked_rows
from creatix.cli.generate_output import emit, err, fail, progress_on_stderr
from creatix.client import AsyncCreatix, CreatixError, InsufficientCredits, NotFound

MANIFEST = "manifest.jsonl"

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
    with progress_on_stderr(as_json=as_json, total=None) as progress:
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
    """The server and key the batch's client uses (``--base-url``, ``--api-key``, ``--api-id``)."""

    base_url: str | None
    api_key: str | None
    api_id: str | None


def run_batch(
    kind: BatchKind,
    path: Path,
    defaults: dict[str, Any],
    output: Path,
    concurrency: int,
    connection: Connection,
    as_json: bool,
) -> None:
    """Every row checked, then those an earlier run did not finish made; the summary on
    stdout, exit 1 when a row failed or the credits ran out (the batch stopped)."""
    kind.check(defaults, lambda c, p: f"--{c.replace('_', '-')} {p}")  # a usage error names it
    rows = checked_rows(path, defaults, kind)
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
            fail(
                f"interrupted: {state.succeeded} rows done this run; rerun the same command "
                "to finish (no row is charged twice)"
            )
        except (OSError, ExceptionGroup) as exc:
            first = exc.exceptions[0] if isinstance(exc, ExceptionGroup) else exc
            fail(f"the batch stopped: {first}")
    summary = {
        "rows": len(rows),
        "succeeded": state.succeeded + state.skipped,
        "skipped": state.skipped,
        "failed": state.failed,
        "manifest": str(manifest),
    }
    if state.stopped is not None:
        fail(
            f"insufficient credits at {state.stopped}; the batch stopped with "
            f"{summary['succeeded']} of {len(rows)} rows done. Add credits and rerun to finish."
        )
    emit(
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
