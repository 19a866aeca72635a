"""``creatix webhooks``: signing secrets and delivery logs."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from creatix.accounts import service as accounts
from creatix.accounts.audit import cli_actor
from creatix.cli.common import (
    AccountName,
    AsJson,
    DatabaseUrl,
    DataDir,
    console,
    say_where,
    settings_from,
    with_db,
)
from creatix.kit.db import Database
from creatix.webhooks import service as webhooks
from creatix.webhooks.schemas import AccountSecret, DeliveryInfo

app = typer.Typer(no_args_is_help=True, help="Webhook signing secrets and delivery logs.")


@app.command("secret")
def webhooks_secret(
    account: AccountName,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace it; the old secret stops verifying.")
    ] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show the account's webhook signing secret (made on first use)."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def work(db: Database) -> AccountSecret:
        account_id = await accounts.account_id_named(db, account)
        return await webhooks.account_secret(db, account_id, rotate=rotate, actor=cli_actor())

    found = with_db(settings, work)
    say_where(settings)
    if as_json:
        print(json.dumps(found.model_dump(mode="json")))
        return
    verb = "New signing secret" if rotate else "Signing secret"
    console.print(f"{verb} for [bold]{escape(found.account)}[/bold]:")
    console.print(f"  [green]{found.secret}[/green]", highlight=False)


def _print_delivery(delivery: DeliveryInfo) -> None:
    due = f", next attempt {delivery.next_attempt_at:%Y-%m-%d %H:%M:%S}"
    attempts = f"{delivery.attempts} attempt{'' if delivery.attempts == 1 else 's'}"
    console.print(
        f"[bold]{delivery.id}[/bold] {delivery.event_type} → {escape(delivery.url)}: "
        f"{delivery.status} after {attempts}{due if delivery.next_attempt_at else ''}",
        highlight=False,
    )
    table = Table("#", "when (UTC)", "result", "duration")
    for number, attempt in enumerate(delivery.attempt_log, start=1):
        result = str(attempt.status_code) if attempt.status_code is not None else ""
        table.add_row(
            str(number),
            f"{attempt.attempted_at:%Y-%m-%d %H:%M:%S}",
            escape(result or attempt.error or ""),
            f"{attempt.duration_ms} ms",
        )
    console.print(table)


@app.command("deliveries")
def webhooks_deliveries(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List a job's webhook deliveries and every attempt at them."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    deliveries = with_db(settings, lambda db: webhooks.deliveries_of(db, job_id))
    if as_json:
        print(json.dumps([delivery.model_dump(mode="json") for delivery in deliveries]))
        return
    if not deliveries:
        console.print(f"Job {job_id} has no webhook deliveries.", highlight=False)
    for delivery in deliveries:
        _print_delivery(delivery)
