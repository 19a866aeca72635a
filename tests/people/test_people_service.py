"""People, passwords and sessions through the service, on a real migrated database (SQLite,
or PostgreSQL with CREATIX_TEST_BACKEND=postgresql)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from creatix.accounts import service as accounts
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from creatix.kit.migrate import upgrade_database
from creatix.people import passwords
from creatix.people import service as people_service
from creatix.people.models import Person, PersonSession
from creatix.people.service import People, SessionPolicy
from support import make_settings

STRONG = "correct horse battery staple 42"
OTHER_STRONG = "violet otters juggle copper lanterns"


@pytest.fixture
async def people(tmp_path: Path) -> AsyncIterator[People]:
    settings = make_settings(tmp_path)
    upgrade_database(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    yield People(db, SessionPolicy.from_settings(settings))
    await db.dispose()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Move the people room's clock forward by a timedelta."""
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


async def _account(people: People) -> str:
    return (
        await accounts.ensure_account(people.db, f"acct-{uuid.uuid4().hex[:8]}", "paid", "free")
    ).id


# -- password rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short1!", "password_too_short"),
        ("x" * (passwords.MAX_LENGTH + 1), "password_too_long"),
        ("password1234", "password_too_weak"),  # among the commonest passwords
        ("qwertyuiopasdf", "password_too_weak"),  # a keyboard walk
        ("aaaaaaaaaaaaaaaa", "password_too_weak"),  # a repeat
        ("Ada.Lovelace@example.com", "password_too_weak"),  # the person's own email
    ],
)
async def test_passwords_that_break_a_rule_are_refused_naming_password(
    people: People, password: str, code: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await people.create("ada.lovelace@example.com", password=password)
    assert (refused.value.param, refused.value.code) == ("password", code)
    assert refused.value.message
    assert await people.list_people() == []


async def test_a_weak_password_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidRequest) as refused:
        passwords.check_rules("password1234")
    assert "common" in refused.value.message.lower()


async def test_the_password_is_stored_as_argon2id_never_as_itself(people: People) -> None:
    email = _email()
    created = await people.create(email, password=STRONG)
    stored = await people.db.read(lambda s: s.get(Person, created.id))
    assert stored is not None
    assert stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert STRONG not in stored.password_hash
    assert created.id.startswith("psn_")
    assert created.status == "active"


async def test_emails_are_unique_whatever_their_case(people: People) -> None:
    await people.create("Ada@Example.com", password=STRONG)
    with pytest.raises(Conflict) as taken:
        await people.create("  ada@EXAMPLE.com ", password=STRONG)
    assert taken.value.param == "email"
    with pytest.raises(Conflict):
        await people.invite("ADA@example.com")
    with pytest.raises(InvalidRequest) as bad:
        await people.create("not an email", password=STRONG)
    assert bad.value.param == "email"
    signed = await people.sign_in("ADA@example.COM", STRONG, address=None, user_agent=None)
    assert signed.person.email == "Ada@Example.com"


# -- signing in ------------------------------------------------------------------------------


async def test_unknown_email_and_wrong_password_fail_alike_after_a_hash_verify(
    people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = _email()
    await people.create(email, password=STRONG)
    verified: list[str] = []
    real = passwords._hasher.verify_and_update

    def counting(password: str, stored: str) -> tuple[bool, str | None]:
        verified.append(stored)
        return real(password, stored)

    monkeypatch.setattr(passwords._hasher, "verify_and_update", counting)

    async def refusal(email: str, password: str) -> tuple[str, str, float]:
        started = time.perf_counter()
        with pytest.raises(Unauthorized) as refused:
            await people.sign_in(email, password, address=None, user_agent=None)
        return refused.value.code, refused.value.message, time.perf_counter() - started

    # Taken in turns, so that a burst of load on the machine slows both kinds alike.
    wrong, unknown = [], []
    for _ in range(5):
        wrong.append(await refusal(email, OTHER_STRONG))
        unknown.append(await refusal(_email(), OTHER_STRONG))
    malformed = await refusal("not an email", OTHER_STRONG)
    assert {(code, message) for code, message, _ in [*wrong, *unknown, malformed]} == {
        ("invalid_credentials", "Incorrect email or password.")
    }
    # Every refusal verified one Argon2id hash, the unknown emails a dummy one.
    assert len(verified) == 11
    assert all(stored.startswith("$argon2id$") for stored in verified)
    # The fastest of each: load only ever adds time.
    fastest_wrong = min(t for *_, t in wrong)
    fastest_unknown = min(t for *_, t in unknown)
    assert fastest_wrong / 3 < fastest_unknown < fastest_wrong * 3


async def test_sign_in_makes_a_session_stored_as_a_digest(people: People) -> None:
    email = _email()
    await people.create(email, password=STRONG)
    signed = await people.sign_in(email, STRONG, address="10.0.0.7", user_agent="tests/1.0")
    row = await people.db.read(lambda s: s.get(PersonSession, signed.session.id))
    assert row is not None
    assert row.token_hash == people_service.digest(signed.token) != signed.token
    assert (row.address, row.user_agent) == ("10.0.0.7", "tests/1.0")
    assert row.csrf_token == signed.csrf_token
    current = await people.session_of(signed.token)
    assert current is not None
    assert current.person.id == signed.person.id
    assert current.person.last_login_at is not None
    assert await people.session_of("not a token") is None


async def test_sessions_expire_idle_and_absolute(
    people: People, clock: Callable[[timedelta], None]
) -> None:
    email = _email()
    await people.create(email, password=STRONG)
    idle = people.policy.idle

    first = await people.sign_in(email, STRONG, address=None, user_agent=None)
    clock(idle - timedelta(minutes=1))
    assert await people.session_of(first.token) is not None  # used: touched
    clock(idle - timedelta(minutes=1))
    assert await people.session_of(first.token) is not None  # idle for less than `idle`
    clock(idle + timedelta(seconds=1))
    assert await people.session_of(first.token) is None  # idle too long

    # Used every few hours, it still ends at its absolute lifetime.
    second = await people.sign_in(email, STRONG, address=None, user_agent=None)
    used_for = timedelta()
    while used_for + idle / 2 < people.policy.absolute:
        clock(idle / 2)
        used_for += idle / 2
        assert await people.session_of(second.token) is not None
    clock(people.policy.absolute - used_for)
    assert await people.session_of(second.token) is None


async def test_signing_in_sweeps_expired_sessions(
    people: People, clock: Callable[[timedelta], None]
) -> None:
    email = _email()
    await people.create(email, password=STRONG)
    for _ in range(3):
        await people.sign_in(email, STRONG, address=None, user_agent=None)
    clock(people.policy.idle + timedelta(seconds=1))
    await people.sign_in(email, STRONG, address=None, user_agent=None)
    count = await people.db.read(
        lambda s: s.execute(select(func.count()).select_from(PersonSession)).scalar_one()
    )
    assert count == 1


async def test_sign_out_everywhere_and_changing_the_password(people: People) -> None:
    email = _email()
    person = await people.create(email, password=STRONG)
    here, there, elsewhere = [
        await people.sign_in(email, STRONG, address=None, user_agent=None) for _ in range(3)
    ]

    with pytest.raises(InvalidRequest) as wrong:
        await people.change_password(
            person.id, "not my password at all", OTHER_STRONG, keep_session=here.session.id
        )
    assert wrong.value.param == "current_password"
    with pytest.raises(InvalidRequest) as weak:
        await people.change_password(person.id, STRONG, "password1234", keep_session=None)
    assert weak.value.param == "new_password"

    await people.change_password(person.id, STRONG, OTHER_STRONG, keep_session=here.session.id)
    assert await people.session_of(here.token) is not None
    assert await people.session_of(there.token) is None
    assert await people.session_of(elsewhere.token) is None
    with pytest.raises(Unauthorized):
        await people.sign_in(email, STRONG, address=None, user_agent=None)
    again = await people.sign_in(email, OTHER_STRONG, address=None, user_agent=None)

    assert await people.sign_out_everywhere(person.id) == 2
    assert await people.session_of(here.token) is None
    assert await people.session_of(again.token) is None


# -- invitations, resets, disabling ----------------------------------------------------------


async def test_an_invitation_sets_the_password_once(
    people: People, clock: Callable[[timedelta], None]
) -> None:
    account_id = await _account(people)
    email = _email()
    invited = await people.invite(email, account_id=account_id, role="owner")
    assert invited.invitation is not None
    assert invited.person.status == "invited"
    assert [(m.account_id, m.role) for m in invited.person.memberships] == [(account_id, "owner")]
    token = invited.invitation.token

    # No password yet: sign-in is the same refusal as a wrong password.
    with pytest.raises(Unauthorized) as refused:
        await people.sign_in(email, STRONG, address=None, user_agent=None)
    assert refused.value.code == "invalid_credentials"

    with pytest.raises(InvalidRequest) as weak:
        await people.accept_invitation(token, "password1234", address=None, user_agent=None)
    assert weak.value.param == "password"
    signed = await people.accept_invitation(token, STRONG, address=None, user_agent=None)
    assert signed.person.status == "active"
    assert await people.session_of(signed.token) is not None
    with pytest.raises(InvalidRequest) as used:
        await people.accept_invitation(token, OTHER_STRONG, address=None, user_agent=None)
    assert (used.value.param, used.value.code) == ("token", "invalid_token")

    # An expired invitation is refused the same way.
    late = await people.invite(_email())
    assert late.invitation is not None
    clock(people.policy.invitation_ttl + timedelta(seconds=1))
    with pytest.raises(InvalidRequest) as expired:
        await people.accept_invitation(late.invitation.token, STRONG, address=None, user_agent=None)
    assert expired.value.code == "invalid_token"


async def test_inviting_a_person_to_another_account_adds_them(people: People) -> None:
    first, second = await _account(people), await _account(people)
    email = _email()
    await people.invite(email, account_id=first, role="member")
    again = await people.invite(email.upper(), account_id=second, role="owner")
    assert again.invitation is None
    assert {m.account_id: m.role for m in again.person.memberships} == {
        first: "member",
        second: "owner",
    }
    with pytest.raises(Conflict):
        await people.invite(email, account_id=second, role="member")
    with pytest.raises(NotFound):
        await people.invite(_email(), account_id="acct_nope", role="member")
    assert [p.email for p in await people.list_people(first)] == [email]
    removed = await people.remove_membership(again.person.id, first)
    assert [m.account_id for m in removed.memberships] == [second]
    assert await people.list_people(first) == []


async def test_a_reset_token_replaces_the_last_and_ends_sessions_when_used(
    people: People,
) -> None:
    email = _email()
    person = await people.create(email, password=STRONG)
    before = await people.sign_in(email, STRONG, address=None, user_agent=None)
    stale = await people.reset_password(person.id)
    fresh = await people.reset_password(person.id)
    with pytest.raises(InvalidRequest):
        await people.accept_invitation(stale.token, OTHER_STRONG, address=None, user_agent=None)
    assert await people.session_of(before.token) is not None  # the reset alone ends nothing
    await people.accept_invitation(fresh.token, OTHER_STRONG, address=None, user_agent=None)
    assert await people.session_of(before.token) is None
    await people.sign_in(email, OTHER_STRONG, address=None, user_agent=None)


async def test_a_disabled_person_cannot_sign_in_and_their_sessions_end(people: People) -> None:
    email = _email()
    person = await people.create(email, password=STRONG, operator=True)
    signed = await people.sign_in(email, STRONG, address=None, user_agent=None)
    disabled = await people.disable(person.id)
    assert disabled.status == "disabled"
    assert await people.session_of(signed.token) is None
    with pytest.raises(Unauthorized) as refused:
        await people.sign_in(email, STRONG, address=None, user_agent=None)
    assert refused.value.code == "person_disabled"
    # A wrong password still says nothing about the person.
    with pytest.raises(Unauthorized) as wrong:
        await people.sign_in(email, OTHER_STRONG, address=None, user_agent=None)
    assert wrong.value.code == "invalid_credentials"
    with pytest.raises(Conflict):
        await people.reset_password(person.id)


async def test_list_people_filters_by_account(people: People) -> None:
    account_id = await _account(people)
    inside = await people.create("b@example.com", password=STRONG, account_id=account_id)
    await people.create("a@example.com", password=STRONG, operator=True)
    everyone = await people.list_people()
    assert [p.email for p in everyone] == ["a@example.com", "b@example.com"]
    assert [p.id for p in await people.list_people(account_id)] == [inside.id]
    assert inside.memberships[0].role == "member"
    with pytest.raises(NotFound):
        await people.list_people("acct_nope")
