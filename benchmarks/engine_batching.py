"""Images per second of the diffusers engine with and without batching, in one run.

Default (CPU, no download): builds the tiny random Stable Diffusion pipeline of the tests
into a temp dir and serves ``--requests`` concurrent one-image requests two ways through
``DiffusersEngine``:

- batched: the requests as one ``generate`` call, as the worker hands a claimed batch over
  (one pipeline call for all of them);
- unbatched: the same requests as separate ``generate`` calls, started together, so the
  same pipeline is called once per request.

    .venv/bin/python benchmarks/engine_batching.py [--requests 8] [--rounds 10] [--steps 2]

``--full-sd-turbo`` (for a GPU machine): builds a full-size SD-Turbo pipeline (the UNet,
VAE and OpenCLIP text encoder of ``stabilityai/sd-turbo``, from configs written below, with
random weights: no download) and times 512x512, 1 step, bfloat16, guidance 0 at batch sizes
1, 4, 8 and 16 (each batch one pipeline call), against batch 1.

    .venv/bin/python benchmarks/engine_batching.py --full-sd-turbo [--rounds 5]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tiny pipeline builders

from creatix.engines.diffusers import DiffusersEngine  # noqa: E402
from creatix.jobs.specs import ImageSpec  # noqa: E402

PROMPTS = (
    "a lighthouse on a cliff at dusk",
    "a bowl of lemons on a blue table",
    "a red bicycle against a brick wall",
    "a paper boat on a puddle",
)

# -- SD-Turbo, full size (stabilityai/sd-turbo: the SD 2.1 architecture at 512 px) -----------

SD_TURBO_UNET: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": [5, 10, 20, 20],
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 1024,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "downsample_padding": 1,
    "dual_cross_attention": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "only_cross_attention": False,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
    "use_linear_projection": True,
}
SD_TURBO_VAE: dict[str, Any] = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 768,
    "scaling_factor": 0.18215,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
SD_TURBO_TEXT_ENCODER: dict[str, Any] = {
    "attention_dropout": 0.0,
    "dropout": 0.0,
    "hidden_act": "gelu",
    "hidden_size": 1024,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 4096,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "num_attention_heads": 16,
    "num_hidden_layers": 23,
    "projection_dim": 512,
    "vocab_size": 49408,
}
SD_TURBO_SCHEDULER: dict[str, Any] = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "steps_offset": 1,
    "timestep_spacing": "trailing",
    "use_karras_sigmas": False,
}
FULL_BATCHES = (1, 4, 8, 16)


def build_full_sd_turbo(path: Path) -> Path:
    """SD-Turbo's architecture with random weights, saved in bfloat16 (about 2.6 GB).

    The tokenizer is the tests' byte-level CLIP vocabulary (its ids fit the real 49408-row
    embedding); text encoding costs the same per token as with the real vocabulary.
    """
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from tiny_diffusers import write_clip_tokenizer_files

    tokenizer_dir = write_clip_tokenizer_files(path.parent / "sd-turbo-tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(str(tokenizer_dir), model_max_length=77)
    torch.manual_seed(0)
    text_config = CLIPTextConfig(
        **SD_TURBO_TEXT_ENCODER,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    pipeline = StableDiffusionPipeline(
        vae=AutoencoderKL(**SD_TURBO_VAE),
        text_encoder=CLIPTextModel(text_config),
        tokenizer=tokenizer,
        unet=UNet2DConditionModel(**SD_TURBO_UNET),
        scheduler=EulerDiscreteScheduler(**SD_TURBO_SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.to(torch.bfloat16)
    pipeline.save_pretrained(str(path))
    return path


# -- timing ----------------------------------------------------------------------------------


def _specs(count: int, side: int, round_: int) -> list[ImageSpec]:
    return [
        ImageSpec(
            prompt=PROMPTS[i % len(PROMPTS)],
            width=side,
            height=side,
            seed=1000 * (round_ + 1) + i,
        )
        for i in range(count)
    ]


def _synchronize(engine: DiffusersEngine) -> None:
    import torch

    if engine.device.type == "cuda":
        torch.cuda.synchronize(engine.device)


async def _batched(
    engine: DiffusersEngine, model: str, count: int, side: int, rounds: int
) -> float:
    """Images per second with ``count`` requests per ``generate`` call."""
    await engine.generate(model, _specs(count, side, -1))  # warm-up
    _synchronize(engine)
    started = time.perf_counter()
    for round_ in range(rounds):
        await engine.generate(model, _specs(count, side, round_))
    _synchronize(engine)
    return count * rounds / (time.perf_counter() - started)


async def _unbatched(
    engine: DiffusersEngine, model: str, count: int, side: int, rounds: int
) -> float:
    """Images per second with ``count`` concurrent requests, one ``generate`` call each."""
    await engine.generate(model, _specs(1, side, -1))  # warm-up
    _synchronize(engine)
    started = time.perf_counter()
    for round_ in range(rounds):
        specs = _specs(count, side, round_)
        await asyncio.gather(*(engine.generate(model, [spec]) for spec in specs))
    _synchronize(engine)
    return count * rounds / (time.perf_counter() - started)


async def tiny(requests: int, rounds: int, steps: int, device: str) -> dict[str, Any]:
    from tiny_diffusers import build_tiny_sd

    side = 64
    with tempfile.TemporaryDirectory() as scratch:
        model = str(build_tiny_sd(Path(scratch) / "tiny-sd"))
        engine = DiffusersEngine.from_options(
            {"steps": steps, "device": device, "max_batch": requests}
        )
        try:
            batched = await _batched(engine, model, requests, side, rounds)
            unbatched = await _unbatched(engine, model, requests, side, rounds)
        finally:
            await engine.close()
    return {
        "pipeline": "tiny-sd (random weights)",
        "device": str(engine.device),
        "dtype": str(engine.dtype).removeprefix("torch."),
        "size": f"{side}x{side}",
        "steps": steps,
        "concurrent_requests": requests,
        "rounds": rounds,
        "batched_images_per_s": round(batched, 2),
        "unbatched_images_per_s": round(unbatched, 2),
        "ratio": round(batched / unbatched, 2),
    }


async def full_sd_turbo(rounds: int, device: str) -> dict[str, Any]:
    import torch

    side = 512
    rates: dict[str, float] = {}
    peak_gb: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        model = str(build_full_sd_turbo(Path(scratch) / "sd-turbo"))
        engine = DiffusersEngine.from_options(
            {
                "steps": 1,
                "guidance_scale": 0.0,
                "dtype": "bfloat16",
                "device": device,
                "max_batch": max(FULL_BATCHES),
            }
        )
        try:
            for batch in FULL_BATCHES:
                if engine.device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(engine.device)
                rate = await _batched(engine, model, batch, side, rounds)
                rates[str(batch)] = round(rate, 2)
                if engine.device.type == "cuda":
                    peak = torch.cuda.max_memory_allocated(engine.device)
                    peak_gb[str(batch)] = round(peak / 1024**3, 2)
        finally:
            await engine.close()
    single = rates[str(FULL_BATCHES[0])]
    return {
        "pipeline": "sd-turbo architecture (random weights)",
        "device": str(engine.device),
        "gpu": torch.cuda.get_device_name(engine.device) if engine.device.type == "cuda" else None,
        "dtype": "bfloat16",
        "size": f"{side}x{side}",
        "steps": 1,
        "rounds": rounds,
        "images_per_s_by_batch": rates,
        "speedup_over_batch_1": {b: round(r / single, 2) for b, r in rates.items()},
        "peak_memory_gb_by_batch": peak_gb or None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8, help="concurrent requests (tiny)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2, help="denoising steps (tiny)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's)")
    parser.add_argument(
        "--full-sd-turbo", action="store_true", help="full-size SD-Turbo on a GPU instead"
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.full_sd_turbo:
        result = asyncio.run(full_sd_turbo(args.rounds, args.device))
    else:
        result = asyncio.run(tiny(args.requests, args.rounds, args.steps, args.device))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
