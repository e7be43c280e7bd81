"""Common image corruptions (CIFAR-10-C style), generated in batches on the images' device,
and the robustness evaluation of a frozen encoder under them.

Source of the corruptions and of their parameters per severity: D. Hendrycks and T. Dietterich,
"Benchmarking Neural Network Robustness to Common Corruptions and Perturbations", ICLR 2019;
the parameters are those of CIFAR-10-C in the authors' repository hendrycks/robustness, file
ImageNet-C/create_c/make_cifar_c.py. The code here is this library's own batched torch
implementation of the same operations (`PARAMS` below; JPEG is libjpeg's own), with these choices:

- Every corruption acts on uint8 (N, 3, H, W) images and returns uint8, rounded to the nearest
  value (the original truncates with np.uint8, a bias of about -0.5 grey level).
- gaussian_noise / shot_noise / impulse_noise draw from the given torch.Generator, so a
  generator seeded alike gives identical images. Impulse noise sets each value (each pixel of
  each channel, independently, as the original's salt-and-pepper) to 0 or 255 with probability
  amount / 2 each.
- gaussian_blur: a sampled Gaussian truncated at 4 sigma, edges repeated (the original's
  scikit-image call); defocus_blur: a disk of the given radius anti-aliased by a 3x3 Gaussian
  (a "defocus-like" blur), edges mirrored, as the original's OpenCV call.
- brightness and saturate change V and S in HSV: `rgb_to_hsv` / `hsv_to_rgb` below are a batched
  torch version of the usual conversion (Python's colorsys conventions: hue 0 and saturation 0
  for greys), so greys gain the hue of red when saturate adds to S, as in the original.
- jpeg_compression: the original saves with PIL (libjpeg) at a quality per severity; so does
  `jpeg_roundtrip`, image by image on the CPU.
- pixelate: down- and up-sampling with PIL's BOX rule (a source pixel counts for a target pixel
  when its centre lies in the target's footprint), as one linear map per axis.
- contrast scales each channel's deviation from that image's channel mean.

Severity 0 is the identity (the input is returned as it is). Note that the published saturate
parameters are not ordered by strength: severities 1-2 remove saturation (x0.3, x0.1), 3-5 add it.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

CORRUPTIONS = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "gaussian_blur",
    "brightness",
    "contrast",
    "saturate",
    "jpeg_compression",
    "pixelate",
)
SEVERITIES = (0, 1, 2, 3, 4, 5)

# Parameters of severities 1..5 (CIFAR-10-C), intensities on the [0, 1] scale.
PARAMS = {
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),  # noise standard deviation
    "shot_noise": (500, 250, 100, 75, 50),  # Poisson events at intensity 1
    "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),  # fraction of values set to 0 or 1
    "defocus_blur": ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1.0, 0.2), (1.5, 0.1)),  # disk radius, alias sigma
    "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1.0),  # sigma in pixels
    "brightness": (0.05, 0.1, 0.15, 0.2, 0.3),  # added to V
    "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),  # factor on deviations from the mean
    "saturate": ((0.3, 0.0), (0.1, 0.0), (1.5, 0.0), (2.0, 0.1), (2.5, 0.2)),  # S * a + b
    "jpeg_compression": (80, 65, 58, 50, 40),  # JPEG quality
    "pixelate": (0.95, 0.9, 0.85, 0.75, 0.65),  # side kept before upsampling
}


# ----------------------------------------------------------------------------- colour space


def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 3, H, W) HSV, every channel in [0, 1] (hue in turns)."""
    r, g, b = rgb.unbind(1)
    v, _ = rgb.max(1)
    delta = v - rgb.min(1).values
    safe_delta = torch.where(delta > 0, delta, torch.ones_like(delta))
    s = torch.where(delta > 0, delta / torch.where(v > 0, v, torch.ones_like(v)), torch.zeros_like(v))
    h = torch.where(
        v == r,
        (g - b) / safe_delta,
        torch.where(v == g, 2.0 + (b - r) / safe_delta, 4.0 + (r - g) / safe_delta),
    )
    h = torch.where(delta > 0, (h / 6.0) % 1.0, torch.zeros_like(h))
    return torch.stack([h, s, v], 1)


# For each hue sector (0..5): which of (v, q, p, t) is red, green, blue.
_SECTOR_TO_RGB = ((0, 3, 2), (1, 0, 2), (2, 0, 3), (2, 1, 0), (3, 2, 0), (0, 2, 1))


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) HSV in [0, 1] -> (N, 3, H, W) RGB in [0, 1]; inverse of `rgb_to_hsv`."""
    h, s, v = hsv.unbind(1)
    sector_float = torch.floor(h * 6.0)
    f = h * 6.0 - sector_float
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    options = torch.stack([v, q, p, t], 1)  # (N, 4, H, W)
    table = torch.tensor(_SECTOR_TO_RGB, device=hsv.device)
    index = table[sector_float.long() % 6].permute(0, 3, 1, 2)  # (N, 3, H, W)
    return options.gather(1, index)


# ----------------------------------------------------------------------------- kernels and maps


def gaussian_kernel1d(sigma: float, truncate: float = 4.0, device=None) -> torch.Tensor:
    """Sampled, normalised Gaussian of radius int(truncate * sigma + 0.5) (SciPy's rule)."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def disk_kernel(radius: float, alias_sigma: float, device=None) -> torch.Tensor:
    """(K, K) defocus kernel: the pixels within `radius` of the centre, equal weights summing to 1,
    smoothed by a 3x3 Gaussian of `alias_sigma` (zeros outside the disk's grid)."""
    half = math.ceil(radius) + 1  # one ring of zeros for the 3x3 smoothing to fill
    x = torch.arange(-half, half + 1, dtype=torch.float32, device=device)
    disk = ((x[:, None] ** 2 + x[None, :] ** 2) <= radius**2).float()
    disk = disk / disk.sum()
    g = torch.exp(-0.5 * (torch.tensor([-1.0, 0.0, 1.0], device=device) / alias_sigma) ** 2)
    g = g / g.sum()
    smoothed = F.conv2d(disk[None, None], (g[:, None] * g[None, :])[None, None], padding=1)[0, 0]
    return smoothed


def box_resample_matrix(in_size: int, out_size: int, device=None) -> torch.Tensor:
    """(out_size, in_size) linear map of PIL's BOX resampling along one axis: target pixel j
    averages the source pixels whose centres fall in its footprint (nearest when upsampling)."""
    scale = in_size / out_size
    support = 0.5 * max(scale, 1.0)
    centre = (torch.arange(out_size, dtype=torch.float64) + 0.5) * scale  # in source pixels
    source = torch.arange(in_size, dtype=torch.float64) + 0.5
    offset = (source[None, :] - centre[:, None]) / max(scale, 1.0)
    weights = ((offset > -0.5) & (offset <= 0.5)).double()
    # PIL only looks at source pixels in [centre - support, centre + support), rounded.
    lo = torch.floor(centre - support + 0.5).clamp(min=0)
    hi = torch.floor(centre + support + 0.5).clamp(max=in_size)
    index = torch.arange(in_size, dtype=torch.float64)
    weights = weights * ((index[None, :] >= lo[:, None]) & (index[None, :] < hi[:, None]))
    return (weights / weights.sum(1, keepdim=True)).float().to(device)


# ----------------------------------------------------------------------------- JPEG


def jpeg_roundtrip(images: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode and decode uint8 (N, 3, H, W) images as baseline JPEG at `quality` with PIL's
    libjpeg, as CIFAR-10-C does (PIL's save, default 4:2:0 chroma subsampling); uint8 (N, 3, H, W)
    back, on the images' device.

    One image at a time on the CPU: about 0.3 ms per 32x32 image (10,000 test images at 5
    severities: about 15 s on one core, under load).
    """
    arrays = images.detach().cpu().permute(0, 2, 3, 1).contiguous().numpy()  # (N, H, W, 3)
    out = np.empty_like(arrays)
    for i, array in enumerate(arrays):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, "JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            out[i] = np.asarray(decoded.convert("RGB"))
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(images.device)


# ----------------------------------------------------------------------------- the corruptions


def _noise_generator_check(generator: torch.Generator | None, device: torch.device) -> None:
    if generator is not None and generator.device.type != device.type:
        raise ValueError(
            f"generator is on {generator.device}, the images on {device}: "
            "make the generator on the images' device"
        )


def _gaussian_noise(x, sigma, g):
    return x + sigma * torch.randn(x.shape, generator=g, device=x.device)


def _shot_noise(x, events, g):
    return torch.poisson(x * events, generator=g) / events


def _impulse_noise(x, amount, g):
    u = torch.rand(x.shape, generator=g, device=x.device)
    x = torch.where(u < amount / 2, torch.zeros_like(x), x)  # pepper
    return torch.where((u >= amount / 2) & (u < amount), torch.ones_like(x), x)  # salt


def _depthwise(x, kernel2d, padding_mode):
    k = kernel2d.shape[-1] // 2
    x = F.pad(x, (k, k, k, k), mode=padding_mode)
    return F.conv2d(x, kernel2d.expand(x.shape[1], 1, -1, -1), groups=x.shape[1])


def _gaussian_blur(x, sigma, g):
    k1 = gaussian_kernel1d(sigma, device=x.device)
    return _depthwise(x, k1[:, None] * k1[None, :], "replicate")


def _defocus_blur(x, params, g):
    return _depthwise(x, disk_kernel(*params, device=x.device), "reflect")


def _brightness(x, shift, g):
    hsv = rgb_to_hsv(x)
    hsv[:, 2] = (hsv[:, 2] + shift).clamp(0, 1)
    return hsv_to_rgb(hsv)


def _saturate(x, params, g):
    factor, shift = params
    hsv = rgb_to_hsv(x)
    hsv[:, 1] = (hsv[:, 1] * factor + shift).clamp(0, 1)
    return hsv_to_rgb(hsv)


def _contrast(x, factor, g):
    mean = x.mean(dim=(2, 3), keepdim=True)
    return (x - mean) * factor + mean


def _pixelate(x, keep, g):
    h, w = x.shape[-2:]
    rows = box_resample_matrix(int(h * keep), h, x.device) @ box_resample_matrix(h, int(h * keep), x.device)
    cols = box_resample_matrix(int(w * keep), w, x.device) @ box_resample_matrix(w, int(w * keep), x.device)
    return torch.einsum("ih,nchw,jw->ncij", rows, x, cols)


_FLOAT_OPS = {
    "gaussian_noise": _gaussian_noise,
    "shot_noise": _shot_noise,
    "impulse_noise": _impulse_noise,
    "defocus_blur": _defocus_blur,
    "gaussian_blur": _gaussian_blur,
    "brightness": _brightness,
    "contrast": _contrast,
    "saturate": _saturate,
    "pixelate": _pixelate,
    "jpeg_compression": lambda x, quality, g: (
        jpeg_roundtrip((x * 255).round().to(torch.uint8), quality) / 255
    ),
}


def check_corruption(name: str, severity: int) -> None:
    """ValueError naming the bad argument and the valid values."""
    if name not in CORRUPTIONS:
        raise ValueError(f"name must be one of {', '.join(CORRUPTIONS)}; got {name!r}")
    if isinstance(severity, bool) or not isinstance(severity, int) or severity not in SEVERITIES:
        raise ValueError(
            f"severity must be one of {', '.join(map(str, SEVERITIES))} (0 = clean); got {severity!r}"
        )


def corrupt(
    images: torch.Tensor, name: str, severity: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply one corruption at one severity to a batch.

    Args:
        images: uint8 (N, 3, H, W), on any device.
        name: one of CORRUPTIONS.
        severity: 0 (identity: `images` itself is returned) to 5.
        generator: draws the noise of the noise corruptions; on the images' device. The same
            seed gives the same images. None uses torch's global generator.
    Returns:
        uint8 (N, 3, H, W) on the images' device.
    """
    check_corruption(name, severity)
    if (
        not isinstance(images, torch.Tensor)
        or images.dtype != torch.uint8
        or images.ndim != 4
        or images.shape[1] != 3
    ):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        dtype = images.dtype if isinstance(images, torch.Tensor) else None
        raise ValueError(f"images must be a uint8 tensor of shape (N, 3, H, W), got {shape} {dtype}")
    if severity == 0:
        return images
    param = PARAMS[name][severity - 1]
    _noise_generator_check(generator, images.device)
    x = images.float() / 255
    x = _FLOAT_OPS[name](x, param, generator)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


# ----------------------------------------------------------------------------- evaluation


def corruption_seed(seed: int, name: str, severity: int) -> int:
    """A fixed seed per (seed, corruption, severity), the same in every Python process."""
    return zlib.crc32(f"{seed}/{name}/{severity}".encode())


# Longer than most functions here: one pass over corruptions x severities x predictors,
# written out so that it reads in one go.
@torch.no_grad()
def robustness_eval(
    encode: Callable[[torch.Tensor], torch.Tensor],
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    predictors: dict[str, Callable[[torch.Tensor], torch.Tensor]],
    names=CORRUPTIONS,
    severities=(1, 2, 3, 4, 5),
    seed: int = 0,
    batch_size: int = 1000,
) -> dict:
    """Accuracy of fixed predictors on frozen features of corrupted test images.

    Args:
        encode: uint8 (n, 3, H, W) -> features (n, F), e.g. eval.extract_features bound to a model.
        test_images: uint8 (N, 3, H, W); corrupted on its device, `batch_size` images at a time.
        test_labels: (N,) int.
        predictors: name -> callable(features (n, F)) -> predicted labels (n,), fitted on clean
            training features by the caller (e.g. {"knn": ..., "linear": ...}).
        names, severities: which corruptions (of CORRUPTIONS) and severities (1..5).
        seed: the noise of (corruption, severity) is drawn from `corruption_seed(seed, ...)`, so a
            result is reproducible for the same seed and batch_size.
    Returns:
        JSON-able dict: "clean" {predictor: accuracy}, "accuracy" {corruption: {"severity":
        {predictor: accuracy}}}, "mean_corruption" {predictor: mean over corruptions x severities},
        "relative_drop" {predictor: (clean - mean) / clean}, "corruptions", "severities", "n_test",
        "seed".
    """
    names, severities = tuple(names), tuple(severities)
    for name in names:
        check_corruption(name, 1)
    for s in severities:
        check_corruption(CORRUPTIONS[0], s)
        if s == 0:
            raise ValueError(
                "severities must be within 1..5: severity 0 is the clean accuracy, reported as 'clean'"
            )
    if not names or not severities:
        raise ValueError("names and severities must not be empty")
    if not predictors:
        raise ValueError("predictors must name at least one predictor, e.g. {'knn': ...}")
    if len(test_images) != len(test_labels) or len(test_images) == 0:
        raise ValueError(
            f"test_images ({len(test_images)}) and test_labels ({len(test_labels)}) must have "
            "the same, non-zero length"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    labels = test_labels.cpu()

    def accuracies(transform) -> dict[str, float]:
        correct = dict.fromkeys(predictors, 0)
        for start in range(0, len(test_images), batch_size):
            features = encode(transform(test_images[start : start + batch_size]))
            truth = labels[start : start + batch_size]
            for key, predict in predictors.items():
                correct[key] += int((predict(features).cpu() == truth).sum())
        return {key: correct[key] / len(labels) for key in predictors}

    clean = accuracies(lambda x: x)
    accuracy: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        accuracy[name] = {}
        for s in severities:
            g = torch.Generator(device=test_images.device).manual_seed(corruption_seed(seed, name, s))
            accuracy[name][str(s)] = accuracies(lambda x, n=name, s=s, g=g: corrupt(x, n, s, g))
    cells = len(names) * len(severities)
    mean = {
        key: sum(accuracy[n][str(s)][key] for n in names for s in severities) / cells for key in predictors
    }
    drop = {key: (clean[key] - mean[key]) / clean[key] if clean[key] > 0 else None for key in predictors}
    return {
        "clean": clean,
        "accuracy": accuracy,
        "mean_corruption": mean,
        "relative_drop": drop,
        "severities": list(severities),
        "corruptions": list(names),
        "n_test": len(labels),
        "seed": seed,
    }
