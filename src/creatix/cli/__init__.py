"""The ``creatix`` command: serve, manage keys, accounts, credits and people, list and pull
models, migrate. One module per command group; each command is a thin call into the services the
HTTP API uses, except ``generate``, a client of a server through the SDK (``creatix.client``).

Scripts rely on this contract: every command exits 2 with ``error: …`` when it is refused,
and with ``--json`` prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import typer

from creatix.cli import (
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


def main() -> None:
    app()
