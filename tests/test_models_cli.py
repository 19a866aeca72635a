"""``creatix models list`` and ``creatix models pull``, run as real subprocesses against a fake
Hugging Face hub on a loopback port (``fake_hub.py``) serving a tiny Stable Diffusion pipeline:
a missing model is pulled into the data directory's model cache, listed as present, and
served; every failure is one clear message and exit 1 (2 for an unknown id), never a
traceback, and never leaves a half-fetched model looking present."""

from __future__ import annotations

import errno
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import yaml
from huggingface_hub.errors import OfflineModeIsEnabled
from PIL import Image

from creatix.catalog.loader import load_catalog
from creatix.engines.base import PullError
from creatix.engines.diffusers import weights
from creatix.engines.diffusers.config import model_dir, weights_problem
from creatix.engines.diffusers.weights import pull_pipeline
from fake_hub import FakeHub, hub_env
from support import LiveServer, creatix_command, free_port, make_settings

pytestmark = pytest.mark.slow

BROKEN_FILE = "unet/diffusion_pytorch_model.safetensors"


@pytest.fixture(scope="module")
def hub(tiny_sd: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    not_a_pipeline = tmp_path_factory.mktemp("not-a-pipeline")
    (not_a_pipeline / "config.json").write_text("{}")
    with FakeHub() as hub:
        hub.add("tiny/sd", tiny_sd)
        hub.add("tiny/gated", tiny_sd, gated=True)
        hub.add("tiny/broken", tiny_sd, broken={BROKEN_FILE})
        hub.add("tiny/text-model", not_a_pipeline)
        yield hub


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """The shipped catalog (its models are on the preview engine) plus a diffusers engine
    with no ``models_dir`` of its own: it uses the data directory's model cache."""
    data = load_catalog().model_dump(mode="json")
    data["engines"]["local"] = {
        "type": "diffusers",
        "options": {"device": "cpu", "steps": 2, "max_batch": 4},
    }
    tiny = {
        "engine": "local",
        "credits_per_image": 0,
        "estimated_seconds": 1,
        "limits": {"max_n": 2, "max_prompt_chars": 500, "min_side": 64, "max_side": 128},
    }
    for model_id, engine_model in (
        ("tiny-sd", "tiny/sd"),
        ("tiny-gated", "tiny/gated"),
        ("tiny-broken", "tiny/broken"),
        ("tiny-absent", "tiny/absent"),
        ("tiny-text", "tiny/text-model"),
        ("tiny-local", str(tmp_path / "my-own-folder")),
    ):
        data["models"].append(
            {**tiny, "id": model_id, "display_name": model_id, "engine_model": engine_model}
        )
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _creatix(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        creatix_command(*args), capture_output=True, text=True, env=env, check=False, timeout=120
    )


def _creatix_at_once(
    env: dict[str, str], *commands: tuple[str, ...]
) -> list[subprocess.CompletedProcess[str]]:
    """Several independent commands run side by side (each one spends seconds importing torch)."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda args: _creatix(env, *args), commands))


def _rows(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return {row["id"]: row for row in json.loads(result.stdout)}


def _failed(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The one-line error of a command that failed as it should, without a traceback."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "error:" in result.stdout, result.stdout
    return " ".join(result.stdout.split())


def _models(tmp_path: Path) -> Path:
    return tmp_path / "data" / "models"


def _present(tmp_path: Path, engine_model: str) -> bool:
    return weights_problem(model_dir(engine_model, _models(tmp_path))) is None


# -- the happy path ----------------------------------------------------------------------------


@pytest.mark.usefixtures("one_torch_thread")
def test_pull_makes_a_missing_model_present_available_and_served(
    tmp_path: Path, hub: FakeHub, catalog: Path
) -> None:
    env = hub_env(tmp_path, hub.url)
    listed, table = _creatix_at_once(
        env,
        ("models", "list", "--json", "--catalog", str(catalog)),
        ("models", "list", "--catalog", str(catalog)),
    )
    before = _rows(listed)
    assert before["tiny-sd"] == {
        "id": "tiny-sd",
        "kind": "image",
        "engine": "local",
        "engine_type": "diffusers",
        "engine_model": "tiny/sd",
        "weights": "missing",
        "available": False,
        "reason": f"weights not found at {_models(tmp_path) / 'tiny--sd'}",
    }
    assert before["creatix-flash"]["weights"] is None, "the preview engine keeps no weights"
    assert before["creatix-flash"]["available"] is True
    assert table.returncode == 0, table.stderr
    [row] = [line for line in table.stdout.splitlines() if "tiny-sd " in line]
    assert "local (diffusers)" in row
    assert "missing" in row
    assert "weights not found" in row
    [flash] = [line for line in table.stdout.splitlines() if "creatix-flash " in line]
    assert "—" in flash

    pulled = _creatix(env, "models", "pull", "tiny-sd", "--catalog", str(catalog))
    assert pulled.returncode == 0, (pulled.stdout, pulled.stderr)
    repo = _models(tmp_path) / "models--tiny--sd"
    commit = hub.repos["tiny/sd"].sha
    snapshot = repo / "snapshots" / commit
    assert (repo / "refs" / "main").read_text().strip() == commit
    assert (snapshot / "model_index.json").is_file()
    assert (snapshot / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    output = " ".join(pulled.stdout.split())
    assert str(snapshot) in output
    assert "tiny-sd is available" in output

    after = _rows(_creatix(env, "models", "list", "--json", "--catalog", str(catalog)))
    assert after["tiny-sd"]["weights"] == "present"
    assert after["tiny-sd"]["available"] is True
    assert after["tiny-sd"]["reason"] is None
    assert after["tiny-absent"]["weights"] == "missing"

    # The server finds the pulled weights in the data directory's cache and draws with them.
    live = LiveServer(make_settings(tmp_path / "data", catalog=catalog)).start()
    try:
        _, secret = live.funded_account()
        with live.client(secret) as client:
            listed = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
            assert "tiny-sd" in listed
            response = client.post(
                "/v1/generate",
                json={"prompt": "a tiny red barn", "model": "tiny-sd", "width": 64, "height": 64},
            )
            assert response.status_code == 200, response.text
            assert response.headers["X-Creatix-Engine"] == "diffusers"
            [image] = response.json()["images"]
            download = client.get(image["url"])
            assert download.status_code == 200
            assert Image.open(io.BytesIO(download.content)).size == (64, 64)
    finally:
        live.stop()


def test_pull_json_and_a_token_for_a_gated_repository(
    tmp_path: Path, hub: FakeHub, catalog: Path
) -> None:
    refused = _failed(
        _creatix(
            hub_env(tmp_path, hub.url), "models", "pull", "tiny-gated", "--catalog", str(catalog)
        )
    )
    assert "gated" in refused
    assert "HF_TOKEN" in refused
    assert not _present(tmp_path, "tiny/gated")

    env = hub_env(tmp_path, hub.url, HF_TOKEN=hub.token)
    pulled = _creatix(env, "models", "pull", "tiny-gated", "--json", "--catalog", str(catalog))
    assert pulled.returncode == 0, (pulled.stdout, pulled.stderr)
    body = json.loads(pulled.stdout)
    snapshot = _models(tmp_path) / "models--tiny--gated" / "snapshots" / hub.repos["tiny/gated"].sha
    assert body == {
        "model": "tiny-gated",
        "pulled": [{"engine": "local", "engine_model": "tiny/gated", "path": str(snapshot)}],
        "available": True,
        "reason": None,
    }
    assert _present(tmp_path, "tiny/gated")


# -- failures ----------------------------------------------------------------------------------


def test_a_repository_the_hub_does_not_have(tmp_path: Path, hub: FakeHub, catalog: Path) -> None:
    result = _creatix(
        hub_env(tmp_path, hub.url), "models", "pull", "tiny-absent", "--catalog", str(catalog)
    )
    message = _failed(result)
    assert "There is no repository tiny/absent on the hub" in message
    assert "HTTP 404" in message
    assert not (_models(tmp_path) / "models--tiny--absent" / "refs" / "main").exists()
    assert not _present(tmp_path, "tiny/absent")


def test_a_download_failing_part_way_leaves_the_model_missing(
    tmp_path: Path, hub: FakeHub, catalog: Path
) -> None:
    env = hub_env(tmp_path, hub.url)
    message = _failed(_creatix(env, "models", "pull", "tiny-broken", "--catalog", str(catalog)))
    assert f"could not serve {BROKEN_FILE} of tiny/broken (HTTP 404)" in message
    repo = _models(tmp_path) / "models--tiny--broken"
    snapshot = repo / "snapshots" / hub.repos["tiny/broken"].sha
    assert (snapshot / "model_index.json").is_file(), "the download got part of the way"
    assert not (snapshot / BROKEN_FILE).exists()
    assert not (repo / "refs" / "main").exists(), "and the half-fetched snapshot is not named"
    assert not _present(tmp_path, "tiny/broken")


def test_a_hub_that_cannot_be_reached(tmp_path: Path, catalog: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    message = _failed(
        _creatix(hub_env(tmp_path, closed), "models", "pull", "tiny-sd", "--catalog", str(catalog))
    )
    assert f"Could not reach the Hugging Face hub at {closed}" in message
    assert not _present(tmp_path, "tiny/sd")


def test_a_repository_that_is_not_a_diffusers_pipeline(
    tmp_path: Path, hub: FakeHub, catalog: Path
) -> None:
    env = hub_env(tmp_path, hub.url)
    message = _failed(_creatix(env, "models", "pull", "tiny-text", "--catalog", str(catalog)))
    assert "tiny/text-model has no model_index.json" in message
    assert "not a diffusers pipeline" in message
    assert not _present(tmp_path, "tiny/text-model")


def test_models_with_nothing_to_pull_and_unknown_ids(
    tmp_path: Path, hub: FakeHub, catalog: Path
) -> None:
    preview, local, unknown = (
        _failed(result, code)
        for result, code in zip(
            _creatix_at_once(
                hub_env(tmp_path, hub.url),
                ("models", "pull", "creatix-flash", "--catalog", str(catalog)),
                ("models", "pull", "tiny-local", "--catalog", str(catalog)),
                ("models", "pull", "tiny-sdd", "--catalog", str(catalog)),
            ),
            (1, 1, 2),
            strict=True,
        )
    )
    assert "runs on engine 'preview' (preview), which has no weights to pull" in preview
    assert "is a local path" in local
    assert "put the pipeline folder" in local
    assert "unknown model 'tiny-sdd'" in unknown
    assert "did you mean tiny-sd" in unknown
    assert len(unknown) < 200, "the error names a few close ids, not the whole catalog"


# -- the pull function itself, in process (no hub needed) -------------------------------------


def test_a_pipeline_folder_put_there_by_hand_is_used_as_it_is(
    tmp_path: Path, tiny_sd: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_sd, models / "tiny--sd")
    assert pull_pipeline("tiny/sd", models) == models / "tiny--sd"
    assert not (models / "models--tiny--sd").exists(), "nothing was downloaded"


def test_what_cannot_be_pulled_says_why(tmp_path: Path) -> None:
    with pytest.raises(PullError, match="is a local path"):
        pull_pipeline(str(tmp_path / "mine"), tmp_path)
    with pytest.raises(PullError, match="no models_dir"):
        pull_pipeline("tiny/sd", None)
    not_a_folder = tmp_path / "models"
    not_a_folder.write_text("")
    with pytest.raises(PullError, match=f"Disk error writing tiny/sd to {not_a_folder}"):
        pull_pipeline("tiny/sd", not_a_folder)


def _raised_from(error: Exception, cause: Exception) -> Exception:
    try:
        raise error from cause
    except Exception as raised:
        return raised


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left writing tiny/sd"),
        (PermissionError(errno.EACCES, "Permission denied"), "check its permissions"),
        (OSError(errno.EROFS, "Read-only file system"), "check its permissions"),
        (OfflineModeIsEnabled("offline"), "HF_HUB_OFFLINE is set"),
        (
            _raised_from(OSError("Cannot load model tiny/sd"), TimeoutError("timed out")),
            "Could not reach the Hugging Face hub",
        ),
        (ValueError("something else"), "Downloading tiny/sd failed: ValueError: something else"),
    ],
)
def test_each_failure_reads_as_what_happened(error: Exception, expected: str) -> None:
    assert expected in weights.explain_pull_failure(error, "tiny/sd", Path("/models"))
