"""Passwords: the rules a new one must meet, and Argon2id hashes of them.

Hashing costs about 0.1 s of CPU and 64 MiB of memory by design, so it runs off the event
loop on a small pool of its own: a flood of sign-ins queues there instead of exhausting the
process's memory or the default thread pool others need.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import zxcvbn
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

from creatix.kit.errors import InvalidRequest

T = TypeVar("T")

MIN_LENGTH = 12
MAX_LENGTH = 1024
"""Past this a password is refused: it would only cost hashing time."""
MIN_STRENGTH = 3
"""zxcvbn's score (0-4): 3 is "safely unguessable: moderate protection from an offline
slow-hash scenario"."""
_STRENGTH_PREFIX = 72
"""zxcvbn's own limit; its matching grows steeply with length, so a longer password is
judged by its first 72 characters (a weak start makes the whole weak)."""
HASHING_CONCURRENCY = 4

_hasher = PasswordHash((Argon2Hasher(),))
_pool = ThreadPoolExecutor(HASHING_CONCURRENCY, thread_name_prefix="passwords")


def check_rules(password: str, *, param: str = "password", hints: tuple[str, ...] = ()) -> None:
    """Refuse a password that is too short, too long, or too easy to guess (a common
    password, a keyboard walk, a repeat, a word with digits, the person's own email);
    ``hints`` are words the person is known by."""
    if len(password) < MIN_LENGTH:
        raise InvalidRequest(
            f"The password must be at least {MIN_LENGTH} characters long.",
            param=param,
            code="password_too_short",
        )
    if len(password) > MAX_LENGTH:
        raise InvalidRequest(
            f"The password must be at most {MAX_LENGTH} characters long.",
            param=param,
            code="password_too_long",
        )
    verdict = zxcvbn.zxcvbn(password[:_STRENGTH_PREFIX], user_inputs=list(hints))
    if verdict["score"] < MIN_STRENGTH:
        feedback = verdict["feedback"]
        reasons = [feedback.get("warning") or "It is too easy to guess."]
        reasons.extend(feedback.get("suggestions") or [])
        detail = " ".join(reason.rstrip(".") + "." for reason in reasons if reason)
        raise InvalidRequest(
            f"The password is too weak: {detail}", param=param, code="password_too_weak"
        )


async def checked(password: str, *, param: str = "password", hints: tuple[str, ...] = ()) -> None:
    """``check_rules`` off the event loop (judging strength takes up to tens of ms)."""
    await _off_loop(functools.partial(check_rules, password, param=param, hints=hints))


async def hash_password(password: str) -> str:
    """An Argon2id PHC string (``$argon2id$v=19$m=…``) with a fresh salt."""
    return await _off_loop(functools.partial(_hasher.hash, password))


async def verify(password: str, stored: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches ``stored``, and a new hash when ``stored`` was made with
    weaker parameters than today's (to store in its place)."""
    return await _off_loop(functools.partial(_verify, password, stored))


def _verify(password: str, stored: str) -> tuple[bool, str | None]:
    try:
        return _hasher.verify_and_update(password, stored)
    except UnknownHashError:
        return False, None


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("a password nobody has")


def warm_up() -> None:
    """Make the dummy hash in the background now, so that the first unknown email does not
    take a hash longer than a wrong password."""
    _pool.submit(_dummy_hash)


async def verify_nothing(password: str) -> None:
    """Spend the time a verification takes, for an email that has no password to check:
    an unknown email then answers as late as a wrong password."""
    dummy = await _off_loop(_dummy_hash)
    await verify(password, dummy)


async def _off_loop(work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_pool, work)
