"""A synthetic multi-view set whose kinds of information are separate and measurable, and a
CPU-fast SuperInfo trainer on it.

Each sample x has a shared class s (8 values) and a task attribute r (binary, independent
of s). Each view k shows s; it shows r only with probability `reveal_prob` (0.9), independently
per view (as colour survives a random grayscale), and a view that hides r carries no trace
of it. Each view also carries its own nuisance n_k (`nuisance_bits` coin flips drawn afresh
per view, like augmentation parameters). The downstream label is y = 2 s + r (16 classes).
For the representation of view 1:

    shared s          both views show it      task-relevant   InfoNCE keeps it
    r, where view 2   only view 1 has it      task-relevant   InfoNCE has a reason to keep r (both
      hides it        (non-shared)                            views show it in 81% of pairs); the
                                                              KL charges it only in the 18% of
                                                              pairs where exactly one view hides it
    nuisance n1       never shared            useless         nothing keeps it on purpose; the KL
                                                              charges it on every pair

`probe_toy` measures each on held-out rows with ridge-classifier probes on mu(v1): shared
(accuracy on s), specific_beyond_shared (accuracy on r over the rows where view 1 shows r and
view 2 hides it; r is independent of s, so all of it lies beyond what s explains), nuisance
(mean accuracy over view 1's nuisance bits), and the downstream accuracy on y with
`FEW_LABELS` labels per class and with every training label.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .losses import LossPreset
from .models import GaussianHead, projector
from .probes import fit_ridge
from .step import training_step

NUM_SHARED, NUM_SPECIFIC = 8, 2
NUM_LABELS = NUM_SHARED * NUM_SPECIFIC  # y = 2 s + r
# What probe_toy reports, in the order figures show it, and what a guess scores on each.
MEASURES = ("shared", "specific_beyond_shared", "nuisance", "few_label_acc", "full_label_acc")
CHANCE = {
    "shared": 1 / NUM_SHARED,
    "specific_beyond_shared": 1 / NUM_SPECIFIC,
    "nuisance": 0.5,
    "few_label_acc": 1 / NUM_LABELS,
    "full_label_acc": 1 / NUM_LABELS,
}
FEW_LABELS = 5  # labels per class of y for the few-label probe
FEW_LABEL_DRAWS = 5  # independent draws of those labels, averaged
RIDGE = 1e-2  # ridge penalty of every probe (per training row, on standardised features)


@dataclass
class MultiViewData:
    """v1, v2: (N, D) views. shared, specific, label: (N,) int64 properties of each sample;
    shows1, shows2: (N,) bool, whether view 1 / view 2 shows r; nuisance1, nuisance2: (N, B)
    int64 nuisance bits of each view."""

    v1: torch.Tensor
    v2: torch.Tensor
    shared: torch.Tensor
    specific: torch.Tensor
    label: torch.Tensor
    shows1: torch.Tensor
    shows2: torch.Tensor
    nuisance1: torch.Tensor
    nuisance2: torch.Tensor


def make_multiview(
    n: int = 16384,
    dim: int = 32,
    reveal_prob: float = 0.9,
    nuisance_bits: int = 2,
    nuisance_scale: float = 2.0,
    noise: float = 0.3,
    seed: int = 0,
) -> MultiViewData:
    """Draw n samples; both views pass their factors through one fixed random mixing to `dim` dims.

    A view's factors: a code of s (8 dims), r as +-1 where shown and 0 where hidden (1 dim),
    and its nuisance bits as +-nuisance_scale (nuisance_bits dims); then tanh and noise.
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if not 0 <= reveal_prob <= 1:
        raise ValueError(f"reveal_prob must be in [0, 1], got {reveal_prob}")
    if nuisance_bits < 1:
        raise ValueError(f"nuisance_bits must be >= 1, got {nuisance_bits}")
    g = torch.Generator().manual_seed(seed)
    shared = torch.randint(NUM_SHARED, (n,), generator=g)
    specific = torch.randint(NUM_SPECIFIC, (n,), generator=g)
    shows1, shows2 = (torch.rand(n, generator=g) < reveal_prob for _ in range(2))
    nuisance1, nuisance2 = (torch.randint(2, (n, nuisance_bits), generator=g) for _ in range(2))
    class_codes = torch.randn(NUM_SHARED, 8, generator=g)
    mixing = torch.randn(8 + 1 + nuisance_bits, dim, generator=g) / math.sqrt(9 + nuisance_bits)
    bias = torch.randn(dim, generator=g) * 0.1

    def view(shows, nuisance):
        r = torch.where(shows, (2 * specific - 1).float(), torch.zeros(n))
        factors = torch.cat([class_codes[shared], r[:, None], nuisance_scale * (2 * nuisance - 1).float()], 1)
        return torch.tanh(factors @ mixing + bias) + noise * torch.randn(n, dim, generator=g)

    return MultiViewData(
        view(shows1, nuisance1),
        view(shows2, nuisance2),
        shared,
        specific,
        NUM_SPECIFIC * shared + specific,
        shows1,
        shows2,
        nuisance1,
        nuisance2,
    )


class ToyEncoder(nn.Module):
    """MLP (B, D) -> Gaussian head (B, K) -> projector (B, 32)."""

    def __init__(self, in_dim: int, latent_dim: int = 16, hidden: int = 64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = GaussianHead(hidden, latent_dim)
        self.projector = projector(latent_dim, hidden, 32)

    def forward(self, v: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """As SuperInfoModel: {"mu", "logvar": (B, K), "p": (B, 32)}, z sampled with `generator`."""
        mu, logvar = self.head(self.body(v))
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
        return {"mu": mu, "logvar": logvar, "p": self.projector(z)}


def ridge_probe_accuracy(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    num_classes: int,
    ridge: float = RIDGE,
) -> float:
    """Held-out accuracy of a ridge classifier (one-hot targets, closed form) on standardised x."""
    if len(test_y) == 0:
        raise ValueError("test_y is empty: no rows to score the probe on")
    predict = fit_ridge(train_x, F.one_hot(train_y, num_classes), ridge)
    return (predict(test_x).argmax(1) == test_y).double().mean().item()


def few_label_rows(
    label: torch.Tensor, per_class: int, num_classes: int, generator: torch.Generator
) -> torch.Tensor:
    """Indices of `per_class` random rows of each class (fewer where a class has fewer rows)."""
    picks = [torch.nonzero(label == c).flatten() for c in range(num_classes)]
    return torch.cat([rows[torch.randperm(len(rows), generator=generator)[:per_class]] for rows in picks])


def probe_toy(
    mu: torch.Tensor,
    data: MultiViewData,
    train: torch.Tensor,
    test: torch.Tensor,
    few_labels: int = FEW_LABELS,
    draws: int = FEW_LABEL_DRAWS,
    seed: int = 0,
) -> dict[str, float]:
    """Every measure of MEASURES for the representation mu (N, K) of view 1.

    train, test: (M,) row indices; the probes fit on `train` rows and score `test` rows.
    specific_beyond_shared scores only the test rows where view 1 shows r and view 2 hides
    it (its probe fits on the train rows where view 1 shows r); few_label_acc averages
    `draws` draws of `few_labels` training rows per class of y.
    """
    d = data
    out = {"shared": ridge_probe_accuracy(mu[train], d.shared[train], mu[test], d.shared[test], NUM_SHARED)}
    fit = train[d.shows1[train]]
    only1 = test[d.shows1[test] & ~d.shows2[test]]
    out["specific_beyond_shared"] = ridge_probe_accuracy(
        mu[fit], d.specific[fit], mu[only1], d.specific[only1], NUM_SPECIFIC
    )
    bits = d.nuisance1.shape[1]
    n1 = d.nuisance1
    out["nuisance"] = (
        sum(ridge_probe_accuracy(mu[train], n1[train, b], mu[test], n1[test, b], 2) for b in range(bits))
        / bits
    )

    def label_accuracy(rows):
        return ridge_probe_accuracy(mu[rows], d.label[rows], mu[test], d.label[test], NUM_LABELS)

    g = torch.Generator().manual_seed(seed)
    few = [train[few_label_rows(d.label[train], few_labels, NUM_LABELS, g)] for _ in range(draws)]
    out["few_label_acc"] = sum(label_accuracy(rows) for rows in few) / draws
    out["full_label_acc"] = label_accuracy(train)
    return out


def split_rows(n: int, n_holdout: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train, validation, test) row indices: the last n_holdout rows, halved, are held out."""
    if not 2 <= n_holdout < n:
        raise ValueError(f"n_holdout must be in [2, n), got {n_holdout} for n = {n}")
    n_train, n_val = n - n_holdout, n_holdout // 2
    rows = torch.arange(n)
    return rows[:n_train], rows[n_train : n_train + n_val], rows[n_train + n_val :]


def information_ceiling(mu: torch.Tensor, logvar: torch.Tensor) -> float:
    """An upper bound, in nats, on I(v; z) for z = mu(v) + exp(logvar(v) / 2) * eps, from rows of
    mu, logvar (N, K): sum_k 1/2 log Var(z_k) - 1/2 E logvar_k. (h(z) is at most the sum of
    Gaussian entropies with the same variances; h(z | v) is Gaussian.) It also bounds the
    superfluous part I(v1; z1 | v2) <= I(v1; z1)."""
    var_z = mu.double().var(0) + logvar.double().exp().mean(0)
    return (0.5 * var_z.log() - 0.5 * logvar.double().mean(0)).sum().item()


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
    """history: per-step lists of every loss term; probes: every measure of MEASURES on the
    test rows, validation: the same on the validation rows; sigma: (K,) median over held-out
    rows of view 1's encoder standard deviation exp(logvar / 2) per latent dimension;
    info_ceiling: `information_ceiling` of view 1 on the held-out rows (nats);
    diverged_at: the step the loss became non-finite, if it did."""

    settings: dict
    history: dict[str, list[float]] = field(default_factory=dict)
    probes: dict[str, float] = field(default_factory=dict)
    validation: dict[str, float] = field(default_factory=dict)
    sigma: list[float] = field(default_factory=list)
    info_ceiling: float = float("nan")
    diverged_at: int | None = None

    def final(self, term: str) -> float:
        return self.history[term][-1] if self.history.get(term) else float("nan")


def _train_steps(
    model: ToyEncoder,
    data: MultiViewData,
    train: torch.Tensor,
    result: ToyResult,
    preset: LossPreset,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    callback: Callable[[int, int], None] | None,
) -> None:
    """Adam, the trainer's step (superinfo_lib.step) on random batches of the train rows; fills
    result.history, and stops at the first non-finite loss."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(steps):
        idx = train[torch.randint(len(train), (batch_size,), generator=g)]
        views = torch.cat([data.v1[idx], data.v2[idx]])  # one pass, shared BN statistics
        terms = training_step(model, opt, views, preset, generator=g)
        if not torch.isfinite(terms["loss"]):
            result.diverged_at = step
            return
        for k, v in terms.items():
            result.history[k].append(float(v.detach()))
        if callback is not None:
            callback(step + 1, steps)


def train_toy(
    lambda_pred: float = 1.0,
    beta_12: float = 0.0,
    beta_21: float = 0.0,
    temperature: float = 0.2,
    latent_dim: int = 16,
    steps: int = 200,
    batch_size: int = 256,
    lr: float = 3e-3,
    seed: int = 0,
    allow_negative_beta: bool = False,
    data: MultiViewData | None = None,
    n_holdout: int = 8192,
    callback: Callable[[int, int], None] | None = None,
    num_threads: int = 1,
) -> ToyResult:
    """Train a ToyEncoder with the SuperInfo loss (superinfo_lib.step) on the multi-view set, then
    measure it (probe_toy).

    The encoder trains on every row but the last n_holdout, without labels; the probes fit
    on those training rows and score the held-out rows (first half: validation, second:
    test). The same arguments and seed give the same result (it runs on `num_threads` torch
    threads, restored afterwards: float sums depend on the count). A diverging run (possible
    with a negative beta) stops and reports the step instead of raising. `callback(steps_done,
    steps)`, if given, is called after every step (progress bars); it does not change the result.
    """
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    settings = dict(
        lambda_pred=lambda_pred,
        beta_12=beta_12,
        beta_21=beta_21,
        temperature=temperature,
        latent_dim=latent_dim,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
    )
    preset = LossPreset(
        "toy",
        lambda_pred=lambda_pred,
        beta_12=beta_12,
        beta_21=beta_21,
        temperature=temperature,
        allow_negative_beta=allow_negative_beta,
    )
    with torch_threads(num_threads):
        data = data or make_multiview(seed=1000 + seed)
        train, val, test = split_rows(len(data.v1), n_holdout)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = ToyEncoder(data.v1.shape[1], latent_dim)
        result = ToyResult(settings, {k: [] for k in ("loss", "nce", "kl_12", "kl_21", "mi_lower_bound")})
        _train_steps(model, data, train, result, preset, steps, batch_size, lr, seed, callback)
        model.eval()
        with torch.no_grad():
            out = model(data.v1)
            mu, logvar = out["mu"], out["logvar"]
        if not (torch.isfinite(mu).all() and torch.isfinite(logvar).all()):
            result.probes = result.validation = {k: float("nan") for k in MEASURES}
            return result
        held_out = torch.cat([val, test])
        result.sigma = (0.5 * logvar[held_out]).exp().median(0).values.tolist()
        result.info_ceiling = information_ceiling(mu[held_out], logvar[held_out])
        result.probes = probe_toy(mu, data, train, test, seed=seed)
        result.validation = probe_toy(mu, data, train, val, seed=seed)
        return result


# ----------------------------------------------------------------------------- sweeps over beta


def sweep_row(beta_12: float, beta_21: float, seed: int, steps: int, **kwargs) -> dict:
    """One (beta_12, beta_21, seed) run as a flat row: every measure on the test rows, the
    same on the validation rows ("val_<measure>"), the final loss terms and the median sigma."""
    r = train_toy(beta_12=beta_12, beta_21=beta_21, steps=steps, seed=seed, **kwargs)
    row = {
        "beta_12": beta_12,
        "beta_21": beta_21,
        "seed": seed,
        **r.probes,
        **{f"val_{k}": v for k, v in r.validation.items()},
        **{f"final_{k}": r.final(k) for k in ("nce", "kl_12", "kl_21", "mi_lower_bound")},
        "sigma_median": float(torch.tensor(r.sigma).median()) if r.sigma else float("nan"),
        "info_ceiling": r.info_ceiling,
        "diverged_at": r.diverged_at,
    }
    return row


def seed_values(rows: list[dict], key: str, beta_12: float, beta_21: float) -> list[float]:
    """rows[key] of every seed run at (beta_12, beta_21), in row order."""
    values = [float(r[key]) for r in rows if (r["beta_12"], r["beta_21"]) == (beta_12, beta_21)]
    if not values:
        raise ValueError(f"no rows for beta_12={beta_12}, beta_21={beta_21}")
    return values


def seed_mean(rows: list[dict], key: str, beta_12: float, beta_21: float) -> float:
    values = seed_values(rows, key, beta_12, beta_21)
    return sum(values) / len(values)


def excess_lost(rows: list[dict], key: str, beta: float) -> float:
    """The fraction of its excess over chance at beta = 0 that measure `key` has lost at the
    symmetric beta (means over seeds): 0 = all kept, 1 = down to chance."""
    chance = CHANCE[key]
    return 1 - (seed_mean(rows, key, beta, beta) - chance) / (seed_mean(rows, key, 0.0, 0.0) - chance)


def pick_beta_on_validation(rows: list[dict], key: str = "few_label_acc") -> float:
    """The symmetric beta with the best mean validation score of `key` (the test rows stay unseen)."""
    betas = sorted({r["beta_12"] for r in rows if r["beta_12"] == r["beta_21"]})
    return max(betas, key=lambda b: seed_mean(rows, f"val_{key}", b, b))


def summary_table(rows: list[dict], pairs: list[tuple[float, float]], keys=MEASURES) -> str:
    """A text table: one line per (beta_12, beta_21) pair, mean ± sd over seeds of each key."""

    def cell(values):
        t = torch.tensor(values, dtype=torch.float64)
        mean, sd = t.mean().item(), t.std().item() if len(t) > 1 else 0.0
        return f"{mean:.3f} ± {sd:.3f}" if abs(mean) < 100 else f"{mean:.3g} ± {sd:.2g}"

    width = max(max(len(k) for k in keys), 15) + 2
    lines = ["beta_12 / beta_21".ljust(20) + "".join(k.rjust(width) for k in keys)]
    for b12, b21 in pairs:
        lines.append(
            f"{b12:g} / {b21:g}".ljust(20)
            + "".join(cell(seed_values(rows, k, b12, b21)).rjust(width) for k in keys)
        )
    return "\n".join(lines)
