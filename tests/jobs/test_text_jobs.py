"""Text jobs through the real job core and worker in a live server: token pricing settles the
exact charge, JSON answers are checked against the schema with one repair turn, a second miss
fails the job refunded, and a provider outage falls back to the next route."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from creatix.accounts import service as accounts
from creatix.engines import registry
from creatix.engines.base import EngineError, EngineParams
from creatix.jobs import structured
from creatix.jobs.specs import ChatTurn, Job, JobStatus, TextConfig, TextResult, TextSpec
from creatix.jobs.structured import conformed, schema_problem
from creatix.kit.errors import InsufficientCredits, InvalidRequest
from creatix.kit.processes import ProcessRunner
from support import LiveServer, make_settings

SCHEMA = {
    "type": "object",
    "properties": {"headline": {"type": "string", "maxLength": 40}},
    "required": ["headline"],
    "additionalProperties": False,
}


def _nested_oneofs(depth: int) -> tuple[dict[str, Any], Any]:
    """A schema whose validation doubles with each level (each level's two ``oneOf``
    branches refer to the same level below: every value is checked against both), kept small
    by ``$ref``, and an instance of its shape: depth 14 is a second of jsonschema here, depth
    24 about a quarter of an hour, far past any budget however late the budget's timer runs
    on a loaded machine (depth 16 inline, 2.4 s, once finished under a 0.5 s budget in CI)."""
    defs: dict[str, Any] = {"level0": {"type": "string"}}
    instance: Any = "deep"
    for level in range(1, depth + 1):
        below = {"$ref": f"#/$defs/level{level - 1}"}
        defs[f"level{level}"] = {"type": "object", "properties": {"x": {"oneOf": [below, below]}}}
        instance = {"x": instance}
    return {"$defs": defs, "$ref": f"#/$defs/level{depth}"}, instance


DEEP_SCHEMA, DEEP_ANSWER = _nested_oneofs(24)
SKU_SCHEMA = {
    "type": "object",
    "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"}},
    "required": ["sku"],
}


class ScriptedTextEngine:
    """Answers by its model name: ``plain``, ``json-on-second-try``, ``never-json``,
    ``fenced-json``, ``sku`` (``{"sku": "ABC-1234"}``), ``deep`` (``DEEP_ANSWER``), ``down``
    (an outage)."""

    name = "scripted"
    max_batch = 1

    def __init__(self) -> None:
        self.calls: list[tuple[str, TextSpec]] = []

    def unavailable_reason(self, model: str) -> str | None:
        return None

    async def generate_text(
        self, model: str, spec: TextSpec, params: EngineParams | None = None
    ) -> TextResult:
        self.calls.append((model, spec))
        tries = sum(1 for called, _ in self.calls if called == model)
        if model == "down":
            raise EngineError("The model's provider is unavailable.", retryable=True, fallback=True)
        text = {
            "plain": "Fresh coffee, delivered.",
            "json-on-second-try": '{"headline": 7}' if tries % 2 else '{"headline": "Brew bold"}',
            "never-json": "Sure! Here is your headline: Brew bold",
            "fenced-json": '```json\n{"headline": "Brew bold"}\n```',
            "sku": '{"sku": "ABC-1234"}',
            "deep": json.dumps(DEEP_ANSWER),
        }[model]
        return TextResult(text=text, input_tokens=1500, output_tokens=500)

    async def close(self) -> None:
        return None


@pytest.fixture(scope="module")
def scripted() -> ScriptedTextEngine:
    return ScriptedTextEngine()


@pytest.fixture(scope="module")
def server(
    scripted: ScriptedTextEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    patch = pytest.MonkeyPatch()
    patch.setitem(registry.FACTORIES, "scripted", lambda options, context: scripted)
    tmp: Path = tmp_path_factory.mktemp("text-jobs")
    text_model = {
        "kind": "text",
        "engine": "scripted",
        "display_name": "Scripted",
        "credits_per_1k_input_tokens": 2,
        "credits_per_1k_output_tokens": 9,
        "max_output_tokens": 1000,
    }
    models = [
        {**text_model, "id": name, "engine_model": name}
        for name in ("plain", "json-on-second-try", "never-json", "fenced-json", "sku", "deep")
    ]
    models.append(
        {
            **text_model,
            "id": "with-fallback",
            "engine_model": "down",
            "fallbacks": [{"engine": "scripted", "engine_model": "plain"}],
        }
    )
    catalog = {
        "extends": "shipped",
        "engines": {"scripted": {"type": "scripted"}},
        "models": models,
    }
    (tmp / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    live = LiveServer(make_settings(tmp / "data", catalog=tmp / "catalog.yaml")).start()
    yield live
    live.stop()
    patch.undo()


def _run(server: LiveServer, secret: str, model: str, spec: TextSpec) -> Job:
    assert server.runtime is not None
    jobs = server.runtime.jobs

    async def submit_and_wait() -> Job:
        principal = await accounts.authenticate(jobs.db, secret)
        job = await jobs.intake.submit_text(principal, model, spec)
        return await jobs.wait(job, timeout=30)

    return server.call(submit_and_wait())


def _spec(**config: object) -> TextSpec:
    return TextSpec(
        # ~2,000 bytes: the reservation counts every input byte as a token (a bound the
        # scripted engine's 1,500 input tokens stay under).
        messages=[ChatTurn(role="user", content="A headline for a coffee subscription. " * 52)],
        system_instruction="You write ad copy.",
        config=TextConfig.model_validate(config),
    )


def test_an_answer_is_charged_its_tokens_exactly(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=100)
    job = _run(server, secret, "plain", _spec(max_output_tokens=600))
    assert job.status is JobStatus.SUCCEEDED
    assert job.text is not None
    assert job.text.text == "Fresh coffee, delivered."
    # 1500 input tokens at 2 per 1k and 500 output tokens at 9 per 1k: 3 + 4.5 → 8 (rounded up)
    assert job.credits_charged == 8
    assert server.balance(name) == 92
    assert server.ledger_kinds(name) == ["charge", "grant", "refund", "reserve"]


def test_the_reservation_covers_the_longest_answer_allowed(server: LiveServer) -> None:
    _, secret = server.funded_account(credits=12)  # the answer costs 8; the bound is 14
    with pytest.raises(InsufficientCredits):
        _run(server, secret, "plain", _spec(max_output_tokens=1000))


def test_max_output_tokens_beyond_the_models_is_refused(server: LiveServer) -> None:
    _, secret = server.funded_account(credits=100)
    with pytest.raises(InvalidRequest) as refused:
        _run(server, secret, "plain", _spec(max_output_tokens=1001))
    assert refused.value.param == "config.max_output_tokens"


def test_invalid_json_once_is_repaired_and_both_calls_are_charged(
    server: LiveServer, scripted: ScriptedTextEngine
) -> None:
    name, secret = server.funded_account(credits=100)
    spec = _spec(
        response_mime_type="application/json", response_json_schema=SCHEMA, max_output_tokens=500
    )
    job = _run(server, secret, "json-on-second-try", spec)
    assert job.status is JobStatus.SUCCEEDED
    assert job.text is not None
    assert json.loads(job.text.text) == {"headline": "Brew bold"}
    assert (job.text.input_tokens, job.text.output_tokens) == (3000, 1000)
    repair = scripted.calls[-1][1]
    assert [turn.role for turn in repair.messages] == ["user", "model", "user"]
    assert "headline" in repair.messages[-1].content, "the repair turn says what was wrong"
    assert server.balance(name) == 100 - job.credits_charged


def test_json_that_never_validates_fails_the_job_refunded(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=100)
    spec = _spec(response_mime_type="application/json", response_json_schema=SCHEMA)
    job = _run(server, secret, "never-json", spec)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "invalid_output"
    assert "not valid JSON" in job.error.message
    assert server.balance(name) == 100
    assert server.ledger_kinds(name) == ["grant", "refund", "reserve"]


def test_a_fenced_json_answer_is_stored_without_its_fence(server: LiveServer) -> None:
    _, secret = server.funded_account(credits=100)
    spec = _spec(response_mime_type="application/json", response_json_schema=SCHEMA)
    job = _run(server, secret, "fenced-json", spec)
    assert job.text is not None
    assert job.text.text == '{"headline": "Brew bold"}'


def test_an_outage_falls_back_to_the_next_route(server: LiveServer) -> None:
    _, secret = server.funded_account(credits=100)
    job = _run(server, secret, "with-fallback", _spec(max_output_tokens=100))
    assert job.status is JobStatus.SUCCEEDED
    assert job.text is not None
    assert job.text.text == "Fresh coffee, delivered."


def test_a_remote_ref_in_the_schema_is_never_fetched(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=100)
    fetched: list[str] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        schema = {"$ref": f"http://127.0.0.1:{port}/schema.json"}
        spec = _spec(response_mime_type="application/json", response_json_schema=schema)
        job = _run(server, secret, "fenced-json", spec)
        with contextlib.suppress(TimeoutError):
            fetched.append(str(listener.accept()))
    assert fetched == [], "the server reached out for the $ref"
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "invalid_output"
    assert server.balance(name) == 100


# -- the schema's patterns, and its cost -----------------------------------------------------

CATASTROPHIC = "^(a|a)*$"
HOSTILE = "a" * 64 + "!"
"""2^64 steps for Python's re to refuse with ``CATASTROPHIC``."""


def test_a_pattern_in_the_schema_is_checked_against_the_answer(server: LiveServer) -> None:
    _, secret = server.funded_account(credits=100)
    spec = _spec(response_mime_type="application/json", response_json_schema=SKU_SCHEMA)
    job = _run(server, secret, "sku", spec)
    assert job.status is JobStatus.SUCCEEDED, job.error
    lower = {"type": "object", "properties": {"sku": {"type": "string", "pattern": "^[a-z]+$"}}}
    name, secret = server.funded_account(credits=100)
    spec = _spec(response_mime_type="application/json", response_json_schema=lower)
    job = _run(server, secret, "sku", spec)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "invalid_output"
    assert "does not match '^[a-z]+$'" in job.error.message
    assert server.balance(name) == 100


def test_a_pattern_the_linear_engine_cannot_run_fails_the_job_refunded(
    server: LiveServer,
) -> None:
    name, secret = server.funded_account(credits=100)
    schema = {"type": "object", "properties": {"sku": {"type": "string", "pattern": "(A)\\1"}}}
    spec = _spec(response_mime_type="application/json", response_json_schema=schema)
    job = _run(server, secret, "sku", spec)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "invalid_output"
    assert "backreference" in job.error.message
    assert server.balance(name) == 100
    assert server.ledger_kinds(name) == ["grant", "refund", "reserve"]


def test_a_schema_too_costly_to_check_fails_the_job_refunded(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(structured, "VALIDATION_BUDGET_SECONDS", 0.5)
    runner = ProcessRunner(workers=1, budget_seconds=0.5)
    monkeypatch.setattr(structured, "_validation", runner)
    name, secret = server.funded_account(credits=100)
    spec = _spec(response_mime_type="application/json", response_json_schema=DEEP_SCHEMA)
    try:
        job = _run(server, secret, "deep", spec)
    finally:
        server.call(runner.close())
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "validation_timeout", job.error
    assert "0.5 s" in job.error.message
    assert server.balance(name) == 100
    assert server.ledger_kinds(name) == ["grant", "refund", "reserve"]


# Checks that would take Python's re exponential (or cubic) time run in a worker process with
# a budget, so that a regression fails them rather than hanging the tests.


@pytest.fixture
async def isolated() -> AsyncIterator[ProcessRunner]:
    runner = ProcessRunner(workers=1, budget_seconds=20)
    yield runner
    await runner.close()


@pytest.mark.parametrize(
    ("schema", "answer", "expected"),
    [
        (
            {"properties": {"code": {"type": "string", "pattern": CATASTROPHIC}}},
            {"code": HOSTILE},
            f"at code: {HOSTILE!r} does not match {CATASTROPHIC!r}",
        ),
        (
            {"patternProperties": {CATASTROPHIC: {"type": "integer"}}},
            {HOSTILE: "x", "aa": 1},
            None,
        ),
        (
            {"patternProperties": {CATASTROPHIC: {}}, "additionalProperties": False},
            {HOSTILE: 1},
            f"at the top level: {HOSTILE!r} does not match any of the regexes: {CATASTROPHIC!r}",
        ),
        (
            {"properties": {"code": {"pattern": "^[A-Z]{3}-\\d{4}$"}}},
            {"code": "ABC-1234"},
            None,
        ),
    ],
)
async def test_the_answer_is_validated_in_linear_time(
    isolated: ProcessRunner, schema: dict[str, Any], answer: Any, expected: str | None
) -> None:
    assert await isolated.run(schema_problem, answer, schema) == expected


async def test_a_code_fence_is_found_in_linear_time(isolated: ProcessRunner) -> None:
    config = TextConfig(response_mime_type="application/json")
    # Python's re took minutes on 5,000 blank lines with the fence pattern.
    blank_lines = "```json\n" + "\n" * 20_000 + "{}"
    text, problem = await isolated.run(conformed, blank_lines, config)
    assert text == blank_lines.strip()
    assert problem is not None
    assert problem.startswith("it is not JSON"), "no closing fence: the whole answer is read"
    fenced = "```json\n" + " \n" * 10_000 + '{"a": 1}\n```'
    text, problem = await isolated.run(conformed, fenced, config)
    assert json.loads(text) == {"a": 1}
    assert problem is None
