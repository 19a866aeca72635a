"""The content policy for operators: its refusals (``GET /api/admin/policy/refusals``) and an
account's policy (``PUT /api/admin/accounts/{id}/content-policy``, what the CLI's
``accounts set-policy`` does).

Who may call is ``api/actors.py``'s ``Operator``; errors are the platform API's envelope.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from creatix.accounts import service as accounts
from creatix.accounts.schemas import AccountInfo
from creatix.api.actors import Operator
from creatix.api.bodies import documented_body, model_body
from creatix.api.deps import RuntimeDep
from creatix.api.openapi_docs import MANAGE, create_docs, error_responses
from creatix.api.platform import Limit, Offset, render_error
from creatix.api.platform_schemas import PlatformError
from creatix.api.routing import dialect_route
from creatix.policy.service import RefusalInfo

router = APIRouter(prefix="/api/admin", tags=["Admin"], route_class=dialect_route(render_error))


AccountId = Annotated[str, Path(max_length=40, description="The account's id")]


class PolicyChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    policy: str | None = Field(
        max_length=40, description="A content policy of the catalog; null: the plan's own."
    )


class Refusal(BaseModel):
    id: str
    account_id: str
    account_name: str
    key_id: str | None = Field(description="The key of the refused request (prompt stage).")
    job_id: str | None = Field(description="The job whose output was refused.")
    dialect: str = Field(description="The API the request came through.")
    stage: str = Field(description="prompt, output (an image) or copy (a text answer).")
    policy: str = Field(description="The content policy that refused it.")
    category: str
    source: str = Field(description="blocklist or moderation.")
    score: float | None = Field(description="The moderation engine's score.")
    matched: str | None = Field(description="The blocklist's matched term or pattern text.")
    field: str | None = Field(description="The refused field (prompt, messages[0].content, ...).")
    text: str | None = Field(description="The refused text, only under keep_prompt policies.")
    created_at: datetime


class RefusalPage(BaseModel):
    data: list[Refusal]
    total: int = Field(description="Refusals matching the filter, all pages.")
    limit: int
    offset: int


def _refusal(info: RefusalInfo) -> Refusal:
    return Refusal(**info.__dict__)


@router.get("/policy/refusals", responses=error_responses(PlatformError, MANAGE))
async def list_refusals(
    _actor: Operator,
    runtime: RuntimeDep,
    account_id: Annotated[
        str | None, Query(max_length=40, description="Only this account's refusals.")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RefusalPage:
    """Content policy refusals, newest first: prompts refused at submit, images and ad copy
    refused after generation. The full text only where the policy keeps it."""
    found, total = await runtime.jobs.policy.list_refusals(account_id, limit, offset)
    return RefusalPage(
        data=[_refusal(info) for info in found], total=total, limit=limit, offset=offset
    )


@router.put(
    "/accounts/{account_id}/content-policy",
    openapi_extra=create_docs(
        documented_body(PolicyChoice), {"policy": "strict"}, idempotent=False
    ),
    responses=error_responses(PlatformError, (*MANAGE, 404, 413)),
)
async def put_content_policy(
    actor: Operator, runtime: RuntimeDep, account_id: AccountId, request: Request
) -> AccountInfo:
    """Put the account under another content policy than its plan's; null undoes it."""
    body = await model_body(request, PolicyChoice)
    known = runtime.catalog.content_policy.policies
    return await accounts.set_content_policy(
        runtime.db, account_id, body.policy, known, actor=actor.audit
    )
