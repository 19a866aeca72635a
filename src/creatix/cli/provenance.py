"""``creatix verify FILE`` and ``creatix provenance ca``: where a file came from, and the CA a
verifier trusts to check this server's content credentials."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from creatix.cli.common import (
    AsJson,
    DatabaseUrl,
    DataDir,
    console,
    fail,
    settings_from,
    with_db,
)
from creatix.config import Settings
from creatix.kit.db import Database
from creatix.provenance.credentials import CredentialsError
from creatix.provenance.schemas import (
    TextVerificationReport,
    VerificationReport,
    text_verification_report,
    verification_report,
)
from creatix.provenance.service import OutputProvenance
from creatix.provenance.verification import verify_file, verify_text
from creatix.provenance.verify import UnreadableFile
from creatix.runtime import output_provenance

app = typer.Typer(no_args_is_help=True, help="Content credentials: the signing CA.")
MAX_FILE_BYTES = 512 * 1024 * 1024


def _provenance(settings: Settings) -> OutputProvenance:
    try:
        return output_provenance(settings)
    except CredentialsError as exc:
        raise fail(escape(str(exc))) from exc


@app.command("ca")
def provenance_ca(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """Print the CA of this server's content credentials (PEM).

    A verifier trusts it to check them: the development CA, or the configured chain's last
    certificate."""
    provenance = _provenance(settings_from(data_dir=data_dir))
    identity = provenance.identity
    provenance.close()
    pem = identity.trust_anchors_pem.decode()
    if as_json:
        print(json.dumps({"pem": pem, "development": identity.development}))
        return
    print(pem, end="")


def verify(
    file: Annotated[
        Path, typer.Argument(help="A PNG, JPEG, WebP or MP4 file (or a text).", dir_okay=False)
    ],
    text: Annotated[
        bool,
        typer.Option("--text", help="FILE holds a text (UTF-8): was it an answer of this server?"),
    ] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Say whether FILE came from this server.

    Its C2PA manifest (present, intact, trusted, what it claims), its invisible mark, and
    the job that made it; with --text, whether a text generator task here answered it."""
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise fail(escape(f"{file} is larger than {MAX_FILE_BYTES // 2**20} MB"))
        data = file.read_bytes()
    except OSError as exc:
        raise fail(escape(f"{file} cannot be read: {exc.strerror}")) from exc
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    if text:
        _verify_text(file, data, settings, as_json)
        return
    provenance = _provenance(settings)

    async def work(db: Database) -> VerificationReport:
        return verification_report(await verify_file(db, provenance, data, account_id=None))

    try:
        report = with_db(settings, work)
    except UnreadableFile as exc:
        raise fail(escape(f"{file}: {exc}")) from exc
    finally:
        provenance.close()
    if as_json:
        print(report.model_dump_json())
        return
    _print(file, report)


def _verify_text(file: Path, data: bytes, settings: Settings, as_json: bool) -> None:
    try:
        copy = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(escape(f"{file} is not UTF-8 text")) from exc

    async def work(db: Database) -> TextVerificationReport:
        return text_verification_report(await verify_text(db, copy, account_id=None))

    report = with_db(settings, work)
    if as_json:
        print(report.model_dump_json())
        return
    written = "[green]yes[/green]" if report.written_here else "[red]no[/red]"
    console.print(f"[bold]{escape(str(file))}[/bold]: written by this server: {written}")
    console.print(f"  digest          {report.digest}", highlight=False)
    if report.job is not None:
        made = f"{report.job.created_at:%Y-%m-%d %H:%M:%S} UTC"
        console.print(
            f"  job             {report.job.id}, {escape(report.job.model)}, {made}",
            highlight=False,
        )


def _yes(value: bool) -> str:
    return "[green]yes[/green]" if value else "[red]no[/red]"


def _print(file: Path, report: VerificationReport) -> None:
    credentials, mark = report.content_credentials, report.invisible_mark
    console.print(
        f"[bold]{escape(str(file))}[/bold]: {report.mime_type}, {report.width}x{report.height}"
    )
    console.print(f"  C2PA manifest   {_yes(credentials.present)}")
    if credentials.present:
        console.print(f"    valid         {_yes(credentials.valid)}")
        console.print(f"    trusted       {_yes(credentials.trusted)}")
        for failure in credentials.failures:
            console.print(f"    failure       {escape(failure)}")
        claims = {
            "generator": credentials.claim_generator,
            "source type": credentials.digital_source_type,
            "model": credentials.model,
            "engine": credentials.engine,
            "signer": credentials.signer,
        }
        for name, value in claims.items():
            if value:
                console.print(f"    {name:<13} {escape(value)}", highlight=False)
        if credentials.development_certificate:
            console.print("    signed with a development certificate")
    console.print(f"  invisible mark  {_yes(mark.present)}", highlight=False)
    if mark.payload is not None:
        where = "this server" if mark.this_server else "another server"
        console.print(f"    payload       {mark.payload} ({where})", highlight=False)
    if report.job is not None:
        job = report.job
        made = f"{job.created_at:%Y-%m-%d %H:%M:%S} UTC"
        console.print(f"  job             {job.id}, {escape(job.model)}, {made}", highlight=False)
