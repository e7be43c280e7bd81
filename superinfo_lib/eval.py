"""Evaluation on frozen features: weighted kNN and a linear probe.

Protocol (that of the peer projects docs/results.md cites): features of the un-augmented
images, L2-normalised, cosine kNN with k = 200 and temperature 0.1, weighted votes;
a linear classifier on features extracted once from the frozen backbone (eval mode,
so batch-norm statistics are frozen too). Report the final epoch, never the best.

    python -m superinfo_lib.eval --checkpoint runs/superinfo/checkpoint.pt
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import load_cifar10
from .features import MuEncoder, SampleEncoder, extract_features
from .probes import augmentation_probe


@torch.no_grad()
def knn_predict(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
    chunk: int = 1024,
) -> torch.Tensor:
    """Weighted kNN (Wu et al., 2018): votes exp(cos / t) of the k nearest training features.

    Args:
        train_features: (N, F); train_labels: (N,) int; test_features: (M, F).
    Returns:
        (M,) predicted labels.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    train = F.normalize(train_features.float(), dim=1)
    labels = train_labels.to(train.device)
    k = min(k, len(train))
    preds = []
    for start in range(0, len(test_features), chunk):
        test = F.normalize(test_features[start : start + chunk].float().to(train.device), dim=1)
        sim, idx = (test @ train.T).topk(k, dim=1)  # (m, k)
        votes = torch.zeros(len(test), num_classes, device=train.device)
        votes.scatter_add_(1, labels[idx], (sim / temperature).exp())
        preds.append(votes.argmax(1))
    return torch.cat(preds)


def knn_accuracy(
    train_features,
    train_labels,
    test_features,
    test_labels,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
) -> float:
    pred = knn_predict(train_features, train_labels, test_features, num_classes, k, temperature)
    return (pred.cpu() == test_labels.cpu()).float().mean().item()


def feature_scale(train_features: torch.Tensor) -> torch.Tensor:
    """(F,) the scale each column is divided by: its standard deviation on the training rows,
    floored at a tenth of the median column's, and infinite (the column reads as 0) where the
    column is constant there. With a few labelled images a column can be (almost) constant on
    them; dividing by a tiny floor (1e-6) blew it up by as much on the test rows."""
    std = train_features.std(0) if len(train_features) > 1 else torch.zeros(train_features.shape[1])
    std = std.to(train_features.device)
    floor = 0.1 * std.median()
    constant = std <= 1e-6 * std.max().clamp_min(1e-12)
    return torch.where(constant, torch.full_like(std, torch.inf), std.clamp_min(floor.item()))


def fit_linear(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    num_classes: int,
    epochs: int = 100,
    lr: float = 1e-3,
    weight_decay: float = 1e-5,
    batch_size: int = 512,
    seed: int = 0,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A linear classifier trained on fixed features (Adam, cosine lr), features standardised
    with the training set's statistics (`feature_scale`); returns predict: features (M, F) -> labels (M,)."""
    device = train_features.device
    mean, std = train_features.mean(0), feature_scale(train_features)
    xtr = (train_features - mean) / std
    ytr = train_labels.to(device)
    g = torch.Generator(device="cpu").manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = nn.Linear(xtr.shape[1], num_classes).to(device)
    opt = torch.optim.Adam(clf.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * max(1, -(-len(xtr) // batch_size))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(epochs):
        order = torch.randperm(len(xtr), generator=g).to(device)
        for start in range(0, len(xtr), batch_size):
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(clf(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    clf.requires_grad_(False)

    @torch.no_grad()
    def predict(features: torch.Tensor) -> torch.Tensor:
        return clf((features.to(device) - mean) / std).argmax(1)

    return predict


def accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    return (predicted.cpu() == labels.cpu()).float().mean().item()


def linear_probe(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    num_classes: int,
    epochs: int = 100,
    **kwargs,
) -> float:
    """Test accuracy of `fit_linear`'s classifier after its last epoch (never the best epoch)."""
    predict = fit_linear(train_features, train_labels, num_classes, epochs, **kwargs)
    return accuracy(predict(test_features), test_labels)


def few_label_indices(labels: torch.Tensor, per_class: int, seed: int = 0) -> torch.Tensor:
    """Indices of `per_class` random examples of each class."""
    g = torch.Generator().manual_seed(seed)
    labels = labels.cpu()
    picks = []
    for c in labels.unique():
        members = (labels == c).nonzero().flatten()
        picks.append(members[torch.randperm(len(members), generator=g)[:per_class]])
    return torch.cat(picks)


def few_label_scores(
    features, num_classes: int, few_label: tuple[int, ...], linear_epochs: int, draws: int = 1
) -> tuple[dict, dict]:
    """Test accuracy of a linear probe trained on k labelled images per class, for each k in
    `few_label`, over `draws` random label draws (seeds 0, 1, ...): which images get labels
    moves the score by about a point at k = 10, so one draw is not a measurement.

    Returns ({"k": mean accuracy}, {"k": [accuracy of each draw]}).
    """
    train_f, train_y, test_f, test_y = features
    means, per_draw = {}, {}
    for per_class in few_label:
        scores = []
        for draw in range(draws):
            idx = few_label_indices(train_y, per_class, seed=draw).to(train_f.device)
            # Few examples: more epochs, so the tiny training set is fitted.
            scores.append(linear_probe(
                train_f[idx], train_y[idx].to(train_f.device), test_f, test_y, num_classes,
                epochs=max(linear_epochs, 200), batch_size=min(512, len(idx)), seed=draw,
            ))  # fmt: skip
        means[str(per_class)] = sum(scores) / len(scores)
        per_draw[str(per_class)] = scores
    return means, per_draw


def fit_linear_draws(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    num_classes: int,
    seeds: list[int],
    epochs: int = 200,
    lr: float = 1e-3,
    weight_decay: float = 1e-5,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """`fit_linear` on D small labelled sets at once, one classifier per set: what 100 label
    draws need, in one batched loop instead of 100. Each set fits in one batch, so an epoch is
    one full-batch step; draw d starts from `fit_linear`'s initialisation under seed seeds[d].

    Args:
        train_features: (D, n, F); train_labels: (D, n) int; seeds: D seeds.
    Returns:
        predict: features (M, F) -> (D, M) labels, one row per draw.
    """
    d, n, f = train_features.shape
    mean = train_features.mean(1)  # (D, F)
    std = torch.stack([feature_scale(x) for x in train_features])  # (D, F); inf: a constant column
    x = (train_features - mean[:, None]) / std[:, None]
    weights, biases = [], []
    for seed in seeds:  # the same initial classifier as fit_linear(seed=seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            init = nn.Linear(f, num_classes)
        weights.append(init.weight.detach())
        biases.append(init.bias.detach())
    weight = torch.stack(weights).to(x.device).requires_grad_()  # (D, C, F)
    bias = torch.stack(biases).to(x.device).requires_grad_()  # (D, C)
    opt = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    labels = train_labels.to(x.device).reshape(-1)
    for _ in range(epochs):
        logits = torch.einsum("dnf,dcf->dnc", x, weight) + bias[:, None]
        # Each draw's mean loss, summed: every classifier gets the gradient it would get alone.
        loss = (
            F.cross_entropy(logits.reshape(-1, num_classes), labels, reduction="none")
            .view(d, n)
            .mean(1)
            .sum()
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    # Fold the standardisation into the weights: no (D, M, F) copy of the test features.
    folded = (weight / std[:, None]).detach()
    folded_bias = (bias - torch.einsum("df,dcf->dc", mean / std, weight)).detach()

    @torch.no_grad()
    def predict(features: torch.Tensor) -> torch.Tensor:
        return (
            torch.einsum("mf,dcf->dmc", features.to(x.device).float(), folded) + folded_bias[:, None]
        ).argmax(2)

    return predict


def nearest_class_mean(train_features, train_labels, test_features, num_classes: int) -> torch.Tensor:
    """Predict the class whose mean (of L2-normalised labelled features) is nearest in cosine.

    Args:
        train_features: (D, n, F); train_labels: (D, n); test_features: (M, F).
    Returns:
        (D, M) labels, one row per set of labelled images.
    """
    x = F.normalize(train_features.float(), dim=2)
    onehot = F.one_hot(train_labels.to(x.device), num_classes).float()  # (D, n, C)
    means = F.normalize(torch.einsum("dnc,dnf->dcf", onehot, x), dim=2)
    return torch.einsum("mf,dcf->dmc", F.normalize(test_features.float().to(x.device), dim=1), means).argmax(
        2
    )


def label_draw_probes(
    features, num_classes: int, per_class: tuple[int, ...] = (1, 5, 10), draws: int = 100, epochs: int = 200
) -> dict:
    """Accuracy with a few labels per class, over `draws` label draws (draw d: seed d, so every
    model is probed on the same labelled images): a linear probe for each k in `per_class`,
    and a nearest-class-mean probe with one label per class.

    Returns {"linear": {"k": {"mean", "sd", "per_draw"}}, "ncm": {"1": {...}}, "draws": D}.
    """
    train_f, train_y, test_f, test_y = features
    test_y = test_y.to(train_f.device)

    def summary(predicted: torch.Tensor) -> dict:  # (D, M) -> accuracies over the draws
        acc = (predicted == test_y[None]).float().mean(1)
        return {
            "mean": acc.mean().item(),
            "sd": acc.std().item() if draws > 1 else None,
            "per_draw": acc.tolist(),
        }

    out = {"linear": {}, "ncm": {}, "draws": draws}
    for k in sorted(set(per_class) | {1}):
        idx = torch.stack([few_label_indices(train_y, k, seed=d) for d in range(draws)]).to(train_f.device)
        x, y = train_f[idx], train_y.to(train_f.device)[idx]  # (D, 10k, F), (D, 10k)
        if k in per_class:
            predict = fit_linear_draws(x, y, num_classes, seeds=list(range(draws)), epochs=epochs)
            out["linear"][str(k)] = summary(predict(test_f))
        if k == 1:
            out["ncm"]["1"] = summary(nearest_class_mean(x, y, test_f, num_classes))
    return out


# Longer than most functions here: the one evaluation; each optional part is a few lines,
# kept together so that every caller gets the same.
def evaluate_model(
    model,
    data,
    *,
    linear_epochs: int = 100,
    few_label: tuple[int, ...] = (10, 100),
    probe_images: int = 5000,
    robustness_images: int = 0,
    mu_knn: bool = False,
    few_label_draws: int = 1,
    label_probes: tuple[int, ...] = (),
    label_probe_draws: int = 100,
    z_probe: bool = False,
    seed: int = 0,
    features: tuple[torch.Tensor, ...] | None = None,
    precision: str | None = None,
) -> dict:
    """The one evaluation of a trained SuperInfoModel: the trainer's final evaluation, the
    evaluation CLI, the GPU runs and notebook 6 all call it. Keys as in superinfo_lib/results.py.

    - kNN (k=200, t=0.1) and a linear probe (`linear_epochs`; 0 skips it) of the frozen
      backbone's features of the un-augmented images (`features` = (train_f, train_y, test_f,
      test_y) reuses features already extracted, as the trainer's kNN monitor does);
    - few-label linear probes with `few_label` labels per class, over `few_label_draws` label
      draws (`few_label` holds their means, `few_label_draws` every draw);
    - with `label_probes` (labels per class, e.g. (1, 5, 10)), `label_draw_probes` over
      `label_probe_draws` draws shared by every model: linear probes and a 1-label
      nearest-class-mean probe (key `label_probes`);
    - the median posterior standard deviation sigma over the test images and latent dimensions;
    - the augmentation-parameter probe (held-out R^2) on the backbone and on mu, over the first
      `probe_images` test images (0 skips it), and with `z_probe` on a sample z = mu + sigma * eps,
      what the KL term bounds (mu cannot show what a large sigma hides);
    - with `mu_knn`, kNN top-1 of mu (the Gaussian head's mean) beside that of h;
    - robustness: kNN and linear accuracy (the classifier fitted on clean features only) on the
      first `robustness_images` test images under every corruption and severity of
      superinfo_lib.corruptions (0 skips it).
    """
    device = next(model.parameters()).device
    channels_last = True  # faster on GPUs and CPUs alike (superinfo_lib.step's docstring)
    num_classes = len(data.classes)
    if features is None:
        embed = lambda x: extract_features(
            model.backbone, x, channels_last=channels_last, precision=precision
        )
        features = (embed(data.train_x), data.train_y, embed(data.test_x), data.test_y)
    train_f, train_y, test_f, test_y = features
    train_y = train_y.to(train_f.device)
    results = {
        "knn_top1": knn_accuracy(train_f, train_y, test_f, test_y, num_classes),
        "linear_top1": None,
        "few_label": {},
        "linear_epochs": linear_epochs,
        "n_train": len(train_f),
        "n_test": len(test_f),
    }
    predict_linear = (
        fit_linear(train_f, train_y, num_classes, epochs=linear_epochs) if linear_epochs else None
    )
    if predict_linear is not None:
        results["linear_top1"] = accuracy(predict_linear(test_f), test_y)
    results["few_label"], results["few_label_draws"] = few_label_scores(
        features, num_classes, few_label, linear_epochs, few_label_draws
    )
    if label_probes:
        results["label_probes"] = label_draw_probes(
            features, num_classes, label_probes, label_probe_draws, epochs=max(linear_epochs, 200)
        )
    # mu and sigma are the Gaussian head applied to h: reuse the backbone features, no second pass.
    with torch.no_grad():
        head = [model.head(f.to(device)) for f in (train_f, test_f)]
    results["sigma_median"] = torch.exp(0.5 * head[1][1].float()).median().item()
    if mu_knn:
        mu = [h[0].float() for h in head]
        results["knn_top1_mu"] = knn_accuracy(mu[0], train_y, mu[1], test_y, num_classes)
    if probe_images:
        images = data.test_x[:probe_images]
        probe_backbone = augmentation_probe(model.backbone, images, seed=seed)
        probe_mu = augmentation_probe(MuEncoder(model), images, seed=seed)
        results.update(
            aug_probe_mean_r2=probe_backbone["mean_r2"],
            aug_probe_mu_mean_r2=probe_mu["mean_r2"],
            aug_probe={"backbone": probe_backbone, "mu": probe_mu, "images": len(images)},
        )
        if z_probe:
            probe_z = augmentation_probe(SampleEncoder(model, seed=seed), images, seed=seed)
            results["aug_probe_z_mean_r2"] = probe_z["mean_r2"]
            results["aug_probe"]["z"] = probe_z
    if robustness_images:
        from .corruptions import robustness_eval

        n = min(robustness_images, len(data.test_x))
        predictors = {"knn": lambda f: knn_predict(train_f, train_y, f, num_classes)}
        if predict_linear is not None:
            predictors["linear"] = predict_linear
        results["robustness"] = robustness_eval(
            lambda x: extract_features(model.backbone, x, channels_last=channels_last, precision=precision),
            data.test_x[:n].to(device),  # corrupted on the model's device
            data.test_y[:n],
            predictors,
            seed=seed,
        )
    return results


# Longer than most functions here: one argument per line (argparse), then a single call of evaluate_model.
def main(argv=None) -> int:
    from .checkpoint import load_checkpoint_model

    parser = argparse.ArgumentParser(
        prog="python -m superinfo_lib.eval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, help="a checkpoint.pt written by superinfo_lib.train")
    parser.add_argument("--data", default=None, help="CIFAR-10 pack or torchvision folder (default: search)")
    parser.add_argument("--train-limit", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--test-limit", type=int, default=None, help="use only the first N test images")
    parser.add_argument("--linear-epochs", type=int, default=100)
    parser.add_argument(
        "--few-label", type=int, nargs="*", default=[10, 100], help="labels per class for few-label probes"
    )
    parser.add_argument(
        "--probe-images", type=int, default=5000, help="test images for the augmentation probe (0: skip it)"
    )
    parser.add_argument(
        "--out", default=None, help="JSON file for the results (default: next to the checkpoint)"
    )
    parser.add_argument(
        "--robustness-images",
        type=int,
        default=10000,
        help="test images for the corruption robustness (0: skip)",
    )
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    args = parser.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        model, ckpt = load_checkpoint_model(args.checkpoint, map_location=device)
        data = load_cifar10(args.data, train_limit=args.train_limit, test_limit=args.test_limit)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    results = evaluate_model(
        model,
        data,
        linear_epochs=args.linear_epochs,
        few_label=tuple(args.few_label),
        probe_images=min(args.probe_images, len(data.test_x)),
        robustness_images=args.robustness_images,
    )
    results.update(
        checkpoint=str(args.checkpoint), step=ckpt.get("step"), data=data.source, device=str(device)
    )
    out = Path(args.out) if args.out else Path(args.checkpoint).with_name("eval.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
