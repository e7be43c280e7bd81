"""The augmentation-parameter probe: how much superfluous information a representation holds.

A view's own augmentation parameters (crop box, flip, jitter factors) are information
the other view does not share. If a ridge regression can read them from the view's
representation on held-out images, the representation keeps superfluous information.
SuperInfo should lower this score while keeping class accuracy.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .data import AUG_PARAM_NAMES, AugmentConfig, apply_aug_params, sample_aug_params
from .features import MuEncoder, extract_features

__all__ = ["MuEncoder", "augmentation_probe", "fit_ridge", "ridge_r2", "select_ridge", "PROBED_PARAMS"]

# Parameters probed: those that vary continuously or as a coin flip under the default config.
PROBED_PARAMS = (
    "crop_cx",
    "crop_cy",
    "crop_w",
    "crop_h",
    "flip",
    "brightness",
    "contrast",
    "saturation",
    "hue",
    "grayscale",
)


RIDGE_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def fit_ridge(train_x: torch.Tensor, train_y: torch.Tensor, ridge: float):
    """Closed-form ridge regression on standardised features (+ bias), in float64.

    Args:
        train_x (N, F), train_y (N, T); ridge: penalty per training row (scaled by N).
    Returns:
        predict: (M, F) -> (M, T).
    """
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)

    def design(x):
        return torch.cat([(x - mean) / std, torch.ones(len(x), 1, device=x.device)], 1).double()

    a = design(train_x)
    penalty = torch.eye(a.shape[1], dtype=a.dtype, device=a.device)
    penalty[-1, -1] = 0  # the bias is not shrunk: a large penalty predicts the mean, not 0
    w = torch.linalg.solve(a.T @ a + ridge * len(a) * penalty, a.T @ train_y.double())
    return lambda x: design(x) @ w


def _r2(pred: torch.Tensor, y: torch.Tensor, reference_mean: torch.Tensor) -> torch.Tensor:
    residual = (pred - y.double()).pow(2).sum(0)
    total = (y.double() - reference_mean.double()).pow(2).sum(0).clamp_min(1e-12)
    return 1 - residual / total


def select_ridge(
    train_x: torch.Tensor, train_y: torch.Tensor, grid=RIDGE_GRID, holdout: float = 0.25
) -> torch.Tensor:
    """Per target column, the grid value with the best R^2 on the last `holdout` of the training rows.

    With few rows and many features a fixed small penalty overfits (R^2 well below 0 on
    new rows); choosing it on training rows only keeps the test rows untouched.
    Returns (T,) penalties.
    """
    n_fit = int(len(train_x) * (1 - holdout))
    fit_x, fit_y, val_x, val_y = train_x[:n_fit], train_y[:n_fit], train_x[n_fit:], train_y[n_fit:]
    scores = torch.stack(
        [_r2(fit_ridge(fit_x, fit_y, r)(val_x), val_y, fit_y.mean(0)) for r in grid]
    )  # (G, T)
    return torch.tensor(grid, dtype=torch.float64)[scores.argmax(0).cpu()]


def ridge_r2(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    ridge: float | None = None,
) -> torch.Tensor:
    """Held-out R^2 of a ridge regression per target column.

    Args:
        train_x (N, F), train_y (N, T), test_x (M, F), test_y (M, T).
        ridge: the penalty; None chooses one per column from RIDGE_GRID on the training rows.
    Returns:
        (T,) R^2 on the test rows: 0 = no better than the training mean, 1 = perfect.
    """
    if ridge is not None:
        return _r2(fit_ridge(train_x, train_y, ridge)(test_x), test_y, train_y.mean(0)).float()
    penalties = select_ridge(train_x, train_y)
    pred = torch.empty(test_y.shape, dtype=torch.float64, device=test_y.device)
    for r in penalties.unique().tolist():
        cols = (penalties == r).nonzero().flatten().to(train_y.device)
        pred[:, cols] = fit_ridge(train_x, train_y[:, cols], r)(test_x)
    return _r2(pred, test_y, train_y.mean(0)).float()


@torch.no_grad()
def augmentation_probe(
    encoder: nn.Module,
    images: torch.Tensor,
    cfg: AugmentConfig = AugmentConfig(),
    seed: int = 0,
    batch_size: int | None = None,
    train_fraction: float = 0.7,
    other_view: bool = False,
) -> dict[str, float]:
    """R^2 of each augmentation parameter read from encoder(augmented image), held out.

    Args:
        encoder: (B, 3, H, W) -> (B, F), e.g. a backbone, or `MuEncoder(model)`.
        images: (N, 3, H, W) uint8; each gets one augmented view with its own parameters.
        other_view: the control: read the parameters of a second, independent view of the
            same image, which the encoder never saw (R^2 must be about 0).
    Returns:
        {param: R^2 for each of PROBED_PARAMS, "mean_r2": their mean}.
    """
    device = next(encoder.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    params = []

    def augment_and_record(x):
        p = sample_aug_params(len(x), cfg, g, device)
        params.append(sample_aug_params(len(x), cfg, g, device) if other_view else p)
        return apply_aug_params(x, p)

    feats = extract_features(encoder, images, batch_size, transform=augment_and_record)
    params = torch.cat(params)
    columns = [AUG_PARAM_NAMES.index(name) for name in PROBED_PARAMS]
    targets = params[:, columns]
    n_train = int(train_fraction * len(feats))
    if n_train < 2 or len(feats) - n_train < 2:
        raise ValueError(f"images: need more images for a held-out probe, got {len(images)}")
    r2 = ridge_r2(feats[:n_train], targets[:n_train], feats[n_train:], targets[n_train:])
    scores = {name: float(v) for name, v in zip(PROBED_PARAMS, r2)}
    scores["mean_r2"] = float(r2.mean())
    return scores
