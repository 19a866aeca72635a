"""People: creating and inviting them, their passwords, memberships and signed-in sessions.

Secrets are random and stored only as SHA-256 digests: a session's cookie token and a
one-time set-password token (an invitation or a reset) carry 256 bits each, so an unsalted
fast hash is safe and lets them be found by an index lookup. Passwords are Argon2id
(``passwords.py``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from creatix.accounts import service as accounts
from creatix.accounts.audit import SYSTEM, AuditActor, record_by
from creatix.accounts.models import Account
from creatix.config import Settings
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from creatix.kit.ids import new_id
from creatix.people import passwords, repository
from creatix.people.models import Membership, Person, PersonSession
from creatix.people.schemas import (
    CurrentSession,
    Invited,
    MembershipInfo,
    OneTimeToken,
    PersonInfo,
    Role,
    SessionInfo,
    SignedIn,
)

ROLES: tuple[Role, ...] = ("owner", "member")
MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
TOUCH_EVERY = timedelta(seconds=60)
"""A session's ``last_seen_at`` is written at most this often (not on every request)."""
WRONG_CREDENTIALS = "Incorrect email or password."


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta
    invitation_ttl: timedelta
    reset_ttl: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        return cls(
            idle=timedelta(seconds=settings.session_idle_seconds),
            absolute=timedelta(seconds=settings.session_absolute_seconds),
            invitation_ttl=timedelta(seconds=settings.invitation_ttl_seconds),
            reset_ttl=timedelta(seconds=settings.password_reset_ttl_seconds),
        )


def normalized_email(email: str) -> str:
    """The email as people are told apart by: stripped and lower-cased; a 400 naming
    ``email`` when it is not an address."""
    stripped = email.strip()
    if len(stripped) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(stripped):
        raise InvalidRequest(
            "The email must be an address like name@example.com.",
            param="email",
            code="invalid_email",
        )
    return stripped.lower()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _hints(email: str) -> tuple[str, ...]:
    """Words a password should not be made of: the email and its parts."""
    local, _, domain = email.partition("@")
    parts = [part for part in re.split(r"[^a-z0-9]+", local) if part]
    return (email, local, *parts, domain.split(".")[0])


def _status(person: Person) -> str:
    if person.disabled_at is not None:
        return "disabled"
    return "invited" if person.password_hash is None else "active"


def _person_info(person: Person, memberships: list[tuple[Membership, Account]]) -> PersonInfo:
    return PersonInfo.model_validate(
        {
            "id": person.id,
            "email": person.email,
            "operator": person.operator,
            "status": _status(person),
            "created_at": person.created_at,
            "last_login_at": person.last_login_at,
            "disabled_at": person.disabled_at,
            "memberships": [
                MembershipInfo.model_validate(
                    {"account_id": a.id, "account_name": a.name, "role": m.role}
                )
                for m, a in memberships
            ],
        }
    )


def _info(session: Session, person: Person) -> PersonInfo:
    return _person_info(person, repository.memberships_of(session, [person.id])[person.id])


def _person(session: Session, person_id: str) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"No person with id '{person_id}'.", param="person_id")
    return person


def _check_role(account_id: str | None, role: str | None) -> Role | None:
    if account_id is None:
        if role is not None:
            raise InvalidRequest("A role needs an account.", param="role")
        return None
    chosen = role or "member"
    if chosen not in ROLES:
        raise InvalidRequest("The role must be 'owner' or 'member'.", param="role")
    return "owner" if chosen == "owner" else "member"


def _audit_new(
    session: Session,
    actor: AuditActor,
    person: Person,
    *,
    account_id: str | None,
    role: str | None,
    action: str,
) -> None:
    detail = {"email": person.email, "operator": person.operator, "role": role}
    record_by(session, actor, account_id=account_id, action=action, target=person.id, detail=detail)


def _audit_membership(
    session: Session,
    actor: AuditActor,
    person_id: str,
    *,
    account_id: str,
    role: str,
    change: str,
) -> None:
    record_by(
        session,
        actor,
        account_id=account_id,
        action=f"membership.{change}",
        target=person_id,
        detail={"role": role},
    )


def _account(session: Session, account_id: str) -> Account:
    return accounts.account_by_id(session, account_id)


def _person_signing_in(session: Session, email: str) -> Person | None:
    try:
        normalized = normalized_email(email)
    except InvalidRequest:
        return None
    return repository.person_by_email(session, normalized)


class People:
    """Every operation on people, over one database, with one session policy."""

    def __init__(self, db: Database, policy: SessionPolicy) -> None:
        self.db = db
        self.policy = policy
        passwords.warm_up()

    # -- people ------------------------------------------------------------------------------

    async def create(
        self,
        email: str,
        *,
        password: str,
        operator: bool = False,
        account_id: str | None = None,
        role: str | None = None,
        actor: AuditActor = SYSTEM,
    ) -> PersonInfo:
        """A person who can sign in at once with ``password`` (the CLI's bootstrap)."""
        normalized = normalized_email(email)
        chosen_role = _check_role(account_id, role)
        await passwords.checked(password, hints=_hints(normalized))
        hashed = await passwords.hash_password(password)

        def work(session: Session) -> PersonInfo:
            person = self._new_person(session, email, normalized, operator)
            person.password_hash = hashed
            _audit_new(
                session,
                actor,
                person,
                account_id=account_id,
                role=chosen_role,
                action="person.created",
            )
            if account_id is not None and chosen_role is not None:
                self._add_membership(session, person.id, account_id, chosen_role)
            return _info(session, person)

        return await self.db.write(work)

    async def invite(
        self,
        email: str,
        *,
        operator: bool = False,
        account_id: str | None = None,
        role: str | None = None,
        actor: AuditActor = SYSTEM,
    ) -> Invited:
        """A new person with a one-time token to set their password (shown once).

        An email that is already a person's, invited to an account, adds them to it (no
        token: they already have a way in); otherwise it is a 409.
        """
        normalized = normalized_email(email)
        chosen_role = _check_role(account_id, role)
        token = secrets.token_urlsafe(32)
        now = utcnow()
        expires_at = now + self.policy.invitation_ttl

        def work(session: Session) -> Invited:
            existing = repository.person_by_email(session, normalized)
            if existing is not None:
                if account_id is None or chosen_role is None:
                    raise Conflict(f"'{email}' is already invited.", param="email")
                self._add_membership(session, existing.id, account_id, chosen_role)
                _audit_membership(
                    session,
                    actor,
                    existing.id,
                    account_id=account_id,
                    role=chosen_role,
                    change="added",
                )
                return Invited(person=_info(session, existing), invitation=None)
            person = self._new_person(session, email, normalized, operator)
            person.password_token_hash = digest(token)
            person.password_token_expires_at = expires_at
            _audit_new(
                session,
                actor,
                person,
                account_id=account_id,
                role=chosen_role,
                action="person.invited",
            )
            if account_id is not None and chosen_role is not None:
                self._add_membership(session, person.id, account_id, chosen_role)
            return Invited(
                person=_info(session, person),
                invitation=OneTimeToken(token=token, expires_at=expires_at),
            )

        return await self.db.write(work)

    @staticmethod
    def _new_person(session: Session, email: str, normalized: str, operator: bool) -> Person:
        if repository.person_by_email(session, normalized) is not None:
            raise Conflict(f"'{email.strip()}' is already a person here.", param="email")
        person = Person(
            id=new_id("psn"),
            email=email.strip(),
            email_normalized=normalized,
            operator=operator,
            created_at=utcnow(),
        )
        session.add(person)
        session.flush()
        return person

    @staticmethod
    def _add_membership(session: Session, person_id: str, account_id: str, role: Role) -> None:
        _account(session, account_id)
        if session.get(Membership, (person_id, account_id)) is not None:
            raise Conflict("That person is already in this account.", param="email")
        session.add(
            Membership(person_id=person_id, account_id=account_id, role=role, created_at=utcnow())
        )
        session.flush()

    async def get(self, person_id: str) -> PersonInfo:
        return await self.db.read(lambda session: _info(session, _person(session, person_id)))

    async def by_email(self, email: str) -> PersonInfo:
        normalized = normalized_email(email)

        def work(session: Session) -> PersonInfo:
            person = repository.person_by_email(session, normalized)
            if person is None:
                raise NotFound(f"No person with email '{email}'.", param="email")
            return _info(session, person)

        return await self.db.read(work)

    async def list_people(self, account_id: str | None = None) -> list[PersonInfo]:
        """Everyone, or the people of one account (``NotFound`` if there is none), by email."""

        def work(session: Session) -> list[PersonInfo]:
            if account_id is not None:
                _account(session, account_id)
            found = repository.people(session, account_id)
            memberships = repository.memberships_of(session, [p.id for p in found])
            return [_person_info(p, memberships[p.id]) for p in found]

        return await self.db.read(work)

    async def account_id_named(self, name: str) -> str:
        return await self.db.read(lambda session: accounts.account_named(session, name).id)

    async def add_membership(
        self, person_id: str, account_id: str, role: str, *, actor: AuditActor = SYSTEM
    ) -> PersonInfo:
        chosen = _check_role(account_id, role)
        assert chosen is not None

        def work(session: Session) -> PersonInfo:
            person = _person(session, person_id)
            self._add_membership(session, person.id, account_id, chosen)
            _audit_membership(
                session, actor, person.id, account_id=account_id, role=chosen, change="added"
            )
            return _info(session, person)

        return await self.db.write(work)

    async def remove_membership(
        self, person_id: str, account_id: str, *, actor: AuditActor = SYSTEM
    ) -> PersonInfo:
        def work(session: Session) -> PersonInfo:
            person = _person(session, person_id)
            membership = session.get(Membership, (person_id, account_id))
            if membership is None:
                raise NotFound("That person is not in this account.", param="account_id")
            _audit_membership(
                session,
                actor,
                person.id,
                account_id=account_id,
                role=membership.role,
                change="removed",
            )
            session.delete(membership)
            session.flush()
            return _info(session, person)

        return await self.db.write(work)

    async def disable(self, person_id: str, *, actor: AuditActor = SYSTEM) -> PersonInfo:
        """The person can no longer sign in: their sessions and any pending token end."""

        def work(session: Session) -> PersonInfo:
            person = _person(session, person_id)
            if person.disabled_at is None:
                person.disabled_at = utcnow()
                record_by(
                    session, actor, account_id=None, action="person.disabled", target=person.id
                )
            person.password_token_hash = None
            person.password_token_expires_at = None
            repository.delete_sessions_of(session, person.id)
            return _info(session, person)

        return await self.db.write(work)

    # -- passwords ---------------------------------------------------------------------------

    async def reset_password(self, person_id: str, *, actor: AuditActor = SYSTEM) -> OneTimeToken:
        """A new one-time token that sets the person's password (any earlier one no longer
        works). Their password and sessions stay until the token is used."""
        token = secrets.token_urlsafe(32)
        expires_at = utcnow() + self.policy.reset_ttl

        def work(session: Session) -> OneTimeToken:
            person = _person(session, person_id)
            if person.disabled_at is not None:
                raise Conflict("That person is disabled.", param="person_id")
            person.password_token_hash = digest(token)
            person.password_token_expires_at = expires_at
            record_by(
                session, actor, account_id=None, action="person.password_reset", target=person.id
            )
            return OneTimeToken(token=token, expires_at=expires_at)

        return await self.db.write(work)

    async def change_password(
        self, person_id: str, current: str, new: str, *, keep_session: str | None
    ) -> None:
        """Set a new password, given the current one; every other session ends."""
        person = await self.db.read(lambda session: _person(session, person_id))
        valid = False
        if person.password_hash is not None and len(current) <= passwords.MAX_LENGTH:
            valid, _ = await passwords.verify(current, person.password_hash)
        if not valid:
            raise InvalidRequest(
                "The current password is incorrect.",
                param="current_password",
                code="incorrect_password",
            )
        await passwords.checked(new, param="new_password", hints=_hints(person.email_normalized))
        hashed = await passwords.hash_password(new)

        def work(session: Session) -> None:
            stored = _person(session, person_id)
            stored.password_hash = hashed
            repository.delete_sessions_of(session, person_id, keep=keep_session)

        await self.db.write(work)

    # -- sessions ----------------------------------------------------------------------------

    async def sign_in(
        self, email: str, password: str, *, address: str | None, user_agent: str | None
    ) -> SignedIn:
        """A new session for the person with this email and password.

        A wrong password, an unknown email and a person without a password yet are the
        same 401 after the same work: an unknown email is verified against a dummy hash.
        """
        if len(password) > passwords.MAX_LENGTH:
            raise Unauthorized(WRONG_CREDENTIALS, code="invalid_credentials")
        person = await self.db.read(lambda session: _person_signing_in(session, email))
        if person is None or person.password_hash is None:
            await passwords.verify_nothing(password)
            raise Unauthorized(WRONG_CREDENTIALS, code="invalid_credentials")
        valid, rehashed = await passwords.verify(password, person.password_hash)
        if not valid:
            raise Unauthorized(WRONG_CREDENTIALS, code="invalid_credentials")
        if person.disabled_at is not None:
            # Told only to someone who holds the password.
            raise Unauthorized("This person has been disabled.", code="person_disabled")
        return await self._open_session(person.id, address, user_agent, rehashed=rehashed)

    async def accept_invitation(
        self, token: str, password: str, *, address: str | None, user_agent: str | None
    ) -> SignedIn:
        """Use a one-time token (an invitation or a reset): set the password, end every
        other session, and sign in."""
        token_hash = digest(token)
        person = await self.db.read(
            lambda session: repository.person_by_password_token(session, token_hash)
        )
        if (
            person is None
            or person.disabled_at is not None
            or person.password_token_expires_at is None
            or person.password_token_expires_at <= utcnow()
        ):
            raise InvalidRequest(
                "This invitation or reset token is invalid or has expired.",
                param="token",
                code="invalid_token",
            )
        await passwords.checked(password, hints=_hints(person.email_normalized))
        hashed = await passwords.hash_password(password)

        def claim(session: Session) -> None:
            stored = repository.person_by_password_token(session, token_hash)
            if stored is None:  # used meanwhile: one time only
                raise InvalidRequest(
                    "This invitation or reset token is invalid or has expired.",
                    param="token",
                    code="invalid_token",
                )
            stored.password_hash = hashed
            stored.password_token_hash = None
            stored.password_token_expires_at = None
            repository.delete_sessions_of(session, stored.id)

        await self.db.write(claim)
        return await self._open_session(person.id, address, user_agent)

    async def _open_session(
        self,
        person_id: str,
        address: str | None,
        user_agent: str | None,
        *,
        rehashed: str | None = None,
    ) -> SignedIn:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = utcnow()
        policy = self.policy

        def work(session: Session) -> SignedIn:
            repository.delete_expired_sessions(session, now, now - policy.idle)
            person = _person(session, person_id)
            person.last_login_at = now
            if rehashed is not None:
                person.password_hash = rehashed
            row = PersonSession(
                id=new_id("ses"),
                person_id=person_id,
                token_hash=digest(token),
                csrf_token=csrf,
                created_at=now,
                expires_at=now + policy.absolute,
                last_seen_at=now,
                address=(address or None) and address[:64],
                user_agent=(user_agent or None) and user_agent[:512],
            )
            session.add(row)
            session.flush()
            return SignedIn(
                person=_info(session, person),
                session=self._session_info(row),
                csrf_token=csrf,
                token=token,
            )

        return await self.db.write(work)

    def _session_info(self, row: PersonSession) -> SessionInfo:
        return SessionInfo(
            id=row.id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            idle_expires_at=min(row.expires_at, row.last_seen_at + self.policy.idle),
        )

    async def session_of(self, token: str) -> CurrentSession | None:
        """The live session whose cookie token is ``token``, touched as used; None for an
        unknown, expired or revoked one, or a disabled person's."""
        token_hash = digest(token)
        now = utcnow()

        def read(session: Session) -> tuple[PersonSession, PersonInfo] | None:
            found = repository.session_with_person(session, token_hash)
            if found is None or found[1].disabled_at is not None:
                return None
            return found[0], _info(session, found[1])

        found = await self.db.read(read)
        if found is None:
            return None
        row, person = found
        if now >= row.expires_at or now >= row.last_seen_at + self.policy.idle:
            await self.db.write(lambda session: repository.delete_session(session, row.id))
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            await self.db.write(lambda session: repository.touch_session(session, row.id, now))
            row.last_seen_at = now
        return CurrentSession(
            person=person, session=self._session_info(row), csrf_token=row.csrf_token
        )

    async def sign_out(self, session_id: str) -> None:
        await self.db.write(lambda session: repository.delete_session(session, session_id))

    async def sign_out_everywhere(self, person_id: str) -> int:
        """End every session of the person (this one too); how many there were."""
        return await self.db.write(
            lambda session: repository.delete_sessions_of(session, person_id)
        )

    async def sweep_sessions(self) -> int:
        now = utcnow()
        return await self.db.write(
            lambda session: repository.delete_expired_sessions(session, now, now - self.policy.idle)
        )
