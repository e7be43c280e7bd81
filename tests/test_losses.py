"""superinfo_lib.losses: parity with naive references, gradients, analytic values, bad input."""

import math

import pytest
import torch
import torch.nn as nn

from superinfo_lib.losses import PRESETS, exponential_warmup, gaussian_kl, info_nce, superinfo_loss
from superinfo_lib.models import GaussianHead, projector


def naive_info_nce(p1, p2, temperature):
    """NT-Xent written anchor by anchor, straight from its definition."""
    z = torch.cat([p1, p2]).double()
    z = z / z.norm(dim=1, keepdim=True)
    n2 = len(z)
    losses = []
    for a in range(n2):
        positive = (a + n2 // 2) % n2
        sims = [float(z[a] @ z[j]) / temperature for j in range(n2)]
        denominator = sum(math.exp(s) for j, s in enumerate(sims) if j != a)
        losses.append(-math.log(math.exp(sims[positive]) / denominator))
    return sum(losses) / n2


@pytest.mark.parametrize("n,d,temperature", [(2, 3, 1.0), (5, 8, 0.5), (16, 4, 0.1), (7, 32, 0.2)])
def test_info_nce_matches_naive_loop(n, d, temperature):
    g = torch.Generator().manual_seed(n * 100 + d)
    p1, p2 = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    assert info_nce(p1, p2, temperature).item() == pytest.approx(
        naive_info_nce(p1, p2, temperature), rel=1e-5
    )


def test_info_nce_is_symmetric_in_views():
    p1, p2 = torch.randn(6, 5), torch.randn(6, 5)
    assert torch.allclose(info_nce(p1, p2, 0.5), info_nce(p2, p1, 0.5))


@pytest.mark.parametrize("n", [8, 64, 256])
def test_info_nce_near_log_2n_minus_1_at_random_init(n):
    # Unrelated high-dimensional directions have cosine ~ 0, so every candidate scores alike.
    p1, p2 = torch.randn(n, 2048), torch.randn(n, 2048)
    assert info_nce(p1, p2, 1.0).item() == pytest.approx(math.log(2 * n - 1), abs=0.05)


def test_info_nce_is_low_for_aligned_pairs():
    p = torch.randn(32, 16)
    assert info_nce(p, p, 0.1).item() < info_nce(p, torch.randn(32, 16), 0.1).item() - 1.0


def test_info_nce_gradcheck_float64():
    p1 = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    p2 = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: info_nce(a, b, 0.5), (p1, p2))


def random_gaussians(seed, n=6, k=5, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, k, generator=g, dtype=dtype) * s for s in (2.0, 1.5, 2.0, 1.5)]


@pytest.mark.parametrize("seed", range(5))
def test_gaussian_kl_matches_torch_distributions(seed):
    mu_a, lv_a, mu_b, lv_b = random_gaussians(seed, dtype=torch.float64)
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu_a, (0.5 * lv_a).exp()),
        torch.distributions.Normal(mu_b, (0.5 * lv_b).exp()),
    ).sum(-1)
    out = gaussian_kl(mu_a, lv_a, mu_b, lv_b)
    assert out.shape == (6,)
    assert torch.allclose(out, ref, rtol=1e-10, atol=1e-10)


def test_gaussian_kl_zero_for_identical_inputs():
    mu, lv = torch.randn(10, 7), torch.randn(10, 7) * 3
    assert torch.equal(gaussian_kl(mu, lv, mu, lv), torch.zeros(10))


def test_gaussian_kl_never_negative():
    for seed in range(200):
        mu_a, lv_a, mu_b, lv_b = random_gaussians(seed)
        # Every third case is nearly identical: the closed form cancels there.
        if seed % 3 == 0:
            mu_b, lv_b = mu_a + 1e-4 * mu_b, lv_a + 1e-4 * lv_b
        assert (gaussian_kl(mu_a, lv_a, mu_b, lv_b) >= 0).all(), f"seed {seed}"


def test_gaussian_kl_gradcheck_float64():
    inputs = tuple(t.requires_grad_() for t in random_gaussians(0, n=3, k=4, dtype=torch.float64))
    assert torch.autograd.gradcheck(gaussian_kl, inputs)


def test_gaussian_kl_float32_under_bf16_autocast():
    mu_a, lv_a, mu_b, lv_b = (t.to(torch.bfloat16) for t in random_gaussians(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = gaussian_kl(mu_a, lv_a, mu_b, lv_b)
    assert out.dtype == torch.float32
    ref = gaussian_kl(*(t.float() for t in (mu_a, lv_a, mu_b, lv_b)))
    assert torch.allclose(out, ref)


def loss_inputs(n=8, d=6, k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, dim, generator=g) for dim in (d, d, k, k, k, k)]


def test_superinfo_loss_total_and_terms():
    p1, p2, mu1, lv1, mu2, lv2 = loss_inputs()
    out = superinfo_loss(
        p1, p2, mu1, lv1, mu2, lv2, lambda_pred=0.7, beta_12=0.3, beta_21=0.05, temperature=0.4
    )
    assert set(out) == {"loss", "nce", "kl_12", "kl_21", "mi_lower_bound"}
    assert torch.allclose(out["nce"], info_nce(p1, p2, 0.4))
    assert torch.allclose(out["kl_12"], gaussian_kl(mu1, lv1, mu2, lv2).mean())
    assert torch.allclose(out["kl_21"], gaussian_kl(mu2, lv2, mu1, lv1).mean())
    assert not torch.allclose(out["kl_12"], out["kl_21"])  # KL is not symmetric: both directions matter
    assert torch.allclose(out["loss"], 0.7 * out["nce"] + 0.3 * out["kl_12"] + 0.05 * out["kl_21"])
    assert out["mi_lower_bound"].item() == pytest.approx(math.log(2 * 8 - 1) - out["nce"].item(), rel=1e-6)


@pytest.mark.parametrize("name", ["beta_12", "beta_21"])
def test_negative_beta_needs_opt_in(name):
    args = loss_inputs()
    with pytest.raises(ValueError, match=name):
        superinfo_loss(*args, **{name: -1e-3})
    out = superinfo_loss(*args, **{name: -1e-3}, allow_negative_beta=True)
    kl = out["kl_12"] if name == "beta_12" else out["kl_21"]
    assert torch.allclose(out["loss"], out["nce"] - 1e-3 * kl)


# ----------------------------------------------------------------------------- bad input


def test_bad_input_names_the_argument():
    p1, p2, mu1, lv1, mu2, lv2 = loss_inputs()
    with pytest.raises(ValueError, match="p1 and p2"):
        info_nce(p1, p2[:5], 0.5)
    with pytest.raises(ValueError, match="p1"):
        info_nce(p1[0], p2[0], 0.5)  # not (N, D)
    for bad in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            info_nce(p1, p2, bad)
    with pytest.raises(ValueError, match="empty"):
        info_nce(p1[:0], p2[:0], 0.5)
    nan_p2 = p2.clone()
    nan_p2[3, 1] = float("nan")
    with pytest.raises(ValueError, match="p2"):
        info_nce(p1, nan_p2, 0.5)
    inf_lv = lv2.clone()
    inf_lv[0, 0] = float("inf")
    with pytest.raises(ValueError, match="logvar_b"):
        gaussian_kl(mu1, lv1, mu2, inf_lv)
    with pytest.raises(ValueError, match="mu_a and logvar_a"):
        gaussian_kl(mu1, lv1[:, :3], mu2, lv2[:, :3])
    with pytest.raises(ValueError, match="mu_a and mu_b"):
        gaussian_kl(mu1, lv1, mu2[:4], lv2)
    for name in ("lambda_pred", "beta_12", "beta_21", "temperature"):
        with pytest.raises(ValueError, match=name):
            superinfo_loss(p1, p2, mu1, lv1, mu2, lv2, **{name: float("nan")})


def test_check_finite_off_skips_only_the_nan_check():
    """The trainer's path (no host sync): same values on finite input, NaN propagates instead of raising."""
    args = loss_inputs()
    checked = superinfo_loss(*args, beta_12=0.1, beta_21=0.2)
    unchecked = superinfo_loss(*args, beta_12=0.1, beta_21=0.2, check_finite=False)
    for key in checked:
        assert torch.equal(torch.as_tensor(checked[key]), torch.as_tensor(unchecked[key])), key
    p1, p2, mu1, lv1, mu2, lv2 = args
    nan_mu2 = mu2.clone()
    nan_mu2[0, 0] = float("nan")
    out = superinfo_loss(p1, p2, mu1, lv1, nan_mu2, lv2, beta_12=0.1, check_finite=False)
    assert torch.isnan(out["loss"])
    with pytest.raises(ValueError, match="p1 and p2"):  # shapes are still checked
        superinfo_loss(p1, p2[:3], mu1, lv1, mu2, lv2, check_finite=False)


# ----------------------------------------------------------------------------- presets and warm-up


def test_exponential_warmup_analytic():
    start, final, fraction = 1e-3, 1e-1, 0.5
    assert exponential_warmup(final, 0.0, fraction, start) == pytest.approx(start)
    assert exponential_warmup(final, fraction / 2, fraction, start) == pytest.approx(math.sqrt(start * final))
    for progress in (fraction, 0.75, 1.0):
        assert exponential_warmup(final, progress, fraction, start) == final
    ramp = [exponential_warmup(final, p / 100, fraction, start) for p in range(51)]
    assert all(a < b for a, b in zip(ramp, ramp[1:]))
    # No warm-up, or nothing to ramp up to: the final value throughout.
    assert exponential_warmup(final, 0.0, 0.0, start) == final
    assert exponential_warmup(0.0, 0.1, fraction, start) == 0.0
    assert exponential_warmup(1e-4, 0.1, fraction, start) == 1e-4


def test_preset_betas_at():
    mib = PRESETS["mib"]
    assert mib.betas_at(0.0) == pytest.approx((mib.beta_start, mib.beta_start))
    assert mib.betas_at(1.0) == (mib.beta_12, mib.beta_21)
    assert PRESETS["simclr"].betas_at(0.3) == (0.0, 0.0)
    superinfo = PRESETS["superinfo"]
    assert superinfo.betas_at(0.0) == (superinfo.beta_12, superinfo.beta_21)
    assert superinfo.with_overrides(beta_12=0.5, beta_21=None).beta_21 == superinfo.beta_21


class TinyEncoder(nn.Module):
    def __init__(self, in_dim=16, hidden=64, latent=16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU())
        self.head = GaussianHead(hidden, latent)
        self.projector = projector(latent, 64, 32)

    def forward(self, x, generator):
        mu, logvar = self.head(self.body(x))
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator)
        return mu, logvar, self.projector(z)


@pytest.mark.parametrize("preset_name", sorted(PRESETS))
def test_each_preset_loss_decreases(preset_name):
    preset = PRESETS[preset_name]
    torch.manual_seed(0)
    base = torch.randn(64, 16)
    x1, x2 = base + 0.3 * torch.randn(64, 16), base + 0.3 * torch.randn(64, 16)
    model = TinyEncoder()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    steps = 20

    def objective(betas):
        # The same noise each time, so the objective is a fixed function of the weights.
        mu, lv, p = model(torch.cat([x1, x2]), torch.Generator().manual_seed(1))
        (mu1, mu2), (lv1, lv2), (p1, p2) = mu.chunk(2), lv.chunk(2), p.chunk(2)
        return superinfo_loss(
            p1,
            p2,
            mu1,
            lv1,
            mu2,
            lv2,
            lambda_pred=preset.lambda_pred,
            beta_12=betas[0],
            beta_21=betas[1],
            temperature=preset.temperature,
        )

    final_betas = preset.betas_at(1.0)
    with torch.no_grad():
        before = objective(final_betas)["loss"].item()
    for step in range(steps):
        loss = objective(preset.betas_at(step / steps))["loss"]  # MIB ramps its betas up here
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = objective(final_betas)
    assert after["loss"].item() < before - 0.1, (before, after["loss"].item())


@pytest.mark.parametrize(
    "changes,name",
    [
        (dict(temperature=0.0), "temperature"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(beta_12=-1e-3), "beta_12"),
        (dict(beta_21=float("inf")), "beta_21"),
        (dict(beta_warmup_fraction=1.5), "beta_warmup_fraction"),
        (dict(beta_start=0.0), "beta_start"),
    ],
)
def test_preset_checks_every_coefficient_once(changes, name):
    with pytest.raises(ValueError, match=name):
        PRESETS["superinfo"].with_overrides(**changes)
    assert PRESETS["superinfo"].with_overrides(beta_12=-1e-3, allow_negative_beta=True).beta_12 == -1e-3
