"""A jointly Gaussian two-view model where the superfluous information has a closed form.

    x ~ N(0, 1),   v_k = x + view_noise * eps_k   (k = 1, 2),   q(z | v) = N(gain * v, encoder_std^2)

per dimension (dimensions are independent, so every quantity below is per dimension and
adds up over them). With V = Var(v1 | v2) = 1 + s^2 - 1 / (1 + s^2), s = view_noise:

    true superfluous information   I(v1; z1 | v2)              = 1/2 log(1 + gain^2 V / encoder_std^2)
    MIB's upper bound              E KL(q(z|v1) || q(z|v2))    = gain^2 s^2 / encoder_std^2
    their difference               E KL(p(z1|v2) || q(z|v2))   >= 0

where p(z1 | v2) = N(gain v2 / (1 + s^2), gain^2 V + encoder_std^2) is the true conditional
and q(z | v2) is the encoder applied to v2. The truth grows like log(1 / encoder_std), the
bound like 1 / encoder_std^2: a shrinking sigma inflates the bound far faster than the
information it bounds.
"""

from __future__ import annotations

import math

import torch

from .losses import gaussian_kl


def _check(view_noise: float, gain: float, encoder_std: float) -> None:
    for name, value in (("view_noise", view_noise), ("encoder_std", encoder_std)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if not (isinstance(gain, (int, float)) and math.isfinite(gain)):
        raise ValueError(f"gain must be a finite number, got {gain!r}")


def view_conditional_variance(view_noise: float) -> float:
    """Var(v1 | v2) = Var(v) - Cov(v1, v2)^2 / Var(v) with Var(v) = 1 + view_noise^2, Cov = 1."""
    var = 1 + view_noise**2
    return var - 1 / var


def superfluous_information(view_noise: float, gain: float, encoder_std: float) -> float:
    """I(v1; z1 | v2) in nats per dimension: h(z1 | v2) - h(z1 | v1), both Gaussian."""
    _check(view_noise, gain, encoder_std)
    return 0.5 * math.log1p(gain**2 * view_conditional_variance(view_noise) / encoder_std**2)


def kl_bound(view_noise: float, gain: float, encoder_std: float) -> float:
    """E KL(q(z|v1) || q(z|v2)) in nats per dimension: equal variances, so the mean gap
    gain (v1 - v2) squared over 2 encoder_std^2, and E (v1 - v2)^2 = 2 view_noise^2."""
    _check(view_noise, gain, encoder_std)
    return gain**2 * view_noise**2 / encoder_std**2


def bound_gap(view_noise: float, gain: float, encoder_std: float) -> float:
    """E_v2 KL(p(z1|v2) || q(z|v2)): how much the bound exceeds the truth, computed on its own."""
    _check(view_noise, gain, encoder_std)
    var_v = 1 + view_noise**2
    true_var = gain**2 * view_conditional_variance(view_noise) + encoder_std**2
    mean_gap_sq = gain**2 * (1 - 1 / var_v) ** 2 * var_v  # E (gain v2 / var_v - gain v2)^2
    return 0.5 * (math.log(encoder_std**2 / true_var) + (true_var + mean_gap_sq) / encoder_std**2 - 1)


def sample_views(
    n: int, dim: int, view_noise: float, gain: float, encoder_std: float, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """n draws of the model in float64: x, v1, v2, z1 (a sample of q(z | v1)), each (n, dim)."""
    _check(view_noise, gain, encoder_std)
    if n < 2 or dim < 1:
        raise ValueError(f"n must be >= 2 and dim >= 1, got n={n}, dim={dim}")
    x = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    v1 = x + view_noise * torch.randn(n, dim, generator=generator, dtype=torch.float64)
    v2 = x + view_noise * torch.randn(n, dim, generator=generator, dtype=torch.float64)
    z1 = gain * v1 + encoder_std * torch.randn(n, dim, generator=generator, dtype=torch.float64)
    return {"x": x, "v1": v1, "v2": v2, "z1": z1}


def monte_carlo_kl_bound(
    samples: dict[str, torch.Tensor], gain: float, encoder_std: float
) -> tuple[float, float]:
    """(mean, standard error) over the samples of KL(q(z|v1) || q(z|v2)), summed over dimensions,
    computed with the library's `gaussian_kl` (the same function as the training loss)."""
    v1, v2 = samples["v1"], samples["v2"]
    logvar = torch.full_like(v1, 2 * math.log(encoder_std))
    kl = gaussian_kl(gain * v1, logvar, gain * v2, logvar)  # (n,)
    return kl.mean().item(), (kl.std() / math.sqrt(len(kl))).item()


def sample_covariance_mi(samples: dict[str, torch.Tensor]) -> float:
    """I(v1; z1 | v2) estimated from the samples' covariance, summed over dimensions:
    1/2 log(Var(z1 | v2) / Var(z1 | v1, v2)), each conditional variance a Schur complement of
    the empirical covariance of (z1, v1, v2) in that dimension. Exact for Gaussians as n grows;
    it shares no formula with `superfluous_information`."""
    total = 0.0
    for k in range(samples["z1"].shape[1]):
        data = torch.stack([samples["z1"][:, k], samples["v1"][:, k], samples["v2"][:, k]])
        c = torch.cov(data)

        def conditional_var(given: list[int], c=c) -> float:
            cross = c[0, given]
            return (c[0, 0] - cross @ torch.linalg.solve(c[given][:, given], cross)).item()

        total += 0.5 * math.log(conditional_var([2]) / conditional_var([1, 2]))
    return total
