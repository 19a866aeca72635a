"""The content policy's local image classifier (``policy/classifier.py``) on a tiny random
Stable Diffusion safety checker: flags all or none as its thresholds say, decides as diffusers'
own checker does, one forward pass a batch, loaded once per folder however many threads ask;
where a hub id is found, what a folder that does not load says; the catalog's shape; and the
pull's refusals that need no hub."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import numpy as np
import yaml
from PIL import Image

from creatix.catalog.loader import CatalogError, load_catalog
from creatix.engines.base import PullError
from creatix.policy import classifier as classifier_module
from creatix.policy.classifier import (
    ClassifierLoadError,
    ImageClassifier,
    classifier_folder,
    loaded_classifier,
    weights_problem,
)
from creatix.policy.classifier_weights import pull_classifier
from tiny_safety_checker import FLAGS_ALL, FLAGS_NONE, build_tiny_safety_checker

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _images(count: int, seed: int = 1) -> list[Image.Image]:
    """Random pictures of several sizes and modes (what engines hand the worker)."""
    rng = np.random.default_rng(seed)
    modes = ["RGB", "RGBA", "L"]
    pictures = []
    for index in range(count):
        height, width = 40 + 8 * index, 64 - 4 * index
        array = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        pictures.append(Image.fromarray(array).convert(modes[index % len(modes)]))
    return pictures


@pytest.fixture(scope="module")
def flagging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_safety_checker(
        tmp_path_factory.mktemp("checkers") / "flags-all", concept_threshold=FLAGS_ALL
    )


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_safety_checker(
        tmp_path_factory.mktemp("checkers") / "flags-none", concept_threshold=FLAGS_NONE
    )


@pytest.fixture
def forward_passes(passing: Path) -> Iterator[list[int]]:
    """The batch sizes the vision tower of ``passing``'s loaded checker ran on."""
    checker = loaded_classifier(passing).checker
    sizes: list[int] = []
    handle = checker.vision_model.register_forward_hook(
        lambda _module, args, _output: sizes.append(int(args[0].shape[0]))
    )
    yield sizes
    handle.remove()


def test_a_checker_flags_every_image_or_none_as_its_thresholds_say(
    flagging: Path, passing: Path
) -> None:
    images = _images(3)
    flagged = loaded_classifier(flagging)
    scores = flagged.scores(images)
    assert len(scores) == 3
    assert all(score > 0 for score in scores), scores
    assert flagged.flagged(images) == [True, True, True]
    clean = loaded_classifier(passing)
    assert clean.flagged(images) == [False, False, False]
    assert all(score < 0 for score in clean.scores(images))
    assert clean.scores([]) == []


def test_the_adjustment_moves_every_score(passing: Path) -> None:
    classifier = loaded_classifier(passing)
    images = _images(2)
    plain = classifier.scores(images)
    stronger = classifier.scores(images, adjustment=0.5)
    assert stronger == pytest.approx([score + 0.5 for score in plain], abs=1e-5)
    # Thresholds of 2 leave every score below -1 + 0.01: no adjustment in range flags.
    assert classifier.flagged(images, adjustment=1.0) == [False, False]


def test_a_batch_is_one_forward_pass(passing: Path, forward_passes: list[int]) -> None:
    loaded_classifier(passing).flagged(_images(4))
    assert forward_passes == [4]


def _highest_cosines(classifier: ImageClassifier, pixels: Any) -> tuple[list[float], ...]:
    """Each image's highest cosine with the checker's concepts, and with its special-care
    concepts (what the thresholds are compared with)."""
    import torch
    from torch.nn.functional import normalize

    checker = classifier.checker
    with torch.no_grad():
        embeds = normalize(checker.visual_projection(checker.vision_model(pixels)[1]))
        return tuple(
            (embeds @ normalize(concepts).T).max(dim=1).values.tolist()
            for concepts in (checker.concept_embeds, checker.special_care_embeds)
        )


def test_it_decides_as_diffusers_own_checker_does(tmp_path: Path) -> None:
    """Thresholds at the median of the images' cosines: half the images over them, some
    bumped by a special-care concept; the decisions are diffusers' own, both forwards."""
    import torch

    images = _images(6, seed=5)
    probe = ImageClassifier.load(build_tiny_safety_checker(tmp_path / "probe", seed=3))
    pixels = probe.processor(images=[i.convert("RGB") for i in images], return_tensors="pt")
    concept, special = _highest_cosines(probe, pixels.pixel_values)
    folder = build_tiny_safety_checker(
        tmp_path / "checker",
        concept_threshold=float(np.median(concept)),
        special_threshold=float(np.median(special)),
        seed=3,
    )
    classifier = ImageClassifier.load(folder)
    flagged = classifier.flagged(images)
    assert 0 < sum(flagged) < len(images), "the thresholds split the images"
    with torch.no_grad():
        _, onnx = classifier.checker.forward_onnx(pixels.pixel_values, torch.zeros(6, 1))
        _, plain = classifier.checker(pixels.pixel_values, [np.zeros(1) for _ in images])
    assert flagged == onnx.tolist()
    assert flagged == plain


def test_a_folder_is_loaded_once_however_many_threads_ask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = build_tiny_safety_checker(tmp_path / "checker")
    loads: list[Path] = []
    real_load = ImageClassifier.load

    def counted(folder: Path) -> ImageClassifier:
        loads.append(folder)
        return real_load(folder)

    monkeypatch.setattr(ImageClassifier, "load", staticmethod(counted))
    found: list[ImageClassifier] = []
    threads = [
        threading.Thread(target=lambda: found.append(loaded_classifier(folder))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == [folder.resolve()]
    assert len(found) == 4
    assert all(classifier is found[0] for classifier in found)
    assert loaded_classifier(tmp_path / "." / "checker") is found[0]


def test_a_folder_that_does_not_load_says_which_and_why(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    (broken / "preprocessor_config.json").write_text("{}")
    with pytest.raises(ClassifierLoadError) as raised:
        loaded_classifier(broken)
    assert str(broken) in str(raised.value)
    assert "cannot be loaded" in str(raised.value)
    assert broken.resolve() not in classifier_module._loaded, "tried again on its next use"


def test_a_hub_id_is_found_in_the_model_cache(tmp_path: Path, passing: Path) -> None:
    models = tmp_path / "models"
    assert classifier_folder("tiny/checker", models) == models / "tiny--checker"
    assert weights_problem(models / "tiny--checker") is not None
    repo = models / "models--tiny--checker"
    snapshot = repo / "snapshots" / "abc123"
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(passing, target_is_directory=True)
    (repo / "refs").mkdir()
    assert classifier_folder("tiny/checker", models) == models / "tiny--checker", "no ref yet"
    (repo / "refs" / "main").write_text("abc123")
    assert classifier_folder("tiny/checker", models) == snapshot
    assert weights_problem(snapshot) is None
    assert classifier_folder(str(passing), models) == passing
    assert classifier_folder("tiny/checker", None) == Path("tiny/checker")


def test_what_a_pull_refuses_and_a_folder_put_there_by_hand(tmp_path: Path, passing: Path) -> None:
    with pytest.raises(PullError, match="is a local path"):
        pull_classifier(str(passing), tmp_path)
    models = tmp_path / "models"
    by_hand = models / "tiny--checker"
    by_hand.parent.mkdir()
    by_hand.symlink_to(passing, target_is_directory=True)
    assert pull_classifier("tiny/checker", models) == by_hand
    assert not (models / "models--tiny--checker").exists(), "nothing was downloaded"


# -- the catalog -------------------------------------------------------------------------------


def _catalog(tmp_path: Path, classifier: Any) -> Path:
    path = tmp_path / "catalog.yaml"
    policies = {"standard": {"classifier": classifier}, "off": {}}
    path.write_text(
        yaml.safe_dump({"extends": "shipped", "content_policy": {"policies": policies}})
    )
    return path


def test_a_policy_names_its_classifier_strictly(tmp_path: Path) -> None:
    loaded = load_catalog(_catalog(tmp_path, {"model": "/srv/checker"}))
    entry = loaded.content_policy.policies["standard"].classifier
    assert entry is not None
    assert entry.model == "/srv/checker"
    assert entry.adjustment == 0.0
    assert entry.on_missing == "closed", "missing weights never pass unless the policy says so"
    for wrong in (
        {"model": "x/y", "threshold": 0.5},
        {"model": "x/y", "on_missing": "ignore"},
        {"model": "x/y", "adjustment": 2},
        {"model": ""},
        {},
    ):
        with pytest.raises(CatalogError, match="classifier"):
            load_catalog(_catalog(tmp_path, wrong))


def test_the_shipped_strict_policy_names_the_sd_safety_checker_failing_open() -> None:
    policies = load_catalog().content_policy.policies
    strict = policies["strict"].classifier
    assert strict is not None
    assert strict.model == "CompVis/stable-diffusion-safety-checker"
    assert strict.on_missing == "open"
    assert policies["standard"].classifier is None
    assert policies["off"].classifier is None


def test_the_tiny_checker_is_saved_as_the_real_one_is(passing: Path) -> None:
    config = json.loads((passing / "config.json").read_text())
    assert config["architectures"] == ["StableDiffusionSafetyChecker"]
    assert weights_problem(passing) is None
