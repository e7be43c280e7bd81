"""Encoder: ResNet-18 (CIFAR stem) -> Gaussian head q(z|v) -> projector g(z).

Training uses a reparameterised sample z = mu + sigma * eps; evaluation uses the
backbone feature h (or the mean mu), never a sample.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def resnet18_cifar() -> nn.Module:
    """torchvision's ResNet-18 with a 3x3 stride-1 stem and no max-pool, for 32 px images.

    Input (B, 3, H, W) float; output (B, 512) pooled feature h.
    """
    import torchvision  # here, not at the top: importing it costs ~160 MB, which the CPU course never needs

    net = torchvision.models.resnet18(weights=None)
    net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    net.feature_dim = 512
    return net


class SmallConvNet(nn.Sequential):
    """A four-layer CNN (B, 3, H, W) -> (B, 128) for tests and CPU demos, not for results."""

    def __init__(self, width: int = 32):
        def block(cin, cout):
            return [
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]

        super().__init__(
            *block(3, width),
            nn.MaxPool2d(2),
            *block(width, 2 * width),
            nn.MaxPool2d(2),
            *block(2 * width, 4 * width),
            *block(4 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.feature_dim = 4 * width


BACKBONES = {"resnet18": resnet18_cifar, "small": SmallConvNet}


def make_backbone(arch: str) -> nn.Module:
    if arch not in BACKBONES:
        raise ValueError(f"arch must be one of {sorted(BACKBONES)}, got {arch!r}")
    return BACKBONES[arch]()


class GaussianHead(nn.Module):
    """h (B, F) -> mu (B, K), logvar (B, K) with logvar smoothly bounded to [min, max].

    The bound stops "variance gaming" (inflating both variances to shrink the KL).
    """

    def __init__(self, in_dim: int, latent_dim: int, logvar_min: float = -8.0, logvar_max: float = 4.0):
        super().__init__()
        self.mu = nn.Linear(in_dim, latent_dim)
        self.logvar = nn.Linear(in_dim, latent_dim)
        self.logvar_min, self.logvar_max = logvar_min, logvar_max

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        span = self.logvar_max - self.logvar_min
        return self.mu(h), self.logvar_min + span * torch.sigmoid(self.logvar(h))


def projector(in_dim: int, hidden_dim: int = 2048, out_dim: int = 128) -> nn.Module:
    """SimCLR's MLP: Linear-BN-ReLU-Linear, (B, in_dim) -> (B, out_dim)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim, bias=False),
        nn.BatchNorm1d(hidden_dim),
        nn.ReLU(inplace=True),
        nn.Linear(hidden_dim, out_dim),
    )


class Encoder(nn.Module):
    """backbone -> GaussianHead: the part of a trained model that evaluation reads (the published
    encoders hold only this; the projector serves the training loss alone)."""

    def __init__(self, arch: str = "resnet18", latent_dim: int | None = None):
        super().__init__()
        self.arch = arch
        self.backbone = make_backbone(arch)
        self.latent_dim = latent_dim or self.backbone.feature_dim
        self.head = GaussianHead(self.backbone.feature_dim, self.latent_dim)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, 3, H, W) -> {"h": (B, F), "mu": (B, K), "logvar": (B, K)}."""
        h = self.backbone(x)
        mu, logvar = self.head(h)
        return {"h": h, "mu": mu, "logvar": logvar}

    @torch.no_grad()
    def features(self, x: torch.Tensor, which: str = "backbone") -> torch.Tensor:
        """Deterministic representation for evaluation: "backbone" (h) or "mu"."""
        h = self.backbone(x)
        if which == "backbone":
            return h
        if which == "mu":
            return self.head(h)[0]
        raise ValueError(f"which must be 'backbone' or 'mu', got {which!r}")


class SuperInfoModel(Encoder):
    """backbone -> GaussianHead -> sample -> projector. One model serves all three losses."""

    def __init__(
        self,
        arch: str = "resnet18",
        latent_dim: int | None = None,
        proj_hidden: int = 2048,
        proj_out: int = 128,
    ):
        super().__init__(arch, latent_dim)  # backbone, then head, then projector: the same draws as ever
        self.projector = projector(self.latent_dim, proj_hidden, proj_out)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """x (B, 3, H, W) -> {"h": (B, F), "mu", "logvar", "z": (B, K), "p": (B, out)}.

        `generator` draws eps, so a resumed run repeats the same noise.
        """
        h = self.backbone(x)
        mu, logvar = self.head(h)
        eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
        z = mu + torch.exp(0.5 * logvar) * eps
        return {"h": h, "mu": mu, "logvar": logvar, "z": z, "p": self.projector(z)}


def model_config(model: SuperInfoModel) -> dict:
    return {
        "arch": model.arch,
        "latent_dim": model.latent_dim,
        "proj_hidden": model.projector[0].out_features,
        "proj_out": model.projector[3].out_features,
    }
