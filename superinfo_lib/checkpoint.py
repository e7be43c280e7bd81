"""Checkpoints: written atomically, read without running code, and turned back into models.

A course invites people to load checkpoints that someone else shared. A checkpoint here holds
only tensors and plain values (numbers, strings, lists, dicts), so it is always read with
`torch.load(weights_only=True)`: a file that would need to run code to load is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn

from .models import SuperInfoModel, model_config


def strip_prefixes(state: dict) -> dict:
    """Drop the wrappers' prefixes: DDP's "module." and torch.compile's "_orig_mod.", which
    sits mid-key when a submodule is compiled ("backbone._orig_mod.0.weight")."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        while parts and parts[0] == "module":
            parts = parts[1:]
        out[".".join(p for p in parts if p != "_orig_mod")] = value
    return out


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer,
    step: int,
    epoch: int,
    config: dict,
    scaler: torch.amp.GradScaler | None = None,
) -> None:
    """Write to a temporary file, then rename: a crash never leaves a half-written checkpoint.

    `config` must hold plain values only (the run's settings, e.g. `dataclasses.asdict(cfg)`).
    """
    path = Path(path)
    state = {
        "model": strip_prefixes(model.state_dict()),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "model_config": model_config(model),
        "step": step,
        "epoch": epoch,
        "config": config,
        "torch_version": str(torch.__version__),  # TorchVersion is a class: plain str
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """The checkpoint's contents; never runs code from the file.

    FileNotFoundError if it does not exist; ValueError naming the file if it is truncated, not
    a torch file, holds objects other than tensors and plain values, or is not this project's.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        lines = str(err).splitlines() or [type(err).__name__]
        detail = next((line.strip() for line in lines if "Unsupported global" in line), lines[0])
        raise ValueError(
            f"checkpoint {path} could not be read safely: it is truncated, not a torch file, or holds "
            f"objects that would run code when loaded (refused; only tensors and plain values load). "
            f"Details: {detail[:300]}"
        ) from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "model_config" not in ckpt:
        raise ValueError(f"checkpoint {path} is not a superinfo_lib checkpoint (no 'model'/'model_config')")
    return ckpt


def load_checkpoint_model(path: str | Path, map_location="cpu") -> tuple[SuperInfoModel, dict]:
    """The full SuperInfoModel of a checkpoint written by the trainer, moved to `map_location`,
    and the checkpoint's contents."""
    ckpt = load_checkpoint(path, "cpu")
    model = SuperInfoModel(**ckpt["model_config"])
    model.load_state_dict(strip_prefixes(ckpt["model"]))
    return model.to(map_location), ckpt


def load_backbone(path: str | Path, map_location="cpu") -> nn.Module:
    """The plain backbone (B, 3, H, W) -> (B, F) of any checkpoint this project writes, in eval
    mode, whatever wrapper prefixes ("module.", "_orig_mod.") its keys carry."""
    model, _ = load_checkpoint_model(path, map_location)
    return model.backbone.eval()
