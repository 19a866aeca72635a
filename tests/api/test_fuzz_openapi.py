"""Schemathesis against the published ``/openapi.json``: no input may end in a 5xx, no answer
may have a status its operation does not document, and none may break the schema the server
publishes for it.

Every operation of every dialect is fuzzed through a real HTTP client against a real server,
with a key on an unlimited, funded account sent the way every dialect wants it (Bearer and
X-API-ID/X-API-KEY together). The examples per operation are bounded so the module stays
within the slow tests' budget. Every URL the fuzzer invents (webhooks, image URLs) resolves,
for this server, to a documentation address that the SSRF guard refuses: nothing leaves the
machine and nothing is looked up in DNS.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from creatix.accounts import service as accounts
from creatix.webhooks import ssrf
from support import LiveServer, make_settings

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 30


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(make_settings(Path(tmp_path_factory.mktemp("fuzz")))).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def credentials(fuzzed_server: LiveServer) -> dict[str, str]:
    name, _ = fuzzed_server.funded_account(credits=10**9, plan="unlimited")
    assert fuzzed_server.runtime is not None
    # Every scope, so the account and admin APIs are fuzzed past their authorisation too.
    key = fuzzed_server.call(
        accounts.create_key(
            fuzzed_server.runtime.db, name, scopes=["generate", "manage", "operator"]
        )
    )
    return {
        "Authorization": f"Bearer {key.secret}",
        "X-API-ID": key.key_id,
        "X-API-KEY": key.secret,
    }


@pytest.fixture(autouse=True)
def no_outbound_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    async def documentation_address(host: str, port: int) -> list[str]:
        return ["192.0.2.1"]  # TEST-NET-1: never global, always refused

    monkeypatch.setattr(ssrf, "_resolve", documentation_address)


def _fuzz(
    operation: Any, mode: GenerationMode, server: LiveServer, headers: dict[str, str]
) -> str | None:
    """The first failure hypothesis finds for ``operation`` in ``mode``, shrunk; None if none."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            base_url=server.url,
            headers=headers,
            checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
            timeout=30,
        )

    try:
        run()
    except Unsatisfiable:  # nothing invalid can be said to this operation (no parameters)
        return None
    except FailureGroup as failures:  # the checks' failures, with a request to reproduce
        return f"{operation.label} ({mode.value}): {failures}"
    return None


def test_no_input_is_a_server_error_an_undocumented_status_or_breaks_the_schema(
    fuzzed_server: LiveServer, credentials: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20  # every dialect's operations are published
    failures = [
        failure
        for operation in operations
        if operation.path != "/metrics"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (failure := _fuzz(operation, mode, fuzzed_server, credentials)) is not None
    ]
    assert not failures, "\n\n".join(failures)
