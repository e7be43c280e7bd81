"""A synthetic multi-view data set with known factors, and a CPU-fast SuperInfo trainer on it.

Each sample x has a shared class s (8 values) and two attributes r_a, r_b (binary).
View 1 shows (s, r_a, n1), view 2 shows (s, r_b, n2), where n1, n2 are nuisances drawn
afresh for each view (like augmentation parameters). For the representation z1 of view 1:

    shared, task-relevant          s      in both views           kept by InfoNCE
    view-specific, task-relevant   r_a    a property of x, only    superfluous for InfoNCE,
                                          in view 1; agrees with   yet useful downstream
                                          a function of s 75% of
                                          the time
    view-specific nuisance         n1     not a property of x      superfluous and useless

Probes (ridge classifiers on held-out data) measure how much of each factor the
representation keeps. The KL terms penalise both superfluous factors; because r_a is
partly predictable from s, part of it survives a large beta, while n1 falls to chance.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .losses import superinfo_loss
from .models import GaussianHead, projector
from .probes import fit_ridge

FACTORS = ("shared", "specific", "nuisance")
CHANCE = {"shared": 1 / 8, "specific": 0.5, "nuisance": 0.5}
NUM_CLASSES = {"shared": 8, "specific": 2, "nuisance": 2}


@dataclass
class MultiViewData:
    """v1, v2: (N, D) views; factors of view 1 / view 2 as (N,) int64 tensors."""
    v1: torch.Tensor
    v2: torch.Tensor
    shared: torch.Tensor
    specific1: torch.Tensor
    specific2: torch.Tensor
    nuisance1: torch.Tensor
    nuisance2: torch.Tensor

    def view1_factors(self) -> dict[str, torch.Tensor]:
        return {"shared": self.shared, "specific": self.specific1, "nuisance": self.nuisance1}


def make_multiview(n: int = 4096, dim: int = 32, specific_agreement: float = 0.75,
                   nuisance_scale: float = 2.0, noise: float = 0.3, seed: int = 0) -> MultiViewData:
    """Draw n samples; both views pass (factors) through one fixed random mixing to `dim` dims."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if not 0 <= specific_agreement <= 1:
        raise ValueError(f"specific_agreement must be in [0, 1], got {specific_agreement}")
    g = torch.Generator().manual_seed(seed)
    shared = torch.randint(8, (n,), generator=g)

    def attribute():  # agrees with the parity of s with probability specific_agreement
        agree = torch.rand(n, generator=g) < specific_agreement
        return torch.where(agree, shared % 2, torch.randint(2, (n,), generator=g))

    specific1, specific2 = attribute(), attribute()
    nuisance1, nuisance2 = torch.randint(2, (n,), generator=g), torch.randint(2, (n,), generator=g)
    class_codes = torch.randn(8, 8, generator=g)
    mixing = torch.randn(8 + 2, dim, generator=g) / math.sqrt(10)
    bias = torch.randn(dim, generator=g) * 0.1

    def view(specific, nuisance):
        factors = torch.cat([class_codes[shared], (2 * specific - 1).float()[:, None],
                             nuisance_scale * (2 * nuisance - 1).float()[:, None]], dim=1)
        return torch.tanh(factors @ mixing + bias) + noise * torch.randn(n, dim, generator=g)

    return MultiViewData(view(specific1, nuisance1), view(specific2, nuisance2), shared,
                         specific1, specific2, nuisance1, nuisance2)


class ToyEncoder(nn.Module):
    """MLP (B, D) -> Gaussian head (B, K) -> projector (B, 32)."""

    def __init__(self, in_dim: int, latent_dim: int = 16, hidden: int = 64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = GaussianHead(hidden, latent_dim)
        self.projector = projector(latent_dim, hidden, 32)

    def forward(self, v: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.head(self.body(v))
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
        return mu, logvar, self.projector(z)


def ridge_probe_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                         test_y: torch.Tensor, num_classes: int, ridge: float = 1e-2) -> float:
    """Held-out accuracy of a ridge classifier (one-hot targets, closed form) on standardised x."""
    predict = fit_ridge(train_x, F.one_hot(train_y, num_classes), ridge)
    return (predict(test_x).argmax(1) == test_y).double().mean().item()


@contextmanager
def torch_threads(n: int):
    """Run torch ops on n intra-op threads, then restore. A tiny MLP is fastest on one thread
    (two threads lose to synchronisation, by 10x on a busy 2-core machine), and float sums,
    hence results, are reproducible only at a fixed thread count."""
    if n < 1:
        raise ValueError(f"num_threads must be >= 1, got {n}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class ToyResult:
    """history: per-step lists of every loss term; probes: accuracy per factor (view 1's mu);
    diverged_at: the step the loss became non-finite, if it did."""
    settings: dict
    history: dict[str, list[float]] = field(default_factory=dict)
    probes: dict[str, float] = field(default_factory=dict)
    diverged_at: int | None = None

    def final(self, term: str) -> float:
        return self.history[term][-1] if self.history.get(term) else float("nan")


def train_toy(lambda_pred: float = 1.0, beta_12: float = 0.0, beta_21: float = 0.0, temperature: float = 0.5,
              latent_dim: int = 16, steps: int = 200, batch_size: int = 256, lr: float = 3e-3,
              seed: int = 0, allow_negative_beta: bool = False, data: MultiViewData | None = None,
              n_probe: int = 2048, callback: Callable[[int, int], None] | None = None,
              num_threads: int = 1) -> ToyResult:
    """Train a ToyEncoder with `superinfo_loss` on the multi-view set, then probe every factor.

    The same arguments and seed give the same result (it runs on `num_threads` torch
    threads, restored afterwards: float sums depend on the count). A diverging run
    (possible with a negative beta) stops and reports the step instead of raising. `callback(steps_done, steps)`, if given, is called
    after every step (progress bars); it does not change the result.
    """
    with torch_threads(num_threads):
        settings = dict(lambda_pred=lambda_pred, beta_12=beta_12, beta_21=beta_21, temperature=temperature,
                        latent_dim=latent_dim, steps=steps, batch_size=batch_size, lr=lr, seed=seed)
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        data = data or make_multiview(seed=1000 + seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = ToyEncoder(data.v1.shape[1], latent_dim)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        g = torch.Generator().manual_seed(seed)
        n_train = len(data.v1) - n_probe // 2 if len(data.v1) > n_probe else len(data.v1) // 2
        result = ToyResult(settings, {k: [] for k in ("loss", "nce", "kl_12", "kl_21", "mi_lower_bound")})
        model.train()
        for step in range(steps):
            idx = torch.randint(n_train, (batch_size,), generator=g)
            mu, lv, p = model(torch.cat([data.v1[idx], data.v2[idx]]), g)   # one pass, shared BN stats
            (mu1, mu2), (lv1, lv2), (p1, p2) = mu.chunk(2), lv.chunk(2), p.chunk(2)
            try:
                terms = superinfo_loss(p1, p2, mu1, lv1, mu2, lv2, lambda_pred=lambda_pred, beta_12=beta_12,
                                       beta_21=beta_21, temperature=temperature,
                                       allow_negative_beta=allow_negative_beta)
            except ValueError as err:
                if "NaN or inf" not in str(err):
                    raise
                result.diverged_at = step
                break
            if not torch.isfinite(terms["loss"]):
                result.diverged_at = step
                break
            opt.zero_grad()
            terms["loss"].backward()
            opt.step()
            for k, v in terms.items():
                result.history[k].append(float(v.detach()))
            if callback is not None:
                callback(step + 1, steps)
        model.eval()
        with torch.no_grad():
            mu, _, _ = model(data.v1)
        if not torch.isfinite(mu).all():
            result.probes = {k: float("nan") for k in FACTORS}
            return result
        factors = data.view1_factors()
        for name in FACTORS:
            y = factors[name]
            result.probes[name] = ridge_probe_accuracy(mu[:n_train], y[:n_train], mu[n_train:], y[n_train:],
                                                       NUM_CLASSES[name])
        return result
