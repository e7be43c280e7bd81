"""From a trained model to features: the frozen backbone's h, the posterior mean mu, a sample z.

Every evaluation reads features through `extract_features`; `MuEncoder` and `SampleEncoder`
turn a SuperInfoModel into an encoder of mu or of z = mu + sigma * eps (what the KL term
constrains: a probe on mu cannot see sigma).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from .data import normalize
from .step import autocast, choose_precision


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    images: torch.Tensor,
    batch_size: int | None = None,
    device=None,
    channels_last: bool = False,
    precision: str | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] = normalize,
) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float32 (N, F) features of `encoder` in eval mode.

    `transform` turns each uint8 batch (on the encoder's device) into the encoder's input:
    normalisation by default, an augmentation for the augmentation probe. `precision` defaults
    to the device's (superinfo_lib.step). The encoder's train/eval mode is restored afterwards.
    `batch_size` defaults to 1024 images on a GPU and 256 on a CPU, where a 1024-image batch of
    32 px activations costs a few hundred MB of RAM (a Binder session has about 2 GB).
    """
    device = torch.device(device) if device is not None else next(encoder.parameters()).device
    batch_size = batch_size or (1024 if device.type == "cuda" else 256)
    precision = precision or choose_precision(device)
    was_training = encoder.training
    encoder.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = transform(images[start : start + batch_size].to(device, non_blocking=True))
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, precision):
            out.append(encoder(x).float())
    encoder.train(was_training)
    return torch.cat(out)


class MuEncoder(nn.Module):
    """Wrap a SuperInfoModel so that it maps images (B, 3, H, W) to the posterior mean mu (B, K)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        # Take the model's mode: code that restores the wrapper's mode then restores the model's.
        self.train(model.training)

    def forward(self, x):
        return self.model.features(x, "mu")


class SampleEncoder(MuEncoder):
    """Wrap a SuperInfoModel so that it maps images (B, 3, H, W) to one sample z = mu + sigma * eps
    (B, K) of its posterior, eps drawn from a generator seeded with `seed` (repeatable)."""

    def __init__(self, model, seed: int = 0):
        super().__init__(model)
        self.seed = seed
        self.generator = None

    def forward(self, x):
        if self.generator is None or self.generator.device != x.device:
            self.generator = torch.Generator(device=x.device).manual_seed(self.seed)
        mu, logvar = self.model.head(self.model.backbone(x))
        eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=self.generator)
        return mu + torch.exp(0.5 * logvar) * eps
