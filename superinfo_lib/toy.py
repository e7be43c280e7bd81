"""A synthetic multi-view set whose kinds of information are separate and measurable, and a
CPU-fast SuperInfo trainer on it.

Each sample x has a shared class s (8 values) and three binary attributes, each independent
of the rest: a task attribute r, a task attribute t and a task-irrelevant attribute q. Each
view k shows s. It shows r only with probability `reveal_prob` (0.9), independently per view
(as colour survives a random grayscale), and a view that hides r carries no trace of it; q has
exactly r's reveal pattern. t is shown by exactly one view of each pair (a coin picks which).
Each view also carries its own nuisance n_k (`nuisance_bits` coin flips drawn afresh per view,
like augmentation parameters). The downstream label is y = 4 s + 2 r + t (32 classes). For the
representation of view 1:

    measure                 what it reads     shared with view 2        useful for y
    shared                  s                 always                    yes
    r_mostly_shared         r                 in 81% of pairs           yes
    partly_shared_nuisance  q                 in 81% of pairs (as r)    no
    never_shared_task       t                 never                     yes
    nuisance                n1                never                     no

r and q differ only in usefulness, t and n1 likewise: a penalty that keeps r and drops t
decides by how often information is shared, not by whether it is useful. (The KL charges a
per-view nuisance bit only where the two views' bits differ, in half the pairs; r and q in
the 18% of pairs where exactly one view hides them; t in every pair.)

`probe_toy` measures each on held-out rows, three ways: a ridge classifier on mu(v1) (the
plain key), a kNN classifier on mu(v1) ("<key>_knn") and a kNN classifier on one sample
z = mu + sigma * eps of view 1 ("<key>_z": what the KL bounds is the information in z, and a
kNN also reads what is there non-linearly). r, q and t are scored on the rows where view 1
shows them (view 1's encoder cannot know whether view 2 shows them, so the score on the pairs
where view 2 hides r is the same in expectation); the nuisance as the mean over view 1's bits.
Downstream: the accuracy on y of a ridge classifier on mu with 1 and with `FEW_LABELS` labels
per class, and with every training label.
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
from .study import paired_difference

NUM_SHARED, NUM_SPECIFIC = 8, 2
NUM_LABELS = NUM_SHARED * NUM_SPECIFIC * 2  # y = 4 s + 2 r + t
# What the probes read, in the order figures show it: each is reported on mu by a ridge
# probe (the plain key), on mu by a kNN ("<key>_knn") and on a sample z by a kNN ("<key>_z").
INFO_MEASURES = ("shared", "r_mostly_shared", "partly_shared_nuisance", "never_shared_task", "nuisance")
DOWNSTREAM = ("few_label_acc_1", "few_label_acc", "full_label_acc")
MEASURES = INFO_MEASURES + DOWNSTREAM
PROBES = {"": "ridge on mu", "_knn": "kNN on mu", "_z": "kNN on a sample z"}
# What the course's lesson rests on: the information in a sample z, which the KL bounds, read by
# a non-linear probe; and the downstream accuracy (ridge on mu, as a user would deploy it).
LESSON_MEASURES = tuple(k + "_z" for k in INFO_MEASURES) + DOWNSTREAM
_CHANCE = {"shared": 1 / NUM_SHARED, **{k: 0.5 for k in INFO_MEASURES[1:]}}
# What a guess scores on each key.
CHANCE = {
    **{k + suffix: c for k, c in _CHANCE.items() for suffix in PROBES},
    **{k: 1 / NUM_LABELS for k in DOWNSTREAM},
}
FEW_LABELS = 5  # labels per class of y for the few-label probe (few_label_acc; few_label_acc_1: 1)
FEW_LABEL_DRAWS = 5  # independent draws of those labels, averaged
RIDGE = 1e-2  # ridge penalty of every ridge probe (per training row, on standardised features)
KNN_K = 25  # neighbours of the kNN probes (Euclidean, on standardised features, majority vote)


@dataclass
class MultiViewData:
    """v1, v2: (N, D) views. shared, specific (r), task (t), partly (q), label (y): (N,) int64
    properties of each sample; shows1, shows2: (N,) bool, whether view 1 / view 2 shows r (and
    q); task_shown1: (N,) bool, whether view 1 shows t (view 2 shows it where view 1 does not);
    nuisance1, nuisance2: (N, B) int64 nuisance bits of each view."""

    v1: torch.Tensor
    v2: torch.Tensor
    shared: torch.Tensor
    specific: torch.Tensor
    label: torch.Tensor
    shows1: torch.Tensor
    shows2: torch.Tensor
    nuisance1: torch.Tensor
    nuisance2: torch.Tensor
    task: torch.Tensor
    task_shown1: torch.Tensor
    partly: torch.Tensor


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

    A view's factors: a code of s (8 dims); r, q and t each as +-1 where the view shows them
    and 0 where it hides them (1 dim each); its nuisance bits as +-nuisance_scale
    (nuisance_bits dims); then tanh and noise.
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
    task, partly = (torch.randint(2, (n,), generator=g) for _ in range(2))
    task_shown1 = torch.rand(n, generator=g) < 0.5
    class_codes = torch.randn(NUM_SHARED, 8, generator=g)
    num_factors = 8 + 3 + nuisance_bits
    mixing = torch.randn(num_factors, dim, generator=g) / math.sqrt(num_factors)
    bias = torch.randn(dim, generator=g) * 0.1

    def signed(bit, shown):  # +-1 where the view shows the bit, 0 where it hides it
        return torch.where(shown, (2 * bit - 1).float(), torch.zeros(n))[:, None]

    def view(shows, shows_task, nuisance):
        factors = torch.cat(
            [
                class_codes[shared],
                signed(specific, shows),
                signed(partly, shows),
                signed(task, shows_task),
                nuisance_scale * (2 * nuisance - 1).float(),
            ],
            1,
        )
        return torch.tanh(factors @ mixing + bias) + noise * torch.randn(n, dim, generator=g)

    return MultiViewData(
        view(shows1, task_shown1, nuisance1),
        view(shows2, ~task_shown1, nuisance2),
        shared,
        specific,
        4 * shared + 2 * specific + task,
        shows1,
        shows2,
        nuisance1,
        nuisance2,
        task,
        task_shown1,
        partly,
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


class KnnProbe:
    """A kNN classifier (Euclidean on features standardised by the training rows' mean and sd,
    majority vote of the k nearest) whose neighbours are found once for many labels.

    train_x (N, F), test_x (M, F). `accuracy(train_y, test_y, fit=None, score=None)`: held-out
    accuracy on the test rows `score` (a (M,) bool mask, default all) with neighbours among the
    training rows `fit` (a (N,) bool mask, default all). A mask keeps, of each test row's
    `candidates` nearest training rows, the first k it allows (enough for a mask that allows
    half of the rows: about `candidates` / 2 of them pass)."""

    def __init__(
        self, train_x: torch.Tensor, test_x: torch.Tensor, k: int = KNN_K, candidates: int = 4 * KNN_K
    ):
        mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-12)
        a, b = ((x.float() - mean) / std for x in (train_x, test_x))
        self.k = min(k, len(a))
        self.nearest = torch.cdist(b, a).topk(min(candidates, len(a)), dim=1, largest=False).indices  # (M, C)

    def accuracy(self, train_y, test_y, fit=None, score=None) -> float:
        nearest, y = (self.nearest, test_y) if score is None else (self.nearest[score], test_y[score])
        if len(y) == 0:
            raise ValueError("no test rows to score the kNN probe on")
        allowed = torch.ones_like(nearest, dtype=torch.bool) if fit is None else fit[nearest]
        use = allowed & (allowed.cumsum(1) <= self.k)  # the first k allowed neighbours
        votes = (F.one_hot(train_y[nearest], int(train_y.max()) + 1) * use[..., None]).sum(1)
        return (votes.argmax(1) == y).double().mean().item()


def _info_measures(x, d: MultiViewData, train, test, probe) -> dict[str, float]:
    """INFO_MEASURES of the representation x (N, K) with `probe(fit_rows, score_rows, label,
    num_classes)`."""
    t1 = d.task_shown1
    n1 = d.nuisance1
    bits = n1.shape[1]
    return {
        "shared": probe(train, test, d.shared, NUM_SHARED),
        "r_mostly_shared": probe(train[d.shows1[train]], test[d.shows1[test]], d.specific, 2),
        "partly_shared_nuisance": probe(train[d.shows1[train]], test[d.shows1[test]], d.partly, 2),
        "never_shared_task": probe(train[t1[train]], test[t1[test]], d.task, 2),
        "nuisance": sum(probe(train, test, n1[:, b], 2) for b in range(bits)) / bits,
    }


def probe_toy(
    mu: torch.Tensor,
    data: MultiViewData,
    train: torch.Tensor,
    test: torch.Tensor,
    few_labels: int = FEW_LABELS,
    draws: int = FEW_LABEL_DRAWS,
    seed: int = 0,
    z: torch.Tensor | None = None,
) -> dict[str, float]:
    """Every measure of MEASURES for the representation mu (N, K) of view 1 (ridge probes), and
    given z (N, K), a sample of view 1's posterior, every INFO_MEASURES key again with a kNN on
    mu ("<key>_knn") and on z ("<key>_z").

    train, test: (M,) row indices; the probes fit on `train` rows and score `test` rows. r and q
    are scored on the rows where view 1 shows them (their probes fit on the train rows where it
    does), t likewise; few_label_acc averages `draws` draws of `few_labels` training rows per
    class of y, few_label_acc_1 as many draws of one row per class.
    """
    d = data

    def ridge(fit, score, label, num_classes):
        return ridge_probe_accuracy(mu[fit], label[fit], mu[score], label[score], num_classes)

    out = _info_measures(mu, d, train, test, ridge)
    for suffix, x in (("_knn", mu), ("_z", z)) if z is not None else ():
        knn = KnnProbe(x[train], x[test])
        position = torch.full((len(d.v1),), -1, dtype=torch.long)
        position[train] = torch.arange(len(train))
        position[test] = torch.arange(len(test))

        def knn_probe(fit, score, label, num_classes, knn=knn, position=position):
            fit_mask = torch.zeros(len(train), dtype=torch.bool)
            fit_mask[position[fit]] = True
            score_mask = torch.zeros(len(test), dtype=torch.bool)
            score_mask[position[score]] = True
            return knn.accuracy(label[train], label[test], fit_mask, score_mask)

        out.update({k + suffix: v for k, v in _info_measures(x, d, train, test, knn_probe).items()})

    def label_accuracy(rows):
        return ridge_probe_accuracy(mu[rows], d.label[rows], mu[test], d.label[test], NUM_LABELS)

    g = torch.Generator().manual_seed(seed)
    for key, per_class in (("few_label_acc_1", 1), ("few_label_acc", few_labels)):
        few = [train[few_label_rows(d.label[train], per_class, NUM_LABELS, g)] for _ in range(draws)]
        out[key] = sum(label_accuracy(rows) for rows in few) / draws
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
    """history: per-step lists of every loss term; probes: every measure of `probe_toy` on the
    test rows (ridge on mu, kNN on mu and on a sample z), validation: the ridge measures on the
    validation rows; sigma: (K,) median over held-out
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
    test); steps = 0 measures the encoder at its random initialisation. The same arguments and
    seed give the same result (it runs on `num_threads` torch
    threads, restored afterwards: float sums depend on the count). A diverging run (possible
    with a negative beta) stops and reports the step instead of raising. `callback(steps_done,
    steps)`, if given, is called after every step (progress bars); it does not change the result.
    """
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
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
            result.probes = result.validation = {k: float("nan") for k in CHANCE}
            return result
        held_out = torch.cat([val, test])
        result.sigma = (0.5 * logvar[held_out]).exp().median(0).values.tolist()
        result.info_ceiling = information_ceiling(mu[held_out], logvar[held_out])
        # One sample z per row, as the encoder draws it in training (a generator of its own:
        # the result does not depend on what ran before).
        eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed), dtype=mu.dtype)
        z = mu + (0.5 * logvar).exp() * eps
        result.probes = probe_toy(mu, data, train, test, seed=seed, z=z)
        result.validation = probe_toy(mu, data, train, val, seed=seed)  # what choosing beta needs
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


def summary_table(
    rows: list[dict], pairs: list[tuple[float, float]], keys=MEASURES, headers: dict | None = None
) -> str:
    """A text table: one line per (beta_12, beta_21) pair (one beta where every pair is
    symmetric), mean ± sd over seeds of each key.

    headers: a short column title per key (the key itself where absent). Each column is as wide
    as its title or its cells, whichever is wider, so a table of short titles fits a notebook."""

    def cell(values):
        t = torch.tensor(values, dtype=torch.float64)
        mean, sd = t.mean().item(), t.std().item() if len(t) > 1 else 0.0
        return f"{mean:.3f} ± {sd:.3f}" if abs(mean) < 100 else f"{mean:.3g} ± {sd:.2g}"

    symmetric = all(b12 == b21 for b12, b21 in pairs)
    titles = [(headers or {}).get(k, k) for k in keys]
    table = [["β" if symmetric else "β12 / β21", *titles]]
    for b12, b21 in pairs:
        label = f"{b12:g}" if symmetric else f"{b12:g} / {b21:g}"
        table.append([label] + [cell(seed_values(rows, k, b12, b21)) for k in keys])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join(
        line[0].ljust(widths[0]) + "".join("  " + c.rjust(w) for c, w in zip(line[1:], widths[1:]))
        for line in table
    )


# ----------------------------------------------------------------------------- conditions of the data


def compare_conditions(runs: list[dict], betas=(1e-3, 1e-2), keys=DOWNSTREAM) -> dict[str, list[dict]]:
    """Paired comparisons over seeds of experiments/toy_conditions.py's runs (rows with
    "condition", "steps", "beta_12" = "beta_21", "seed" and every measure).

    "gain_over_beta_0": for each key, condition, length and beta in betas, the runs at beta minus
    those at beta = 0; "longer_training": for each key, condition and beta (0 included), the runs
    at one length minus those at the next shorter one. Each item: study.paired_difference's
    fields, the means of both sides ("mean_a", "mean_b") and what was compared."""

    def paired(key, a, b):  # b - a; a and b are (condition, steps, beta)
        sides = [
            {r["seed"]: r[key] for r in runs if (r["condition"], r["steps"], r["beta_12"]) == side}
            for side in (a, b)
        ]
        if not all(sides):
            raise ValueError(f"no runs for {a if not sides[0] else b}")
        means = {
            "mean_a": sum(sides[0].values()) / len(sides[0]),
            "mean_b": sum(sides[1].values()) / len(sides[1]),
        }
        return {**paired_difference(*sides), **means}

    gains, longer = [], []
    conditions = list(dict.fromkeys(r["condition"] for r in runs))
    for key in keys:
        for condition in conditions:
            steps = sorted({r["steps"] for r in runs if r["condition"] == condition})
            for n in steps:
                for beta in betas:
                    d = paired(key, (condition, n, 0.0), (condition, n, beta))
                    gains.append({"key": key, "condition": condition, "steps": n, "beta": beta, **d})
            for beta in (0.0, *betas):
                for a, b in zip(steps, steps[1:]):
                    d = paired(key, (condition, a, beta), (condition, b, beta))
                    longer.append({"key": key, "condition": condition, "beta": beta, "from": a, "to": b, **d})
    return {"gain_over_beta_0": gains, "longer_training": longer}
