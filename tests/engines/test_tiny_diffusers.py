"""The tiny diffusers builders: offline, small, loadable by the Auto pipelines, and runnable.

Batch versus single: on CPU the same prompt and seed give the same picture alone as inside a
batch up to float noise: at most 1 (of 255) on a handful of channel values, never more. The
batch test asserts exactly that, so a real seeding bug (different noise per image) still fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from tiny_diffusers import (
    BOS,
    CLIP_VOCAB_SIZE,
    EOS,
    T5_VOCAB_SIZE,
    TEXT_MAX_LENGTH,
    build_tiny_flux,
    build_tiny_sd,
    build_tiny_sdxl,
    clip_vocab,
    make_t5_tokenizer,
    write_clip_tokenizer_files,
)

diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TRANSFORMERS_5 = int(transformers.__version__.split(".")[0]) >= 5
MAX_SAVED_BYTES = 16 * 1024 * 1024
TEXT = "Hello, wörld! 😀 ∑ 42"


@dataclass(frozen=True)
class Family:
    build: Callable[[Path], Path]
    text2image: str
    image2image: str
    multiple: int
    """Width and height must be multiples of this."""
    odd_size: tuple[int, int]
    """A non-square (width, height) that is a multiple of ``multiple`` but not of 16."""


FAMILIES = {
    "sd": Family(
        build_tiny_sd,
        "StableDiffusionPipeline",
        "StableDiffusionImg2ImgPipeline",
        multiple=8,
        odd_size=(72, 40),
    ),
    "sdxl": Family(
        build_tiny_sdxl,
        "StableDiffusionXLPipeline",
        "StableDiffusionXLImg2ImgPipeline",
        multiple=8,
        odd_size=(72, 40),
    ),
    "flux": Family(
        build_tiny_flux,
        "FluxPipeline",
        "FluxImg2ImgPipeline",
        multiple=4,
        odd_size=(36, 20),
    ),
}


@pytest.fixture(autouse=True)
def _quiet() -> None:
    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> tuple[str, Family]:
    name = request.param
    if name == "flux" and not TRANSFORMERS_5:
        pytest.skip("the tiny T5 tokenizer needs transformers>=5")
    return name, FAMILIES[name]


@pytest.fixture(scope="module")
def model_dir(family: tuple[str, Family], tmp_path_factory: pytest.TempPathFactory) -> Path:
    name, spec = family
    target = tmp_path_factory.mktemp(f"tiny-{name}") / "model"
    assert spec.build(target) == target
    return target


@pytest.fixture(scope="module")
def text2image(model_dir: Path) -> Any:
    return diffusers.AutoPipelineForText2Image.from_pretrained(model_dir)


def generators(*seeds: int) -> list[Any]:
    return [torch.Generator("cpu").manual_seed(seed) for seed in seeds]


def max_difference(a: Image.Image, b: Image.Image) -> int:
    return max(high for _, high in ImageChops.difference(a, b).getextrema())


# -- tokenizers ---------------------------------------------------------------------------------


def test_clip_vocab_covers_every_byte_plain_and_word_final() -> None:
    vocab = clip_vocab()
    assert len(vocab) == 2 + 2 * 256
    assert vocab[BOS] == 0
    assert vocab[EOS] == 1
    assert sorted(vocab.values()) == list(range(len(vocab)))
    assert len(vocab) <= CLIP_VOCAB_SIZE


def test_clip_tokenizer_reads_the_written_files(tmp_path: Path) -> None:
    write_clip_tokenizer_files(tmp_path)
    assert (tmp_path / "merges.txt").read_text().splitlines() == ["#version: 0.2"]
    loaded = transformers.CLIPTokenizer.from_pretrained(tmp_path, model_max_length=TEXT_MAX_LENGTH)
    direct = transformers.CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    for tokenizer in (loaded, direct):
        assert len(tokenizer) == 514
        ids = tokenizer(TEXT).input_ids
        assert ids[0] == tokenizer.bos_token_id
        assert ids[-1] == tokenizer.eos_token_id
        # Every char is known: the unknown token (which is EOS) appears only at the end.
        assert tokenizer.unk_token_id not in ids[1:-1]
        decoded = tokenizer.decode(ids, skip_special_tokens=True)
        assert decoded.replace(" ", "") == TEXT.lower().replace(" ", "")
    assert loaded.model_max_length == TEXT_MAX_LENGTH


def test_clip_tokenizer_truncates_to_77(tmp_path: Path) -> None:
    write_clip_tokenizer_files(tmp_path)
    tokenizer = transformers.CLIPTokenizer.from_pretrained(
        tmp_path, model_max_length=TEXT_MAX_LENGTH
    )
    encoded = tokenizer("x" * 500, padding="max_length", truncation=True, return_tensors="pt")
    assert encoded.input_ids.shape == (1, TEXT_MAX_LENGTH)


@pytest.mark.skipif(not TRANSFORMERS_5, reason="needs transformers>=5")
def test_t5_tokenizer_spells_latin_text_and_maps_the_rest_to_unk() -> None:
    tokenizer = make_t5_tokenizer()
    assert len(tokenizer) <= T5_VOCAB_SIZE
    ids = tokenizer("Hello, wörld!").input_ids
    assert ids[-1] == tokenizer.eos_token_id
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == "Hello, wörld!"
    assert tokenizer.unk_token_id in tokenizer("😀").input_ids


# -- builders -----------------------------------------------------------------------------------


def test_build_is_small_seeded_and_offline(
    family: tuple[str, Family], model_dir: Path, tmp_path: Path
) -> None:
    _, spec = family
    index = json.loads((model_dir / "model_index.json").read_text())
    assert index["_class_name"] == spec.text2image
    files = sorted(p.relative_to(model_dir) for p in model_dir.rglob("*") if p.is_file())
    assert sum((model_dir / f).stat().st_size for f in files) < MAX_SAVED_BYTES
    # Seeded: a second build writes the same weights, byte for byte.
    again = spec.build(tmp_path / "again")
    assert sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file()) == files
    for name in files:
        if name.suffix == ".safetensors":
            assert (again / name).read_bytes() == (model_dir / name).read_bytes(), name


def test_text2image_batch_matches_single(family: tuple[str, Family], text2image: Any) -> None:
    _, spec = family
    assert type(text2image).__name__ == spec.text2image
    prompts = ["a red fox in the snow", "a lighthouse at dusk " * 10]  # the second truncates
    seeds = (7, 1234)
    common = {"num_inference_steps": 2, "width": 64, "height": 64}
    batch = text2image(prompts, generator=generators(*seeds), **common).images
    assert len(batch) == 2
    for image in batch:
        assert isinstance(image, Image.Image)
        assert image.size == (64, 64)
        assert image.mode == "RGB"
    assert max_difference(batch[0], batch[1]) > 16  # different prompt and seed, different noise
    for prompt, seed, in_batch in zip(prompts, seeds, batch, strict=True):
        alone = text2image([prompt], generator=generators(seed), **common).images[0]
        assert max_difference(alone, in_batch) <= 1


def test_text2image_honours_non_square_sizes(family: tuple[str, Family], text2image: Any) -> None:
    _, spec = family
    width, height = spec.odd_size
    image = text2image(
        "a tiny picture",
        num_inference_steps=1,
        width=width,
        height=height,
        generator=generators(0),
    ).images[0]
    assert image.size == (width, height)


@pytest.mark.parametrize("family", ["sd", "sdxl"], indirect=True)
def test_sd_sizes_must_be_multiples_of_8(text2image: Any) -> None:
    with pytest.raises(ValueError, match="divisible by 8"):
        text2image("x", num_inference_steps=1, width=60, height=60)


def test_image2image_from_the_same_directory(family: tuple[str, Family], model_dir: Path) -> None:
    """Batch-invariant when every prompt gets its own copy of the image.

    With one shared image and a list of generators, ``FluxImg2ImgPipeline`` (diffusers 0.42)
    encodes the image once with ``generator[0]`` only, so image 2 of a batch differs from the
    same prompt and seed alone (by up to 227 here); SD and SDXL repeat the image first and stay
    within 1. Passing ``image=[image] * len(prompts)`` gives all three the same behaviour.
    """
    _, spec = family
    pipeline = diffusers.AutoPipelineForImage2Image.from_pretrained(model_dir)
    assert type(pipeline).__name__ == spec.image2image
    start = Image.new("RGB", (64, 64), (200, 40, 40))
    common: dict[str, Any] = {"strength": 0.5, "num_inference_steps": 4}
    if spec.text2image == "FluxPipeline":
        common |= {"width": 64, "height": 64}  # FLUX img2img defaults to 256x256, not the input
    prompts = ["a red square", "a blue square"]
    images = pipeline(
        prompts, image=[start] * len(prompts), generator=generators(3, 4), **common
    ).images
    assert [image.size for image in images] == [(64, 64), (64, 64)]
    for prompt, seed, in_batch in zip(prompts, (3, 4), images, strict=True):
        alone = pipeline([prompt], image=start, generator=generators(seed), **common).images[0]
        assert max_difference(alone, in_batch) <= 1
