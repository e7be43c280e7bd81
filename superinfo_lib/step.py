"""One training step, and the numeric precision it runs in.

`training_step` is the whole optimisation step of every method (forward of both views,
the SuperInfo loss terms, backward, optimiser step); the trainer, the GPU benchmark and
the toy all call it, so what is timed is what is trained.

Precision: bf16 autocast where the GPU computes bf16 natively (compute capability >= 8.0:
A100, H100, RTX 30xx and later), fp16 autocast with a gradient scaler on older GPUs (Colab's
T4 is 7.5: no bf16 tensor cores, and cuDNN has no bf16 convolutions there). On a CPU: bf16
autocast where the CPU computes bf16 natively (AVX-512 BF16 or AMX, read from its feature flags:
the small convnet trains 1.8x faster than in fp32 there), fp32 elsewhere (bf16 would be emulated).

Memory layout: channels_last on every device (measured on a 2-core AMD EPYC, small convnet, bf16:
944 pairs/s against 694 contiguous; fp32 436 against 388).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from functools import cache
from pathlib import Path

import torch
import torch.nn as nn

from .losses import LossPreset, superinfo_loss

PRECISIONS = ("bf16", "fp16", "fp32")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@cache
def cpu_has_native_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bf16 in hardware (the avx512_bf16 or amx_bf16 feature flag).
    False where the flags cannot be read (not Linux): fp32 is then the safe choice."""
    try:
        flags = Path(cpuinfo).read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def choose_precision(device: torch.device | str, requested: str = "auto") -> str:
    """`requested` if given ("bf16", "fp16", "fp32"), else the fastest precision that is safe
    on `device`: bf16 on GPUs with native bf16, fp16 on older GPUs; on a CPU, bf16 where it
    computes bf16 natively, else fp32."""
    if requested != "auto":
        if requested not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS} or 'auto', got {requested!r}")
        return requested
    device = torch.device(device)
    if device.type != "cuda":
        return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"
    if not torch.cuda.is_available():  # settings planned for a GPU on a machine without one
        return "bf16"
    major, _ = torch.cuda.get_device_capability(device)
    return "bf16" if major >= 8 else "fp16"


def autocast(device: torch.device | str, precision: str, cache_enabled: bool = True):
    """The autocast context of `precision` on `device` (a no-op for fp32)."""
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=DTYPES[precision], cache_enabled=cache_enabled)


def make_scaler(device: torch.device | str, precision: str) -> torch.amp.GradScaler:
    """A gradient scaler, enabled only for fp16 (bf16 and fp32 have fp32's exponent range);
    a disabled scaler passes the loss and the optimiser step through unchanged."""
    return torch.amp.GradScaler(torch.device(device).type, enabled=precision == "fp16")


def training_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    views: torch.Tensor,
    preset: LossPreset,
    betas: tuple[float, float] | None = None,
    *,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
    generator: torch.Generator | None = None,
    gather: Callable[[torch.Tensor], torch.Tensor] | None = None,
    rank: int = 0,
    autocast_cache: bool = True,
) -> dict[str, torch.Tensor]:
    """Forward both views, compute the loss terms, backward, step.

    Args:
        model: maps (2B, ...) to {"p": (2B, D), "mu": (2B, K), "logvar": (2B, K)}; it takes
            `generator` for its latent noise.
        views: (2B, ...) rows 0..B-1 are view 1 of the batch, rows B..2B-1 view 2.
        preset: the method's coefficients; `betas` overrides (beta_12, beta_21) at this step
            (a warm-up schedule), default the preset's.
        precision, scaler: see `choose_precision` and `make_scaler`.
        gather: with several processes, gathers a (B, D) tensor from all of them (with
            gradients), so InfoNCE contrasts the global batch; `rank` is this process's index.
        autocast_cache: off when the step is captured in a CUDA graph.
    Returns:
        the loss terms of `superinfo_loss` (scalars, still on the device: no host sync).
    """
    beta_12, beta_21 = betas if betas is not None else (preset.beta_12, preset.beta_21)
    with autocast(views.device, precision, cache_enabled=autocast_cache):
        out = model(views, generator=generator)
        p1, p2 = out["p"].chunk(2)
        mu1, mu2 = out["mu"].chunk(2)
        lv1, lv2 = out["logvar"].chunk(2)
        gathered = (gather(p1), gather(p2)) if gather is not None else None
        terms = superinfo_loss(
            p1,
            p2,
            mu1,
            lv1,
            mu2,
            lv2,
            lambda_pred=preset.lambda_pred,
            beta_12=beta_12,
            beta_21=beta_21,
            temperature=preset.temperature,
            allow_negative_beta=preset.allow_negative_beta,
            gathered=gathered,
            rank=rank,
            check_finite=False,
        )
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        terms["loss"].backward()
        optimizer.step()
    else:
        scaler.scale(terms["loss"]).backward()
        scaler.step(optimizer)
        scaler.update()
    return terms
