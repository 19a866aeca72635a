"""Cross-process wake-ups on SQLite: what ``NOTIFY``/``LISTEN`` are on PostgreSQL, for the
processes of one machine sharing one SQLite file (``serve --workers``' API and worker
processes, a ``creatix worker`` beside a ``serve``).

Every listening process binds a Unix datagram socket in Linux's abstract namespace (no
file, so no path-length limit) and names it by an empty file in the bus folder beside the
database, ``creatix.db.bus/``. ``kit/notify.notify`` queues a note on the session; when the
transaction commits, the note is sent to every other process named in the folder (a
process that is gone refuses it, and its name is removed). As on PostgreSQL, notes are hints
sent after commit: a receiver never hears of a change it cannot see yet, one that was not
listening misses it, and the job table is still polled every ``poll_interval_seconds``.
A full receive queue drops the note. Where there is no abstract namespace (not Linux), there
is no bus and processes fall back to polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

NOTES_KEY = "creatix_local_notes"
"""Where a session keeps the notes its transaction will send at commit."""
_PREFIX = "creatix-bus-"
_SEPARATOR = "\0"


def available() -> bool:
    return sys.platform == "linux"


def bus_folder(database: str | None) -> Path | None:
    """The bus folder of a SQLite database file (None for an in-memory database)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).absolute()
    return path.with_name(path.name + ".bus")


def _address(name: str) -> str:
    return f"\0{_PREFIX}{name}"


class _Sender:
    """This process's one unbound datagram socket, and the names of its own listeners."""

    def __init__(self) -> None:
        self._socket: socket.socket | None = None
        self.own: set[str] = set()

    def send(self, folder: Path, notes: list[tuple[str, str]]) -> None:
        try:
            names = [name for name in os.listdir(folder) if name not in self.own]
        except FileNotFoundError:
            return
        if not names:
            return
        sock = self._socket_once()
        for name in names:
            for channel, payload in notes:
                try:
                    sock.sendto(f"{channel}{_SEPARATOR}{payload}".encode(), _address(name))
                except (ConnectionRefusedError, FileNotFoundError):
                    with contextlib.suppress(OSError):
                        (folder / name).unlink()
                    break
                except OSError:  # its queue is full: a hint dropped, polling covers it
                    break

    def _socket_once(self) -> socket.socket:
        if self._socket is None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
        return self._socket


_sender = _Sender()


def queue_note(session: Session, channel: str, payload: str) -> None:
    """Send ``payload`` on ``channel`` to the other processes on this SQLite database when
    ``session``'s transaction commits."""
    if available():
        session.info.setdefault(NOTES_KEY, []).append((channel, payload))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    notes: list[tuple[str, str]] | None = session.info.pop(NOTES_KEY, None)
    if not notes:
        return
    bind = session.get_bind()
    folder = bus_folder(bind.engine.url.database)
    if folder is not None:
        _sender.send(folder, notes)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: object) -> None:
    session.info.pop(NOTES_KEY, None)


class LocalListener:
    """Calls ``handlers[channel](payload)`` for every note other processes on the SQLite
    database ``database`` send, on the event loop, until cancelled."""

    def __init__(self, database: str | None, handlers: Mapping[str, Callable[[str], None]]) -> None:
        self.folder = bus_folder(database)
        self._handlers = dict(handlers)
        self.name = f"{os.getpid()}-{secrets.token_hex(6)}"

    async def run(self) -> None:
        if self.folder is None or not available():
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(_address(self.name))
        self.folder.mkdir(exist_ok=True)
        member = self.folder / self.name
        member.touch()
        _sender.own.add(self.name)
        loop = asyncio.get_running_loop()
        loop.add_reader(sock.fileno(), self._receive, sock)
        try:
            await asyncio.Event().wait()
        finally:
            loop.remove_reader(sock.fileno())
            _sender.own.discard(self.name)
            with contextlib.suppress(OSError):
                member.unlink()
            sock.close()

    def _receive(self, sock: socket.socket) -> None:
        while True:
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            channel, _, payload = data.decode(errors="replace").partition(_SEPARATOR)
            handler = self._handlers.get(channel)
            if handler is not None:
                try:
                    handler(payload)
                except Exception:
                    log.exception("a bus note's handler failed", extra={"channel": channel})
