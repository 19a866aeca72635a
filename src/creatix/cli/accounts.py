"""``creatix accounts``: create, list and change accounts."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from creatix.accounts import service as accounts
from creatix.accounts.audit import cli_actor
from creatix.accounts.schemas import AccountInfo, AccountStatus
from creatix.cli.common import (
    AccountName,
    AsJson,
    CatalogFile,
    DatabaseUrl,
    DataDir,
    catalog_of,
    check_plan,
    console,
    say_where,
    settings_from,
    with_db,
)
from creatix.kit.db import Database

app = typer.Typer(no_args_is_help=True, help="Create, list and change accounts.")


def _print_account(verb: str, info: AccountInfo, as_json: bool) -> None:
    if as_json:
        print(json.dumps(info.model_dump(mode="json")))
        return
    unlimited = ", unlimited (not charged credits)" if info.unlimited else ""
    suspended = ", suspended" if info.status == "suspended" else ""
    policy = f", content policy {info.content_policy}" if info.content_policy else ""
    console.print(
        f"{verb} account [bold]{escape(info.name)}[/bold] ({info.id}): "
        f"plan {info.plan}{unlimited}{suspended}{policy}."
    )


async def _update(
    db: Database,
    account: str,
    *,
    name: str | None = None,
    plan: str | None = None,
    unlimited: bool | None = None,
    status: AccountStatus | None = None,
) -> AccountInfo:
    """``accounts.update_account`` (what the admin API's PATCH calls) on the named account."""
    account_id = await accounts.account_id_named(db, account)
    return await accounts.update_account(
        db, account_id, name=name, plan=plan, unlimited=unlimited, status=status, actor=cli_actor()
    )


@app.command("create")
def accounts_create(
    name: Annotated[str, typer.Argument(help="A name not yet taken.")],
    plan: Annotated[
        str | None,
        typer.Option(help="A plan from the catalog.", show_default="the catalog's default"),
    ] = None,
    unlimited: Annotated[
        bool, typer.Option("--unlimited", help="Do not charge its generations credits.")
    ] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    catalog: CatalogFile = None,
) -> None:
    """Create an account; refused if the name is taken."""
    settings = settings_from(data_dir=data_dir, database_url=database_url, catalog=catalog)
    loaded = catalog_of(settings)
    chosen = loaded.default_plan if plan is None else check_plan(loaded, plan)
    info = with_db(
        settings,
        lambda db: accounts.create_account(
            db, name, chosen, unlimited=unlimited, actor=cli_actor()
        ),
    )
    say_where(settings)
    _print_account("Created", info, as_json)


@app.command("list")
def accounts_list(
    as_json: AsJson = False, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """List accounts by name."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    infos = with_db(settings, accounts.list_accounts)
    if as_json:
        print(json.dumps([info.model_dump(mode="json") for info in infos]))
        return
    table = Table("name", "id", "plan", "unlimited", "created")
    for info in infos:
        table.add_row(
            escape(info.name),
            info.id,
            info.plan,
            "yes" if info.unlimited else "no",
            f"{info.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command("set-plan")
def accounts_set_plan(
    account: AccountName,
    plan: Annotated[str, typer.Argument(help="A plan from the catalog.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    catalog: CatalogFile = None,
) -> None:
    """Move an account to another plan."""
    settings = settings_from(data_dir=data_dir, database_url=database_url, catalog=catalog)
    check_plan(catalog_of(settings), plan)
    info = with_db(settings, lambda db: _update(db, account, plan=plan))
    say_where(settings)
    _print_account("Updated", info, as_json)


@app.command("set-unlimited")
def accounts_set_unlimited(
    account: AccountName,
    off: Annotated[
        bool, typer.Option("--off", help="Clear the mark: charge credits again.")
    ] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Mark an account unlimited: its generations are not charged credits."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    info = with_db(settings, lambda db: _update(db, account, unlimited=not off))
    say_where(settings)
    _print_account("Updated", info, as_json)


@app.command("rename")
def accounts_rename(
    account: AccountName,
    new_name: Annotated[str, typer.Argument(help="A name not yet taken.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Rename an account (its id, keys and credits stay)."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    info = with_db(settings, lambda db: _update(db, account, name=new_name))
    say_where(settings)
    _print_account("Renamed", info, as_json)


@app.command("suspend")
def accounts_suspend(
    account: AccountName,
    off: Annotated[bool, typer.Option("--off", help="Reactivate the account.")] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Suspend an account: its keys get a 403 on the generation APIs until reactivated."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    status: AccountStatus = "active" if off else "suspended"
    info = with_db(settings, lambda db: _update(db, account, status=status))
    say_where(settings)
    _print_account("Updated", info, as_json)


@app.command("delete")
def accounts_delete(
    account: AccountName,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete an account: it is listed no more and its keys stop working (its ledger and jobs
    are kept)."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def work(db: Database) -> AccountInfo:
        account_id = await accounts.account_id_named(db, account)
        return await accounts.delete_account(db, account_id, actor=cli_actor())

    info = with_db(settings, work)
    say_where(settings)
    _print_account("Deleted", info, as_json)


@app.command("set-policy")
def accounts_set_policy(
    account: AccountName,
    policy: Annotated[
        str,
        typer.Argument(help="A content policy from the catalog, or 'plan' for the plan's own."),
    ],
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    catalog: CatalogFile = None,
) -> None:
    """Put an account under another content policy than its plan's ('plan' undoes it)."""
    settings = settings_from(data_dir=data_dir, database_url=database_url, catalog=catalog)
    known = catalog_of(settings).content_policy.policies
    chosen = None if policy == "plan" else policy

    async def work(db: Database) -> AccountInfo:
        account_id = await accounts.account_id_named(db, account)
        return await accounts.set_content_policy(db, account_id, chosen, known, actor=cli_actor())

    info = with_db(settings, work)
    say_where(settings)
    _print_account("Updated", info, as_json)
