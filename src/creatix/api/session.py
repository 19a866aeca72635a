"""Signing in and out (``/api/session``): a person's session in a cookie, for the console.

The cookie ``creatix_session`` holds a random token (only its SHA-256 is stored): HttpOnly,
SameSite=Lax, Path=/, and Secure when the server is reached over HTTPS (the scheme of
``CREATIX_PUBLIC_URL`` when set, else the request's). Every state-changing request made with
the cookie must carry the session's CSRF token (handed out when signing in and by
``GET /api/session``) in ``X-CSRF-Token``, else it is a 403 ``csrf_failed``. Sign-in is
throttled per email and per client address (429 with Retry-After).

Errors are the platform's shape: ``{"error": {"code", "message", "param"}}``.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import APIKeyCookie
from pydantic import BaseModel, ConfigDict, Field

from creatix.accounts.actor import AccountRole, Actor
from creatix.api.bodies import documented_body, model_body
from creatix.api.deps import RuntimeDep
from creatix.api.openapi_docs import SESSION_SCHEME, create_docs, error_responses
from creatix.api.platform import render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route
from creatix.kit.errors import Forbidden, Unauthorized
from creatix.people.schemas import CurrentSession, Role, SessionInfo, SignedIn
from creatix.runtime import Runtime

COOKIE = "creatix_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_MAX_TOKEN_LENGTH = 128
_UNSET = object()

cookie_scheme = APIKeyCookie(
    name=COOKIE,
    scheme_name=SESSION_SCHEME,
    auto_error=False,
    description="The session cookie POST /api/session sets; state-changing requests also "
    f"send the session's CSRF token in {CSRF_HEADER}.",
)
SessionCookie = Annotated[str | None, Depends(cookie_scheme)]


# -- wire shapes -----------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SignInRequest(_Body):
    email: str = Field(max_length=1000, examples=["ada@example.com"])
    password: str = Field(max_length=4096, examples=["a long passphrase of yours"])


class ChangePasswordRequest(_Body):
    current_password: str = Field(max_length=4096)
    new_password: str = Field(max_length=4096)


class AcceptInvitationRequest(_Body):
    token: str = Field(max_length=200, description="The one-time token of an invitation or reset")
    password: str = Field(max_length=4096, description="The new password")


class SessionPerson(BaseModel):
    id: str
    email: str
    created_at: datetime
    last_login_at: datetime | None


class SessionAccount(BaseModel):
    id: str
    name: str
    role: Role


class SessionView(BaseModel):
    """The signed-in person, what they may manage, and the CSRF token to send."""

    person: SessionPerson
    operator: bool
    accounts: list[SessionAccount]
    csrf_token: str = Field(description=f"Send it as {CSRF_HEADER} on every POST/PUT/DELETE")
    session: SessionInfo


class SignedOut(BaseModel):
    signed_out: int = Field(description="How many sessions ended")


def _view(current: CurrentSession) -> SessionView:
    person = current.person
    return SessionView(
        person=SessionPerson(
            id=person.id,
            email=person.email,
            created_at=person.created_at,
            last_login_at=person.last_login_at,
        ),
        operator=person.operator,
        accounts=[
            SessionAccount(id=m.account_id, name=m.account_name, role=m.role)
            for m in person.memberships
        ],
        csrf_token=current.csrf_token,
        session=current.session,
    )


# -- the session of a request ----------------------------------------------------------------


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def cookie_is_secure(request: Request, runtime: Runtime) -> bool:
    public_url = runtime.settings.public_url
    scheme = urlsplit(public_url).scheme if public_url else request.url.scheme
    return scheme == "https"


async def current_session(request: Request, runtime: Runtime) -> CurrentSession | None:
    """The live session of the request's cookie (looked up once per request); None without
    one."""
    cached: Any = getattr(request.state, "creatix_session", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[no-any-return]
    token = request.cookies.get(COOKIE, "")
    found = None
    if 0 < len(token) <= _MAX_TOKEN_LENGTH:
        found = await runtime.people.session_of(token)
    request.state.creatix_session = found
    return found


def check_csrf(request: Request, current: CurrentSession) -> None:
    """A state-changing request made with a session must carry its CSRF token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), current.csrf_token.encode()):
        raise Forbidden(
            f"Missing or wrong {CSRF_HEADER} header: send the csrf_token of your session.",
            code="csrf_failed",
            param=CSRF_HEADER,
        )


async def session_actor(request: Request, runtime: Runtime) -> Actor | None:
    """The signed-in person of the request's session cookie, as an Actor; None without a
    valid session. A state-changing request without the session's CSRF token is a 403."""
    current = await current_session(request, runtime)
    if current is None:
        return None
    check_csrf(request, current)
    person = current.person
    roles: dict[str, AccountRole] = {m.account_id: m.role for m in person.memberships}
    return Actor(
        kind="person",
        id=person.id,
        label=person.email,
        operator=person.operator,
        accounts=roles,
        address=client_address(request),
    )


async def signed_in(request: Request, runtime: Runtime) -> CurrentSession:
    """The request's session, its CSRF token checked; a 401 without one."""
    current = await current_session(request, runtime)
    if current is None:
        raise Unauthorized("You are not signed in.", code="not_signed_in")
    check_csrf(request, current)
    return current


def _set_cookie(response: Response, request: Request, runtime: Runtime, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=runtime.settings.session_absolute_seconds,
        path="/",
        secure=cookie_is_secure(request, runtime),
        httponly=True,
        samesite="lax",
    )


def _clear_cookie(response: Response, request: Request, runtime: Runtime) -> None:
    response.delete_cookie(
        COOKIE,
        path="/",
        secure=cookie_is_secure(request, runtime),
        httponly=True,
        samesite="lax",
    )


def _signed_in_view(
    signed: SignedIn, request: Request, runtime: Runtime, response: Response
) -> SessionView:
    _set_cookie(response, request, runtime, signed.token)
    return _view(signed)


# -- routes ----------------------------------------------------------------------------------

router = APIRouter(prefix="/api/session", tags=["Session"], route_class=dialect_route(render_error))


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The route's error responses: ``statuses`` and the 400 (URL) and 503 (database) every
    route may answer, in the platform's shape."""
    return error_responses(PlatformError, sorted({400, 503, *statuses}))


_SIGN_IN_EXAMPLE = {"email": "ada@example.com", "password": "a long passphrase of yours"}


@router.post(
    "",
    response_model=SessionView,
    openapi_extra=create_docs(documented_body(SignInRequest), _SIGN_IN_EXAMPLE, idempotent=False),
    responses=_errors(401, 413, 429),
)
async def sign_in(request: Request, response: Response, runtime: RuntimeDep) -> SessionView:
    """Sign in with email and password: sets the session cookie and returns the person,
    their accounts and roles, and the CSRF token. A wrong password and an unknown email are
    the same 401."""
    body = await model_body(request, SignInRequest)
    address = client_address(request)
    await runtime.signin_throttle.attempt(body.email.strip().lower(), address)
    signed = await runtime.people.sign_in(
        body.email,
        body.password,
        address=address,
        user_agent=request.headers.get("user-agent"),
    )
    return _signed_in_view(signed, request, runtime, response)


@router.get("", response_model=SessionView, responses=_errors(401))
async def get_session(
    request: Request, runtime: RuntimeDep, _cookie: SessionCookie = None
) -> SessionView:
    """The signed-in person of this session (and its CSRF token)."""
    return _view(await signed_in(request, runtime))


@router.delete("", status_code=204, responses=_errors(403))
async def sign_out(
    request: Request, runtime: RuntimeDep, _cookie: SessionCookie = None
) -> Response:
    """End this session and clear its cookie (a 204 also without one)."""
    current = await current_session(request, runtime)
    if current is not None:
        check_csrf(request, current)
        await runtime.people.sign_out(current.session.id)
    response = Response(status_code=204)
    _clear_cookie(response, request, runtime)
    return response


@router.post(
    "/sign-out-everywhere",
    response_model=SignedOut,
    responses=_errors(401, 403, 413),
)
async def sign_out_everywhere(
    request: Request, response: Response, runtime: RuntimeDep, _cookie: SessionCookie = None
) -> SignedOut:
    """End every session of the signed-in person, on every device, this one too."""
    current = await signed_in(request, runtime)
    ended = await runtime.people.sign_out_everywhere(current.person.id)
    _clear_cookie(response, request, runtime)
    return SignedOut(signed_out=ended)


@router.post(
    "/password",
    status_code=204,
    openapi_extra=create_docs(
        documented_body(ChangePasswordRequest),
        {
            "current_password": "a long passphrase of yours",
            "new_password": "violet otters juggle copper lanterns",
        },
        idempotent=False,
    ),
    responses=_errors(401, 403, 413, 429),
)
async def change_password(
    request: Request, runtime: RuntimeDep, _cookie: SessionCookie = None
) -> Response:
    """Change the password, given the current one; every other session ends."""
    current = await signed_in(request, runtime)
    body = await model_body(request, ChangePasswordRequest)
    person = current.person
    await runtime.signin_throttle.attempt(person.email.lower(), client_address(request))
    await runtime.people.change_password(
        person.id, body.current_password, body.new_password, keep_session=current.session.id
    )
    return Response(status_code=204)


@router.post(
    "/accept-invitation",
    response_model=SessionView,
    openapi_extra=create_docs(
        documented_body(AcceptInvitationRequest),
        {"token": "inv_3q2Vb8x...", "password": "violet otters juggle copper lanterns"},
        idempotent=False,
    ),
    responses=_errors(413),
)
async def accept_invitation(
    request: Request, response: Response, runtime: RuntimeDep
) -> SessionView:
    """Set a password with a one-time token (an invitation or a password reset) and sign
    in; every other session of the person ends."""
    body = await model_body(request, AcceptInvitationRequest)
    signed = await runtime.people.accept_invitation(
        body.token,
        body.password,
        address=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )
    return _signed_in_view(signed, request, runtime, response)
