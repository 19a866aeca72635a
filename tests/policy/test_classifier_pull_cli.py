"""``creatix models pull HUB_ID`` for the image classifier a content policy names, run as a
real subprocess against a fake Hugging Face hub (``fake_hub.py``) serving a tiny safety
checker: only the checker's files are fetched into the model cache, where the policy finds
them and they load; an id no policy or model names is refused (exit 2), a hub that cannot be
reached is one clear error (exit 1)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import yaml

from creatix.policy.classifier import ImageClassifier, classifier_folder, weights_problem
from fake_hub import FakeHub, hub_env
from support import creatix_command, free_port
from tiny_safety_checker import build_tiny_safety_checker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    checker = build_tiny_safety_checker(tmp_path_factory.mktemp("hub") / "checker")
    (checker / "README.md").write_text("not needed to classify")
    (checker / "pytorch_model.bin").write_bytes(b"not fetched: safetensors are there")
    with FakeHub() as hub:
        hub.add("tiny/checker", checker)
        yield hub


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    policies = {
        "standard": {"blocklists": ["shipped"], "classifier": {"model": "tiny/checker"}},
        "strict": {"classifier": {"model": "tiny/checker", "on_missing": "open"}},
        "off": {},
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(
        yaml.safe_dump({"extends": "shipped", "content_policy": {"policies": policies}})
    )
    return path


def _creatix(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        creatix_command(*args), capture_output=True, text=True, env=env, check=False, timeout=120
    )


def _failed(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "error:" in result.stdout, result.stdout
    return " ".join(result.stdout.split())


@pytest.mark.usefixtures("one_torch_thread")
def test_pull_fetches_the_checker_where_the_policy_finds_it(
    tmp_path: Path, hub: FakeHub, catalog: Path
) -> None:
    env = hub_env(tmp_path, hub.url)
    pulled = _creatix(env, "models", "pull", "tiny/checker", "--json", "--catalog", str(catalog))
    assert pulled.returncode == 0, (pulled.stdout, pulled.stderr)
    models = tmp_path / "data" / "models"
    repo = models / "models--tiny--checker"
    commit = hub.repos["tiny/checker"].sha
    snapshot = repo / "snapshots" / commit
    assert json.loads(pulled.stdout) == {
        "model": "tiny/checker",
        "pulled": [
            {
                "policies": ["standard", "strict"],
                "engine_model": "tiny/checker",
                "path": str(snapshot),
            }
        ],
        "available": True,
        "reason": None,
    }
    assert (repo / "refs" / "main").read_text().strip() == commit
    assert sorted(p.name for p in snapshot.iterdir()) == [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ]
    assert classifier_folder("tiny/checker", models) == snapshot
    assert weights_problem(snapshot) is None
    assert ImageClassifier.load(snapshot).scores([]) == []

    again = _creatix(env, "models", "pull", "tiny/checker", "--catalog", str(catalog))
    assert again.returncode == 0, (again.stdout, again.stderr)
    said = " ".join(again.stdout.split())
    assert "Pulling tiny/checker for content policies standard, strict" in said
    assert f"Weights of tiny/checker are at {snapshot}" in said
    assert "under content policies standard, strict are classified with tiny/checker" in said


def test_an_id_nothing_names_and_a_hub_out_of_reach(
    tmp_path: Path, hub: FakeHub, catalog: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with ThreadPoolExecutor(2) as pool:
        unknown, unreachable = pool.map(
            lambda run: _creatix(*run),
            [
                (
                    hub_env(tmp_path, hub.url),
                    "models",
                    "pull",
                    "tiny/checkr",
                    "--catalog",
                    str(catalog),
                ),
                (
                    hub_env(tmp_path, closed),
                    "models",
                    "pull",
                    "tiny/checker",
                    "--catalog",
                    str(catalog),
                ),
            ],
        )
    refused = _failed(unknown, 2)
    assert "unknown model 'tiny/checkr'" in refused
    assert "did you mean tiny/checker" in refused
    message = _failed(unreachable, 1)
    assert f"Could not reach the Hugging Face hub at {closed}" in message
    assert weights_problem(classifier_folder("tiny/checker", tmp_path / "data" / "models"))
