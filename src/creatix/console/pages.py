"""The console's pages: each a server-rendered shell whose script loads its data from the API.

A page needs a session: without one it answers a redirect to the sign-in page, which comes
back to the page after signing in. Operator pages answer a 403 page to anyone else (their
data would be refused by ``/api/admin`` anyway). The root ``/`` sends browsers here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import Scope

from creatix import __version__
from creatix.api.session import current_session
from creatix.console.headers import security_headers
from creatix.people.schemas import CurrentSession
from creatix.runtime import Runtime

PREFIX = "/console"
STATIC_PATH = f"{PREFIX}/static"


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    operator: bool = False

    @property
    def script(self) -> str:
        return self.path.replace("/", "-")


PAGES = [
    Page("overview", "Overview"),
    Page("playground", "Playground"),
    Page("gallery", "Gallery"),
    Page("brand-kits", "Brand kits"),
    Page("ad-sets", "Ad sets"),
    Page("keys", "API keys"),
    Page("usage", "Usage"),
    Page("webhooks", "Webhooks"),
    Page("settings", "Settings"),
    Page("admin/accounts", "Accounts", operator=True),
    Page("admin/people", "People", operator=True),
    Page("admin/models", "Models", operator=True),
    Page("admin/queue", "Queue", operator=True),
    Page("admin/audit", "Audit log", operator=True),
]
PAGE_BY_PATH = {page.path: page for page in PAGES}


def _package_dir(name: str) -> Path:
    return Path(str(files("creatix.console") / name))


templates = Jinja2Templates(directory=_package_dir("templates"))


class ConsoleStatic(StaticFiles):
    """The console's scripts and styles: revalidated by ETag, never sniffed."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of this server, nothing else."""
    if not target:
        return f"{PREFIX}/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"{PREFIX}/"):
        return f"{PREFIX}/"
    if "\\" in target or parts.path.startswith(f"{PREFIX}//"):
        return f"{PREFIX}/"
    return target


def _render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    context = {"static": STATIC_PATH, "version": __version__, "pages": PAGES, **context}
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers.update(security_headers(_runtime(request).settings))
    response.headers["Cache-Control"] = "no-store"
    return response


def _session_json(current: CurrentSession) -> dict[str, Any]:
    person = current.person
    return {
        "email": person.email,
        "operator": person.operator,
        "accounts": [
            {"id": m.account_id, "name": m.account_name, "role": m.role} for m in person.memberships
        ],
        "csrf_token": current.csrf_token,
    }


def _to_sign_in(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/sign-in?next={quote(here, safe='')}", status_code=303)


router = APIRouter(include_in_schema=False)


@router.get("/")
async def root(request: Request) -> Response:
    """Browsers go to the console; API clients learn where things are."""
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(f"{PREFIX}/", status_code=307)
    return JSONResponse(
        {"name": "Creatix", "version": __version__, "console": f"{PREFIX}/", "docs": "/docs"}
    )


@router.get(PREFIX)
async def console_root() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/", status_code=307)


@router.get(f"{PREFIX}/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    target = safe_next(next)
    if await current_session(request, _runtime(request)) is not None:
        return RedirectResponse(target, status_code=303)
    return _render(request, "sign_in.html", {"title": "Sign in", "next": target})


@router.get(f"{PREFIX}/accept-invitation")
async def accept_invitation_page(request: Request) -> Response:
    return _render(request, "accept_invitation.html", {"title": "Set your password"})


@router.get(PREFIX + "/{path:path}")
async def page(request: Request, path: str) -> Response:
    found = PAGE_BY_PATH.get(path.strip("/") or "overview")
    current = await current_session(request, _runtime(request))
    if current is None:
        return _to_sign_in(request)
    context: dict[str, Any] = {"session": _session_json(current), "page": found}
    if found is None:
        return _render(request, "problem.html", {**context, "title": "Not found"}, 404)
    if found.operator and not current.person.operator:
        return _render(request, "problem.html", {**context, "title": "Operators only"}, 403)
    return _render(request, "page.html", {**context, "title": found.title})


def add_console(app: FastAPI) -> None:
    """Serve the console under ``/console/`` and send browsers from ``/`` to it."""
    app.mount(STATIC_PATH, ConsoleStatic(directory=_package_dir("static")), name="console")
    app.include_router(router)
