"""What ``creatix generate`` and its ``--batch`` runner share on the terminal: refusals
(exit 2) and failures (exit 1) on stderr, the answer on stdout (text or one JSON document),
and Rich progress on stderr. Like the rest of ``creatix generate``, nothing of the server:
``cli/common.py`` has the same kind of helpers but imports the server's settings."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from creatix.client import BadRequest, CreatixError, MissingApiId

err = Console(stderr=True, soft_wrap=True)


def refuse(message: str) -> NoReturn:
    """A usage error: one line, exit 2."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code=2)


def fail(message: str) -> NoReturn:
    """A failure: one line, exit 1."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code=1)


def api_failure(exc: CreatixError) -> NoReturn:
    where = f" ({exc.param})" if exc.param else ""
    message = f"{exc.message}{where}"
    if isinstance(exc, BadRequest | MissingApiId):
        refuse(message)
    fail(message)


def emit(as_json: bool, document: dict[str, Any], lines: list[str]) -> None:
    if as_json:
        print(json.dumps(document))
        return
    for line in lines:
        print(line)


def progress_on_stderr(*, as_json: bool, total: float | None = 100) -> Progress:
    """Bars on stderr, a percentage each (``total=None``: done of all, as a batch counts);
    silent with --json or when stderr is not a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%") if total else MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=as_json or not err.is_terminal,
    )
