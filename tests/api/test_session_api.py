"""Signing in and out, sessions, CSRF and people management, through a real HTTP client
against a real server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from creatix.accounts import service as accounts
from creatix.kit.clock import utcnow
from creatix.people import passwords
from creatix.people import service as people_service
from creatix.people.schemas import PersonInfo
from support import LiveServer, make_settings

STRONG = "correct horse battery staple 42"
OTHER_STRONG = "violet otters juggle copper lanterns"
COOKIE = "creatix_session"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Every test signs in from 127.0.0.1: the per-address throttle has its own test.
    settings = make_settings(tmp_path_factory.mktemp("creatix"), signin_attempts_per_address=10_000)
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Move the people room's clock (the server's, in this process) forward."""
    offset = timedelta()

    def moved() -> datetime:
        return utcnow() + offset

    def move(by: timedelta) -> None:
        nonlocal offset
        offset += by

    monkeypatch.setattr(people_service, "utcnow", moved)
    return move


def _email() -> str:
    return f"p-{uuid.uuid4().hex[:10]}@example.com"


def _account(server: LiveServer) -> str:
    assert server.runtime is not None
    name = f"acct-{uuid.uuid4().hex[:8]}"
    return server.call(accounts.ensure_account(server.runtime.db, name, "paid", "free")).id


def _person(
    server: LiveServer,
    *,
    operator: bool = False,
    account_id: str | None = None,
    role: str | None = None,
) -> PersonInfo:
    assert server.runtime is not None
    return server.call(
        server.runtime.people.create(
            _email(), password=STRONG, operator=operator, account_id=account_id, role=role
        )
    )


def _signed_in_client(server: LiveServer, email: str, password: str = STRONG) -> httpx.Client:
    """A client signed in as ``email``, sending its session's CSRF token."""
    client = server.client()
    response = client.post("/api/session", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


@contextmanager
def _sign_in(server: LiveServer, email: str, password: str = STRONG) -> Iterator[httpx.Client]:
    client = _signed_in_client(server, email, password)
    try:
        yield client
    finally:
        client.close()


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


# -- signing in ------------------------------------------------------------------------------


def test_sign_in_sets_a_session_cookie_and_returns_the_person(server: LiveServer) -> None:
    account_id = _account(server)
    person = _person(server, account_id=account_id, role="owner")
    with server.client() as client:
        response = client.post(
            "/api/session", json={"email": person.email.upper(), "password": STRONG}
        )
        assert response.status_code == 200, response.text
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        attributes = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=lax", "path=/"} <= attributes
        assert "secure" not in attributes  # served over plain http, no https public URL
        body = response.json()
        assert body["person"]["id"] == person.id
        assert body["person"]["email"] == person.email
        assert body["operator"] is False
        assert body["accounts"][0]["id"] == account_id
        assert body["accounts"][0]["role"] == "owner"
        assert len(body["csrf_token"]) >= 32
        assert body["session"]["id"].startswith("ses_")

        again = client.get("/api/session")
        assert again.status_code == 200, again.text
        assert again.json()["person"] == body["person"]
        assert again.json()["csrf_token"] == body["csrf_token"]

    with server.client() as anonymous:
        error = _error(anonymous.get("/api/session"), 401, "not_signed_in")
        assert error["message"]
    with server.client(cookies={COOKIE: "forged"}) as forged:
        _error(forged.get("/api/session"), 401, "not_signed_in")


def test_the_cookie_is_secure_when_the_request_came_over_https(server: LiveServer) -> None:
    person = _person(server)
    with server.client() as client:
        # uvicorn trusts a loopback proxy's X-Forwarded-Proto: the request's scheme is https.
        response = client.post(
            "/api/session",
            json={"email": person.email, "password": STRONG},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert response.status_code == 200, response.text
        attributes = {part.strip().lower() for part in response.headers["set-cookie"].split(";")}
        assert {"secure", "httponly", "samesite=lax"} <= attributes


def test_the_cookie_is_secure_under_an_https_public_url(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, public_url="https://creatix.example.com")
    live = LiveServer(settings).start()
    try:
        person = _person(live)
        with live.client() as client:
            response = client.post("/api/session", json={"email": person.email, "password": STRONG})
            assert response.status_code == 200, response.text
            attributes = {
                part.strip().lower() for part in response.headers["set-cookie"].split(";")
            }
            assert {"secure", "httponly", "samesite=lax"} <= attributes
    finally:
        live.stop()


def test_wrong_password_and_unknown_email_answer_alike_in_like_time(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = _person(server)
    verified: list[str] = []
    real = passwords._hasher.verify_and_update

    def counting(password: str, stored: str) -> tuple[bool, str | None]:
        verified.append(stored)
        return real(password, stored)

    monkeypatch.setattr(passwords._hasher, "verify_and_update", counting)

    def attempt(client: httpx.Client, email: str) -> tuple[int, Any, float]:
        started = time.perf_counter()
        response = client.post("/api/session", json={"email": email, "password": OTHER_STRONG})
        return response.status_code, response.json(), time.perf_counter() - started

    with server.client() as client:
        # Taken in turns, so that a burst of load on the machine slows both kinds alike.
        wrong, unknown = [], []
        for _ in range(5):
            wrong.append(attempt(client, person.email))
            unknown.append(attempt(client, _email()))
        assert COOKIE not in client.cookies
    answers = {(status, str(body)) for status, body, _ in [*wrong, *unknown]}
    assert answers == {
        (
            401,
            str(
                {
                    "error": {
                        "code": "invalid_credentials",
                        "message": "Incorrect email or password.",
                    }
                }
            ),
        )
    }
    assert len(verified) == 10  # the unknown emails, too, verified an Argon2id hash
    # The fastest of each: load only ever adds time.
    fastest_wrong = min(t for *_, t in wrong)
    fastest_unknown = min(t for *_, t in unknown)
    assert fastest_wrong / 3 < fastest_unknown < fastest_wrong * 3


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "password_too_short"),
        ("password1234", "password_too_weak"),
        ("aaaaaaaaaaaaaaaa", "password_too_weak"),
    ],
)
def test_an_invitation_with_a_bad_password_is_a_400_naming_password(
    server: LiveServer, password: str, code: str
) -> None:
    assert server.runtime is not None
    invited = server.call(server.runtime.people.invite(_email()))
    assert invited.invitation is not None
    with server.client() as client:
        response = client.post(
            "/api/session/accept-invitation",
            json={"token": invited.invitation.token, "password": password},
        )
        error = _error(response, 400, code)
        assert error["param"] == "password"
        # Still usable with a good password.
        good = client.post(
            "/api/session/accept-invitation",
            json={"token": invited.invitation.token, "password": STRONG},
        )
        assert good.status_code == 200, good.text


def test_bad_sign_in_bodies_are_400s_naming_the_field(server: LiveServer) -> None:
    with server.client() as client:
        missing = _error(
            client.post("/api/session", json={"email": "a@example.com"}),
            400,
            "missing_parameter",
        )
        assert missing["param"] == "password"
        wrong_type = _error(
            client.post("/api/session", json={"email": 7, "password": STRONG}),
            400,
            "invalid_value",
        )
        assert wrong_type["param"] == "email"
        _error(
            client.post("/api/session", content=b"{", headers={"content-type": "application/json"}),
            400,
            "invalid_json",
        )


def test_sign_in_is_throttled_per_email_and_per_address(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, signin_attempts_per_email=3, signin_attempts_per_address=5)
    live = LiveServer(settings).start()
    try:
        person = _person(live)
        with live.client() as client:
            for _ in range(3):
                wrong = client.post(
                    "/api/session", json={"email": person.email, "password": OTHER_STRONG}
                )
                _error(wrong, 401, "invalid_credentials")
            throttled = client.post(
                "/api/session", json={"email": person.email, "password": STRONG}
            )
            error = _error(throttled, 429, "too_many_signin_attempts")
            assert error["message"]
            assert int(throttled.headers["Retry-After"]) >= 1
            # Another email from the same address: the address has made 4 attempts (the
            # throttled one too), so one more, then it is spent.
            other = _person(live)
            ok = client.post("/api/session", json={"email": other.email, "password": STRONG})
            assert ok.status_code == 200, ok.text
            spent = client.post("/api/session", json={"email": other.email, "password": STRONG})
            _error(spent, 429, "too_many_signin_attempts")
            assert "Retry-After" in spent.headers
    finally:
        live.stop()


# -- CSRF, signing out -----------------------------------------------------------------------


def test_state_changes_need_the_csrf_token(server: LiveServer) -> None:
    person = _person(server)
    with _sign_in(server, person.email) as client:
        token = client.headers.pop("X-CSRF-Token")
        error = _error(client.post("/api/session/sign-out-everywhere"), 403, "csrf_failed")
        assert error["param"] == "X-CSRF-Token"
        _error(
            client.post(
                "/api/session/sign-out-everywhere", headers={"X-CSRF-Token": token[:-1] + "x"}
            ),
            403,
            "csrf_failed",
        )
        _error(client.delete("/api/session"), 403, "csrf_failed")
        change = client.post(
            "/api/session/password",
            json={"current_password": STRONG, "new_password": OTHER_STRONG},
        )
        _error(change, 403, "csrf_failed")
        assert client.get("/api/session").status_code == 200  # reads need no token

        signed_out = client.delete("/api/session", headers={"X-CSRF-Token": token})
        assert signed_out.status_code == 204, signed_out.text
        assert f"{COOKIE}=" in signed_out.headers["set-cookie"]
        _error(client.get("/api/session"), 401, "not_signed_in")


def test_sign_out_ends_only_this_session(server: LiveServer) -> None:
    person = _person(server)
    with _sign_in(server, person.email) as laptop, _sign_in(server, person.email) as phone:
        token = laptop.cookies[COOKIE]
        assert laptop.delete("/api/session").status_code == 204
        with server.client(cookies={COOKIE: token}) as replay:
            _error(replay.get("/api/session"), 401, "not_signed_in")
        assert phone.get("/api/session").status_code == 200


def test_sign_out_everywhere_ends_every_session(server: LiveServer) -> None:
    person = _person(server)
    clients = [_signed_in_client(server, person.email) for _ in range(3)]
    try:
        response = clients[0].post("/api/session/sign-out-everywhere")
        assert response.status_code == 200, response.text
        assert response.json() == {"signed_out": 3}
        for client in clients:
            _error(client.get("/api/session"), 401, "not_signed_in")
    finally:
        for client in clients:
            client.close()


def test_changing_the_password_ends_the_other_sessions(server: LiveServer) -> None:
    person = _person(server)
    with _sign_in(server, person.email) as here, _sign_in(server, person.email) as there:
        wrong = here.post(
            "/api/session/password",
            json={"current_password": OTHER_STRONG, "new_password": OTHER_STRONG},
        )
        assert _error(wrong, 400, "incorrect_password")["param"] == "current_password"
        weak = here.post(
            "/api/session/password",
            json={"current_password": STRONG, "new_password": "password1234"},
        )
        assert _error(weak, 400, "password_too_weak")["param"] == "new_password"
        changed = here.post(
            "/api/session/password",
            json={"current_password": STRONG, "new_password": OTHER_STRONG},
        )
        assert changed.status_code == 204, changed.text
        assert here.get("/api/session").status_code == 200
        _error(there.get("/api/session"), 401, "not_signed_in")
    with server.client() as client:
        old = client.post("/api/session", json={"email": person.email, "password": STRONG})
        _error(old, 401, "invalid_credentials")
    _signed_in_client(server, person.email, OTHER_STRONG).close()


def test_an_expired_session_is_a_401(
    server: LiveServer, clock: Callable[[timedelta], None]
) -> None:
    person = _person(server)
    with _sign_in(server, person.email) as client:
        clock(timedelta(hours=11))
        assert client.get("/api/session").status_code == 200
        clock(timedelta(hours=12, seconds=1))
        _error(client.get("/api/session"), 401, "not_signed_in")
        _error(client.post("/api/session/sign-out-everywhere"), 401, "not_signed_in")


# -- invitations and people management -------------------------------------------------------


def test_an_operator_invites_and_the_invitation_signs_in(server: LiveServer) -> None:
    operator = _person(server, operator=True)
    account_id = _account(server)
    email = _email()
    with _sign_in(server, operator.email) as admin:
        response = admin.post(
            "/api/admin/people",
            json={"email": email, "account_id": account_id, "role": "owner"},
        )
        assert response.status_code == 201, response.text
        invited = response.json()
        assert invited["person"]["status"] == "invited"
        token = invited["invitation"]["token"]
        listed = admin.get("/api/admin/people", params={"account_id": account_id})
        assert listed.status_code == 200, listed.text
        assert [p["email"] for p in listed.json()["data"]] == [email]
        everyone = admin.get("/api/admin/people").json()["data"]
        assert {operator.email, email} <= {p["email"] for p in everyone}
        _error(admin.get("/api/admin/people", params={"account_id": "acct_nope"}), 404, "not_found")
        taken = admin.post("/api/admin/people", json={"email": email.upper()})
        assert _error(taken, 409, "conflict")["param"] == "email"
        bad = admin.post("/api/admin/people", json={"email": "nope"})
        assert _error(bad, 400, "invalid_email")["param"] == "email"

    with server.client() as newcomer:
        accepted = newcomer.post(
            "/api/session/accept-invitation", json={"token": token, "password": STRONG}
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["accounts"] == [
            {"id": account_id, "name": accepted.json()["accounts"][0]["name"], "role": "owner"}
        ]
        assert COOKIE in newcomer.cookies
        assert newcomer.get("/api/session").json()["person"]["email"] == email
        again = newcomer.post(
            "/api/session/accept-invitation", json={"token": token, "password": OTHER_STRONG}
        )
        assert _error(again, 400, "invalid_token")["param"] == "token"


def test_operators_reset_passwords_and_disable_people(server: LiveServer) -> None:
    operator = _person(server, operator=True)
    person = _person(server)
    with _sign_in(server, operator.email) as admin, _sign_in(server, person.email) as victim:
        reset = admin.post(f"/api/admin/people/{person.id}/password-reset")
        assert reset.status_code == 200, reset.text
        token = reset.json()["token"]
        with server.client() as client:
            used = client.post(
                "/api/session/accept-invitation", json={"token": token, "password": OTHER_STRONG}
            )
            assert used.status_code == 200, used.text
        _error(victim.get("/api/session"), 401, "not_signed_in")  # the reset ended it

        with _sign_in(server, person.email, OTHER_STRONG) as again:
            disabled = admin.post(f"/api/admin/people/{person.id}/disable")
            assert disabled.status_code == 200, disabled.text
            assert disabled.json()["status"] == "disabled"
            _error(again.get("/api/session"), 401, "not_signed_in")
        with server.client() as client:
            refused = client.post(
                "/api/session", json={"email": person.email, "password": OTHER_STRONG}
            )
            _error(refused, 401, "person_disabled")
        _error(admin.post("/api/admin/people/psn_nope/disable"), 404, "not_found")
        _error(admin.post(f"/api/admin/people/{operator.id}/disable"), 409, "conflict")


def test_the_admin_people_api_is_for_signed_in_operators(server: LiveServer) -> None:
    account_id = _account(server)
    owner = _person(server, account_id=account_id, role="owner")
    with server.client() as anonymous:
        _error(anonymous.get("/api/admin/people"), 401, "not_signed_in")
        _error(anonymous.post("/api/admin/people", json={"email": _email()}), 401, "not_signed_in")
    with _sign_in(server, owner.email) as client:
        _error(client.get("/api/admin/people"), 403, "forbidden")
        _error(client.post("/api/admin/people", json={"email": _email()}), 403, "forbidden")
        _error(client.post(f"/api/admin/people/{owner.id}/password-reset"), 403, "forbidden")
        _error(client.post(f"/api/admin/people/{owner.id}/disable"), 403, "forbidden")
        # A state change without the CSRF token is refused before anything else.
        token = client.headers.pop("X-CSRF-Token")
        _error(client.post("/api/admin/people", json={"email": _email()}), 403, "csrf_failed")
        client.headers["X-CSRF-Token"] = token


def test_owners_invite_members_read_and_other_accounts_are_404(server: LiveServer) -> None:
    mine, theirs = _account(server), _account(server)
    owner = _person(server, account_id=mine, role="owner")
    member = _person(server, account_id=mine, role="member")
    stranger = _person(server, account_id=theirs, role="owner")

    with _sign_in(server, owner.email) as client:
        email = _email()
        invited = client.post(f"/api/account/{mine}/people", json={"email": email})
        assert invited.status_code == 201, invited.text
        assert invited.json()["person"]["role"] == "member"
        assert invited.json()["invitation"]["token"]
        promoted = client.post(
            f"/api/account/{mine}/people", json={"email": _email(), "role": "owner"}
        )
        assert promoted.json()["person"]["role"] == "owner"
        listed = client.get(f"/api/account/{mine}/people").json()["data"]
        assert {p["email"] for p in listed} >= {owner.email, member.email, email}
        assert {p["role"] for p in listed} == {"owner", "member"}
        # Another account's id is a 404, read or write.
        _error(client.get(f"/api/account/{theirs}/people"), 404, "not_found")
        _error(
            client.post(f"/api/account/{theirs}/people", json={"email": _email()}),
            404,
            "not_found",
        )
        _error(client.get("/api/account/acct_nope/people"), 404, "not_found")

    with _sign_in(server, member.email) as client:
        listed = client.get(f"/api/account/{mine}/people")
        assert listed.status_code == 200, listed.text
        assert member.email in {p["email"] for p in listed.json()["data"]}
        _error(
            client.post(f"/api/account/{mine}/people", json={"email": _email()}), 403, "forbidden"
        )
        _error(client.get(f"/api/account/{theirs}/people"), 404, "not_found")

    with _sign_in(server, stranger.email) as client:
        _error(client.get(f"/api/account/{mine}/people"), 404, "not_found")


def test_session_routes_are_in_the_openapi_document(server: LiveServer) -> None:
    with server.client() as client:
        document = client.get("/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/api/session",
        "/api/session/sign-out-everywhere",
        "/api/session/password",
        "/api/session/accept-invitation",
        "/api/admin/people",
        "/api/account/{account_id}/people",
    ):
        assert path in paths, path
    sign_in = paths["/api/session"]["post"]
    assert sign_in["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "SignInRequest"
    )
    assert "429" in sign_in["responses"]
    assert document["components"]["securitySchemes"]["sessionCookie"]["name"] == COOKIE
    with server.client() as client:
        unknown = client.get("/api/session/nope")
    assert _error(unknown, 404, "unknown_url")["message"]


def test_people_changes_are_in_the_audit_log_under_who_made_them(server: LiveServer) -> None:
    operator = _person(server, operator=True)
    account_id = _account(server)
    email = _email()
    with _sign_in(server, operator.email) as admin:
        invited = admin.post(
            "/api/admin/people", json={"email": email, "account_id": account_id, "role": "member"}
        ).json()["person"]
        assert admin.post(f"/api/admin/people/{invited['id']}/password-reset").status_code == 200
        assert admin.post(f"/api/admin/people/{invited['id']}/disable").status_code == 200
        entries = admin.get("/api/admin/audit", params={"limit": 100}).json()["entries"]
    mine = [e for e in entries if e["target"] == invited["id"]]
    assert [e["action"] for e in reversed(mine)] == [
        "person.invited",
        "person.password_reset",
        "person.disabled",
    ]
    for entry in mine:
        assert (entry["actor_kind"], entry["actor_id"]) == ("person", operator.id)
        assert entry["address"] == "127.0.0.1"
    assert mine[-1]["account_id"] == account_id
    assert mine[-1]["detail"] == {"email": email, "operator": False, "role": "member"}
