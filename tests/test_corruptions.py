"""superinfo_lib.corruptions: CIFAR-10-C corruptions and the robustness evaluation.

Thresholds below were measured (spreads quoted where they matter), not tuned until green.
"""

import colorsys
import io
import itertools
import math
import os

import numpy as np
import pytest
import torch
from PIL import Image

from superinfo_lib.corruptions import (
    CORRUPTIONS,
    PARAMS,
    corrupt,
    corruption_seed,
    disk_kernel,
    hsv_to_rgb,
    rgb_to_hsv,
    robustness_eval,
)
from superinfo_lib.data import load_cifar10

NOISES = ("gaussian_noise", "shot_noise", "impulse_noise")


@pytest.fixture(scope="module")
def cifar():
    # 2,000 training images are the kNN's references; 256 test images are queried.
    return load_cifar10(os.environ.get("SUPERINFO_DATA"), train_limit=2000, test_limit=256)


def grey(value: int, n: int = 64) -> torch.Tensor:
    return torch.full((n, 3, 32, 32), value, dtype=torch.uint8)


def mean_abs_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float() - b.float()).abs().mean().item()


# ----------------------------------------------------------------------------- contract


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_severity_zero_is_the_identity(name, cifar):
    x = cifar.test_x[:8]
    assert corrupt(x, name, 0, torch.Generator().manual_seed(0)) is x


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_dtype_shape_device_kept_and_deterministic_per_seed(name, cifar):
    x = cifar.test_x[:16]
    for severity in (1, 5):
        a = corrupt(x, name, severity, torch.Generator().manual_seed(3))
        b = corrupt(x, name, severity, torch.Generator().manual_seed(3))
        assert a.dtype == torch.uint8 and a.shape == x.shape and a.device == x.device
        assert torch.equal(a, b)
        assert not torch.equal(a, x)
        other = corrupt(x, name, severity, torch.Generator().manual_seed(4))
        assert torch.equal(a, other) == (name not in NOISES)  # only the noises draw from the seed


def test_bad_name_and_severity_raise_naming_the_argument():
    x = grey(128, 2)
    with pytest.raises(ValueError, match=r"name must be one of gaussian_noise, .*pixelate; got 'fog'"):
        corrupt(x, "fog", 1)
    for bad in (6, -1, 2.0, True, "3"):
        with pytest.raises(ValueError, match=r"severity must be one of 0, 1, 2, 3, 4, 5"):
            corrupt(x, "contrast", bad)
    with pytest.raises(ValueError, match="images must be a uint8 tensor"):
        corrupt(x.float(), "contrast", 1)


# ----------------------------------------------------------------------------- strength grows with severity


def test_distance_to_clean_grows_with_severity(cifar):
    x = cifar.test_x[:48]
    for name in CORRUPTIONS:
        g = torch.Generator().manual_seed(0)
        d = [mean_abs_distance(corrupt(x, name, s, g), x) for s in range(6)]
        if name == "saturate":
            # The published parameters: severities 1-2 scale S by 0.3 and 0.1, 3-5 by 1.5, 2, 2.5
            # (+0.1, +0.2). Within each branch the change grows; severity 3 is milder than 2
            # (measured over 10 sets of 48 images: 2 -> 3 changes by -7.9 grey levels, -9.7 to -6).
            assert d[0] == 0 < d[1] < d[2] and d[3] < d[4] < d[5] and d[3] < d[2], d
        else:
            # Smallest step over 10 sets of 48 images: +0.24 grey levels (jpeg 4 -> 5).
            assert d[0] == 0 and all(b > a for a, b in itertools.pairwise(d)), (name, d)


def test_raw_pixel_knn_loses_accuracy_with_severity(cifar):
    """1-NN on raw pixels (2,000 references, 256 test images), averaged over every corruption
    whose severities are ordered by strength (saturate's are not: see above).

    Measured over 5 sets of 256 test images x 2 noise seeds: the per-step changes of accuracy
    are -0.0066, -0.0084, -0.0030, -0.0026, -0.0055 (std 0.0054, 0.0043, 0.0029, 0.0025, 0.0046;
    the largest rise +0.0022); severity 1 -> 5 loses 0.0196 +- 0.0040.
    """
    reference = cifar.train_x.float().flatten(1)
    half_sq_norm = 0.5 * reference.pow(2).sum(1)

    def accuracy(images):
        nearest = (images.float().flatten(1) @ reference.T - half_sq_norm).argmax(1)
        return (cifar.train_y[nearest] == cifar.test_y).float().mean().item()

    names = [n for n in CORRUPTIONS if n != "saturate"]
    acc = [accuracy(cifar.test_x)]
    for s in range(1, 6):
        acc.append(
            np.mean(
                [
                    accuracy(
                        corrupt(cifar.test_x, n, s, torch.Generator().manual_seed(corruption_seed(0, n, s)))
                    )
                    for n in names
                ]
            )
        )
    noise = 2 * 0.0054  # twice the largest measured std of one step
    assert all(b <= a + noise for a, b in itertools.pairwise(acc)), acc
    assert acc[5] < acc[1] - 3 * 0.0040, acc  # mean 0.0196, 3 std below it: 0.0076
    assert acc[5] < acc[0]


# ----------------------------------------------------------------------------- noise statistics


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_gaussian_noise_has_the_severity_sigma(severity):
    x = grey(128)  # 0.502: 4 sigma from 0 and 1 even at sigma 0.1
    residual = (corrupt(x, "gaussian_noise", severity, torch.Generator().manual_seed(0)).float() - 128) / 255
    sigma = PARAMS["gaussian_noise"][severity - 1]
    expected = (sigma**2 + 1 / (12 * 255**2)) ** 0.5  # plus the rounding to grey levels
    assert residual.std().item() == pytest.approx(expected, rel=0.01)  # sampling error ~0.2%
    assert abs(residual.mean().item()) < 5 * sigma / residual.numel() ** 0.5


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_impulse_noise_changes_the_requested_fraction(severity):
    x = grey(128)
    out = corrupt(x, "impulse_noise", severity, torch.Generator().manual_seed(0))
    amount, n = PARAMS["impulse_noise"][severity - 1], x.numel()
    changed = out != x
    assert changed.float().mean().item() == pytest.approx(amount, abs=5 * (amount / n) ** 0.5)
    assert set(out[changed].unique().tolist()) <= {0, 255}
    salt = (out == 255).float().sum() / changed.float().sum()
    assert salt.item() == pytest.approx(0.5, abs=5 * (0.25 / changed.sum().item()) ** 0.5)


def quantised_poisson_moments(intensity: float, events: int) -> tuple[float, float]:
    """Exact mean and variance of round(255 * min(k / events, 1)) / 255, k ~ Poisson(intensity * events)."""
    lam = intensity * events
    ks = np.arange(0, int(lam + 20 * lam**0.5) + 20)
    pmf = np.exp(ks * np.log(lam) - lam - np.array([math.lgamma(k + 1) for k in ks]))
    values = np.round(255 * np.minimum(ks / events, 1)) / 255
    mean = (pmf * values).sum()
    return mean, (pmf * (values - mean) ** 2).sum()


@pytest.mark.parametrize("severity", [1, 5])
def test_shot_noise_variance_is_proportional_to_intensity(severity):
    """Var(k / c) = x / c for k ~ Poisson(x c): the variance grows in proportion to the intensity.
    Rounding to grey levels changes it (measured: by up to 12% at 250 and 7% at 500 events, where
    k / c steps by about a grey level), so each flat image is compared with the exact moments of
    the rounded Poisson (measured within 0.5%)."""
    events = PARAMS["shot_noise"][severity - 1]
    variances = []
    for level in (26, 51, 102, 128):  # 0.1 to 0.5: below clipping at 1 even at 50 events
        g = torch.Generator().manual_seed(level)
        out = corrupt(grey(level), "shot_noise", severity, g).double() / 255
        mean, var = quantised_poisson_moments(level / 255, events)
        assert out.mean().item() == pytest.approx(mean, abs=5 * (var / out.numel()) ** 0.5)
        assert out.var().item() == pytest.approx(var, rel=0.02)  # sampling error of a variance ~0.3%
        variances.append(out.var().item())
    per_intensity = np.array(variances) / (np.array([26, 51, 102, 128]) / 255) * events
    assert per_intensity == pytest.approx(1.0, abs=0.08)  # var ~ x / c, up to the rounding


# ----------------------------------------------------------------------------- parity with references


def test_hsv_matches_colorsys_and_round_trips():
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(1, 3, 16, 16, generator=g)
    rgb[0, :, 0, :4] = 0.5  # greys
    rgb[0, :, 1, :4] = 0.0  # black
    rgb[0, 1, 2, :4] = rgb[0, 0, 2, :4]  # ties for the maximum
    hsv = rgb_to_hsv(rgb)
    pixels = rgb[0].permute(1, 2, 0).reshape(-1, 3).double().tolist()
    reference = torch.tensor([colorsys.rgb_to_hsv(*p) for p in pixels])
    assert (hsv[0].permute(1, 2, 0).reshape(-1, 3).double() - reference).abs().max() < 1e-6
    assert (hsv_to_rgb(hsv) - rgb).abs().max() < 1e-6
    back = torch.tensor([colorsys.hsv_to_rgb(*p) for p in reference.tolist()])
    assert (hsv_to_rgb(hsv)[0].permute(1, 2, 0).reshape(-1, 3).double() - back).abs().max() < 1e-6


def test_brightness_and_saturate_act_on_v_and_s_only(cifar):
    x = cifar.test_x[:8]
    clean = rgb_to_hsv(x.float() / 255)
    bright = rgb_to_hsv(corrupt(x, "brightness", 2).float() / 255)
    expected_v = (clean[:, 2] + PARAMS["brightness"][1]).clamp(max=1)
    assert (bright[:, 2] - expected_v).abs().max() < 1 / 255 + 1e-6  # rounding to grey levels
    saturated = rgb_to_hsv(corrupt(x, "saturate", 1).float() / 255)
    assert (saturated[:, 1] - 0.3 * clean[:, 1]).abs().mean() < 0.01
    assert (saturated[:, 2] - clean[:, 2]).abs().max() < 1 / 255 + 1e-6


def pil_roundtrip(images, transform):
    out = []
    for img in images:
        pil = transform(Image.fromarray(img.permute(1, 2, 0).numpy()))
        out.append(torch.from_numpy(np.array(pil.convert("RGB"))).permute(2, 0, 1))
    return torch.stack(out)


def test_pixelate_matches_pil_box_resizing(cifar):
    x = cifar.test_x[:16]
    for severity, keep in enumerate(PARAMS["pixelate"], start=1):
        side = int(32 * keep)

        def pixelate(im, side=side):
            return im.resize((side, side), Image.BOX).resize((32, 32), Image.BOX)

        ref = pil_roundtrip(x, pixelate)
        # PIL rounds to grey levels between its two passes and uses fixed-point weights.
        assert (corrupt(x, "pixelate", severity).int() - ref.int()).abs().max() <= 1


def test_jpeg_is_libjpeg_as_pil_saves_it(cifar):
    """CIFAR-10-C saves with PIL (libjpeg): the corruption must give PIL's images exactly, at each
    severity's quality. Noise of std 6 added: images with no JPEG history."""
    g = torch.Generator().manual_seed(0)
    x = (cifar.test_x[:64].float() + 6 * torch.randn(64, 3, 32, 32, generator=g)).round().clamp(0, 255)
    x = x.to(torch.uint8)
    for severity, quality in enumerate(PARAMS["jpeg_compression"], start=1):

        def jpeg(im, quality=quality):
            buffer = io.BytesIO()
            im.save(buffer, "JPEG", quality=quality)
            return Image.open(buffer)

        ref, ours = pil_roundtrip(x, jpeg), corrupt(x, "jpeg_compression", severity)
        assert torch.equal(ours, ref), quality
        assert mean_abs_distance(ours, x) > 1.0  # it did compress


def test_defocus_kernels_have_their_analytic_shapes():
    # radius 1.5 with sigma 0.1: the 3x3 square of pixels within 1.5, smoothing ~exp(-50) = 0.
    k = disk_kernel(1.5, 0.1)
    centre = k.shape[0] // 2
    square = k[centre - 1 : centre + 2, centre - 1 : centre + 2]
    assert torch.allclose(square, torch.full((3, 3), 1 / 9), atol=1e-6)
    assert k.sum().item() == pytest.approx(1.0, abs=1e-6)
    # radius 1 with sigma 0.2: the plus of 5 pixels.
    k = disk_kernel(1.0, 0.2)
    plus = torch.tensor([[0, 1, 0], [1, 1, 1], [0, 1, 0]]) / 5
    assert torch.allclose(k[1:4, 1:4], plus, atol=1e-5)
    # radius 0.3 with sigma 0.4: one pixel smoothed by the 3-tap Gaussian (a, 1 - 2a, a).
    a = np.exp(-0.5 / 0.16) / (1 + 2 * np.exp(-0.5 / 0.16))
    taps = torch.tensor([a, 1 - 2 * a, a], dtype=torch.float32)
    assert torch.allclose(disk_kernel(0.3, 0.4)[1:4, 1:4], taps[:, None] * taps[None, :], atol=1e-6)


def test_gaussian_blur_matches_a_naive_filter():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8, generator=g)
    sigma = PARAMS["gaussian_blur"][4]
    radius = int(4 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    img = x.double().numpy() / 255
    ref = np.zeros_like(img)
    for i in range(8):
        for j in range(8):
            for di in range(-radius, radius + 1):
                for dj in range(-radius, radius + 1):  # edges repeated
                    ref[..., i, j] += (
                        taps[di + radius]
                        * taps[dj + radius]
                        * img[..., min(max(i + di, 0), 7), min(max(j + dj, 0), 7)]
                    )
    ref = torch.from_numpy(np.round(np.clip(ref, 0, 1) * 255))
    assert (corrupt(x, "gaussian_blur", 5).double() - ref).abs().max() <= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_for_the_deterministic_corruptions(cifar):
    x = cifar.test_x[:64]
    with pytest.raises(ValueError, match="generator is on cpu"):
        corrupt(x.cuda(), "gaussian_noise", 1, torch.Generator())
    for name in CORRUPTIONS:
        cuda = corrupt(x.cuda(), name, 3, torch.Generator(device="cuda").manual_seed(0))
        assert cuda.device.type == "cuda" and cuda.dtype == torch.uint8
        if name not in NOISES:
            assert (cuda.cpu().int() - corrupt(x, name, 3).int()).abs().max() <= 1, name


# ----------------------------------------------------------------------------- robustness_eval


def test_robustness_eval_keys_and_clean_accuracy(cifar):
    train_x, train_y = cifar.train_x[:200], cifar.train_y[:200]
    test_x, test_y = cifar.test_x[:40], cifar.test_y[:40]

    def encode(images):
        return images.float().flatten(1) / 255

    reference = encode(train_x)
    class_means = torch.stack([reference[train_y == c].mean(0) for c in range(10)])
    predictors = {
        "knn": lambda f: train_y[torch.cdist(f, reference).argmin(1)],
        "linear": lambda f: (f @ class_means.T - 0.5 * class_means.pow(2).sum(1)).argmax(1),
    }
    names, severities = ("gaussian_noise", "contrast"), (1, 5)
    r = robustness_eval(encode, test_x, test_y, predictors, names=names, severities=severities, batch_size=16)
    assert set(r) >= {
        "clean",
        "accuracy",
        "mean_corruption",
        "relative_drop",
        "severities",
        "corruptions",
        "n_test",
    }
    assert r["corruptions"] == list(names) and r["severities"] == [1, 5] and r["n_test"] == 40
    for key, predict in predictors.items():
        assert r["clean"][key] == pytest.approx((predict(encode(test_x)) == test_y).float().mean().item())
        # each cell is the predictor's accuracy on that corruption, seeded per (seed, name, severity)
        g = torch.Generator().manual_seed(corruption_seed(0, "gaussian_noise", 5))
        noisy = torch.cat([corrupt(test_x[i : i + 16], "gaussian_noise", 5, g) for i in range(0, 40, 16)])
        assert r["accuracy"]["gaussian_noise"]["5"][key] == pytest.approx(
            (predict(encode(noisy)) == test_y).float().mean().item()
        )
        cells = [r["accuracy"][n][str(s)][key] for n in names for s in severities]
        assert r["mean_corruption"][key] == pytest.approx(np.mean(cells))
        assert r["relative_drop"][key] == pytest.approx((r["clean"][key] - np.mean(cells)) / r["clean"][key])
    assert set(r["accuracy"]) == set(names) and set(r["accuracy"]["contrast"]) == {"1", "5"}
    import json

    json.dumps(r)  # JSON-able as it is
    again = robustness_eval(
        encode, test_x, test_y, predictors, names=names, severities=severities, batch_size=16
    )
    assert again == r


def test_robustness_eval_refuses_bad_arguments(cifar):
    x, y = cifar.test_x[:4], cifar.test_y[:4]
    predictors = {"zero": lambda f: torch.zeros(len(f), dtype=torch.long)}
    with pytest.raises(ValueError, match="name must be one of"):
        robustness_eval(lambda i: i.flatten(1), x, y, predictors, names=("fog",))
    with pytest.raises(ValueError, match="severities must be within 1..5"):
        robustness_eval(lambda i: i.flatten(1), x, y, predictors, severities=(0, 1))
    with pytest.raises(ValueError, match="predictors"):
        robustness_eval(lambda i: i.flatten(1), x, y, {})
    with pytest.raises(ValueError, match="same, non-zero length"):
        robustness_eval(lambda i: i.flatten(1), x, y[:3], predictors)


# ----------------------------------------------------------------------------- figures


def fake_result(offset: float) -> dict:
    names, severities = ["gaussian_noise", "contrast"], [1, 2]
    acc = {
        n: {str(s): {"linear": 0.8 - 0.1 * s - 0.05 * i + offset, "knn": 0.5} for s in severities}
        for i, n in enumerate(names)
    }
    return {
        "clean": {"linear": 0.9 + offset, "knn": 0.6},
        "accuracy": acc,
        "corruptions": names,
        "severities": severities,
    }


def test_robustness_figure_draws_the_means_per_method():
    from superinfo_lib.plots import METHOD_COLORS, robustness_figure

    fig = robustness_figure({"simclr": fake_result(0.0), "superinfo": [fake_result(0.0), fake_result(0.02)]})
    lines = [t for t in fig.data if t.type == "scatter"]
    bars = [t for t in fig.data if t.type == "bar"]
    assert [t.name for t in lines] == ["SimCLR", "SuperInfo"] and len(bars) == 2
    assert list(lines[0].x) == [0, 1, 2]
    # severity s: mean over the two corruptions of 0.8 - 0.1 s - 0.05 i
    assert list(lines[0].y) == pytest.approx([0.9, 0.675, 0.575])
    assert list(lines[1].y) == pytest.approx([0.91, 0.685, 0.585])  # mean of the two seeds
    assert lines[0].error_y.visible is False and list(lines[1].error_y.array) == pytest.approx(
        [0.01414] * 3, abs=1e-4
    )
    assert list(bars[0].x) == ["gaussian noise", "contrast"]
    assert list(bars[0].y) == pytest.approx([0.65, 0.60])  # mean over severities 1, 2
    assert lines[1].line.color == bars[1].marker.color == METHOD_COLORS["superinfo"]
    assert all(
        axis.title.text for axis in (fig.layout.xaxis, fig.layout.xaxis2, fig.layout.yaxis, fig.layout.yaxis2)
    )
    assert fig.layout.legend.y < 0  # below the panels
    with pytest.raises(ValueError, match="predictor 'top5'"):
        robustness_figure({"simclr": fake_result(0.0)}, predictor="top5")


def test_corruption_grid_places_each_image_in_its_tile(cifar):
    from superinfo_lib.plots import corruption_grid

    image = cifar.test_x[:1]
    grid = {
        name: torch.cat([corrupt(image, name, s, torch.Generator().manual_seed(0)) for s in range(6)])
        for name in ("contrast", "pixelate")
    }
    fig = corruption_grid(grid, gap=4)
    mosaic = np.asarray(fig.data[0].z)
    assert mosaic.shape == (2 * 36 - 4, 6 * 36 - 4, 3)
    for row, name in enumerate(grid):
        for col in range(6):
            tile = mosaic[row * 36 : row * 36 + 32, col * 36 : col * 36 + 32]
            assert np.array_equal(tile, grid[name][col].permute(1, 2, 0).numpy())
    assert list(fig.layout.yaxis.ticktext) == ["contrast", "pixelate"]
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    with pytest.raises(ValueError, match="has shape"):
        corruption_grid({"contrast": grid["contrast"], "pixelate": grid["pixelate"][:3]})
