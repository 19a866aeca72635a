"""``creatix credits``: grant credits and show balances."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from creatix.accounts import service as accounts
from creatix.accounts.audit import cli_actor
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
from creatix.kit.db import Database

app = typer.Typer(no_args_is_help=True, help="Grant or deduct credits and show balances.")


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


def _adjust(
    kind: Literal["grant", "deduct"],
    account: str,
    amount: int,
    note: str | None,
    as_json: bool,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Grant or deduct through ``billing.adjust_credits`` (what the admin API calls)."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def work(db: Database) -> CreditStatement:
        account_id = await accounts.account_id_named(db, account)
        await billing.adjust_credits(db, account_id, kind, amount, note, actor=cli_actor())
        return await billing.statement(db, account, limit=1)

    statement = with_db(settings, work)
    say_where(settings)
    if as_json:
        print(json.dumps(statement.model_dump(mode="json")))
        return
    verb = "Granted" if kind == "grant" else "Deducted"
    preposition = "to" if kind == "grant" else "from"
    console.print(
        f"{verb} {amount} credits {preposition} [bold]{escape(statement.account)}[/bold]; "
        f"balance now {statement.balance}."
    )


Note = Annotated[str | None, typer.Option(help="Why, kept in the ledger.", show_default="no note")]


@app.command("grant")
def credits_grant(
    account: AccountName,
    amount: Annotated[int, typer.Argument(min=1, help="Credits to add, a positive integer.")],
    note: Note = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add credits to an account's balance."""
    _adjust("grant", account, amount, note, as_json, data_dir, database_url)


@app.command("deduct")
def credits_deduct(
    account: AccountName,
    amount: Annotated[int, typer.Argument(min=1, help="Credits to take, a positive integer.")],
    note: Note = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Take credits from an account's balance (never below 0)."""
    _adjust("deduct", account, amount, note, as_json, data_dir, database_url)


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
