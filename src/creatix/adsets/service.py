"""Making and reading ad sets on the job core.

``submit``: the kit (another account's is a ``NotFound``), the placements, the fixed copy
against every placement's budget, the models, then every part (one copy job, one key-visual
job per variant) checked and priced by the job core and reserved and enqueued in ONE
transaction with the set's own rows (``JobIntake.submit_group``). ``quote``: the same
checks (``_planned``, shared so the two cannot drift) and the credits the parts would
reserve, nothing written. Each part is an ordinary job and settles on its own (a failed part
refunds only itself). The layout step (``assembler.py``) composes a variant once its parts
have ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from creatix.accounts.schemas import Principal
from creatix.adsets import plan, repository
from creatix.adsets.models import AdSetCreativeRow, AdSetRow, AdSetVariantRow
from creatix.adsets.schemas import (
    AdSetView,
    CreativeView,
    PartView,
    PlacementSize,
    VariantView,
)
from creatix.brands import service as brands
from creatix.brands.schemas import BrandKit
from creatix.catalog.schemas import ModelEntry
from creatix.jobs.marking import AD_SET_PART
from creatix.jobs.models import JobRow
from creatix.jobs.service import JobService
from creatix.jobs.specs import IdempotencyKey, ImageSpec, Job, JobKind, JobStatus, TextSpec
from creatix.kit.clock import utcnow
from creatix.kit.errors import Conflict, Forbidden, InvalidRequest, NotFound
from creatix.kit.ids import new_uuid
from creatix.layout import Placement
from creatix.storage.base import Storage


@dataclass(frozen=True)
class AdSetRequest:
    """An ad set in canonical terms (what a dialect translates its body into)."""

    brand_kit_id: str
    brief: plan.Brief
    placements: Sequence[str | plan.CustomSize]
    variants: int
    image_model: str
    copy_model: str


def _not_found(ad_set_id: str) -> NotFound:
    return NotFound(f"No ad set found with id '{ad_set_id}'.", param="id")


def _model(jobs: JobService, model_id: str, kind: JobKind, field: str) -> ModelEntry:
    model = jobs.catalog.model(model_id)
    if model is None or model.kind != kind:
        known = ", ".join(m.id for m in jobs.catalog.models if m.kind == kind)
        raise InvalidRequest(
            f"{field} '{model_id[:60]}' is not a {kind} model of this server; {kind} models: "
            f"{known}.",
            param=field,
            code="model_not_found",
        )
    return model


def _engine_params(model: ModelEntry) -> dict[str, str | int | float | bool]:
    table = model.price_table
    return dict(table.defaults) if table is not None else {}


_BRIEF_FIELDS = {
    "prompt": "brief",
    "negative_prompt": "brief",
    "system_instruction": "brief",
    "input_image": "brief.input_image",
}


def _renamed(exc: InvalidRequest | Forbidden, param: str | None) -> InvalidRequest | Forbidden:
    return type(exc)(exc.message, param=param, code=exc.code)


@dataclass(frozen=True)
class _Planned:
    """A request that passed every check made before anything is reserved, with its parts."""

    kit: BrandKit
    placements: list[Placement]
    image_model: ModelEntry
    copy_model: ModelEntry
    copy: TextSpec
    visuals: list[ImageSpec]
    credits: int
    """What the parts would reserve now, by the job core's prices."""


async def _planned(
    jobs: JobService, principal: Principal, request: AdSetRequest, *, storage: Storage
) -> _Planned:
    """The kit, variants, placements, fixed copy and its glyphs, the models, then the parts'
    own checks and prices: what ``submit`` and ``quote`` both run; nothing is written."""
    kit = await brands.get_kit(jobs.db, principal.account_id, request.brand_kit_id)
    if not 1 <= request.variants <= plan.MAX_VARIANTS:
        raise InvalidRequest(f"variants must be 1 to {plan.MAX_VARIANTS}.", param="variants")
    placements = plan.resolve_placements(request.placements)
    plan.check_fixed_copy(request.brief, kit, placements)
    plan.check_fixed_glyphs(request.brief, kit, await brands.kit_font(kit, storage))
    image_model = _model(jobs, request.image_model, JobKind.IMAGE, "image_model")
    copy_model = _model(jobs, request.copy_model, JobKind.TEXT, "copy_model")
    largest = plan.visual_placement(placements)
    size = plan.visual_size(placements[largest], image_model.limits, largest)
    copy = plan.copy_spec(request.brief, kit, placements, request.variants)
    visuals = [
        plan.visual_spec(request.brief, kit, size, index, _engine_params(image_model))
        for index in range(request.variants)
    ]
    credits = _quoted(
        jobs,
        principal=principal,
        image_model=image_model,
        visuals=visuals,
        copy_model=copy_model,
        copy=copy,
        largest=largest,
    )
    return _Planned(kit, placements, image_model, copy_model, copy, visuals, credits)


async def quote(
    jobs: JobService, principal: Principal, request: AdSetRequest, *, storage: Storage
) -> int:
    """The credits ``submit`` would reserve for ``request`` now (the parts' sum; 0 for an
    unlimited account), after the checks it makes before reserving, refused as it refuses.
    Nothing is written; as ``JobIntake.quote``, neither the content policy, the quota, the
    balance nor the input image's ownership is looked at."""
    return (await _planned(jobs, principal, request, storage=storage)).credits


async def submit(
    jobs: JobService,
    principal: Principal,
    request: AdSetRequest,
    *,
    source: str,
    storage: Storage,
    idempotency: IdempotencyKey | None = None,
) -> tuple[str, bool]:
    """Check and enqueue the set; its id, and whether it was made now (not an idempotent
    replay). Refusals name canonical fields: ``brand_kit_id``,
    ``placements[i]``, ``variants``, ``image_model``, ``copy_model``, ``brief...``."""
    planned = await _planned(jobs, principal, request, storage=storage)
    kit, placements = planned.kit, planned.placements
    image_model, copy_model = planned.image_model, planned.copy_model
    parts: list[tuple[str, ImageSpec | TextSpec]] = [(copy_model.id, planned.copy)]
    parts += [(image_model.id, spec) for spec in planned.visuals]
    ad_set_id = new_uuid()

    def record(session: Session, made: list[Job]) -> None:
        now = utcnow()
        session.add(
            AdSetRow(
                id=ad_set_id,
                account_id=principal.account_id,
                brand_kit_id=kit.id,
                kit=kit.model_dump(mode="json"),
                brief={
                    "product": request.brief.product,
                    "audience": request.brief.audience,
                    "offer": request.brief.offer,
                    "input_image": request.brief.input_image,
                    "cta": request.brief.cta,
                },
                placements=[
                    {"name": p.name, "width": p.width, "height": p.height} for p in placements
                ],
                variants=request.variants,
                image_model=image_model.id,
                copy_model=copy_model.id,
                copy_job_id=made[0].id,
                source=source,
                status="processing",
                credits_reserved=sum(job.credits_reserved for job in made),
                created_at=now,
            )
        )
        session.flush()
        for index, job in enumerate(made[1:]):
            session.add(
                AdSetVariantRow(
                    ad_set_id=ad_set_id, index=index, visual_job_id=job.id, status="waiting"
                )
            )

    try:
        made, created = await jobs.intake.submit_group(
            principal, parts, source=AD_SET_PART, record=record, idempotency=idempotency
        )
    except (InvalidRequest, Forbidden) as exc:
        field = exc.param or ""
        if field.startswith("messages"):
            raise _renamed(exc, "brief") from exc
        if field == "model":  # a key's allowed models
            raise _renamed(exc, "image_model/copy_model") from exc
        raise _renamed(exc, _BRIEF_FIELDS.get(field, exc.param)) from exc
    if created:
        return ad_set_id, True
    # The same request with the same Idempotency-Key: the set its first part belongs to.
    return await jobs.db.read(lambda session: _set_of_copy_job(session, made[0].id)), False


def _set_of_copy_job(session: Session, job_id: str) -> str:
    ad_set_id = repository.id_of_copy_job(session, job_id)
    if ad_set_id is None:
        raise Conflict(
            "This Idempotency-Key was already used with a different request.",
            code="idempotency_key_reused",
        )
    return ad_set_id


def _quoted(
    jobs: JobService,
    *,
    principal: Principal,
    image_model: ModelEntry,
    visuals: Sequence[ImageSpec],
    copy_model: ModelEntry,
    copy: TextSpec,
    largest: int,
) -> int:
    """The parts' own checks, before anything is reserved, with the field each names; what
    they would reserve together."""
    credits = 0
    for visual in visuals:
        try:
            credits += jobs.intake.quote(principal, image_model.id, visual)
        except InvalidRequest as exc:
            if exc.param in ("size", "width", "height"):
                raise InvalidRequest(
                    f"placements[{largest}] needs a key visual of {visual.width}x"
                    f"{visual.height}, which {image_model.id} cannot make: {exc.message}",
                    param=f"placements[{largest}]",
                    code="size_out_of_range",
                ) from exc
            raise _renamed(exc, _BRIEF_FIELDS.get(exc.param or "", exc.param)) from exc
    try:
        return credits + jobs.intake.quote(principal, copy_model.id, copy)
    except InvalidRequest as exc:
        raise _renamed(exc, "copy_model") from exc


def _progress(job: JobRow) -> float:
    if job.status in repository.TERMINAL:
        return 1.0
    return job.progress or 0.0


def _part(role: str, variant: int | None, job: JobRow) -> PartView:
    return PartView(
        role="copy" if role == "copy" else "visual",
        variant=variant,
        job_id=job.id,
        status=JobStatus(job.status),
        progress=_progress(job),
        error_code=job.error_code,
        error_message=job.error_message,
        credits_reserved=job.credits_reserved,
        credits_charged=job.credits_charged if job.status in repository.TERMINAL else None,
    )


def _view(
    row: AdSetRow,
    variants: list[AdSetVariantRow],
    creatives: list[AdSetCreativeRow],
    jobs: dict[str, JobRow],
) -> AdSetView:
    copy_job = jobs[row.copy_job_id]
    parts = [_part("copy", None, copy_job)]
    parts += [_part("visual", v.index, jobs[v.visual_job_id]) for v in variants]
    per_variant: dict[int, list[CreativeView]] = {}
    for creative in creatives:
        per_variant.setdefault(creative.variant, []).append(
            CreativeView(
                placement=creative.placement,
                width=creative.width,
                height=creative.height,
                storage_key=creative.storage_key,
                mime_type=creative.mime_type,
                size_bytes=creative.size_bytes,
            )
        )
    total = len(parts) + len(variants) * len(row.placements)
    done = sum(part.progress for part in parts) + sum(
        len(row.placements) if v.status in ("done", "failed") else 0 for v in variants
    )
    ended = [part for part in parts if part.status.is_terminal]
    return AdSetView(
        id=row.id,
        account_id=row.account_id,
        brand_kit_id=row.brand_kit_id,
        status="completed" if row.status == "completed" else row.status,
        progress=1.0 if row.status != "processing" else min(done / total, 0.99),
        placements=[PlacementSize(**p) for p in row.placements],
        variants=[
            VariantView(
                index=v.index,
                status=v.status,
                headline=v.headline,
                body=v.body,
                cta=v.cta,
                error_code=v.error_code,
                error_message=v.error_message,
                creatives=per_variant.get(v.index, []),
            )
            for v in variants
        ],
        parts=parts,
        image_model=row.image_model,
        copy_model=row.copy_model,
        credits_reserved=row.credits_reserved,
        credits_charged=sum(part.credits_charged or 0 for part in ended),
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def _full_view(session: Session, row: AdSetRow) -> AdSetView:
    variants = repository.variants_of(session, row.id)
    job_ids = [row.copy_job_id, *(v.visual_job_id for v in variants)]
    return _view(
        row, variants, repository.creatives_of(session, row.id), repository.jobs(session, job_ids)
    )


async def page(
    jobs: JobService, account_id: str, *, limit: int, offset: int
) -> tuple[list[AdSetView], int]:
    """A page of the account's sets, newest first, and how many it has."""

    def read(session: Session) -> tuple[list[AdSetView], int]:
        rows = repository.of_account(session, account_id, limit, offset)
        views = [_full_view(session, row) for row in rows]
        return views, repository.count_of_account(session, account_id)

    return await jobs.db.read(read)


async def get(jobs: JobService, account_id: str, ad_set_id: str) -> AdSetView:
    """The account's ad set with its parts, variants and creatives; another account's or an
    unknown id is a ``NotFound``."""

    def read(session: Session) -> AdSetView:
        row = repository.owned(session, account_id, ad_set_id)
        if row is None:
            raise _not_found(ad_set_id)
        return _full_view(session, row)

    return await jobs.db.read(read)
