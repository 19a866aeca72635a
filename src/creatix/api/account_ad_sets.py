"""Ad sets on the account API (``/api/account/{account_id}/ad-sets``): what the web console's
ad set form and board call, for any of the account's people or its ``manage`` keys.

The same wire shapes as the platform dialect's ``/api/platform/ad-sets`` (``api.ad_sets``
translates them; ``adsets.service`` decides), made as the account (a signed-in person) or as
the key, with ``source`` ``console``. Errors are the platform's shape; another account's set
or kit is a 404. ``POST …/ad-sets/quote`` answers what a body would reserve, nothing made.
``router`` holds both APIs' ad set routes (the platform dialect's and these) and the account
upload (``api.account_uploads``) the console's product image goes to: what the app includes,
as ``api.brand_kits.router`` does for kits.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from creatix.accounts import service as accounts
from creatix.adsets import service as adsets
from creatix.api import account_uploads
from creatix.api import ad_sets as platform_ad_sets
from creatix.api.account import AccountId
from creatix.api.actors import Manager, account_of, acting_principal
from creatix.api.ad_sets import EXAMPLE, AdSetQuote, ad_set_out, quoted_ad_set, start_ad_set
from creatix.api.bodies import documented_body, model_body
from creatix.api.brand_kit_schemas import (
    AdSetAccepted,
    AdSetEnvelope,
    AdSetOut,
    AdSetRequest,
    FontList,
)
from creatix.api.deps import RuntimeDep, count_request
from creatix.api.openapi_docs import MANAGE, create_docs, error_responses
from creatix.api.platform import TOTAL_COUNT, Limit, Offset, render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route
from creatix.layout import bundled_fonts

account_router = APIRouter(
    prefix="/api/account", tags=["Account ad sets"], route_class=dialect_route(render_error)
)
SOURCE = "console"
LOOKUP = (*MANAGE, 404)
QUOTE = (*LOOKUP, 413)
CREATE = (*QUOTE, 402, 409)
AdSetId = Annotated[str, Path(max_length=40, description="The id …/ad-sets answered.")]


@account_router.get("/{account_id}/fonts", responses=error_responses(PlatformError, LOOKUP))
async def list_fonts(actor: Manager, account_id: AccountId) -> FontList:
    """The fonts bundled with the server, by the name a brand kit's ``font`` takes (what
    ``GET /api/platform/brand-kits/fonts`` answers), for the console's brand kit form."""
    account_of(actor, account_id)
    return FontList(fonts=sorted(bundled_fonts()))


@account_router.post(
    "/{account_id}/ad-sets",
    status_code=202,
    responses=error_responses(PlatformError, CREATE),
    openapi_extra=create_docs(documented_body(AdSetRequest), EXAMPLE),
)
async def create_ad_set(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, request: Request, response: Response
) -> AdSetAccepted:
    """Start an ad set (the body of ``POST /api/platform/ad-sets``); poll ``GET
    …/ad-sets/{id}``. Credits: the sum of its parts, reserved now."""
    account_of(actor, account_id)
    body = await model_body(request, AdSetRequest)
    principal = accounts.may_submit(await acting_principal(actor, runtime, account_id))
    if actor.kind == "person":  # a key's request was counted when it authenticated
        await count_request(runtime, principal, response)
    return await start_ad_set(runtime, principal, body, request, SOURCE)


@account_router.post(
    "/{account_id}/ad-sets/quote",
    responses=error_responses(PlatformError, QUOTE),
    openapi_extra=create_docs(documented_body(AdSetRequest), EXAMPLE, idempotent=False),
)
async def quote_ad_set(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, request: Request
) -> AdSetQuote:
    """The credits ``POST …/ad-sets`` with this body would reserve now, refused as it would
    be; nothing is made or reserved, and it is not counted as a submission."""
    account_of(actor, account_id)
    body = await model_body(request, AdSetRequest)
    return await quoted_ad_set(runtime, await acting_principal(actor, runtime, account_id), body)


@account_router.get(
    "/{account_id}/ad-sets",
    response_model_by_alias=True,
    responses=error_responses(PlatformError, LOOKUP),
)
async def list_ad_sets(
    actor: Manager,
    runtime: RuntimeDep,
    account_id: AccountId,
    request: Request,
    response: Response,
    *,
    limit: Limit = 20,
    offset: Offset = 0,
) -> list[AdSetOut]:
    """The account's ad sets, newest first; the number of them all in `X-Total-Count`."""
    owner = account_of(actor, account_id)
    views, total = await adsets.page(runtime.jobs, owner, limit=limit, offset=offset)
    response.headers[TOTAL_COUNT] = str(total)
    return [ad_set_out(view, runtime, request) for view in views]


@account_router.get(
    "/{account_id}/ad-sets/{ad_set_id}",
    response_model_by_alias=True,
    responses=error_responses(PlatformError, LOOKUP),
)
async def get_ad_set(
    actor: Manager, runtime: RuntimeDep, account_id: AccountId, ad_set_id: AdSetId, request: Request
) -> AdSetEnvelope:
    """One of the account's ad sets: its parts' progress and each variant's creatives."""
    view = await adsets.get(runtime.jobs, account_of(actor, account_id), ad_set_id)
    return AdSetEnvelope(ad_set=ad_set_out(view, runtime, request))


router = APIRouter()
router.include_router(platform_ad_sets.router)
router.include_router(account_router)
router.include_router(account_uploads.router)  # where the ad set form sends a product image
