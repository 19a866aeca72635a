"""``creatix keys``: create, list and revoke API keys."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table

from creatix.accounts import service as accounts
from creatix.accounts.audit import cli_actor
from creatix.accounts.schemas import AccountInfo, KeyInfo, NewKey
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
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="A scope, repeatable: generate (the generation APIs), manage (the account "
            "API), operator (the admin API).",
            show_default="generate",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="What the key is for.", show_default="no name")
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
        info = await accounts.ensure_account(
            db, account, plan, loaded.default_plan, actor=cli_actor()
        )
        scopes = scope or list(accounts.DEFAULT_SCOPES)
        return info, await accounts.create_account_key(
            db, info.id, scopes=scopes, name=name, actor=cli_actor()
        )

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

    async def work(db: Database) -> list[KeyInfo]:
        account_id = None if account is None else await accounts.account_id_named(db, account)
        return await accounts.list_account_keys(db, account_id)

    keys = with_db(settings, work)
    if as_json:
        print(json.dumps([key.model_dump(mode="json") for key in keys]))
        return
    table = Table(Column("key id", no_wrap=True), "account", "name", "scopes", "last used")
    table.add_column("revoked")
    for key in keys:
        revoked = f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else ""
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        table.add_row(
            key.key_id, key.account, escape(key.name or ""), " ".join(key.scopes), used, revoked
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
    with_db(settings, lambda db: accounts.revoke_key(db, key_id, actor=cli_actor()))
    say_where(settings)
    if as_json:
        print(json.dumps({"key_id": key_id, "revoked": True}))
        return
    console.print(f"Revoked {key_id}.", highlight=False)
