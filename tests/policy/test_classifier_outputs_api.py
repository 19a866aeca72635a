"""The content policy's local image classifier through a real server, with no moderation
engine configured: a tiny random safety checker that flags every image fails the job
``content_filtered`` with a full refund, nothing stored and each refusal listed (source
``classifier``); one that flags none lets the job succeed and be charged; missing weights
fail the job under ``on_missing: closed`` and pass under ``open``; a folder that does not load
fails the job with an error naming the policy; a hub id is found in the model cache."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import yaml
from PIL import Image

from creatix.accounts import service as accounts
from creatix.jobs.specs import ImageSpec, Job, JobStatus, VideoSpec
from creatix.kit.metrics import Metrics
from creatix.policy.service import ClassifierUnavailable, ContentPolicy, Subject
from policy_admin import account_id, put_policy, refusals
from support import LiveServer, make_settings
from tiny_safety_checker import FLAGS_ALL, FLAGS_NONE, build_tiny_safety_checker

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PRICED = "z-image-turbo"
"""A preview-drawn model priced per image (100 credits)."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("classifier")


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[LiveServer]:
    flagging = build_tiny_safety_checker(folder / "flags-all", concept_threshold=FLAGS_ALL)
    passing = build_tiny_safety_checker(folder / "flags-none", concept_threshold=FLAGS_NONE)
    broken = folder / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    absent = str(folder / "absent")
    policies: dict[str, Any] = {
        "standard": {"blocklists": ["shipped"]},
        "flagging": {"classifier": {"model": str(flagging)}},
        "passing": {"classifier": {"model": str(passing), "on_missing": "closed"}},
        "missing-closed": {"classifier": {"model": absent, "on_missing": "closed"}},
        "missing-open": {"classifier": {"model": absent, "on_missing": "open"}},
        "broken": {"classifier": {"model": str(broken), "on_missing": "open"}},
        "hub": {"classifier": {"model": "tiny/checker"}},
        "off": {},
    }
    catalog = {
        "extends": "shipped",
        "content_policy": {"default": "standard", "policies": policies},
    }
    (folder / "catalog.yaml").write_text(yaml.safe_dump(catalog), encoding="utf-8")
    live = LiveServer(
        make_settings(folder / "data", catalog=folder / "catalog.yaml", max_attempts=2)
    ).start()
    yield live
    live.stop()


def _account(server: LiveServer, policy: str) -> tuple[str, str]:
    """A funded account under ``policy`` (an operator's override): (name, secret)."""
    name, secret = server.funded_account(credits=1000)
    _account_policy(server, name, policy)
    return name, secret


def _account_policy(server: LiveServer, name: str, policy: str) -> None:
    answer = put_policy(server, name, policy)
    assert answer.status_code == 200, answer.text


def _generate(server: LiveServer, secret: str, n: int = 2) -> Job:
    assert server.runtime is not None
    runtime = server.runtime
    principal = server.call(accounts.authenticate(runtime.db, secret))
    spec = ImageSpec(prompt="a red car", width=512, height=512, n=n, seed=7)
    job = server.call(runtime.jobs.intake.submit_image(principal, PRICED, spec, source="platform"))
    return server.call(runtime.jobs.wait(job, 60))


def _job_files(server: LiveServer, job_id: str) -> list[Path]:
    files = server.settings.data_dir / "files" / "images"
    return [p for p in files.rglob("*") if p.is_file() and job_id in str(p)]


def _refused_total(server: LiveServer) -> float:
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith("creatix_policy_refusals_total{") and (
            'category="sexual"' in line and 'stage="output"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_every_image_flagged_fails_the_job_with_a_full_refund(server: LiveServer) -> None:
    name, secret = _account(server, "flagging")
    before = _refused_total(server)
    job = _generate(server, secret)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "content_filtered"
    assert job.assets == []
    assert server.balance(name) == 1000
    assert server.ledger_kinds(name) == ["grant", "refund", "reserve"]
    assert _job_files(server, job.id) == []
    records = refusals(server, name)
    assert sorted(r["field"] for r in records) == ["images[0]", "images[1]"]
    for record in records:
        assert record["source"] == "classifier"
        assert record["category"] == "sexual"
        assert record["stage"] == "output"
        assert record["policy"] == "flagging"
        assert record["job_id"] == job.id
        assert record["score"] > 0
    assert _refused_total(server) == before + 2


VIDEO_MODEL = "kling-video/v1.6/pro/image-to-video"


def test_a_video_whose_frames_are_flagged_fails_with_a_full_refund(server: LiveServer) -> None:
    """The source image passes (the account is under no policy then); its video, judged on
    frames spread over it under the flagging policy, does not."""
    assert server.runtime is not None
    runtime = server.runtime
    name, secret = _account(server, "off")
    source = _generate(server, secret, n=1)
    assert source.status is JobStatus.SUCCEEDED, source.error
    _account_policy(server, name, "flagging")
    principal = server.call(accounts.authenticate(runtime.db, secret))
    spec = VideoSpec(
        prompt="slow push in",
        source_image=source.assets[0].storage_key,
        duration_seconds=5,
        width=256,
        height=256,
        fps=8,
        seed=1,
    )
    balance = server.balance(name)
    job = server.call(runtime.jobs.intake.submit_video(principal, VIDEO_MODEL, spec))
    done = server.call(runtime.jobs.wait(job, 120))
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == "content_filtered"
    assert done.assets == []
    assert server.balance(name) == balance
    fields = sorted(r["field"] for r in refusals(server, name) if r["job_id"] == job.id)
    assert fields == ["frames[0]", "frames[1]", "frames[2]", "frames[3]"]


def test_no_image_flagged_succeeds_and_is_charged(server: LiveServer) -> None:
    name, secret = _account(server, "passing")
    job = _generate(server, secret)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert len(job.assets) == 2
    assert job.credits_charged == 200
    assert server.balance(name) == 800
    assert len(_job_files(server, job.id)) == 2
    assert refusals(server, name) == []


def test_missing_weights_fail_the_job_when_the_policy_fails_closed(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    name, secret = _account(server, "missing-closed")
    with caplog.at_level(logging.ERROR, logger="creatix.policy.service"):
        job = _generate(server, secret)
    assert job.status is JobStatus.FAILED, "missing weights never pass silently"
    assert job.error is not None
    assert job.error.code == "moderation_unavailable"
    assert server.balance(name) == 1000
    assert _job_files(server, job.id) == []
    assert refusals(server, name) == []
    said = [getattr(r, "why", "") for r in caplog.records]
    assert any("content policy 'missing-closed'" in why and "absent" in why for why in said)


def test_missing_weights_pass_when_the_policy_fails_open(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    name, secret = _account(server, "missing-open")
    with caplog.at_level(logging.WARNING, logger="creatix.policy.service"):
        first = _generate(server, secret, n=1)
        second = _generate(server, secret, n=1)
    assert first.status is JobStatus.SUCCEEDED, first.error
    assert second.status is JobStatus.SUCCEEDED, second.error
    assert server.balance(name) == 800
    missing = [r for r in caplog.records if "classifier missing" in r.getMessage()]
    assert len(missing) == 1, "said once per process"
    assert refusals(server, name) == []


def test_a_folder_that_does_not_load_fails_the_job_naming_the_policy(
    server: LiveServer, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name, secret = _account(server, "broken")
    with caplog.at_level(logging.ERROR, logger="creatix.policy.service"):
        job = _generate(server, secret, n=1)
    assert job.status is JobStatus.FAILED, "on_missing: open does not cover a broken folder"
    assert job.error is not None
    assert job.error.code == "moderation_unavailable"
    assert server.balance(name) == 1000
    said = [getattr(r, "why", "") for r in caplog.records]
    assert any(
        "content policy 'broken'" in why and str(folder / "broken") in why for why in said
    ), said


def test_a_hub_id_is_found_in_the_model_cache(
    server: LiveServer, folder: Path, tmp_path: Path
) -> None:
    """The policy's checker by hub id, looked up in the model cache given to the policy."""
    assert server.runtime is not None
    runtime = server.runtime
    name, _ = _account(server, "hub")
    subject = Subject(account_id(server, name), "platform")
    images = [Image.new("RGB", (64, 64), "red"), Image.new("RGB", (48, 64), "blue")]
    models = tmp_path / "models"
    without = ContentPolicy(runtime.db, runtime.catalog, Metrics(), models_dir=models)
    with pytest.raises(ClassifierUnavailable, match="content policy 'hub'"):
        server.call(without.check_images(subject, images))
    build_tiny_safety_checker(models / "tiny--checker", concept_threshold=FLAGS_ALL)
    policy = ContentPolicy(runtime.db, runtime.catalog, Metrics(), models_dir=models)
    verdicts = server.call(policy.check_images(subject, images))
    assert [(v.source, v.category, v.field) for v in verdicts if v is not None] == [
        ("classifier", "sexual", "images[0]"),
        ("classifier", "sexual", "images[1]"),
    ]
    assert len(refusals(server, name)) == 2


def test_the_server_looks_a_hub_id_up_in_its_data_dirs_model_cache(server: LiveServer) -> None:
    build_tiny_safety_checker(
        server.settings.models_dir / "tiny--checker", concept_threshold=FLAGS_ALL
    )
    name, secret = _account(server, "hub")
    job = _generate(server, secret)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "content_filtered"
    assert {r["source"] for r in refusals(server, name)} == {"classifier"}


def test_a_policy_without_a_classifier_checks_nothing(server: LiveServer) -> None:
    name, secret = _account(server, "off")
    job = _generate(server, secret, n=1)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert refusals(server, name) == []
