"""Usage, the ledger and the audit log, for an account's people (``/api/account/{id}/…``)
and for operators (``/api/admin/accounts/{id}/…``, ``/api/admin/audit``).

Wire → canonical: ``start``/``end`` are ISO dates (UTC days, both included; default the 30
days up to today), ``group_by`` a comma-separated subset of ``day,model,key``; ``format=csv``
or ``Accept: text/csv`` answers CSV. The ledger and the audit log are paged by
``limit``/``offset``, newest first. Who may call is ``api/actors.py``'s: the account's people
and ``manage`` keys (another account's id is a 404), or operators for any account. Errors are
the platform API's envelope.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from creatix.accounts import service as accounts
from creatix.accounts.schemas import AuditPage
from creatix.api.actors import Manager, Operator, account_of
from creatix.api.deps import RuntimeDep
from creatix.api.openapi_docs import MANAGE, error_responses
from creatix.api.platform import render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route
from creatix.jobs.service import MAX_OFFSET
from creatix.kit.clock import utcnow
from creatix.kit.errors import InvalidRequest
from creatix.runtime import Runtime
from creatix.usage import service as usage
from creatix.usage.schemas import LedgerPage, UsageReport

LOOKUP = (*MANAGE, 404)

account_router = APIRouter(
    prefix="/api/account", tags=["Account"], route_class=dialect_route(render_error)
)
admin_router = APIRouter(
    prefix="/api/admin", tags=["Admin"], route_class=dialect_route(render_error)
)
AccountId = Annotated[str, Path(max_length=40, description="The account's id")]
Start = Annotated[
    str | None, Query(description="First UTC day, YYYY-MM-DD (default: 29 days before end).")
]
End = Annotated[
    str | None, Query(description="Last UTC day, included, YYYY-MM-DD (default: today).")
]
GroupByQuery = Annotated[
    str | None,
    Query(
        description="Comma-separated subset of day, model, key (default: one row of totals).",
        examples=["day,model"],
    ),
]
Format = Annotated[
    str | None,
    Query(alias="format", description="json (default) or csv.", pattern="^(json|csv)$"),
]
Limit = Annotated[int, Query(ge=1, le=usage.MAX_LEDGER_PAGE)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]

CSV_EXAMPLE = (
    "day,model,images,videos,input_tokens,output_tokens,credits,jobs\r\n"
    "2026-12-01,z-image-turbo,42,0,0,0,4200,40\r\n"
)
_USAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The usage, as JSON or (``format=csv`` or ``Accept: text/csv``) CSV.",
        "content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
    },
    **error_responses(PlatformError, LOOKUP),
}


def _wants_csv(request: Request, format_: str | None) -> bool:
    if format_ is not None:
        if format_ not in {"json", "csv"}:
            raise InvalidRequest("format must be 'json' or 'csv'.", param="format")
        return format_ == "csv"
    accepted = request.headers.get("accept", "")
    return any(part.split(";")[0].strip() == "text/csv" for part in accepted.split(","))


async def _usage(
    request: Request,
    runtime: Runtime,
    account_id: str,
    *,
    start: str | None,
    end: str | None,
    group_by: str | None,
    format_: str | None,
) -> Response:
    first, last = usage.date_range(
        usage.parse_day(start, "start"), usage.parse_day(end, "end"), utcnow().date()
    )
    groups = usage.parse_group_by(group_by)
    csv = _wants_csv(request, format_)
    table = await usage.usage_table(runtime.db, account_id, first, last, groups)
    if csv:
        return Response(
            usage.render_csv(table),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="usage-{first}-{last}.csv"'},
        )
    # ``UsageReport``'s JSON, drawn straight from the rows (see ``usage.UsageTable``).
    return Response(usage.render_json(table), media_type="application/json")


@account_router.get("/{account_id}/usage", response_model=UsageReport, responses=_USAGE_RESPONSES)
async def account_usage(
    request: Request,
    actor: Manager,
    runtime: RuntimeDep,
    account_id: AccountId,
    *,
    start: Start = None,
    end: End = None,
    group_by: GroupByQuery = None,
    format_: Format = None,
) -> Any:
    """Images, videos, tokens, credits and jobs of the account's ended jobs, by UTC day,
    model and key over a date range (at most 400 days)."""
    account_of(actor, account_id)
    return await _usage(
        request, runtime, account_id, start=start, end=end, group_by=group_by, format_=format_
    )


@account_router.get("/{account_id}/ledger", responses=error_responses(PlatformError, LOOKUP))
async def account_ledger(
    actor: Manager,
    runtime: RuntimeDep,
    account_id: AccountId,
    limit: Limit = 50,
    offset: Offset = 0,
) -> LedgerPage:
    """The account's credit ledger, newest first: grants, reservations, refunds and charges;
    ``next_offset`` pages on."""
    account_of(actor, account_id)
    return await usage.ledger_page(runtime.db, account_id, limit=limit, offset=offset)


@admin_router.get(
    "/accounts/{account_id}/usage", response_model=UsageReport, responses=_USAGE_RESPONSES
)
async def any_account_usage(
    request: Request,
    _actor: Operator,
    runtime: RuntimeDep,
    account_id: AccountId,
    *,
    start: Start = None,
    end: End = None,
    group_by: GroupByQuery = None,
    format_: Format = None,
) -> Any:
    """Any account's usage, as ``GET /api/account/{account_id}/usage`` answers it."""
    await accounts.get_account(runtime.db, account_id)
    return await _usage(
        request, runtime, account_id, start=start, end=end, group_by=group_by, format_=format_
    )


@admin_router.get("/accounts/{account_id}/ledger", responses=error_responses(PlatformError, LOOKUP))
async def any_account_ledger(
    _actor: Operator,
    runtime: RuntimeDep,
    account_id: AccountId,
    limit: Limit = 50,
    offset: Offset = 0,
) -> LedgerPage:
    """Any account's credit ledger, newest first."""
    await accounts.get_account(runtime.db, account_id)
    return await usage.ledger_page(runtime.db, account_id, limit=limit, offset=offset)


@admin_router.get("/audit", responses=error_responses(PlatformError, MANAGE))
async def audit_log(
    _actor: Operator,
    runtime: RuntimeDep,
    account_id: Annotated[
        str | None, Query(max_length=40, description="Only this account's entries.")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AuditPage:
    """The audit log, newest first: who changed which account, key, person or balance, when
    and from where."""
    return await accounts.audit_page(runtime.db, account_id, limit=limit, offset=offset)
