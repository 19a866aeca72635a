"""``creatix keys``: create, list and revoke API keys."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from creatix.accounts import service as accounts
from creatix.accounts.schemas import AccountInfo, NewKey
from creatix.cli.common import (
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

app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")


@app.command("create")
def keys_create(
    account: Annotated[str, typer.Option(help="The account; created if it does not exist.")],
    plan: Annotated[
        str | None,
        typer.Option(
            help="Put the account on this plan (the shipped catalog's: free, paid, unlimited).",
            show_default="a new account: the catalog's default plan; else unchanged",
        ),
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    catalog: CatalogFile = None,
) -> None:
    """Create a key; its secret is printed this once and stored only hashed."""
    settings = settings_from(data_dir=data_dir, database_url=database_url, catalog=catalog)
    loaded = catalog_of(settings)
    if plan is not None:
        check_plan(loaded, plan)

    async def work(db: Database) -> tuple[AccountInfo, NewKey]:
        info = await accounts.ensure_account(db, account, plan, loaded.default_plan)
        return info, await accounts.create_key(db, account)

    info, key = with_db(settings, work)
    say_where(settings)
    if as_json:
        print(json.dumps({**key.model_dump(mode="json"), "plan": info.plan}))
        return
    console.print(f"Created key [bold]{key.key_id}[/bold] for {info.name} (plan {info.plan}).")
    console.print("Store the secret now; it is not shown again:")
    console.print(f"  [green]{key.secret}[/green]", highlight=False)


@app.command("list")
def keys_list(
    account: Annotated[
        str | None, typer.Option(help="Only this account's keys.", show_default="every account")
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List keys (never their secrets)."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    keys = with_db(settings, lambda db: accounts.list_keys(db, account))
    if as_json:
        print(json.dumps([key.model_dump(mode="json") for key in keys]))
        return
    table = Table("key id", "account", "starts with", "created", "revoked")
    for key in keys:
        revoked = f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else ""
        table.add_row(
            key.key_id,
            key.account,
            key.display_prefix + "…",
            f"{key.created_at:%Y-%m-%d %H:%M}",
            revoked,
        )
    console.print(table)


@app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id, as `keys list` shows it.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key; requests with it get 401 from now on."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    with_db(settings, lambda db: accounts.revoke_key(db, key_id))
    say_where(settings)
    if as_json:
        print(json.dumps({"key_id": key_id, "revoked": True}))
        return
    console.print(f"Revoked {key_id}.", highlight=False)
