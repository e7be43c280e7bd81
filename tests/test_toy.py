"""superinfo_lib.toy: the multi-view set with three kinds of information, its probes and its trainer."""

import math
import statistics

import pytest
import torch
import torch.nn.functional as F

from superinfo_lib.toy import (
    CHANCE,
    INFO_MEASURES,
    MEASURES,
    NUM_LABELS,
    NUM_SHARED,
    KnnProbe,
    compare_conditions,
    excess_lost,
    few_label_rows,
    information_ceiling,
    make_multiview,
    pick_beta_on_validation,
    probe_toy,
    ridge_probe_accuracy,
    seed_mean,
    split_rows,
    summary_table,
    sweep_row,
    train_toy,
)


def test_make_multiview_is_deterministic_for_a_seed():
    a, b, c = make_multiview(n=256, seed=3), make_multiview(n=256, seed=3), make_multiview(n=256, seed=4)
    names = ("v1", "v2", "shared", "specific", "task", "partly", "label", "shows1", "shows2", "task_shown1")
    for name in names + ("nuisance1", "nuisance2"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.v1, c.v1)
    assert a.v1.shape == a.v2.shape == (256, 32) and a.nuisance1.shape == (256, 2)


@pytest.fixture(scope="module")
def data():
    return make_multiview(n=20000, seed=0)


def test_the_factors_are_what_the_docstring_says(data):
    d = data
    assert torch.equal(d.label, 4 * d.shared + 2 * d.specific + d.task) and d.label.max() == NUM_LABELS - 1
    for shows in (d.shows1, d.shows2):
        assert shows.double().mean().item() == pytest.approx(0.9, abs=0.01)
    assert (d.shows1 & ~d.shows2).double().mean().item() == pytest.approx(0.09, abs=0.01)
    assert d.task_shown1.double().mean().item() == pytest.approx(0.5, abs=0.02)
    assert (d.nuisance1 == d.nuisance2).double().mean().item() == pytest.approx(0.5, abs=0.02)
    # r is independent of s: a probe that knows only s reads r at chance.
    s = F.one_hot(d.shared, NUM_SHARED).double()
    n = 15000
    r_from_s = ridge_probe_accuracy(s[:n], d.specific[:n], s[n:], d.specific[n:], 2)
    assert r_from_s == pytest.approx(0.5, abs=0.03)


def test_a_view_shows_r_only_where_it_reveals_it_and_only_its_own_nuisance(data):
    d, n = data, 15000
    fit = torch.nonzero(d.shows1[:n]).flatten()
    shown = n + torch.nonzero(d.shows1[n:]).flatten()
    hidden = n + torch.nonzero(~d.shows1[n:]).flatten()
    assert ridge_probe_accuracy(d.v1[fit], d.specific[fit], d.v1[shown], d.specific[shown], 2) > 0.9
    assert ridge_probe_accuracy(d.v1[fit], d.specific[fit], d.v1[hidden], d.specific[hidden], 2) < 0.56
    # q has r's reveal pattern: view 1 shows it exactly where it shows r
    assert ridge_probe_accuracy(d.v1[fit], d.partly[fit], d.v1[shown], d.partly[shown], 2) > 0.9
    assert ridge_probe_accuracy(d.v1[fit], d.partly[fit], d.v1[hidden], d.partly[hidden], 2) < 0.56
    # t: exactly one view of each pair shows it, and the other carries no trace of it
    for view, shows_t in ((d.v1, d.task_shown1), (d.v2, ~d.task_shown1)):
        fit_t = torch.nonzero(shows_t[:n]).flatten()
        shown_t = n + torch.nonzero(shows_t[n:]).flatten()
        hidden_t = n + torch.nonzero(~shows_t[n:]).flatten()
        assert ridge_probe_accuracy(view[fit_t], d.task[fit_t], view[shown_t], d.task[shown_t], 2) > 0.85
        assert ridge_probe_accuracy(view[fit_t], d.task[fit_t], view[hidden_t], d.task[hidden_t], 2) < 0.56
    for view, nuisance in ((d.v1, d.nuisance1), (d.v2, d.nuisance2)):
        assert ridge_probe_accuracy(view[:n], nuisance[:n, 0], view[n:], nuisance[n:, 0], 2) > 0.9
    assert ridge_probe_accuracy(d.v1[:n], d.nuisance2[:n, 0], d.v1[n:], d.nuisance2[n:, 0], 2) < 0.55


def test_probe_toy_reads_an_oracle_perfectly_and_noise_at_chance(data):
    d = data
    train, _, test = split_rows(len(d.v1), 8192)
    oracle = torch.cat(
        [
            F.one_hot(d.shared, NUM_SHARED),
            F.one_hot(d.label, NUM_LABELS),
            d.nuisance1,
            (d.specific * d.shows1)[:, None],
            (d.partly * d.shows1)[:, None],
            (d.task * d.task_shown1)[:, None],
        ],
        1,
    ).double()
    perfect = probe_toy(oracle, d, train, test, z=oracle)
    for key in INFO_MEASURES:
        assert perfect[key] == 1.0, key
        assert perfect[key + "_z"] == perfect[key + "_knn"] > 0.99, key  # z = mu here
    assert perfect["full_label_acc"] == 1.0 and perfect["few_label_acc"] > 0.95
    noise = torch.randn(len(d.v1), 16, generator=torch.Generator().manual_seed(0))
    noisy = probe_toy(noise, d, train, test, z=noise)
    assert set(noisy) == set(CHANCE)
    for key in CHANCE:
        assert abs(noisy[key] - CHANCE[key]) < 0.06, key


def test_knn_probe_matches_a_brute_force_knn_on_masked_rows():
    g = torch.Generator().manual_seed(0)
    train_x, test_x = torch.randn(300, 3, generator=g), torch.randn(40, 3, generator=g)
    train_y, test_y = torch.randint(3, (300,), generator=g), torch.randint(3, (40,), generator=g)
    fit, score = torch.rand(300, generator=g) < 0.5, torch.rand(40, generator=g) < 0.7
    knn = KnnProbe(train_x, test_x, k=5, candidates=300)
    mean, std = train_x.mean(0), train_x.std(0)
    a, b = (train_x - mean) / std, (test_x - mean) / std
    rows = torch.nonzero(fit).flatten()
    correct = []
    for i in torch.nonzero(score).flatten():
        nearest = rows[(b[i] - a[rows]).norm(dim=1).argsort()[:5]]
        correct.append(torch.bincount(train_y[nearest], minlength=3).argmax() == test_y[i])
    assert knn.accuracy(train_y, test_y, fit, score) == pytest.approx(float(sum(correct)) / len(correct))
    with pytest.raises(ValueError, match="no test rows"):
        knn.accuracy(train_y, test_y, fit, torch.zeros(40, dtype=torch.bool))


def test_few_label_rows_picks_that_many_of_each_class():
    label = torch.arange(10).repeat(7)
    rows = few_label_rows(label, 3, 10, torch.Generator().manual_seed(0))
    assert sorted(label[rows].tolist()) == sorted(list(range(10)) * 3)
    assert len(set(rows.tolist())) == 30


def test_information_ceiling_matches_a_gaussian_channel():
    # z = mu + sigma eps with mu ~ N(0, 4) and sigma = 1 in every dimension: I = 1/2 log(1 + 4) each.
    g = torch.Generator().manual_seed(0)
    mu = 2 * torch.randn(200_000, 3, generator=g, dtype=torch.float64)
    expected = 3 * 0.5 * math.log(5.0)
    assert information_ceiling(mu, torch.zeros_like(mu)) == pytest.approx(expected, rel=0.01)


def test_train_toy_is_reproducible():
    a = train_toy(beta_12=1e-3, beta_21=1e-3, steps=30, seed=5)
    b = train_toy(beta_12=1e-3, beta_21=1e-3, steps=30, seed=5)
    assert a.history == b.history and a.probes == b.probes and a.validation == b.validation
    assert len(a.history["loss"]) == 30 and a.diverged_at is None and set(a.probes) == set(CHANCE)
    assert set(a.validation) == set(MEASURES)  # choosing beta needs only the ridge measures
    init = train_toy(steps=0, seed=5)  # the encoder at its random initialisation
    assert init.history["loss"] == [] and set(init.probes) == set(CHANCE)


SEEDS, BETAS = (0, 1, 2), (0.0, 1e-3, 0.1)
MOSTLY_SHARED = ("r_mostly_shared_z", "partly_shared_nuisance_z")
NEVER_SHARED = ("never_shared_task_z", "nuisance_z")


@pytest.fixture(scope="module")
def rows():
    """The claims of notebook 4, on its smoke grid's three key betas (150 steps, 3 seeds)."""
    return [sweep_row(b, b, seed, 150) for b in BETAS for seed in SEEDS]


def lost(rows, keys, beta):
    return statistics.fmean(excess_lost(rows, k, beta) for k in keys)


# Thresholds: the range of each statistic over every 3-seed subset of 8 seeds (150 steps).
def test_beta_zero_keeps_what_is_mostly_shared_and_little_of_what_is_never_shared(rows):
    assert seed_mean(rows, "shared_z", 0.0, 0.0) > 0.95
    assert seed_mean(rows, "r_mostly_shared_z", 0.0, 0.0) > 0.9  # 3-seed means 0.965 .. 0.994
    assert seed_mean(rows, "partly_shared_nuisance_z", 0.0, 0.0) > 0.85  # 0.916 .. 0.995
    assert seed_mean(rows, "nuisance_z", 0.0, 0.0) > CHANCE["nuisance_z"] + 0.15  # 0.706 .. 0.735
    assert seed_mean(rows, "never_shared_task_z", 0.0, 0.0) < 0.7  # 0.583 .. 0.657
    # sigma collapses without a penalty (near the head's floor e^-4), the KL explodes beyond the
    # ceiling on all the information z1 holds
    assert seed_mean(rows, "sigma_median", 0.0, 0.0) < 0.05
    assert seed_mean(rows, "final_kl_12", 0.0, 0.0) > 10 * seed_mean(rows, "info_ceiling", 0.0, 0.0)


def test_what_is_never_shared_goes_first_useful_or_not(rows):
    # at 1e-3, 3-seed subsets: never shared (t, n) lose 0.40 .. 0.61 of their excess over chance,
    # mostly shared (r, q) 0.06 .. 0.28; t loses more than r (by 0.05 .. 0.40), n more than q
    assert lost(rows, NEVER_SHARED, 1e-3) >= 0.35
    assert lost(rows, MOSTLY_SHARED, 1e-3) <= 0.35
    assert excess_lost(rows, "never_shared_task_z", 1e-3) > excess_lost(rows, "r_mostly_shared_z", 1e-3)
    assert excess_lost(rows, "nuisance_z", 1e-3) > excess_lost(rows, "partly_shared_nuisance_z", 1e-3)
    assert lost(rows, MOSTLY_SHARED, 0.1) >= 0.9  # 0.97 .. 1.01: then the mostly shared go too
    assert seed_mean(rows, "final_kl_12", 1e-3, 1e-3) < seed_mean(rows, "final_kl_12", 0.0, 0.0) / 10


def test_few_label_choice_on_validation_and_its_test_accuracy(rows):
    best = pick_beta_on_validation(rows)
    assert best < 0.1
    few = {b: seed_mean(rows, "few_label_acc", b, b) for b in BETAS}
    assert few[0.1] < few[0.0] - 0.1  # 3-seed subsets: -0.16 .. -0.29
    table = summary_table(rows, [(b, b) for b in BETAS])
    assert len(table.splitlines()) == 1 + len(BETAS) and "nuisance" in table
    spread = statistics.stdev(r["few_label_acc"] for r in rows if r["beta_12"] == 0.0)
    assert spread < 0.05


def test_negative_beta_needs_opt_in():
    with pytest.raises(ValueError, match="beta_12"):
        train_toy(beta_12=-1e-3, steps=2)
    result = train_toy(beta_12=-1e-3, beta_21=-2e-3, steps=5, allow_negative_beta=True)
    h = result.history
    assert result.diverged_at is None and len(h["loss"]) == 5
    # The loss the optimiser saw rewards the KL: InfoNCE minus the weighted KL terms, every step.
    for loss, nce, kl_12, kl_21 in zip(h["loss"], h["nce"], h["kl_12"], h["kl_21"]):
        assert loss == pytest.approx(nce - 1e-3 * kl_12 - 2e-3 * kl_21, rel=1e-5)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="steps"):
        train_toy(steps=-1)
    with pytest.raises(ValueError, match="latent_dim"):
        train_toy(latent_dim=0)
    with pytest.raises(ValueError, match="temperature"):
        train_toy(temperature=0.0, steps=1)
    with pytest.raises(ValueError, match="reveal_prob"):
        make_multiview(reveal_prob=1.5)
    with pytest.raises(ValueError, match="nuisance_bits"):
        make_multiview(nuisance_bits=0)
    with pytest.raises(ValueError, match="n_holdout"):
        split_rows(100, 100)
    with pytest.raises(ValueError, match="no rows for"):
        seed_mean([], "nuisance", 0.0, 0.0)


def test_compare_conditions_is_a_paired_t_interval_over_seeds():
    gen = torch.Generator().manual_seed(0)
    runs = [
        {
            "condition": c,
            "steps": n,
            "beta_12": b,
            "beta_21": b,
            "seed": s,
            "few_label_acc_1": torch.rand(1, generator=gen).item(),
        }
        for c in ("a", "b")
        for n in (10, 30)
        for b in (0.0, 1e-3)
        for s in range(4)
    ]

    def values(c, n, b):
        return [r["few_label_acc_1"] for r in runs if (r["condition"], r["steps"], r["beta_12"]) == (c, n, b)]

    compared = compare_conditions(runs, betas=(1e-3,), keys=("few_label_acc_1",))
    assert len(compared["gain_over_beta_0"]) == 2 * 2 and len(compared["longer_training"]) == 2 * 2
    for item, (a, b) in (
        (compared["gain_over_beta_0"][3], (("b", 30, 0.0), ("b", 30, 1e-3))),
        (compared["longer_training"][1], (("a", 10, 1e-3), ("a", 30, 1e-3))),
    ):
        diffs = [y - x for x, y in zip(values(*a), values(*b))]  # the same seeds, in the same order
        half = 3.182 * statistics.stdev(diffs) / 2  # t(0.975, 3 df) * sd / sqrt(4)
        assert item["mean"] == pytest.approx(statistics.fmean(diffs))
        assert (item["low"], item["high"]) == pytest.approx(
            (item["mean"] - half, item["mean"] + half), abs=1e-3
        )
        assert item["mean_a"] == pytest.approx(statistics.fmean(values(*a))) and item["n"] == 4
    with pytest.raises(ValueError, match="no runs for"):
        compare_conditions(runs[:-1] + [{**runs[-1], "steps": 50}], betas=(1e-3,), keys=("few_label_acc_1",))
