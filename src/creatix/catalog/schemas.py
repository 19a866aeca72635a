"""The catalog's shape. Everything a price, a quota or an engine choice depends on lives here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from creatix.jobs.specs import JobKind, OutputFormat


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineEntry(_Strict):
    """One configured engine instance; ``type`` selects the implementation."""

    type: str
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)


RESOLUTION = "resolution"
"""The request parameter that names an image's long side, for models that say what each of
its values makes (``ImageLimits.resolutions``)."""


class ImageLimits(_Strict):
    max_n: int = 4
    max_prompt_chars: int = 1000
    min_side: int = 64
    max_side: int = 4096
    sizes: list[str] = Field(default_factory=lambda: ["512x512", "1024x1024", "2048x2048"])
    resolutions: dict[str, int] = Field(
        default_factory=dict,
        description="The long side in pixels of each `resolution` the model makes (gpt-image-2: "
        "1k 1024, 2k 2048, 4k 4096): an image made at a resolution has exactly that long side. "
        "Required for every resolution a price table prices.",
    )


class PriceTable(_Strict):
    """Credits per output looked up by request parameters, e.g. resolution and quality.

    ``by`` names the parameters (from the spec's ``engine_params``); ``prices`` is keyed by
    their values joined with ``/`` in that order: ``{"by": ["resolution", "quality"],
    "prices": {"1k/low": 50, ...}}``.
    """

    by: list[str]
    defaults: dict[str, str] = Field(default_factory=dict)
    prices: dict[str, int]

    def key(self, params: Mapping[str, object]) -> str:
        return "/".join(str(params.get(name, self.defaults.get(name, ""))) for name in self.by)


ParamValue = str | int | float | bool


class Route(_Strict):
    """One way to serve a model: an engine instance, the name it knows the model by, and
    fixed parameters for it (an upstream provider's own request fields, say)."""

    engine: str
    engine_model: str
    params: dict[str, ParamValue] = Field(default_factory=dict)


Resolution = Literal["720p", "1080p"]
RESOLUTIONS: tuple[Resolution, ...] = ("720p", "1080p")


class VideoOptions(_Strict):
    """What an image-to-video model offers, and its price per duration."""

    credits_by_duration: dict[int, int] = Field(
        description="Durations in seconds the model makes, and the credits each costs"
    )
    resolutions: list[Resolution] = Field(default_factory=lambda: list(RESOLUTIONS))
    fps: int = Field(default=24, gt=0)
    supports_audio: bool = False
    supports_negative_prompt: bool = True
    supports_cfg_scale: bool = True

    @property
    def durations(self) -> list[int]:
        return sorted(self.credits_by_duration)


class ModelEntry(_Strict):
    id: str
    kind: JobKind = JobKind.IMAGE
    engine: str
    display_name: str
    description: str = ""
    engine_model: str | None = Field(
        default=None, description="The name the engine knows this model by; defaults to id"
    )
    engine_params: dict[str, ParamValue] = Field(
        default_factory=dict, description="Fixed parameters for the engine (see Route.params)"
    )
    fallbacks: list[Route] = Field(
        default_factory=list,
        description="Further routes, tried in order when the one before is out (a provider "
        "outage); the first route is engine / engine_model / engine_params",
    )
    credits_per_image: int = Field(default=0, ge=0)
    price_table: PriceTable | None = None
    credits_per_1k_input_tokens: int = Field(default=0, ge=0, description="Text models")
    credits_per_1k_output_tokens: int = Field(default=0, ge=0, description="Text models")
    max_output_tokens: int = Field(
        default=8192, gt=0, description="Text models: the most tokens one answer may have"
    )
    video: VideoOptions | None = Field(default=None, description="Video models")
    supports_image_input: bool = False
    output_format: OutputFormat | None = Field(
        default=None,
        description="The format of this model's images where the request cannot choose one "
        "(Artnex's /v1/generate); None: the dialect's own default (Artnex: jpeg)",
    )
    estimated_seconds: float = Field(default=5.0, gt=0)
    limits: ImageLimits = Field(default_factory=ImageLimits)

    @model_validator(mode="after")
    def _resolutions_are_sizes(self) -> ModelEntry:
        """What is priced is what is made: a resolution the price table prices must name its
        long side, and that side must be one the model makes."""
        limits = self.limits
        for name, side in limits.resolutions.items():
            if not limits.min_side <= side <= limits.max_side:
                raise ValueError(
                    f"model {self.id!r}: resolution {name!r} is {side} px, outside its sides "
                    f"{limits.min_side}..{limits.max_side}"
                )
        table = self.price_table
        if table is not None and RESOLUTION in table.by:
            position = table.by.index(RESOLUTION)
            priced = {key.split("/")[position] for key in table.prices}
            missing = sorted(priced - set(limits.resolutions))
            if missing:
                raise ValueError(
                    f"model {self.id!r} is priced by resolution but limits.resolutions does "
                    f"not say the long side of {', '.join(missing)}"
                )
        return self

    def long_side(self, params: Mapping[str, object]) -> int | None:
        """The long side in pixels of an image made with ``params``: its ``resolution``'s
        (the price table's default when it has none), or None where the size is the
        request's own."""
        sides = self.limits.resolutions
        if not sides:
            return None
        value = params.get(RESOLUTION)
        if value is None and self.price_table is not None:
            value = self.price_table.defaults.get(RESOLUTION)
        return sides.get(str(value)) if value is not None else None

    def routes(self) -> list[Route]:
        """Every route, the primary first."""
        primary = Route(
            engine=self.engine, engine_model=self.engine_model or self.id, params=self.engine_params
        )
        return [primary, *self.fallbacks]


class StyleEntry(_Strict):
    id: str
    name: str
    category: str = "general"
    prompt_suffix: str = Field(description="Appended to the user's prompt")
    negative_prompt: str | None = None

    def apply(self, prompt: str) -> str:
        return f"{prompt}, {self.prompt_suffix}"

    def unapply(self, prompt: str) -> str:
        """The prompt as the caller sent it, from one ``apply`` made; a prompt that does not
        end with this style's suffix (the catalog changed since) whole."""
        suffix = self.apply("")
        return prompt[: -len(suffix)] if prompt.endswith(suffix) else prompt


class Quota(_Strict):
    period: Literal["day", "month"]
    images: int = Field(ge=0)


class PlanEntry(_Strict):
    id: str
    quota: Quota | None = Field(default=None, description="None: no generation quota")
    requests_per_minute: int = Field(gt=0)
    priority: int = Field(
        default=0, description="Queued jobs of higher-priority plans are claimed first"
    )
    content_policy: str | None = Field(
        default=None, description="None: the content_policy section's default"
    )


class ModerationEntry(_Strict):
    """A policy's moderation engine: an OpenAI-compatible ``/v1/moderations`` endpoint
    (``CREATIX_MODERATION_BASE_URL``, ``CREATIX_MODERATION_API_KEY``)."""

    model: str = "omni-moderation-latest"
    thresholds: dict[str, float] = Field(
        default_factory=lambda: {"*": 0.5},
        description="Category (the endpoint's own names, e.g. 'sexual', 'violence/graphic') "
        "to the score at or above which it is refused; '*' for every other category",
    )
    prompts: bool = Field(default=True, description="Check request texts before queueing")
    outputs: bool = Field(default=True, description="Check generated images and ad copy")
    on_outage: Literal["open", "closed"] = Field(
        default="open",
        description="open: proceed (logged and counted); closed: 503 with Retry-After",
    )
    retry_after_seconds: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _thresholds_are_scores(self) -> ModerationEntry:
        for category, score in self.thresholds.items():
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"moderation threshold for {category!r} must be 0 to 1")
        return self

    def threshold(self, category: str) -> float | None:
        return self.thresholds.get(category, self.thresholds.get("*"))


class ClassifierEntry(_Strict):
    """A policy's local image classifier for outputs: Stable Diffusion's safety checker (a
    folder with its ``config.json``, ``preprocessor_config.json`` and weights), run in the
    worker on each batch of images; an image it flags is refused as ``sexual``."""

    model: str = Field(
        min_length=1,
        description="The checker's folder: an absolute path, a path under the model cache, or "
        "a hub id such as CompVis/stable-diffusion-safety-checker found in the model cache, "
        "where `creatix models pull` puts it",
    )
    adjustment: float = Field(
        default=0.0,
        ge=-1.0,
        le=1.0,
        description="Added to every concept score before the checker's own thresholds (kept "
        "in its weights) decide: above 0 flags more, below 0 fewer; 0 is the checker as made",
    )
    on_missing: Literal["open", "closed"] = Field(
        default="closed",
        description="When the weights are not there: open proceeds unclassified (logged "
        "once); closed fails the job (retried, then refunded)",
    )


class ContentPolicyEntry(_Strict):
    blocklists: list[str] = Field(
        default_factory=list,
        description="Blocklist files: 'shipped' (the default list) or a path",
    )
    keep_prompt: bool = Field(
        default=False, description="Record a refused request's full text with its refusal"
    )
    moderation: ModerationEntry | None = None
    classifier: ClassifierEntry | None = Field(
        default=None, description="A local image classifier for the policy's output images"
    )


def _shipped_policies() -> dict[str, ContentPolicyEntry]:
    return {
        "strict": ContentPolicyEntry(blocklists=["shipped"]),
        "standard": ContentPolicyEntry(blocklists=["shipped"]),
        "off": ContentPolicyEntry(),
    }


class ContentPolicySection(_Strict):
    policies: dict[str, ContentPolicyEntry] = Field(default_factory=_shipped_policies)
    default: str = "standard"


Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]


class VisibleMarkStyle(_Strict):
    """What a visible mark looks like: a plate with text, or the operator's logo file."""

    text: str | None = Field(default="Creatix", description="The plate's text (when no logo)")
    logo: str | None = Field(
        default=None,
        description="A PNG (transparency respected) drawn instead of the text plate; a path "
        "relative to the catalog file or absolute",
    )
    corner: Corner = "bottom-right"
    size: float = Field(
        default=0.045,
        gt=0,
        le=0.5,
        description="The mark's height as a share of sqrt(width * height) of the image",
    )
    opacity: float = Field(default=1.0, gt=0, le=1.0, description="1: as drawn; 0.5: half")

    @model_validator(mode="after")
    def _text_or_logo(self) -> VisibleMarkStyle:
        if not self.logo and not self.text:
            raise ValueError("a visible mark needs a text or a logo")
        return self


class VisibleMarkRule(_Strict):
    """Outputs of jobs from these dialects on these plans (empty: any) carry ``mark`` (None:
    a clean output). The first rule that matches decides."""

    dialects: list[str] = Field(default_factory=list)
    plans: list[str] = Field(default_factory=list)
    mark: str | None

    def matches(self, plan: str, dialect: str) -> bool:
        return (not self.dialects or dialect in self.dialects) and (
            not self.plans or plan in self.plans
        )


def _shipped_rules() -> list[VisibleMarkRule]:
    return [
        VisibleMarkRule(dialects=["creatix_v1"], mark="creatix"),
        VisibleMarkRule(plans=["free"], mark="creatix"),
    ]


class VisibleMarks(_Strict):
    """Which images and videos carry a visible mark, and how it looks. Unless a catalog says
    otherwise: Creatix v1 always (its reference promises the plate), the free plan on every
    other dialect, and nothing else."""

    marks: dict[str, VisibleMarkStyle] = Field(
        default_factory=lambda: {"creatix": VisibleMarkStyle()}
    )
    rules: list[VisibleMarkRule] = Field(default_factory=_shipped_rules)

    @model_validator(mode="after")
    def _marks_exist(self) -> VisibleMarks:
        for rule in self.rules:
            if rule.mark is not None and rule.mark not in self.marks:
                raise ValueError(f"visible_marks: rule names unknown mark {rule.mark!r}")
        return self

    def for_output(self, plan: str, dialect: str) -> VisibleMarkStyle | None:
        """The mark an output of ``dialect`` for an account on ``plan`` carries, if any."""
        for rule in self.rules:
            if rule.matches(plan, dialect):
                return self.marks[rule.mark] if rule.mark is not None else None
        return None


class Catalog(_Strict):
    engines: dict[str, EngineEntry]
    models: list[ModelEntry]
    styles: list[StyleEntry] = Field(default_factory=list)
    plans: list[PlanEntry]
    default_plan: str = "free"
    content_policy: ContentPolicySection = Field(default_factory=ContentPolicySection)
    visible_marks: VisibleMarks = Field(default_factory=VisibleMarks)

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalog:
        for model in self.models:
            if (model.kind is JobKind.VIDEO) != (model.video is not None):
                raise ValueError(f"model {model.id!r}: video options go with kind video")
            for route in model.routes():
                if route.engine not in self.engines:
                    raise ValueError(f"model {model.id!r} names unknown engine {route.engine!r}")
        for kind, ids in (
            ("model", [m.id for m in self.models]),
            ("style", [s.id for s in self.styles]),
            ("plan", [p.id for p in self.plans]),
        ):
            if len(ids) != len(set(ids)):
                raise ValueError(f"duplicate {kind} ids in catalog")
        if self.default_plan not in {p.id for p in self.plans}:
            raise ValueError(f"default_plan {self.default_plan!r} is not a plan")
        policies = self.content_policy.policies
        if self.content_policy.default not in policies:
            raise ValueError(f"content_policy default {self.content_policy.default!r} is unknown")
        for plan in self.plans:
            if plan.content_policy is not None and plan.content_policy not in policies:
                raise ValueError(f"plan {plan.id!r} names unknown policy {plan.content_policy!r}")
        return self

    def policy_name_for(self, plan_id: str, override: str | None = None) -> str:
        """An account's policy: its operator's override, else its plan's, else the default."""
        if override is not None and override in self.content_policy.policies:
            return override
        plan = self.plan(plan_id)
        if plan is not None and plan.content_policy is not None:
            return plan.content_policy
        return self.content_policy.default

    def model(self, model_id: str) -> ModelEntry | None:
        return next((m for m in self.models if m.id == model_id), None)

    def style(self, style_id: str) -> StyleEntry | None:
        return next((s for s in self.styles if s.id == style_id), None)

    def plan(self, plan_id: str) -> PlanEntry | None:
        return next((p for p in self.plans if p.id == plan_id), None)
