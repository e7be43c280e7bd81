"""The SuperInfo objective: InfoNCE (predictive term) + Gaussian KL (superfluous term).

    L = lambda_pred * L_NCE(g(z1), g(z2); tau)
      + beta_12 * mean_i KL(q1_i || q2_i)
      + beta_21 * mean_i KL(q2_i || q1_i)

This is the project's formulation (docs/objective.md):
the paper (arXiv 2408.10292) defines the terms but its coefficients and recipe are
unknown. beta = 0 is SimCLR with a stochastic head; symmetric beta with an
exponential warm-up is MIB (Federici et al., 2020) with an InfoNCE critic.

Every function here is pure: tensors in, tensors out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F


def _check_finite_number(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def _check_pair(
    name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor, check_finite: bool = True
) -> None:
    if a.ndim != 2:
        raise ValueError(f"{name_a} must have shape (N, D), got {tuple(a.shape)}")
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.shape[0] == 0:
        raise ValueError(f"{name_a} is an empty batch (N = 0)")
    # The finiteness check waits for the GPU; the trainer skips it and checks its loss on the device.
    for name, t in ((name_a, a), (name_b, b)) if check_finite else ():
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or inf")


def info_nce(
    p1: torch.Tensor,
    p2: torch.Tensor,
    temperature: float,
    gathered: tuple[torch.Tensor, torch.Tensor] | None = None,
    rank: int = 0,
    check_finite: bool = True,
) -> torch.Tensor:
    """NT-Xent (SimCLR) loss for N positive pairs, i.e. 2N anchors.

    Args:
        p1, p2: (N, D) projections of view 1 and view 2; row i of p1 and p2 is a pair.
            They are L2-normalised here.
        temperature: tau > 0.
        gathered: optional (p1_all, p2_all), each (W*N, D): the projections of all W
            processes, concatenated in rank order (see superinfo_lib.distributed).
            Then this process's 2N anchors are contrasted with all 2WN candidates.
        rank: this process's index in `gathered`.
        check_finite: raise ValueError on NaN / inf inputs (costs a host-device sync).

    Returns:
        scalar: mean over this process's 2N anchors of
        -log softmax_j(sim(a, c_j) / tau)[positive], self-similarity excluded.
        At random init it is close to log(2N' - 1), N' the number of pairs seen.
    """
    _check_pair("p1", p1, "p2", p2, check_finite)
    _check_finite_number("temperature", temperature)
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = p1.shape[0]
    dtype = torch.float64 if p1.dtype == torch.float64 else torch.float32
    with torch.autocast(device_type=p1.device.type, enabled=False):  # bf16 logits lose the ranking
        anchors = F.normalize(torch.cat([p1, p2]).to(dtype), dim=1)  # (2N, D)
        if gathered is None:
            candidates, offset, total_pairs = anchors, 0, n
        else:
            g1, g2 = gathered
            total_pairs = g1.shape[0]
            candidates = F.normalize(torch.cat([g1, g2]).to(dtype), dim=1)  # (2WN, D)
            offset = rank * n
        logits = anchors @ candidates.T / temperature  # (2N, 2N')
    # Anchor k < N is view-1 sample i = k; anchor N + i is view-2 sample i. Their rows
    # among the candidates sit at offset + i and total_pairs + offset + i.
    local = torch.arange(n, device=p1.device)
    self_index = torch.cat([offset + local, total_pairs + offset + local])
    positive_index = torch.cat([total_pairs + offset + local, offset + local])
    rows = torch.arange(2 * n, device=p1.device)
    logits[rows, self_index] = float("-inf")  # mask self-similarity
    return F.cross_entropy(logits, positive_index)


def gaussian_kl(
    mu_a: torch.Tensor,
    logvar_a: torch.Tensor,
    mu_b: torch.Tensor,
    logvar_b: torch.Tensor,
    check_finite: bool = True,
) -> torch.Tensor:
    """Per-sample KL(N_a || N_b) of diagonal Gaussians, summed over dimensions.

    Args:
        mu_a, logvar_a, mu_b, logvar_b: (N, K) means and log-variances.
        check_finite: raise ValueError on NaN / inf inputs (costs a host-device sync).

    Returns:
        (N,) float32 (float64 if the inputs are float64), always >= 0:
        0.5 * sum_k [ logvar_b - logvar_a + (var_a + (mu_a - mu_b)^2) / var_b - 1 ].
        Computed outside autocast, so bf16 inputs do not lose the small differences.
    """
    _check_pair("mu_a", mu_a, "mu_b", mu_b, check_finite)
    _check_pair("logvar_a", logvar_a, "logvar_b", logvar_b, check_finite)
    if mu_a.shape != logvar_a.shape:
        raise ValueError(
            f"mu_a and logvar_a must have the same shape, got {tuple(mu_a.shape)} and {tuple(logvar_a.shape)}"
        )
    dtype = torch.float64 if mu_a.dtype == torch.float64 else torch.float32
    with torch.autocast(device_type=mu_a.device.type, enabled=False):
        mu_a, logvar_a, mu_b, logvar_b = (t.to(dtype) for t in (mu_a, logvar_a, mu_b, logvar_b))
        log_ratio = logvar_b - logvar_a
        # expm1(-log_ratio) - (-log_ratio) = var_a/var_b - 1 - log(var_a/var_b), exact near 0.
        per_dim = torch.expm1(-log_ratio) + log_ratio + (mu_a - mu_b).pow(2) * torch.exp(-logvar_b)
        return 0.5 * per_dim.clamp_min(0).sum(dim=1)


def superinfo_loss(
    p1: torch.Tensor,
    p2: torch.Tensor,
    mu1: torch.Tensor,
    logvar1: torch.Tensor,
    mu2: torch.Tensor,
    logvar2: torch.Tensor,
    *,
    lambda_pred: float = 1.0,
    beta_12: float = 0.0,
    beta_21: float = 0.0,
    temperature: float = 0.5,
    allow_negative_beta: bool = False,
    gathered: tuple[torch.Tensor, torch.Tensor] | None = None,
    rank: int = 0,
    check_finite: bool = True,
) -> dict[str, torch.Tensor]:
    """The SuperInfo objective for one batch of N pairs.

    Args:
        p1, p2: (N, D) projector outputs of the sampled latents z1, z2.
        mu1, logvar1, mu2, logvar2: (N, K) Gaussian posteriors q1 = q(z|v1), q2 = q(z|v2).
        lambda_pred: weight of the predictive term (InfoNCE).
        beta_12, beta_21: weights of mean KL(q1||q2) and mean KL(q2||q1), the upper
            bounds on the superfluous information I(v1;z1|v2) and I(v2;z2|v1).
        temperature: InfoNCE temperature.
        allow_negative_beta: a negative beta *rewards* an unbounded upper bound, so it
            is refused unless the caller opts in (the course shows what it does).
        gathered, rank: see `info_nce` (multi-process negatives).
        check_finite: raise ValueError on NaN / inf inputs; the trainer turns it off
            (the check waits for the GPU) and watches its loss on the device instead.

    Returns:
        dict of scalars: "loss" (the total), "nce", "kl_12", "kl_21" (batch means),
        "mi_lower_bound" = log(2N' - 1) - nce (nats), N' the pairs contrasted.
    """
    for name, value in (
        ("lambda_pred", lambda_pred),
        ("beta_12", beta_12),
        ("beta_21", beta_21),
        ("temperature", temperature),
    ):
        _check_finite_number(name, value)
    if not allow_negative_beta:
        for name, value in (("beta_12", beta_12), ("beta_21", beta_21)):
            if value < 0:
                raise ValueError(
                    f"{name} = {value} is negative: that rewards the KL upper bound, "
                    "which is unbounded; pass allow_negative_beta=True to do it anyway"
                )
    nce = info_nce(p1, p2, temperature, gathered=gathered, rank=rank, check_finite=check_finite)
    kl_12 = gaussian_kl(mu1, logvar1, mu2, logvar2, check_finite).mean()
    kl_21 = gaussian_kl(mu2, logvar2, mu1, logvar1, check_finite).mean()
    pairs = p1.shape[0] if gathered is None else gathered[0].shape[0]
    return {
        "loss": lambda_pred * nce + beta_12 * kl_12 + beta_21 * kl_21,
        "nce": nce,
        "kl_12": kl_12,
        "kl_21": kl_21,
        "mi_lower_bound": math.log(2 * pairs - 1) - nce.detach(),
    }


@dataclass(frozen=True)
class LossPreset:
    """Coefficients of one method. All three methods share `superinfo_loss`.

    beta_warmup_fraction > 0 ramps each beta exponentially from `beta_start` to its
    final value over that fraction of training (MIB's schedule), then holds it.
    Every value is checked here, once, whoever builds the preset (trainer, explorer, toy).
    """

    name: str
    lambda_pred: float = 1.0
    beta_12: float = 0.0
    beta_21: float = 0.0
    temperature: float = 0.5
    beta_warmup_fraction: float = 0.0
    beta_start: float = 1e-3
    allow_negative_beta: bool = False

    def __post_init__(self):
        for name in (
            "lambda_pred",
            "beta_12",
            "beta_21",
            "temperature",
            "beta_warmup_fraction",
            "beta_start",
        ):
            _check_finite_number(name, getattr(self, name))
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0 <= self.beta_warmup_fraction <= 1:
            raise ValueError(f"beta_warmup_fraction must be in [0, 1], got {self.beta_warmup_fraction}")
        if self.beta_start <= 0:
            raise ValueError(f"beta_start must be > 0, got {self.beta_start}")
        for name in ("beta_12", "beta_21"):
            if getattr(self, name) < 0 and not self.allow_negative_beta:
                raise ValueError(
                    f"{name} = {getattr(self, name)} is negative: that rewards the KL upper bound, which "
                    "is unbounded; pass allow_negative_beta=True (--allow-negative-beta) to run it anyway"
                )

    def betas_at(self, progress: float) -> tuple[float, float]:
        """(beta_12, beta_21) at training progress in [0, 1]."""
        return (
            exponential_warmup(self.beta_12, progress, self.beta_warmup_fraction, self.beta_start),
            exponential_warmup(self.beta_21, progress, self.beta_warmup_fraction, self.beta_start),
        )

    def with_overrides(self, **overrides) -> LossPreset:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def exponential_warmup(final: float, progress: float, warmup_fraction: float, start: float) -> float:
    """start * (final/start)^(progress/warmup_fraction) during warm-up, then `final`.

    Only ramps up (0 < start < final); otherwise returns `final` unchanged.
    """
    if warmup_fraction <= 0 or progress >= warmup_fraction or not 0 < start < final:
        return final
    return start * (final / start) ** (progress / warmup_fraction)


# beta values are placeholders for what the sweep (results/) selects: the paper's are unknown.
PRESETS: dict[str, LossPreset] = {
    "simclr": LossPreset("simclr"),
    "mib": LossPreset("mib", beta_12=1e-2, beta_21=1e-2, beta_warmup_fraction=0.5, beta_start=1e-3),
    "superinfo": LossPreset("superinfo", beta_12=1e-3, beta_21=1e-3),
}
