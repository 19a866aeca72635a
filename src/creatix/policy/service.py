"""The content policy's rules: which policy an account is under, checking a request's texts,
a job's images and answers, recording and counting every refusal, and listing them.

A refusal at submit (stage ``prompt``) raises ``ContentPolicyViolation`` (400) after it is
recorded, so nothing is reserved or queued. Output checks (``output``: images, ``copy``: a
text job's answer) say which outputs are refused; the worker drops them before they are
stored and the job core refunds what was not made. When the moderation engine gives no
verdict, the policy's ``on_outage`` decides: ``open`` proceeds (logged and counted),
``closed`` refuses the request with a 503 and ``Retry-After`` (or fails the job, refunded).

A policy's ``classifier`` (``classifier.py``: Stable Diffusion's safety checker) checks output
images in the worker, the whole batch in one forward pass in a thread, before the moderation
engine sees those it did not flag. Weights that are not there: ``on_missing: open`` proceeds
(logged once per process), ``closed`` fails the job like a moderation outage; a folder that is
there but does not load always does, its error naming the policy.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image
from sqlalchemy.orm import Session

from creatix.accounts.schemas import Principal
from creatix.catalog.schemas import (
    Catalog,
    ClassifierEntry,
    ContentPolicyEntry,
    ModerationEntry,
)
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import ContentPolicyViolation, Unavailable
from creatix.kit.ids import new_id
from creatix.kit.metrics import Metrics
from creatix.policy import repository
from creatix.policy.blocklists import Blocklist, load_blocklists
from creatix.policy.checks import first_violation
from creatix.policy.classifier import (
    CATEGORY,
    ClassifierLoadError,
    ImageClassifier,
    classifier_folder,
    loaded_classifier,
)
from creatix.policy.models import PolicyRefusal
from creatix.policy.moderation import ModerationEngine, ModerationUnavailable, over_threshold

log = logging.getLogger(__name__)

PROMPT, OUTPUT, COPY = "prompt", "output", "copy"
BLOCKLIST, MODERATION, CLASSIFIER = "blocklist", "moderation", "classifier"
MATCHED_CHARS = 200


class ModerationOutage(Exception):
    """An output check had no verdict and the policy fails closed."""


class ClassifierUnavailable(ModerationOutage):
    """The policy's image classifier gave no verdict: its weights are missing and it fails
    closed, or its folder does not load. The message names the policy."""


@dataclass(frozen=True)
class Refusal:
    category: str
    source: str
    field: str | None = None
    matched: str | None = None
    score: float | None = None


@dataclass(frozen=True)
class Subject:
    """Whose request or job is checked, for the record."""

    account_id: str
    dialect: str
    key_id: str | None = None
    job_id: str | None = None


@dataclass(frozen=True)
class RefusalInfo:
    id: str
    account_id: str
    account_name: str
    key_id: str | None
    job_id: str | None
    dialect: str
    stage: str
    policy: str
    category: str
    source: str
    score: float | None
    matched: str | None
    field: str | None
    text: str | None
    created_at: datetime


class ContentPolicy:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        metrics: Metrics,
        moderation: ModerationEngine | None = None,
        *,
        models_dir: Path | None = None,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.metrics = metrics
        self.moderation = moderation
        self.models_dir = models_dir
        """The model cache, where a classifier's hub id is looked up."""
        self._blocklists: dict[str, Blocklist] = {}
        self._missing_said: set[tuple[str, Path]] = set()

    # -- which policy ------------------------------------------------------------------------

    def policy_named(self, name: str) -> ContentPolicyEntry:
        return self.catalog.content_policy.policies[name]

    def name_for(self, plan: str, override: str | None) -> str:
        return self.catalog.policy_name_for(plan, override)

    def blocklist(self, name: str) -> Blocklist:
        """The policy's blocklists as one, compiled once per policy."""
        blocklist = self._blocklists.get(name)
        if blocklist is None:
            files = self.policy_named(name).blocklists
            blocklist = self._blocklists[name] = load_blocklists(files)
        return blocklist

    def _moderation_of(self, policy: ContentPolicyEntry, stage: str) -> ModerationEntry | None:
        entry = policy.moderation
        if entry is None or self.moderation is None:
            return None
        return entry if (entry.prompts if stage == PROMPT else entry.outputs) else None

    async def name_for_account(self, account_id: str) -> str:
        found = await self.db.read(lambda session: repository.account_policy(session, account_id))
        if found is None:
            return self.catalog.content_policy.default
        return self.name_for(*found)

    # -- checking ----------------------------------------------------------------------------

    async def check_request(
        self, principal: Principal, dialect: str, texts: Mapping[str, str]
    ) -> None:
        """Refuse (400 ``content_policy_violation``, recorded) a request whose texts the
        principal's policy blocks; a 503 when its moderation engine is down and it fails
        closed."""
        name = self.name_for(principal.plan, principal.content_policy)
        policy = self.policy_named(name)
        texts = {field: text for field, text in texts.items() if text}
        refusal = self._blocked(name, texts)
        if refusal is None:
            refusal = await self._moderated_texts(policy, PROMPT, texts)
        if refusal is None:
            return
        kept = "\n".join(f"{f}: {t}" for f, t in texts.items()) if policy.keep_prompt else None
        subject = Subject(principal.account_id, dialect, principal.key_id)
        await self.record(subject, name, PROMPT, refusal, kept)
        raise ContentPolicyViolation(
            f"The {refusal.field} was refused by the content policy "
            f"(category: {refusal.category}).",
            category=refusal.category,
            param=refusal.field,
        )

    async def check_copy(self, subject: Subject, text: str) -> Refusal | None:
        """A generated answer: refused (and recorded) or None. ``ModerationOutage`` when
        there is no verdict and the policy fails closed."""
        name = await self.name_for_account(subject.account_id)
        policy = self.policy_named(name)
        refusal = self._blocked(name, {"answer": text})
        if refusal is None:
            try:
                refusal = await self._moderated_texts(policy, COPY, {"answer": text})
            except Unavailable:
                raise ModerationOutage from None
        if refusal is not None:
            await self.record(subject, name, COPY, refusal, text if policy.keep_prompt else None)
        return refusal

    async def check_images(
        self, subject: Subject, images: Sequence[Image.Image], *, field: str = "images"
    ) -> list[Refusal | None]:
        """Each image's refusal (recorded) or None, in order: the policy's classifier on the
        whole batch, then the moderation engine on each image it did not flag. ``field``
        names them in the records (``images[0]``; a video's sampled ``frames[0]``).
        ``ModerationOutage`` when there is no verdict and the policy fails closed."""
        if not self.checks_images():  # nothing checks images: no need to read the account
            return [None] * len(images)
        name = await self.name_for_account(subject.account_id)
        policy = self.policy_named(name)
        verdicts = await self._classified(name, policy.classifier, images, field)
        entry = self._moderation_of(policy, OUTPUT)
        if entry is not None:
            for index, image in enumerate(images):
                if verdicts[index] is None:
                    verdicts[index] = await self._moderated_image(entry, image, f"{field}[{index}]")
        for refusal in verdicts:
            if refusal is not None:
                await self.record(subject, name, OUTPUT, refusal, None)
        return verdicts

    async def _classified(
        self,
        name: str,
        entry: ClassifierEntry | None,
        images: Sequence[Image.Image],
        field: str,
    ) -> list[Refusal | None]:
        """The classifier's refusal of each image (None: not flagged, or nothing to run)."""
        if entry is None or not images:
            return [None] * len(images)
        classifier = await self._classifier(name, entry)
        if classifier is None:
            return [None] * len(images)
        try:
            scores = await asyncio.to_thread(classifier.scores, images, entry.adjustment)
        except Exception as exc:
            raise self._unavailable(name, f"the image classifier failed: {exc!r}") from exc
        return [
            Refusal(CATEGORY, CLASSIFIER, f"{field}[{index}]", score=round(score, 4))
            if score > 0
            else None
            for index, score in enumerate(scores)
        ]

    def checks_images(self) -> bool:
        """Whether any policy may check an image now: the moderation engine is configured, or
        a policy's classifier is there or fails closed. No database read, so a catalog whose
        only classifiers are missing and fail open costs the worker nothing."""
        if self.moderation is not None:
            return True
        return any(
            policy.classifier is not None
            and self._classifier_folder(name, policy.classifier) is not None
            for name, policy in self.catalog.content_policy.policies.items()
        )

    def _classifier_folder(self, name: str, entry: ClassifierEntry) -> Path | None:
        """The policy's classifier folder; None when its weights are not there and it fails
        open (said once per process and policy)."""
        folder = classifier_folder(entry.model, self.models_dir)
        if folder.is_dir() or entry.on_missing == "closed":
            return folder
        if (name, folder) not in self._missing_said:
            self._missing_said.add((name, folder))
            log.warning(
                "content policy's image classifier missing; outputs pass unclassified",
                extra={
                    "policy": name,
                    "why": f"the image classifier {entry.model} has no weights at {folder}",
                    "on_missing": entry.on_missing,
                },
            )
        return None

    async def _classifier(self, name: str, entry: ClassifierEntry) -> ImageClassifier | None:
        """The policy's classifier, loaded on first use (in a thread); None when its weights
        are not there and it fails open. ``ClassifierUnavailable`` when they are not there and
        it fails closed, or when its folder does not load."""
        folder = self._classifier_folder(name, entry)
        if folder is None:
            return None
        if not folder.is_dir():
            raise self._unavailable(
                name, f"the image classifier {entry.model} has no weights at {folder}"
            )
        try:
            return await asyncio.to_thread(loaded_classifier, folder)
        except ClassifierLoadError as exc:
            raise self._unavailable(name, str(exc)) from exc

    def _unavailable(self, name: str, why: str) -> ClassifierUnavailable:
        """Log why the policy's classifier gave no verdict; the error to raise."""
        message = f"content policy {name!r}: {why}"
        log.error("content policy's image classifier unavailable", extra={"why": message})
        return ClassifierUnavailable(message)

    async def _moderated_image(
        self, entry: ModerationEntry, image: Image.Image, field: str
    ) -> Refusal | None:
        """The moderation engine's refusal of one image; None when it passes, or when the
        engine is down and the policy fails open."""
        if self.moderation is None:
            return None
        png = await asyncio.to_thread(_png, image)
        try:
            scores = await self.moderation.image_scores(entry.model, png)
        except ModerationUnavailable as exc:
            if self._outage(entry, OUTPUT, str(exc)):
                raise ModerationOutage from None
            return None
        flag = over_threshold(scores, entry.thresholds)
        if flag is None:
            return None
        return Refusal(flag.category, MODERATION, field, score=flag.score)

    def _blocked(self, name: str, texts: Mapping[str, str]) -> Refusal | None:
        found = first_violation(self.blocklist(name), texts)
        if found is None:
            return None
        field, match = found
        return Refusal(match.category, BLOCKLIST, field, match.matched[:MATCHED_CHARS])

    async def _moderated_texts(
        self, policy: ContentPolicyEntry, stage: str, texts: Mapping[str, str]
    ) -> Refusal | None:
        entry = self._moderation_of(policy, stage)
        if entry is None or self.moderation is None or not texts:
            return None
        try:
            scored = await self.moderation.text_scores(entry.model, list(texts.values()))
        except ModerationUnavailable as exc:
            if self._outage(entry, stage, str(exc)):
                raise Unavailable(
                    "The content policy's moderation engine is unavailable; try again shortly.",
                    code="moderation_unavailable",
                    headers={"Retry-After": str(entry.retry_after_seconds)},
                ) from None
            return None
        for field, scores in zip(texts, scored, strict=True):
            flag = over_threshold(scores, entry.thresholds)
            if flag is not None:
                return Refusal(flag.category, MODERATION, field, score=flag.score)
        return None

    def _outage(self, entry: ModerationEntry, stage: str, why: str) -> bool:
        """Count and log a moderation outage; True when the policy fails closed."""
        self.metrics.moderation_outage(stage, entry.on_outage)
        log.warning(
            "moderation engine unavailable",
            extra={"stage": stage, "on_outage": entry.on_outage, "why": why},
        )
        return entry.on_outage == "closed"

    # -- records -----------------------------------------------------------------------------

    async def record(
        self, subject: Subject, policy: str, stage: str, refusal: Refusal, text: str | None
    ) -> None:
        row = PolicyRefusal(
            id=new_id("refusal"),
            account_id=subject.account_id,
            key_id=subject.key_id,
            job_id=subject.job_id,
            dialect=subject.dialect,
            stage=stage,
            policy=policy,
            category=refusal.category,
            source=refusal.source,
            score=refusal.score,
            matched=refusal.matched,
            field=refusal.field,
            text=text,
            created_at=utcnow(),
        )
        await self.db.write(lambda session: repository.insert_refusal(session, row))
        self.metrics.policy_refused(refusal.category, stage)

    async def list_refusals(
        self, account_id: str | None, limit: int, offset: int
    ) -> tuple[list[RefusalInfo], int]:
        """A page of refusals (newest first), of one account or all; and the total."""

        def read(session: Session) -> tuple[list[RefusalInfo], int]:
            rows, total = repository.refusals(session, account_id, limit, offset)
            return [_info(row, name) for row, name in rows], total

        return await self.db.read(read)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _info(row: PolicyRefusal, account_name: str) -> RefusalInfo:
    return RefusalInfo(
        id=row.id,
        account_id=row.account_id,
        account_name=account_name,
        key_id=row.key_id,
        job_id=row.job_id,
        dialect=row.dialect,
        stage=row.stage,
        policy=row.policy,
        category=row.category,
        source=row.source,
        score=row.score,
        matched=row.matched,
        field=row.field,
        text=row.text,
        created_at=row.created_at,
    )
