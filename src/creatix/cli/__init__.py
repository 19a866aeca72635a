"""The ``creatix`` command: serve, manage keys, accounts, credits and people, list and pull
models, migrate. One module per command group; each command is a thin call into the services the
HTTP API uses, except ``generate``, a client of a server through the SDK (``creatix.client``).

Scripts rely on this contract: every command exits 2 with ``error: …`` when it is refused,
and with ``--json`` prints exactly one JSON document on stdout.

The app is assembled on first use (``app``, ``main``): ``creatix generate`` imports only its
own module and the SDK, not the server (seconds of imports saved on every call).
"""

from __future__ import annotations

import sys
from functools import cache

import typer


@cache
def _assemble() -> typer.Typer:
    from creatix.cli import (  # noqa: PLC0415 (the server's modules, loaded only when used)
        accounts,
        credits,
        db,
        generate,
        keys,
        models,
        provenance,
        serve,
        users,
        webhooks,
    )

    app = typer.Typer(no_args_is_help=True, help="Creatix: self-hosted creative generation.")
    app.command()(serve.serve)
    app.command()(serve.worker)
    app.add_typer(keys.app, name="keys")
    app.add_typer(accounts.app, name="accounts")
    app.add_typer(credits.app, name="credits")
    app.add_typer(db.app, name="db")
    app.add_typer(webhooks.app, name="webhooks")
    app.add_typer(models.app, name="models")
    app.add_typer(users.app, name="users")
    app.add_typer(provenance.app, name="provenance")
    app.add_typer(generate.app, name="generate")
    app.command()(provenance.verify)
    return app


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return _assemble()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    if sys.argv[1:2] == ["generate"]:
        from creatix.cli.generate import app as generate  # noqa: PLC0415 (no server imports)

        generate(args=sys.argv[2:], prog_name="creatix generate")
        return
    _assemble()()
