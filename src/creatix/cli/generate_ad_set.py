"""``creatix generate ad-set brief.yaml``: one brief made into an ad set on any Creatix server
(``POST /api/platform/ad-sets``), followed to its end, every creative downloaded into
``<out>/<variant>/<placement>.png`` (variants numbered from 1).

The YAML names what the request body does, in snake case::

    brand_kit: kit_…            # the brand kit's id (required)
    brief: {product: cold brew coffee, audience: busy commuters, offer: 20% off, cta: Shop now}
    placements: [square_feed, story, {width: 600, height: 500}]
    variants: 2
    image_model: creatix-flash
    copy_model: gemini-2.5-flash

The request's ``Idempotency-Key`` is derived from the file's bytes, so running the same file
again (after a crash, Ctrl-C or a lost answer) follows the same set rather than paying for a
second one. Like the rest of ``creatix generate`` this module imports nothing of the server;
it speaks HTTP to it. Bad input is one line naming the YAML field or option and exit 2; a
failure (the server refused or a part failed) is one line and exit 1; never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

import httpx
import typer
import yaml
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from creatix.cli.generate_output import err, fail, refuse

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
POLL_SECONDS = 1.0
FIELDS = ("brand_kit", "brief", "placements", "variants", "image_model", "copy_model")
BRIEF_FIELDS = ("product", "audience", "offer", "cta")
DEFAULT_IMAGE_MODEL = "creatix-flash"
DEFAULT_COPY_MODEL = "gemini-2.5-flash"
# The wire's field names, as the YAML spells them.
YAML_FIELDS = {
    "brandKitId": "brand_kit",
    "imageModel": "image_model",
    "copyModel": "copy_model",
    "brief.inputImagePath": "brief.input_image",
}


class Usage(Exception):
    """Bad input: the YAML field or the option named in the message."""


class Failure(Exception):
    """The server refused the set, could not be reached, or a part failed."""


# -- the brief file --------------------------------------------------------------------------


def _text(value: Any, name: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Usage(f"{name} must be a non-empty string.")
    return value.strip()


def _placement(value: Any, index: int) -> str | dict[str, int]:
    name = f"placements[{index}]"
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, dict) and set(value) == {"width", "height"}:
        sides = {side: value[side] for side in ("width", "height")}
        if all(type(side) is int for side in sides.values()):
            return sides
    raise Usage(f"{name} must be a preset name or {{width: W, height: H}} with whole numbers.")


def _brief(value: Any) -> dict[str, str | None]:
    if not isinstance(value, dict):
        raise Usage("brief must be a mapping with product, audience, offer (and optional cta).")
    unknown = sorted(set(map(str, value)) - set(BRIEF_FIELDS))
    if unknown:
        raise Usage(f"brief.{unknown[0]} is not a field (brief takes {', '.join(BRIEF_FIELDS)}).")
    return {
        key: _text(value.get(key), f"brief.{key}", required=key != "cta") for key in BRIEF_FIELDS
    }


def request_body(document: Any) -> dict[str, Any]:
    """The ``POST /api/platform/ad-sets`` body of a parsed brief file; a ``Usage`` naming
    the YAML field when it is wrong."""
    if not isinstance(document, dict):
        raise Usage("the brief file must be a YAML mapping (brand_kit, brief, placements, …).")
    unknown = sorted(set(map(str, document)) - set(FIELDS))
    if unknown:
        raise Usage(f"{unknown[0]} is not a field (the file takes {', '.join(FIELDS)}).")
    placements = document.get("placements")
    if not isinstance(placements, list) or not placements:
        raise Usage("placements must be a non-empty list of preset names or sizes.")
    variants = document.get("variants", 1)
    if type(variants) is not int:
        raise Usage("variants must be a whole number.")
    brief = {k: v for k, v in _brief(document.get("brief")).items() if v is not None}
    return {
        "brandKitId": _text(document.get("brand_kit"), "brand_kit", required=True),
        "brief": brief,
        "placements": [_placement(item, i) for i, item in enumerate(placements)],
        "variants": variants,
        "imageModel": _text(document.get("image_model"), "image_model") or DEFAULT_IMAGE_MODEL,
        "copyModel": _text(document.get("copy_model"), "copy_model") or DEFAULT_COPY_MODEL,
    }


def read_brief(path: Path) -> tuple[dict[str, Any], str]:
    """The request body of the file at ``path`` and its Idempotency-Key (from its bytes)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise Usage(f"BRIEF: cannot read {path}: {exc.strerror or exc}") from None
    try:
        document = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise Usage(f"BRIEF: {path} is not UTF-8 YAML: {str(exc).splitlines()[0]}") from None
    key = f"ad-set-{hashlib.sha256(raw).hexdigest()[:40]}"
    return request_body(document), key


# -- the server ------------------------------------------------------------------------------


@dataclass
class Server:
    client: httpx.Client
    base_url: str

    def _refused(self, response: httpx.Response) -> NoReturn:
        try:
            error = response.json().get("error") or {}
        except ValueError:
            error = {}
        message = str(error.get("message") or response.reason_phrase or response.status_code)
        param = error.get("param")
        if isinstance(param, str) and response.status_code in (400, 404):
            field = YAML_FIELDS.get(param, param)
            raise Usage(f"{field}: {message}")
        if response.status_code == 401:
            raise Usage(f"--api-key / CREATIX_API_KEY: {message}")
        raise Failure(f"{message} (HTTP {response.status_code})")

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Failure(f"cannot reach {self.base_url}: {exc}") from None
        if response.status_code >= 400:
            self._refused(response)
        return response.json()

    def download(self, url: str, target: Path) -> None:
        """A creative's signed URL into ``target``; the key goes only to this server."""
        same_host = urlsplit(url).netloc in ("", urlsplit(self.base_url).netloc)
        try:
            if same_host:
                response = self.client.get(url)
            else:
                response = httpx.get(url, timeout=self.client.timeout, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise Failure(f"cannot download {url}: {exc}") from None
        if response.status_code != 200:
            raise Failure(f"cannot download {url}: HTTP {response.status_code}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(response.content)


def _follow(server: Server, ad_set_id: str, *, quiet: bool, deadline: float) -> dict[str, Any]:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
    )
    with progress:
        task = progress.add_task("ad set", total=100)
        while True:
            ad_set: dict[str, Any] = server.call("GET", f"/api/platform/ad-sets/{ad_set_id}")[
                "adSet"
            ]
            parts = ad_set["parts"]
            ended = sum(part["status"] in ("completed", "failed", "canceled") for part in parts)
            progress.update(
                task,
                completed=ad_set["progress"],
                description=f"ad set: {ended}/{len(parts)} parts",
            )
            if ad_set["status"] != "processing":
                return ad_set
            if time.monotonic() > deadline:
                raise Failure(f"ad set {ad_set_id} did not finish in time (--timeout)")
            time.sleep(POLL_SECONDS)


def _save(server: Server, ad_set: dict[str, Any], output: Path) -> list[dict[str, Any]]:
    saved: list[dict[str, Any]] = []
    for variant in ad_set["variants"]:
        number = variant["index"] + 1
        for creative in variant["creatives"]:
            target = output / str(number) / f"{creative['placement']}.png"
            server.download(creative["url"], target)
            saved.append(
                {
                    "variant": number,
                    "placement": creative["placement"],
                    "width": creative["width"],
                    "height": creative["height"],
                    "path": str(target),
                    "copy": variant["copy"],
                }
            )
    return saved


def _make(
    server: Server, body: dict[str, Any], key: str, output: Path, *, quiet: bool, timeout: float
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    accepted = server.call(
        "POST", "/api/platform/ad-sets", json=body, headers={"Idempotency-Key": key}
    )
    ad_set = _follow(server, accepted["id"], quiet=quiet, deadline=time.monotonic() + timeout)
    return ad_set, _save(server, ad_set, output)


def ad_set(
    brief: Annotated[Path, typer.Argument(help="The brief file (YAML).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where the creatives go.")] = Path(
        "out"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            envvar="CREATIX_BASE_URL",
            help="The server's URL.",
            show_default=DEFAULT_BASE_URL,
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", envvar="CREATIX_API_KEY", help="The key's secret.", show_default="none"
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for the set to finish.")
    ] = 600.0,
) -> None:
    """Make an ad set from a brief file: every placement of every variant, downloaded as
    OUT/<variant>/<placement>.png."""
    if not api_key:
        refuse("--api-key / CREATIX_API_KEY: a key is needed.")
    url = (base_url or os.environ.get("CREATIX_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    try:
        body, key = read_brief(brief)
        headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            made, saved = _make(
                Server(client, url), body, key, output, quiet=as_json, timeout=timeout
            )
    except Usage as exc:
        refuse(str(exc))
    except Failure as exc:
        fail(str(exc))
    failed = [v for v in made["variants"] if v["status"] == "failed"]
    if as_json:
        print(
            json.dumps(
                {
                    "id": made["id"],
                    "status": made["status"],
                    "creatives": saved,
                    "creditsCharged": made["creditsCharged"],
                }
            )
        )
    else:
        for item in saved:
            print(item["path"])
    for variant in failed:
        err.print(
            f"variant {variant['index'] + 1} failed: {escape(str(variant['error']))}",
            highlight=False,
        )
    if failed:
        raise typer.Exit(code=1)
