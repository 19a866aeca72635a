"""The ``creatix_progress`` notifications' payloads: a running job's fraction and, where its
engine counts them, its step of its steps, for followers in other processes."""

from __future__ import annotations

import pytest

from creatix.jobs.events import (
    PROGRESS_PAYLOAD_IDS,
    Progress,
    parse_progress_payload,
    progress_payloads,
)

IDS = [f"01a00000-0000-7000-8000-{n:012d}" for n in range(3)]


def test_a_fraction_and_its_steps_round_trip() -> None:
    [payload] = progress_payloads(IDS, Progress(0.25, 5, 20))
    assert payload == "0.2500:5/20 " + " ".join(IDS)
    assert parse_progress_payload(payload) == (IDS, Progress(0.25, 5, 20))


def test_a_fraction_alone_is_the_older_form() -> None:
    [payload] = progress_payloads(IDS, Progress(0.5))
    assert payload == "0.5000 " + " ".join(IDS)
    assert parse_progress_payload(payload) == (IDS, Progress(0.5, None, None))


def test_many_jobs_are_split_across_payloads() -> None:
    ids = [f"job-{n}" for n in range(PROGRESS_PAYLOAD_IDS * 2 + 1)]
    payloads = progress_payloads(ids, Progress(0.1, 1, 10))
    assert len(payloads) == 3
    parsed = [parse_progress_payload(payload) for payload in payloads]
    assert [job for item in parsed if item for job in item[0]] == ids
    assert all(item is not None and item[1] == Progress(0.1, 1, 10) for item in parsed)


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "nonsense id",
        "1.5 id",
        "-0.1 id",
        "0.5:3 id",
        "0.5:a/b id",
        "0.5:11/10 id",
        "0.5:-1/4 id",
    ],
)
def test_malformed_payloads_are_ignored(payload: str) -> None:
    assert parse_progress_payload(payload) is None
