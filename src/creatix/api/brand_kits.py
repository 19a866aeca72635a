"""Brand kits over HTTP: the platform dialect (``/api/platform/brand-kits``, its key) and the
account API (``/api/account/{account_id}/brand-kits``, a session or a ``manage`` key), both
in the platform's error shape, both over ``brands.service``.

A kit is created and changed with JSON (``POST``, ``PATCH``: name, colours, a bundled font
by name, tone of voice, banned words, default call to action, legal line); its files go to
their own endpoints as the raw body (or a multipart ``file`` field): ``PUT …/logo`` (PNG or
SVG, at most 512 KiB) and ``PUT …/font`` (TTF or OTF, at most 960 KiB). ``GET
/brand-kits/fonts`` lists the bundled fonts. Another account's kit is a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from creatix.api.account import AccountId
from creatix.api.actors import Manager, account_of
from creatix.api.assets import file_url
from creatix.api.bodies import documented_body, model_body
from creatix.api.brand_kit_schemas import (
    BrandKitList,
    BrandKitOut,
    BrandKitRequest,
    Colors,
    FontList,
    FontOut,
    LogoOut,
)
from creatix.api.deps import BearerPrincipal, RuntimeDep
from creatix.api.openapi_docs import LOOKUP, READ, create_docs, error_responses
from creatix.api.platform import render_error
from creatix.api.platform_schemas import Deleted, PlatformError
from creatix.api.routing import dialect_route
from creatix.api.uploads import multipart_file
from creatix.brands import service as brands
from creatix.brands.schemas import BrandKit, KitChanges
from creatix.kit.errors import CreatixError, InvalidRequest
from creatix.layout import bundled_fonts
from creatix.runtime import Runtime

platform_router = APIRouter(
    prefix="/api/platform", tags=["Brand kits"], route_class=dialect_route(render_error)
)
account_router = APIRouter(
    prefix="/api/account", tags=["Brand kits"], route_class=dialect_route(render_error)
)
KitId = Annotated[str, Path(max_length=40, description="The brand kit's id.")]
CHANGE = (*LOOKUP, 413)
WIRE_FIELDS = {
    "name": "name",
    "font_name": "font",
    "tone_of_voice": "toneOfVoice",
    "banned_words": "bannedWords",
    "default_cta": "defaultCta",
    "legal_line": "legalLine",
    "brand_kit_id": "id",
}
LOGO_TYPES = frozenset({"image/png", "image/svg+xml"})
FONT_TYPES = frozenset(
    {"font/ttf", "font/otf", "font/sfnt", "application/font-sfnt", "application/octet-stream"}
)


def wire_field(param: str | None) -> str | None:
    """A canonical field as this API names it (``banned_words[2]`` → ``bannedWords[2]``)."""
    if param is None:
        return None
    head, bracket, rest = param.partition("[")
    return WIRE_FIELDS.get(head, head) + bracket + rest


def _rewired(exc: CreatixError) -> CreatixError:
    return type(exc)(exc.message, param=wire_field(exc.param), code=exc.code, headers=exc.headers)


def _out(kit: BrandKit, runtime: Runtime, request: Request) -> BrandKitOut:
    return BrandKitOut(
        id=kit.id,
        name=kit.name,
        colors=Colors(**kit.colors.model_dump()),
        font=FontOut(name=kit.font_name, source="uploaded" if kit.font_key else "bundled"),
        logo=LogoOut(url=file_url(runtime, kit.logo_key, request), mime_type=kit.logo_mime_type)
        if kit.logo_key and kit.logo_mime_type
        else None,
        tone_of_voice=kit.tone_of_voice,
        banned_words=kit.banned_words,
        default_cta=kit.default_cta,
        legal_line=kit.legal_line,
        created_at=kit.created_at,
        updated_at=kit.updated_at,
    )


def _changes(body: BrandKitRequest) -> KitChanges:
    colors = body.colors or None
    sent = body.model_fields_set
    return KitChanges(
        name=body.name,
        primary=colors.primary if colors else None,
        secondary=colors.secondary if colors else None,
        background=colors.background if colors else None,
        text=colors.text if colors else None,
        font_name=body.font,
        tone_of_voice=body.tone_of_voice,
        banned_words=body.banned_words,
        default_cta=body.default_cta,
        legal_line=body.legal_line,
        cleared=frozenset(
            field
            for field in ("default_cta", "legal_line")
            if field in sent and getattr(body, field) is None
        ),
    )


async def _file_body(request: Request, what: str, types: frozenset[str]) -> bytes:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        data, _ = await multipart_file(request, what)
        return data
    if media_type in types:
        return await request.body()
    raise InvalidRequest(
        f"Send the {what} as the raw body with Content-Type {', '.join(sorted(types))}, or "
        "as multipart/form-data in a 'file' field.",
        param=what,
        code="invalid_content_type",
    )


# -- the shared work, for either router's caller ---------------------------------------------


async def _list(runtime: Runtime, account_id: str, request: Request) -> BrandKitList:
    kits = await brands.list_kits(runtime.db, account_id)
    return BrandKitList(brand_kits=[_out(kit, runtime, request) for kit in kits])


async def _create(runtime: Runtime, account_id: str, request: Request) -> BrandKitOut:
    body = await model_body(request, BrandKitRequest)
    try:
        kit = await brands.create_kit(runtime.db, account_id, _changes(body))
    except CreatixError as exc:
        raise _rewired(exc) from exc
    return _out(kit, runtime, request)


async def _get(runtime: Runtime, account_id: str, kit_id: str, request: Request) -> BrandKitOut:
    try:
        kit = await brands.get_kit(runtime.db, account_id, kit_id)
    except CreatixError as exc:
        raise _rewired(exc) from exc
    return _out(kit, runtime, request)


async def _update(runtime: Runtime, account_id: str, kit_id: str, request: Request) -> BrandKitOut:
    body = await model_body(request, BrandKitRequest)
    try:
        kit = await brands.update_kit(
            runtime.db, runtime.storage, account_id, kit_id, _changes(body)
        )
    except CreatixError as exc:
        raise _rewired(exc) from exc
    return _out(kit, runtime, request)


async def _delete(runtime: Runtime, account_id: str, kit_id: str) -> Deleted:
    try:
        await brands.delete_kit(runtime.db, runtime.storage, account_id, kit_id)
    except CreatixError as exc:
        raise _rewired(exc) from exc
    return Deleted()


async def _logo(runtime: Runtime, account_id: str, kit_id: str, request: Request) -> BrandKitOut:
    try:
        await brands.get_kit(runtime.db, account_id, kit_id)  # a 404 before the body is read
        data = await _file_body(request, "logo", LOGO_TYPES)
        kit = await brands.set_logo(runtime.db, runtime.storage, account_id, kit_id, data)
    except CreatixError as exc:
        raise _rewired(exc) from exc
    return _out(kit, runtime, request)


async def _font(runtime: Runtime, account_id: str, kit_id: str, request: Request) -> BrandKitOut:
    try:
        await brands.get_kit(runtime.db, account_id, kit_id)
        data = await _file_body(request, "font", FONT_TYPES)
        kit = await brands.set_font(runtime.db, runtime.storage, account_id, kit_id, data)
    except CreatixError as exc:
        raise _rewired(exc) from exc
    return _out(kit, runtime, request)


KIT_EXAMPLE = {
    "name": "Northwind",
    "colors": {
        "primary": "#0a4d8c",
        "secondary": "#f2cc60",
        "background": "#ffffff",
        "text": "#111111",
    },
    "font": "open-sans-bold",
    "toneOfVoice": "warm, plain-spoken",
    "bannedWords": ["cheap", "guaranteed"],
    "defaultCta": "Shop now",
    "legalLine": "Offer ends Sunday. Terms apply.",
}


def _kit_docs() -> dict[str, Any]:
    """A kit's JSON body, published with its example (no Idempotency-Key: a kit is no job)."""
    return create_docs(documented_body(BrandKitRequest), KIT_EXAMPLE, idempotent=False)


def _file_docs(what: str, types: frozenset[str]) -> dict[str, Any]:
    schema = {"type": "string", "format": "binary"}
    return {
        "requestBody": {
            "required": True,
            "description": f"The {what}: the raw body, or the multipart field 'file'.",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": schema},
                    }
                },
                **{media_type: {"schema": schema} for media_type in sorted(types)},
            },
        }
    }


# -- the platform dialect --------------------------------------------------------------------


@platform_router.get("/brand-kits/fonts", responses=error_responses(PlatformError, READ))
async def platform_fonts(_: BearerPrincipal) -> FontList:
    """The fonts bundled with the server, by the name a kit's ``font`` takes."""
    return FontList(fonts=sorted(bundled_fonts()))


@platform_router.get("/brand-kits", responses=error_responses(PlatformError, READ))
async def platform_list(
    principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> BrandKitList:
    """The caller's brand kits, oldest first."""
    return await _list(runtime, principal.account_id, request)


@platform_router.post(
    "/brand-kits",
    status_code=201,
    responses=error_responses(PlatformError, (*READ, 413)),
    openapi_extra=_kit_docs(),
)
async def platform_create(
    principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> BrandKitOut:
    """Create a brand kit (JSON); then PUT its logo and, optionally, its font."""
    return await _create(runtime, principal.account_id, request)


@platform_router.get("/brand-kits/{kit_id}", responses=error_responses(PlatformError, LOOKUP))
async def platform_get(
    kit_id: KitId, principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> BrandKitOut:
    """One of the caller's brand kits."""
    return await _get(runtime, principal.account_id, kit_id, request)


@platform_router.patch(
    "/brand-kits/{kit_id}",
    responses=error_responses(PlatformError, CHANGE),
    openapi_extra=_kit_docs(),
)
async def platform_update(
    kit_id: KitId, principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> BrandKitOut:
    """Change the fields sent; naming a bundled font replaces an uploaded one."""
    return await _update(runtime, principal.account_id, kit_id, request)


@platform_router.delete("/brand-kits/{kit_id}", responses=error_responses(PlatformError, LOOKUP))
async def platform_delete(
    kit_id: KitId, principal: BearerPrincipal, runtime: RuntimeDep
) -> Deleted:
    """Delete the kit and its files."""
    return await _delete(runtime, principal.account_id, kit_id)


@platform_router.put(
    "/brand-kits/{kit_id}/logo",
    responses=error_responses(PlatformError, CHANGE),
    openapi_extra=_file_docs("logo", LOGO_TYPES),
)
async def platform_logo(
    kit_id: KitId, principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> BrandKitOut:
    """Set the kit's logo: a PNG or an SVG (no scripts, no external references)."""
    return await _logo(runtime, principal.account_id, kit_id, request)


@platform_router.put(
    "/brand-kits/{kit_id}/font",
    responses=error_responses(PlatformError, CHANGE),
    openapi_extra=_file_docs("font", FONT_TYPES),
)
async def platform_font(
    kit_id: KitId, principal: BearerPrincipal, runtime: RuntimeDep, request: Request
) -> BrandKitOut:
    """Set the kit's font: a TrueType or OpenType file."""
    return await _font(runtime, principal.account_id, kit_id, request)


# -- the account API -------------------------------------------------------------------------
# (``router``, at the end, holds both APIs' routes: what the app includes)


@account_router.get("/{account_id}/brand-kits", responses=error_responses(PlatformError, LOOKUP))
async def account_list(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, request: Request
) -> BrandKitList:
    """The account's brand kits, oldest first."""
    return await _list(runtime, account_of(actor, account_id), request)


@account_router.post(
    "/{account_id}/brand-kits",
    status_code=201,
    responses=error_responses(PlatformError, CHANGE),
    openapi_extra=_kit_docs(),
)
async def account_create(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, request: Request
) -> BrandKitOut:
    """Create a brand kit (JSON); then PUT its logo and, optionally, its font."""
    return await _create(runtime, account_of(actor, account_id), request)


@account_router.get(
    "/{account_id}/brand-kits/{kit_id}", responses=error_responses(PlatformError, LOOKUP)
)
async def account_get(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, kit_id: KitId, request: Request
) -> BrandKitOut:
    """One of the account's brand kits."""
    return await _get(runtime, account_of(actor, account_id), kit_id, request)


@account_router.patch(
    "/{account_id}/brand-kits/{kit_id}",
    responses=error_responses(PlatformError, CHANGE),
    openapi_extra=_kit_docs(),
)
async def account_update(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, kit_id: KitId, request: Request
) -> BrandKitOut:
    """Change the fields sent."""
    return await _update(runtime, account_of(actor, account_id), kit_id, request)


@account_router.delete(
    "/{account_id}/brand-kits/{kit_id}", responses=error_responses(PlatformError, LOOKUP)
)
async def account_delete(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, kit_id: KitId
) -> Deleted:
    """Delete the kit and its files."""
    return await _delete(runtime, account_of(actor, account_id), kit_id)


@account_router.put(
    "/{account_id}/brand-kits/{kit_id}/logo",
    responses=error_responses(PlatformError, CHANGE),
    openapi_extra=_file_docs("logo", LOGO_TYPES),
)
async def account_logo(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, kit_id: KitId, request: Request
) -> BrandKitOut:
    """Set the kit's logo: a PNG or an SVG."""
    return await _logo(runtime, account_of(actor, account_id), kit_id, request)


@account_router.put(
    "/{account_id}/brand-kits/{kit_id}/font",
    responses=error_responses(PlatformError, CHANGE),
    openapi_extra=_file_docs("font", FONT_TYPES),
)
async def account_font(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, kit_id: KitId, request: Request
) -> BrandKitOut:
    """Set the kit's font: a TrueType or OpenType file."""
    return await _font(runtime, account_of(actor, account_id), kit_id, request)


router = APIRouter()
router.include_router(platform_router)
router.include_router(account_router)
