"""The rules of brand kits: what a kit may hold, its files, and the ``BrandStyle`` the layout
step composes with.

Colours are ``#rrggbb``; the font is one of the fonts bundled with ``creatix.layout`` by name
or an uploaded TTF/OTF (checked by ``layout.load_font``); the logo an uploaded PNG or SVG
(checked, SVG scripts and external references refused, by ``layout.rasterize_logo``), both
read in worker processes with a hard budget (``file_checks.py``). Files
are stored under ``brand-kits/{account_id}/{kit_id}/``; replacing one deletes the old file,
deleting the kit deletes its files. Another account's kit is a ``NotFound``, as an unknown
one. Every refusal is an ``InvalidRequest`` naming the canonical field (``colors.primary``,
``font``, ``logo``, ``banned_words[2]``, ...).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable

from sqlalchemy.orm import Session

from creatix.brands import file_checks, repository
from creatix.brands.models import BrandKitRow
from creatix.brands.schemas import BrandColors, BrandKit, KitChanges
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import ContentTooLarge, InvalidRequest, NotFound
from creatix.kit.ids import new_id
from creatix.layout import (
    DEFAULT_FONT,
    BrandStyle,
    FontFace,
    bundled_fonts,
)
from creatix.storage.base import Storage

log = logging.getLogger(__name__)

HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_COLORS = BrandColors(
    primary="#1f6feb", secondary="#f2cc60", background="#ffffff", text="#111111"
)
MAX_NAME_CHARS = 200
MAX_TONE_CHARS = 500
MAX_CTA_CHARS = 40
MAX_LEGAL_CHARS = 200
MAX_BANNED_WORDS = 100
MAX_BANNED_WORD_CHARS = 50
MAX_LOGO_BYTES = 512 * 1024
MAX_FONT_BYTES = 960 * 1024
"""Both below the server's JSON body limit (1 MB), which bounds every route without its own."""
FOLDER = "brand-kits/"


def _not_found(kit_id: str) -> NotFound:
    return NotFound(f"No brand kit found with id '{kit_id}'.", param="brand_kit_id")


def to_kit(row: BrandKitRow) -> BrandKit:
    return BrandKit(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        colors=BrandColors(
            primary=row.primary_color,
            secondary=row.secondary_color,
            background=row.background_color,
            text=row.text_color,
        ),
        font_name=row.font_name,
        font_key=row.font_key,
        logo_key=row.logo_key,
        logo_mime_type=row.logo_mime_type,
        tone_of_voice=row.tone_of_voice,
        banned_words=list(row.banned_words or []),
        default_cta=row.default_cta,
        legal_line=row.legal_line,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _color(value: str, field: str) -> str:
    if not HEX_COLOR.fullmatch(value):
        raise InvalidRequest(
            f"{field} must be a hex colour '#rrggbb', not {value[:20]!r}.", param=field
        )
    return value.lower()


def _text(value: str, field: str, most: int, *, empty: bool = False) -> str:
    value = value.strip()
    if not value and not empty:
        raise InvalidRequest(f"{field} must not be empty.", param=field)
    if len(value) > most:
        raise InvalidRequest(f"{field} must be at most {most} characters.", param=field)
    return value


def _banned(words: list[str]) -> list[str]:
    if len(words) > MAX_BANNED_WORDS:
        raise InvalidRequest(
            f"banned_words holds at most {MAX_BANNED_WORDS} words.", param="banned_words"
        )
    return [
        _text(word, f"banned_words[{index}]", MAX_BANNED_WORD_CHARS)
        for index, word in enumerate(words)
    ]


def _bundled_font(name: str) -> str:
    fonts = bundled_fonts()
    if name not in fonts:
        known = ", ".join(sorted(fonts))
        raise InvalidRequest(
            f"font_name '{name[:60]}' is not a bundled font; bundled: {known}. Or upload a "
            "TTF or OTF file.",
            param="font_name",
        )
    return name


def default_font() -> str:
    """The bundled font a kit gets when none is named."""
    return DEFAULT_FONT


def _apply(row: BrandKitRow, changes: KitChanges) -> None:
    """Set ``changes`` on ``row``, each checked."""
    if changes.name is not None:
        row.name = _text(changes.name, "name", MAX_NAME_CHARS)
    for field in ("primary", "secondary", "background", "text"):
        value = getattr(changes, field)
        if value is not None:
            setattr(row, f"{field}_color", _color(value, f"colors.{field}"))
    if changes.font_name is not None:
        row.font_name = _bundled_font(changes.font_name)
        row.font_key = None  # the uploaded file, if any, is deleted by the caller
    if changes.tone_of_voice is not None:
        row.tone_of_voice = _text(
            changes.tone_of_voice, "tone_of_voice", MAX_TONE_CHARS, empty=True
        )
    if changes.banned_words is not None:
        row.banned_words = _banned(changes.banned_words)
    if changes.default_cta is not None:
        row.default_cta = _text(changes.default_cta, "default_cta", MAX_CTA_CHARS)
    if changes.legal_line is not None:
        row.legal_line = _text(changes.legal_line, "legal_line", MAX_LEGAL_CHARS)
    if "default_cta" in changes.cleared:
        row.default_cta = None
    if "legal_line" in changes.cleared:
        row.legal_line = None


async def create_kit(db: Database, account_id: str, changes: KitChanges) -> BrandKit:
    if changes.name is None:
        raise InvalidRequest("name is required.", param="name", code="missing_parameter")
    now = utcnow()
    row = BrandKitRow(
        id=new_id("kit"),
        account_id=account_id,
        name="",
        primary_color=DEFAULT_COLORS.primary,
        secondary_color=DEFAULT_COLORS.secondary,
        background_color=DEFAULT_COLORS.background,
        text_color=DEFAULT_COLORS.text,
        font_name=changes.font_name or default_font(),
        tone_of_voice="",
        banned_words=[],
        created_at=now,
        updated_at=now,
    )
    _apply(row, changes)

    def insert(session: Session) -> BrandKit:
        repository.add(session, row)
        return to_kit(row)

    return await db.write(insert)


async def list_kits(db: Database, account_id: str) -> list[BrandKit]:
    return await db.read(
        lambda session: [to_kit(row) for row in repository.of_account(session, account_id)]
    )


async def get_kit(db: Database, account_id: str, kit_id: str) -> BrandKit:
    def read(session: Session) -> BrandKit:
        row = repository.owned(session, account_id, kit_id)
        if row is None:
            raise _not_found(kit_id)
        return to_kit(row)

    return await db.read(read)


async def _changed(
    db: Database, account_id: str, kit_id: str, change: Callable[[BrandKitRow], None]
) -> tuple[BrandKit, list[str]]:
    """The kit after ``change``, and the storage keys it no longer names."""

    def write(session: Session) -> tuple[BrandKit, list[str]]:
        row = repository.owned(session, account_id, kit_id)
        if row is None:
            raise _not_found(kit_id)
        before = {row.font_key, row.logo_key}
        change(row)
        row.updated_at = utcnow()
        session.flush()
        dropped = [key for key in before - {row.font_key, row.logo_key} if key]
        return to_kit(row), dropped

    return await db.write(write)


async def _delete_files(storage: Storage, keys: list[str]) -> None:
    for key in keys:
        try:
            await storage.delete(key)
        except Exception:
            log.warning("could not delete a brand kit's file", extra={"key": key}, exc_info=True)


async def update_kit(
    db: Database, storage: Storage, account_id: str, kit_id: str, changes: KitChanges
) -> BrandKit:
    kit, dropped = await _changed(db, account_id, kit_id, lambda row: _apply(row, changes))
    await _delete_files(storage, dropped)
    return kit


async def delete_kit(db: Database, storage: Storage, account_id: str, kit_id: str) -> None:
    def write(session: Session) -> list[str]:
        row = repository.owned(session, account_id, kit_id)
        if row is None:
            raise _not_found(kit_id)
        keys = [key for key in (row.font_key, row.logo_key) if key]
        repository.delete(session, row)
        return keys

    await _delete_files(storage, await db.write(write))


def _too_large(field: str, most: int) -> ContentTooLarge:
    return ContentTooLarge(
        f"The {field} file is larger than {most // 1024} KiB.", param=field, code="file_too_large"
    )


async def _store_file(
    db: Database,
    storage: Storage,
    account_id: str,
    kit_id: str,
    *,
    key: str,
    data: bytes,
    mime_type: str,
    change: Callable[[BrandKitRow], None],
) -> BrandKit:
    await get_kit(db, account_id, kit_id)  # a 404 before anything is stored
    await storage.put(key, data, mime_type)
    try:
        kit, dropped = await _changed(db, account_id, kit_id, change)
    except BaseException:
        await _delete_files(storage, [key])
        raise
    await _delete_files(storage, dropped)
    return kit


async def set_logo(
    db: Database, storage: Storage, account_id: str, kit_id: str, data: bytes
) -> BrandKit:
    """Check ``data`` is a PNG or a safe SVG, store it and make it the kit's logo."""
    if not data:
        raise InvalidRequest("The logo file is empty.", param="logo", code="empty_file")
    if len(data) > MAX_LOGO_BYTES:
        raise _too_large("logo", MAX_LOGO_BYTES)
    mime_type, extension = await file_checks.checked_logo(data)
    key = f"{FOLDER}{account_id}/{kit_id}/logo-{secrets.token_hex(6)}.{extension}"

    def change(row: BrandKitRow) -> None:
        row.logo_key = key
        row.logo_mime_type = mime_type

    return await _store_file(
        db, storage, account_id, kit_id, key=key, data=data, mime_type=mime_type, change=change
    )


async def set_font(
    db: Database, storage: Storage, account_id: str, kit_id: str, data: bytes
) -> BrandKit:
    """Check ``data`` is a TrueType or OpenType font, store it and make it the kit's font."""
    if not data:
        raise InvalidRequest("The font file is empty.", param="font", code="empty_file")
    if len(data) > MAX_FONT_BYTES:
        raise _too_large("font", MAX_FONT_BYTES)
    name, extension = await file_checks.checked_font(data)
    key = f"{FOLDER}{account_id}/{kit_id}/font-{secrets.token_hex(6)}.{extension}"

    def change(row: BrandKitRow) -> None:
        row.font_key = key
        row.font_name = name[:MAX_NAME_CHARS]

    return await _store_file(
        db,
        storage,
        account_id,
        kit_id,
        key=key,
        data=data,
        mime_type=f"font/{extension}",
        change=change,
    )


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


async def kit_font(kit: BrandKit, storage: Storage) -> FontFace:
    """The kit's font: its uploaded file (read from storage), else the bundled one."""
    if kit.font_key is None:
        return bundled_fonts()[kit.font_name]
    return await file_checks.stored_font(await storage.get(kit.font_key))


async def brand_style(kit: BrandKit, storage: Storage) -> BrandStyle:
    """What the layout step composes with: the kit's colours, its font and its logo, read
    from storage (``ObjectNotFound`` when a file is gone: the kit changed since)."""
    font = await kit_font(kit, storage)
    logo = await file_checks.stored_logo(await storage.get(kit.logo_key)) if kit.logo_key else None
    return BrandStyle(
        primary=_rgb(kit.colors.primary),
        secondary=_rgb(kit.colors.secondary),
        background=_rgb(kit.colors.background),
        text=_rgb(kit.colors.text),
        font=font,
        logo=logo,
    )
