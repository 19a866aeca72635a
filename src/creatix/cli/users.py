"""``creatix users``: the people who sign in to the console and the account and admin APIs
(bootstrap the first operator here)."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.markup import escape

from creatix.accounts.audit import cli_actor
from creatix.cli.common import (
    AsJson,
    DatabaseUrl,
    DataDir,
    console,
    fail,
    say_where,
    settings_from,
    with_db,
)
from creatix.config import Settings
from creatix.people.schemas import PersonInfo
from creatix.people.service import People, SessionPolicy

T = TypeVar("T")
app = typer.Typer(no_args_is_help=True, help="Create, list, reset and disable people.")
Email = Annotated[str, typer.Argument(help="The person's email (case does not matter).")]


def _with_people(settings: Settings, work: Callable[[People], Awaitable[T]]) -> T:
    policy = SessionPolicy.from_settings(settings)
    return with_db(settings, lambda db: work(People(db, policy)))


def _roles(info: PersonInfo) -> str:
    roles = [f"{m.account_name} ({m.role})" for m in info.memberships]
    if info.operator:
        roles.insert(0, "operator")
    return ", ".join(roles) or "none"


def _print_person(verb: str, info: PersonInfo, as_json: bool) -> None:
    if as_json:
        print(json.dumps(info.model_dump(mode="json")))
        return
    console.print(
        f"{verb} [bold]{escape(info.email)}[/bold] ({info.id}): {escape(_roles(info))}; "
        f"{info.status}."
    )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@app.command("create")
def users_create(
    email: Email,
    operator: Annotated[
        bool, typer.Option("--operator", help="Give the operator role (runs the platform).")
    ] = False,
    account: Annotated[
        str | None,
        typer.Option(
            help="Make them a member of the account with this name.", show_default="no account"
        ),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(help="Their role in --account: owner or member.", show_default="member"),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a person who can sign in at once (prompts for the password twice)."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    if role is not None and account is None:
        raise fail("--role needs --account")
    if role is not None and role not in ("owner", "member"):
        raise fail(f"unknown role {escape(repr(role))}; roles: owner, member")
    password = _read_password(password_stdin)

    async def work(people: People) -> PersonInfo:
        account_id = None if account is None else await people.account_id_named(account)
        return await people.create(
            email,
            password=password,
            operator=operator,
            account_id=account_id,
            role=role,
            actor=cli_actor(),
        )

    info = _with_people(settings, work)
    say_where(settings)
    _print_person("Created", info, as_json)


@app.command("list")
def users_list(
    account: Annotated[
        str | None,
        typer.Option(
            help="Only the people of the account with this name.", show_default="everyone"
        ),
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List people by email."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def work(people: People) -> list[PersonInfo]:
        account_id = None if account is None else await people.account_id_named(account)
        return await people.list_people(account_id)

    infos = _with_people(settings, work)
    if as_json:
        print(json.dumps([info.model_dump(mode="json") for info in infos]))
        return
    if not infos:
        console.print("No people.")
    for info in infos:
        last = f"{info.last_login_at:%Y-%m-%d %H:%M}" if info.last_login_at else "never"
        console.print(
            f"[bold]{escape(info.email)}[/bold] {info.id}  roles: {escape(_roles(info))}  "
            f"{info.status}, last signed in {last}",
            highlight=False,
        )


@app.command("reset-password")
def users_reset_password(
    email: Email,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print a one-time token that sets the person's password (POST
    /api/session/accept-invitation); an earlier one stops working."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def work(people: People) -> tuple[PersonInfo, str, str]:
        person = await people.by_email(email)
        token = await people.reset_password(person.id, actor=cli_actor())
        return person, token.token, token.expires_at.isoformat()

    person, token, expires_at = _with_people(settings, work)
    say_where(settings)
    if as_json:
        print(json.dumps({"person_id": person.id, "token": token, "expires_at": expires_at}))
        return
    console.print(f"One-time token for {escape(person.email)} (shown once, until {expires_at}):")
    print(token)


@app.command("disable")
def users_disable(
    email: Email,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Stop a person signing in; their sessions end at once."""
    settings = settings_from(data_dir=data_dir, database_url=database_url)

    async def work(people: People) -> PersonInfo:
        person = await people.by_email(email)
        return await people.disable(person.id, actor=cli_actor())

    info = _with_people(settings, work)
    say_where(settings)
    _print_person("Disabled", info, as_json)
