"""``creatix credits``: grant credits and show balances."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from creatix.billing import service as billing
from creatix.billing.schemas import CreditStatement
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

app = typer.Typer(no_args_is_help=True, help="Grant credits and show balances.")


def _print_entries(statement: CreditStatement) -> None:
    table = Table("when", "kind", "amount", "job", "note")
    for entry in statement.entries:
        table.add_row(
            f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
            entry.kind,
            f"{entry.amount:+d}",
            entry.job_id or "",
            escape(entry.note or ""),
        )
    console.print(table)


@app.command("grant")
def credits_grant(
    account: AccountName,
    amount: Annotated[int, typer.Argument(min=1, help="Credits to add, a positive integer.")],
    note: Annotated[
        str | None, typer.Option(help="Why, kept in the ledger.", show_default="no note")
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add credits to an account's balance."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    statement = with_db(settings, lambda db: billing.grant(db, account, amount, note))
    say_where(settings)
    if as_json:
        print(json.dumps(statement.model_dump(mode="json")))
        return
    console.print(
        f"Granted {amount} credits to [bold]{escape(statement.account)}[/bold]; "
        f"balance now {statement.balance}."
    )


@app.command("show")
def credits_show(
    account: AccountName,
    limit: Annotated[int, typer.Option(min=1, help="How many ledger entries, newest first.")] = 20,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """An account's balance, lifetime totals and latest ledger entries."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    statement = with_db(settings, lambda db: billing.statement(db, account, limit))
    if as_json:
        print(json.dumps(statement.model_dump(mode="json")))
        return
    console.print(f"[bold]{escape(statement.account)}[/bold]", highlight=False)
    console.print(f"  balance             {statement.balance}")
    console.print(f"  lifetime purchased  {statement.lifetime_purchased}")
    console.print(f"  lifetime used       {statement.lifetime_used}")
    console.print(f"  unlimited           {'yes' if statement.unlimited else 'no'}")
    _print_entries(statement)
