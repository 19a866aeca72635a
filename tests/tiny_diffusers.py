"""Tiny diffusers pipelines with random weights, built offline for engine tests.

Each builder writes a complete pipeline directory with ``save_pretrained`` so that
``AutoPipelineForText2Image.from_pretrained(path)`` and
``AutoPipelineForImage2Image.from_pretrained(path)`` load it without the Hugging Face hub.
The real classes are used throughout; only the sizes are tiny (as in diffusers' own
``get_dummy_components``), so the pictures are noise but every code path is the real one.

The tokenizers are made here too. CLIP: a byte-level BPE ``vocab.json`` holding the two
specials and every char of the byte-to-unicode table, plain and with ``</w>``, plus a
``merges.txt`` with no merges, so any text tokenizes character by character (nothing is
unknown). Note that transformers 5's ``CLIPTokenizer(vocab_file=..., merges_file=...)``
silently ignores those files (3-token vocab, everything unknown); ``from_pretrained(dir)``
or ``CLIPTokenizer(vocab=path, merges=path)`` read them. T5: a Unigram vocabulary of the
printable Latin-1 chars (alone and after ``▁``); other chars become ``<unk>``.

Sizes: the VAEs have two blocks, so ``vae_scale_factor`` is 2 (real models have 8). SD and
SDXL still insist on width and height being multiples of 8 (a hard-coded check) and render
64x64 by default (``unet.sample_size * vae_scale_factor``); 8x8 works. FLUX packs 2x2
latent patches, so its sizes must be multiples of ``vae_scale_factor * 2`` = 4 (it warns
and rounds down otherwise); it defaults to 256x256, so pass a size.

Image-to-video: ``build_tiny_svd`` (Stable Video Diffusion), ``build_tiny_ltx`` (LTX-Video,
as a text-to-video ``LTXPipeline`` folder or an ``LTXImageToVideoPipeline`` one) and
``build_tiny_wan`` (Wan 2.1 image-to-video) write folders that
``DiffusionPipeline.from_pretrained(path)`` loads; see the notes above them.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

TEXT_MAX_LENGTH = 77
"""The CLIP tokenizer's ``model_max_length`` and the text model's position count."""

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
CLIP_VOCAB_SIZE = 1000
"""Embedding rows of the tiny CLIP text models; the written vocabulary has 514 entries."""

T5_VOCAB_SIZE = 1000
"""Embedding rows of the tiny T5 encoder; its tokenizer has 482 entries (100 sentinels)."""

SD_SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "prediction_type": "epsilon",
}


@cache
def _byte_chars() -> tuple[str, ...]:
    """CLIP's (GPT-2's) byte-to-unicode table, in byte order: one printable char per byte."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return tuple(table[b] for b in range(256))


def clip_vocab() -> dict[str, int]:
    """The tiny CLIP vocabulary: the two specials, then every byte char plain and as ``c</w>``."""
    vocab = {BOS: 0, EOS: 1}
    for char in _byte_chars():
        vocab[char] = len(vocab)
    for char in _byte_chars():
        vocab[char + "</w>"] = len(vocab)
    return vocab


def write_clip_tokenizer_files(directory: Path) -> Path:
    """Write ``vocab.json`` and ``merges.txt`` (header only: no merges) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(clip_vocab(), ensure_ascii=False), "utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n", "utf-8")
    return directory


def make_clip_tokenizer() -> Any:
    """A real ``CLIPTokenizer`` read back from the files ``write_clip_tokenizer_files`` writes."""
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory(prefix="tiny-clip-tokenizer-") as scratch:
        directory = write_clip_tokenizer_files(Path(scratch))
        return CLIPTokenizer.from_pretrained(str(directory), model_max_length=TEXT_MAX_LENGTH)


def t5_vocab() -> list[tuple[str, float]]:
    """The tiny T5 Unigram vocabulary: specials, then each printable Latin-1 char alone and
    after the word-start mark ``▁`` (scored higher, so a word starts with ``▁c``)."""
    chars = [chr(c) for c in (*range(0x21, 0x7F), *range(0xA1, 0x100))]
    return [
        ("<pad>", 0.0),
        ("</s>", 0.0),
        ("<unk>", 0.0),
        ("\u2581", -2.0),
        *((f"\u2581{char}", -3.0) for char in chars),
        *((char, -4.0) for char in chars),
    ]


def make_t5_tokenizer() -> Any:
    """A real ``T5Tokenizer`` (tokenizers-backed Unigram) over ``t5_vocab``; unknown chars map
    to ``<unk>``. Built in memory: transformers 5 needs no sentencepiece model for this
    (transformers 4's ``T5Tokenizer`` does, so this needs transformers 5)."""
    import transformers
    from transformers import T5Tokenizer

    if int(transformers.__version__.split(".")[0]) < 5:
        raise RuntimeError("the tiny T5 tokenizer needs transformers>=5 (no sentencepiece model)")

    return T5Tokenizer(vocab=t5_vocab(), extra_ids=100, model_max_length=512)


def _clip_text_config(tokenizer: Any, **overrides: Any) -> Any:
    from transformers import CLIPTextConfig

    assert len(tokenizer) <= CLIP_VOCAB_SIZE
    settings: dict[str, Any] = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "hidden_size": 32,
        "intermediate_size": 37,
        "layer_norm_eps": 1e-05,
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "vocab_size": CLIP_VOCAB_SIZE,
        "max_position_embeddings": TEXT_MAX_LENGTH,
        "hidden_act": "gelu",
    }
    settings.update(overrides)
    return CLIPTextConfig(**settings)


def _tiny_vae(**overrides: Any) -> Any:
    from diffusers import AutoencoderKL

    settings: dict[str, Any] = {
        "block_out_channels": [32, 64],
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
        "latent_channels": 4,
        "sample_size": 64,
    }
    settings.update(overrides)
    return AutoencoderKL(**settings)


def _save(pipeline: Any, path: Path) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    pipeline.save_pretrained(str(path))
    return path


def build_tiny_sd(path: Path) -> Path:
    """Write a tiny Stable Diffusion 1.x pipeline (random weights, seed 0) to ``path``.

    ``StableDiffusionPipeline`` with a ``UNet2DConditionModel``, an ``AutoencoderKL``, a
    ``CLIPTextModel``, a ``CLIPTokenizer`` and an ``EulerDiscreteScheduler``; no safety checker.
    Returns ``path``. Loads offline with ``AutoPipelineForText2Image.from_pretrained(path)``.
    """
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    tokenizer = make_clip_tokenizer()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )
    torch.manual_seed(0)
    vae = _tiny_vae()
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_clip_text_config(tokenizer))
    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(**SD_SCHEDULER_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return _save(pipeline, path)


def build_tiny_sdxl(path: Path) -> Path:
    """Write a tiny Stable Diffusion XL pipeline (random weights, seed 0) to ``path``.

    ``StableDiffusionXLPipeline`` with a ``UNet2DConditionModel`` conditioned the SDXL way
    (``addition_embed_type="text_time"``), an ``AutoencoderKL``, a ``CLIPTextModel`` and a
    ``CLIPTextModelWithProjection`` with a ``CLIPTokenizer`` each, and an
    ``EulerDiscreteScheduler``. Sizes follow diffusers' SDXL ``get_dummy_components``.
    """
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = make_clip_tokenizer()
    tokenizer_2 = make_clip_tokenizer()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        # 6 micro-conditioning numbers x 8, plus text_encoder_2's 32-wide pooled projection.
        projection_class_embeddings_input_dim=6 * 8 + 32,
        # Both encoders' 32-wide hidden states, concatenated.
        cross_attention_dim=64,
        norm_num_groups=1,
    )
    torch.manual_seed(0)
    vae = _tiny_vae(sample_size=128)
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_clip_text_config(tokenizer, projection_dim=32))
    torch.manual_seed(0)
    text_encoder_2 = CLIPTextModelWithProjection(_clip_text_config(tokenizer_2, projection_dim=32))
    pipeline = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=EulerDiscreteScheduler(**SD_SCHEDULER_CONFIG),
        image_encoder=None,
        feature_extractor=None,
    )
    return _save(pipeline, path)


def build_tiny_flux(path: Path) -> Path:
    """Write a tiny FLUX.1 pipeline (random weights, seed 0) to ``path``.

    ``FluxPipeline`` with a ``FluxTransformer2DModel``, an ``AutoencoderKL`` with 4 latent
    channels (packed 2x2 into the transformer's 16 input channels), a ``CLIPTextModel`` with
    a ``CLIPTokenizer``, a ``T5EncoderModel`` with a ``T5Tokenizer`` (a Unigram vocabulary
    written here: no sentencepiece model needed) and a ``FlowMatchEulerDiscreteScheduler``
    configured like FLUX.1-dev's (dynamic shifting).
    """
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel, T5Config, T5EncoderModel

    tokenizer = make_clip_tokenizer()
    tokenizer_2 = make_t5_tokenizer()
    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8],
    )
    torch.manual_seed(0)
    vae = _tiny_vae(
        sample_size=64,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_clip_text_config(tokenizer, projection_dim=32))
    torch.manual_seed(0)
    assert len(tokenizer_2) <= T5_VOCAB_SIZE
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=T5_VOCAB_SIZE,
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            relative_attention_max_distance=32,
            dropout_rate=0.0,
            feed_forward_proj="gated-gelu",
            is_encoder_decoder=False,
            use_cache=False,
            pad_token_id=tokenizer_2.pad_token_id,
            eos_token_id=tokenizer_2.eos_token_id,
        )
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000,
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )
    pipeline = FluxPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )
    return _save(pipeline, path)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """The models are tiny: one thread is as fast, and torch's spinning OpenMP threads make
    a 10 s run take 80 s when another torch process shares the two cores. A module asks for
    it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


# -- image-to-video ---------------------------------------------------------------------------
# Sizes follow diffusers' own fast tests (``get_dummy_components`` of
# tests/pipelines/stable_video_diffusion, ltx/test_ltx_image2video.py and
# wan/test_wan_image_to_video.py), with these changes so that the engine's rules are the real
# ones: the LTX VAE compresses like LTX-Video's (4x4 patches and three space-time halvings:
# 32 px and 8 frames per latent), so sizes are multiples of 32 and frame counts 8k+1; SVD's
# CLIP image encoder sees 224 px (the pipeline resizes a PIL source to 224 before encoding).
# The text encoders are the tiny T5 (UMT5 for Wan) over the tiny T5 tokenizer. On 2 CPU
# cores with one torch thread a 64x64, 9-frame, 2-step call takes about 0.05 s (LTX) and
# 0.4 s (SVD). diffusers loads Wan's transformer only with ``accelerate`` installed, and
# Wan's prompt cleaning needs ``ftfy``.


def _tiny_t5_encoder(tokenizer: Any, d_model: int = 32, umt5: bool = False) -> Any:
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    assert len(tokenizer) <= T5_VOCAB_SIZE
    settings: dict[str, Any] = {
        "vocab_size": T5_VOCAB_SIZE,
        "d_model": d_model,
        "d_kv": 8,
        "d_ff": 37,
        "num_layers": 2,
        "num_heads": 4,
        "relative_attention_num_buckets": 8,
        "relative_attention_max_distance": 32,
        "dropout_rate": 0.0,
        "feed_forward_proj": "gated-gelu",
        "is_encoder_decoder": False,
        "use_cache": False,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if umt5:
        return UMT5EncoderModel(UMT5Config(**settings))
    return T5EncoderModel(T5Config(**settings))


def build_tiny_svd(path: Path) -> Path:
    """Write a tiny Stable Video Diffusion pipeline (random weights, seed 0) to ``path``.

    ``StableVideoDiffusionPipeline`` with a ``UNetSpatioTemporalConditionModel``, an
    ``AutoencoderKLTemporalDecoder`` (three blocks: ``vae_scale_factor`` 4, which keeps the
    UNet's attention over a 64x64 video at 16x16 tokens; the pipeline wants sides that are
    multiples of 8), a ``CLIPVisionModelWithProjection`` at 224 px with 32 px patches and its
    ``CLIPImageProcessor``, and an ``EulerDiscreteScheduler`` configured like SVD's
    (v-prediction, Karras sigmas). No prompt: SVD is conditioned on the image only.
    """
    import torch
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=8,
        # fps, motion bucket and noise augmentation, 32 wide each.
        projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 32, 32],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 3,
        latent_channels=4,
    )
    torch.manual_seed(0)
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=224,
            intermediate_size=37,
            patch_size=32,
        )
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )
    pipeline = StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=scheduler,
        feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
    )
    return _save(pipeline, path)


def build_tiny_ltx(path: Path, image_to_video: bool = False) -> Path:
    """Write a tiny LTX-Video pipeline (random weights, seed 0) to ``path``.

    ``LTXPipeline`` (text-to-video, as ``Lightricks/LTX-Video`` ships; the engine derives the
    image-to-video pipeline from it), or ``LTXImageToVideoPipeline`` with ``image_to_video``:
    an ``LTXVideoTransformer3DModel``, an ``AutoencoderKLLTXVideo`` compressing 32 px and 8
    frames per latent as the real one does, a ``T5EncoderModel`` with the tiny T5 tokenizer
    and a ``FlowMatchEulerDiscreteScheduler``.
    """
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXImageToVideoPipeline,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    tokenizer = make_t5_tokenizer()
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=32,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    torch.manual_seed(0)
    text_encoder = _tiny_t5_encoder(tokenizer)
    pipeline_class = LTXImageToVideoPipeline if image_to_video else LTXPipeline
    pipeline = pipeline_class(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
    )
    return _save(pipeline, path)


def build_tiny_wan(path: Path) -> Path:
    """Write a tiny Wan 2.1 image-to-video pipeline (random weights, seed 0) to ``path``.

    ``WanImageToVideoPipeline`` with a ``WanTransformer3DModel`` (2x2 patches: sides are
    multiples of 16), an ``AutoencoderKLWan`` (8 px and 4 frames per latent: frame counts
    4k+1), a ``UMT5EncoderModel`` with the tiny T5 tokenizer, a ``CLIPVisionModel`` at 32 px
    with its ``CLIPImageProcessor``, and a ``FlowMatchEulerDiscreteScheduler``.
    """
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    tokenizer = make_t5_tokenizer()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )
    torch.manual_seed(0)
    text_encoder = _tiny_t5_encoder(tokenizer, umt5=True)
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=36,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        image_dim=4,
    )
    torch.manual_seed(0)
    image_encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=4,
            projection_dim=4,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            intermediate_size=16,
            patch_size=1,
        )
    )
    pipeline = WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        image_processor=CLIPImageProcessor(crop_size=32, size=32),
        image_encoder=image_encoder,
        transformer=transformer,
    )
    return _save(pipeline, path)
