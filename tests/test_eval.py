"""superinfo_lib.eval: weighted kNN, the linear probe, few-label subsets, feature extraction."""

import json
import math
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from superinfo_lib.checkpoint import save_checkpoint
from superinfo_lib.data import synthetic_images
from superinfo_lib.eval import (
    evaluate_model,
    extract_features,
    few_label_indices,
    fit_linear,
    fit_linear_draws,
    knn_accuracy,
    knn_predict,
    label_draw_probes,
    linear_probe,
    nearest_class_mean,
)
from superinfo_lib.models import SmallConvNet, SuperInfoModel


def naive_knn(train_f, train_y, test_f, num_classes, k, temperature):
    """Weighted kNN one test point at a time: votes exp(cos / t) of the k most similar."""
    preds = []
    for x in test_f:
        sims = [float(x @ t / (x.norm() * t.norm())) for t in train_f]
        nearest = sorted(range(len(sims)), key=lambda j: -sims[j])[:k]
        votes = [0.0] * num_classes
        for j in nearest:
            votes[int(train_y[j])] += math.exp(sims[j] / temperature)
        preds.append(max(range(num_classes), key=lambda c: votes[c]))
    return torch.tensor(preds)


@pytest.mark.parametrize("k,temperature", [(1, 0.1), (5, 0.1), (20, 0.5), (500, 1.0)])
def test_knn_predict_matches_naive_loop(k, temperature):
    g = torch.Generator().manual_seed(k)
    train_f, test_f = torch.randn(60, 8, generator=g), torch.randn(25, 8, generator=g)
    train_y = torch.randint(4, (60,), generator=g)
    got = knn_predict(train_f, train_y, test_f, 4, k=k, temperature=temperature, chunk=7)
    assert torch.equal(got, naive_knn(train_f, train_y, test_f, 4, k, temperature))


def separable_features(n_per_class, num_classes, dim, noise, seed):
    """Each class is a tight cluster around its own orthogonal direction."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(num_classes).repeat_interleave(n_per_class)
    centres = torch.linalg.qr(torch.randn(dim, num_classes, generator=g))[0].T * 5
    return centres[y] + noise * torch.randn(len(y), dim, generator=g), y


def test_knn_on_separable_features_is_perfect():
    train_f, train_y = separable_features(30, 10, 32, 0.3, seed=0)
    test_f, test_y = separable_features(10, 10, 32, 0.3, seed=0)
    test_f = test_f + 0.3 * torch.randn_like(test_f)
    assert knn_accuracy(train_f, train_y, test_f, test_y, 10) == 1.0  # k = 200 > 30 per class
    # Shuffled labels carry nothing: near chance.
    shuffled = train_y[torch.randperm(len(train_y), generator=torch.Generator().manual_seed(1))]
    assert knn_accuracy(train_f, shuffled, test_f, test_y, 10, k=5) < 0.4


def test_knn_bad_arguments():
    f, y = torch.randn(5, 3), torch.zeros(5, dtype=torch.long)
    with pytest.raises(ValueError, match="temperature"):
        knn_predict(f, y, f, 2, temperature=0)
    with pytest.raises(ValueError, match="k must"):
        knn_predict(f, y, f, 2, k=0)


def test_linear_probe_on_linearly_separable_features():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(16, 3, generator=g)
    x = torch.randn(900, 16, generator=g) * 3 + 10  # offset and scale: it standardises
    y = (x @ w).argmax(1)
    acc = linear_probe(x[:600], y[:600], x[600:], y[600:], 3, epochs=30, lr=1e-2)
    assert acc > 0.95
    # Deterministic for a seed.
    assert acc == linear_probe(x[:600], y[:600], x[600:], y[600:], 3, epochs=30, lr=1e-2)


def test_few_label_indices():
    labels = torch.randint(10, (1000,), generator=torch.Generator().manual_seed(0))
    for per_class in (1, 10, 50):
        idx = few_label_indices(labels, per_class, seed=3)
        assert len(idx) == len(set(idx.tolist())) == 10 * per_class
        assert torch.equal(torch.bincount(labels[idx], minlength=10), torch.full((10,), per_class))
    assert torch.equal(few_label_indices(labels, 10, seed=3), few_label_indices(labels, 10, seed=3))
    assert not torch.equal(few_label_indices(labels, 10, seed=3), few_label_indices(labels, 10, seed=4))


@pytest.mark.parametrize("training", [True, False])
def test_extract_features_freezes_bn_and_restores_mode(training):
    torch.manual_seed(0)
    encoder = SmallConvNet(width=8)
    encoder(torch.randn(4, 3, 32, 32))  # non-trivial running stats
    encoder.train(training)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    images = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    features = extract_features(encoder, images, batch_size=4)
    assert features.shape == (10, 32) and features.dtype == torch.float32
    assert encoder.training == training
    for k, v in encoder.state_dict().items():
        assert torch.equal(v, before[k]), k
    # Eval mode, batch by batch: the same as one eval-mode pass (no batch statistics).
    assert torch.allclose(features, extract_features(encoder, images, batch_size=10), atol=1e-5)


def test_extract_features_default_batch_is_small_on_cpu():
    # A 1024-image batch of 32 px activations costs a few hundred MB of RAM on a CPU.
    sizes = []
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 4))
    encoder.register_forward_pre_hook(lambda module, args: sizes.append(len(args[0])))
    extract_features(encoder, torch.zeros(600, 3, 32, 32, dtype=torch.uint8))
    assert sizes == [256, 256, 88]


def tiny_trained_model():
    torch.manual_seed(0)
    return SuperInfoModel("small", latent_dim=16, proj_hidden=32, proj_out=8).eval()


def test_evaluate_model_is_one_evaluation_whatever_gives_the_features():
    """The trainer passes the kNN monitor's features; the CLI, the GPU runs and notebook 6 let
    evaluate_model extract them: the scores must be the same."""
    model, data = tiny_trained_model(), synthetic_images(n_train=120, n_test=60, seed=3)
    kwargs = dict(linear_epochs=3, few_label=(2,), probe_images=40, robustness_images=60, mu_knn=True)
    scores = evaluate_model(model, data, **kwargs)
    features = (
        extract_features(model.backbone, data.train_x),
        data.train_y,
        extract_features(model.backbone, data.test_x),
        data.test_y,
    )
    again = evaluate_model(model, data, features=features, **kwargs)
    assert not model.training  # the evaluation leaves the model's mode as it found it
    for key in (
        "knn_top1",
        "linear_top1",
        "few_label",
        "aug_probe_mean_r2",
        "aug_probe_mu_mean_r2",
        "robustness",
        "knn_top1_mu",
    ):
        assert scores[key] == again[key], key
    # kNN on mu is the library's kNN on the head's means.
    mu = lambda x: model.features(x.float(), "mu")
    from superinfo_lib.data import normalize

    expected_mu = knn_accuracy(
        mu(normalize(data.train_x)), data.train_y, mu(normalize(data.test_x)), data.test_y, 10
    )
    assert scores["knn_top1_mu"] == pytest.approx(expected_mu)
    rob = scores["robustness"]
    assert rob["n_test"] == 60 and set(rob["clean"]) == {"knn", "linear"}
    # The robustness evaluation's clean accuracy is the evaluation's own (same classifiers).
    assert rob["clean"]["linear"] == pytest.approx(scores["linear_top1"])
    assert set(scores["few_label"]) == {"2"} and scores["n_test"] == 60
    assert scores["aug_probe"]["images"] == 40
    no_probe = evaluate_model(model, data, linear_epochs=0, few_label=(), probe_images=0)
    assert no_probe["linear_top1"] is None and "aug_probe_mean_r2" not in no_probe
    assert "knn_top1_mu" not in no_probe and "robustness" not in no_probe


def test_eval_cli_names_the_run_it_read(tmp_path):
    model = tiny_trained_model()
    save_checkpoint(tmp_path / "checkpoint.pt", model, torch.optim.SGD(model.parameters(), lr=0.1), 7, 1, {})
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "superinfo_lib.eval",
            "--checkpoint",
            str(tmp_path / "checkpoint.pt"),
            "--train-limit",
            "200",
            "--test-limit",
            "100",
            "--linear-epochs",
            "2",
            "--few-label",
            "--probe-images",
            "0",
            "--robustness-images",
            "0",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["checkpoint"] == str(tmp_path / "checkpoint.pt") and result["step"] == 7
    assert "JPEG pack" in result["data"] and 0 <= result["knn_top1"] <= 1
    missing = subprocess.run(
        [sys.executable, "-m", "superinfo_lib.eval", "--checkpoint", str(tmp_path / "no.pt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 2 and "no.pt" in missing.stderr


def test_a_column_constant_on_the_labelled_rows_cannot_move_a_prediction():
    """With few labels a feature can be constant on the labelled rows; standardising it with a
    tiny floor used to blow it up on the test rows. Zero-started weights stay 0 on it."""
    from superinfo_lib.eval import fit_linear

    g = torch.Generator().manual_seed(0)
    train_y = torch.arange(40) % 4
    signal = lambda y: y.float()[:, None] + 0.3 * torch.randn(len(y), 1, generator=g)  # noqa: E731
    train_f = torch.cat([signal(train_y), torch.zeros(40, 1)], 1)  # column 1: constant 0
    test_y = torch.arange(200) % 4
    test_f = torch.cat([signal(test_y), torch.zeros(200, 1)], 1)
    predict = fit_linear(train_f, train_y, 4, epochs=200, lr=0.05)
    shifted = test_f.clone()
    shifted[:, 1] = 5.0  # the constant column moves on the test rows only
    assert torch.equal(predict(test_f), predict(shifted))
    assert (predict(test_f) == test_y).float().mean() > 0.6  # chance: 0.25


def test_few_label_draws_sigma_and_the_probe_on_z():
    from superinfo_lib.data import normalize
    from superinfo_lib.eval import few_label_scores

    model, data = tiny_trained_model(), synthetic_images(n_train=120, n_test=60, seed=3)
    scores = evaluate_model(
        model, data, linear_epochs=3, few_label=(2, 5), few_label_draws=3, probe_images=40, z_probe=True
    )
    draws = scores["few_label_draws"]
    assert set(draws) == {"2", "5"} and all(len(v) == 3 for v in draws.values())
    assert scores["few_label"]["2"] == pytest.approx(sum(draws["2"]) / 3)
    assert len(set(draws["2"])) > 1  # different labelled images, different scores
    # sigma: the median over test images and latent dimensions of exp(logvar / 2), as written out.
    with torch.no_grad():
        _, logvar = model.head(model.backbone(normalize(data.test_x)))
    assert scores["sigma_median"] == pytest.approx(torch.exp(0.5 * logvar).median().item(), rel=1e-3)
    assert set(scores["aug_probe"]) == {"backbone", "mu", "z", "images"}
    assert scores["aug_probe_z_mean_r2"] == scores["aug_probe"]["z"]["mean_r2"]
    one_draw, _ = few_label_scores(
        (model.features(normalize(data.train_x)), data.train_y, model.features(normalize(data.test_x)),
         data.test_y), 10, (2,), 3,
    )  # fmt: skip
    assert one_draw["2"] == pytest.approx(draws["2"][0])  # draw 0 is the single draw of before


def clustered(n, num_classes=4, dim=16, noise=1.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(num_classes, dim, generator=g) * 2
    y = torch.randint(num_classes, (n,), generator=g)
    return centres[y] + noise * torch.randn(n, dim, generator=g), y


def test_fit_linear_draws_matches_fit_linear_draw_by_draw():
    """One batched loop over 5 label draws predicts what 5 separate fit_linear calls predict."""
    x, y = clustered(400)
    test_x, _ = clustered(300, seed=1)
    idx = torch.stack([few_label_indices(y, 3, seed=d) for d in range(5)])
    batched = fit_linear_draws(x[idx], y[idx], 4, seeds=list(range(5)), epochs=50)(test_x)
    assert batched.shape == (5, 300)
    for d in range(5):
        alone = fit_linear(x[idx[d]], y[idx[d]], 4, epochs=50, batch_size=len(idx[d]), seed=d)(test_x)
        assert torch.equal(batched[d], alone), d


def test_nearest_class_mean_matches_a_naive_loop():
    x, y = clustered(60, seed=2)
    test_x, _ = clustered(40, seed=3)
    pred = nearest_class_mean(x[None], y[None], test_x, 4)[0]
    for i, t in enumerate(test_x):
        means = [torch.stack([v / v.norm() for v in x[y == c]]).mean(0) for c in range(4)]
        cosines = [float(t @ m / (t.norm() * m.norm())) for m in means]
        assert pred[i].item() == max(range(4), key=lambda c: cosines[c])


def test_label_draw_probes_share_the_draws_and_read_separable_features_perfectly():
    """Features that are the one-hot label: the class-mean probe is exact and the linear probes,
    trained long enough to outgrow their random start, nearly so; random features: near chance."""
    x, y = clustered(500, num_classes=10, dim=12, seed=4)
    test_y = torch.randint(10, (300,), generator=torch.Generator().manual_seed(5))
    onehot = lambda labels: torch.nn.functional.one_hot(labels, 10).float()
    perfect = label_draw_probes((onehot(y), y, onehot(test_y), test_y), 10, (1, 5), draws=6, epochs=500)
    assert perfect["draws"] == 6 and set(perfect["linear"]) == {"1", "5"} and set(perfect["ncm"]) == {"1"}
    assert perfect["ncm"]["1"]["per_draw"] == [1.0] * 6
    assert perfect["linear"]["1"]["mean"] > 0.9 and perfect["linear"]["5"]["mean"] > 0.9
    noise = torch.randn(300, 12, generator=torch.Generator().manual_seed(6))
    chance = label_draw_probes((x, y, noise, test_y), 10, (1,), draws=6, epochs=100)
    accs = chance["linear"]["1"]["per_draw"]
    assert len(accs) == 6 and 0.0 < chance["linear"]["1"]["mean"] < 0.25
    assert chance["linear"]["1"]["mean"] == pytest.approx(sum(accs) / 6)
    assert chance["linear"]["1"]["sd"] == pytest.approx(torch.tensor(accs).std().item())
