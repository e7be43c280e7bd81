"""CIFAR-10 as uint8 tensors, a synthetic stand-in, and per-sample GPU augmentation.

Sources, in the order `load_cifar10` tries them:
  1. an explicit path (a JPEG pack .npz, or a folder holding `cifar-10-batches-py`);
  2. $SUPERINFO_DATA (same two forms);
  3. data/cifar10-jpeg.npz (the JPEG pack);
  4. with download=True, the JPEG pack (18 MB) downloaded into data/ from PACK_URL, kept only if
     its sha256 is PACK_SHA256 ($SUPERINFO_DATA_URL / $SUPERINFO_DATA_SHA256 override them);
  5. with download=True, torchvision's download into data/ (slow: about 170 MB from a server that
     can take most of an hour; torchvision checks the files' MD5).

torchvision's `cifar-10-batches-py` files are Python pickles, which can run code when read, so
they are read only from a path the user names (1, 2) or after torchvision has verified them
(5); a folder that merely lies in data/ is not picked up on its own.

Download the pack (what load_cifar10(download=True) does first):
    python -m superinfo_lib.data download [--url URL] [--sha256 HEX] [--out data/cifar10-jpeg.npz]
Make a pack from a torchvision download:
    python -m superinfo_lib.data make-pack --root data --out data/cifar10-jpeg.npz
"""

from __future__ import annotations

import argparse
import functools
import io
import math
import os
import pickle
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .download import VerificationError, check_sha256, fetch_verified, sha256_file

REPO_ROOT = Path(__file__).resolve().parent.parent
PACK_NAME = "cifar10-jpeg.npz"
# The JPEG pack as a release asset of this repository (publishing it: data/README.md). The hash
# pins those exact bytes: a download that differs in any byte is refused.
PACK_URL = "https://github.com/superinfo-course/superinfo/releases/download/data-v1/cifar10-jpeg.npz"
PACK_SHA256 = "7b69d368b8c8d4f7a21dd19ba4d295f8c6edd2b027fca5c550de9992da2d0c63"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# Per-channel statistics of the CIFAR-10 training set.
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


@dataclass
class ImageData:
    """Images as uint8 (N, 3, H, W) tensors, labels as int64 (N,)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...]
    source: str

    def to(self, device) -> ImageData:
        return ImageData(
            self.train_x.to(device),
            self.train_y.to(device),
            self.test_x.to(device),
            self.test_y.to(device),
            self.classes,
            self.source,
        )


def validation_split(data: ImageData, holdout: int) -> ImageData:
    """The last `holdout` training images as the evaluation set, the rest for training: for
    choosing coefficients without ever reading the test set. The pack's order is random, so
    the held-out images are a random sample."""
    if not 0 < holdout < len(data.train_x):
        raise ValueError(f"holdout must be in 1..{len(data.train_x) - 1}, got {holdout}")
    cut = len(data.train_x) - holdout
    return ImageData(
        data.train_x[:cut],
        data.train_y[:cut],
        data.train_x[cut:],
        data.train_y[cut:],
        data.classes,
        source=f"{data.source}, validation split (last {holdout} training images)",
    )


# ----------------------------------------------------------------------------- finding data


def candidate_paths() -> list[Path]:
    """Every place searched when no path is given, in order."""
    paths = []
    if os.environ.get("SUPERINFO_DATA"):
        paths.append(Path(os.environ["SUPERINFO_DATA"]))
    paths.append(REPO_ROOT / "data" / PACK_NAME)
    return paths


def find_cifar10(path: str | Path | None = None) -> Path:
    """The pack file or torchvision folder to read; FileNotFoundError naming every place tried."""
    if path is not None:
        path = Path(path)
        if (
            path.is_file()
            or (path / "cifar-10-batches-py").is_dir()
            or path.name == "cifar-10-batches-py"
            and path.is_dir()
        ):
            return path
        raise FileNotFoundError(
            f"CIFAR-10 not found at {path} (expected a {PACK_NAME} file or a folder "
            "holding cifar-10-batches-py)"
        )
    for candidate in candidate_paths():
        if candidate.is_file() or candidate.is_dir():
            return candidate
    raise FileNotFoundError(missing_data_message())


def pack_source() -> tuple[str, str]:
    """The pack's URL and sha256: $SUPERINFO_DATA_URL and $SUPERINFO_DATA_SHA256 when set, else
    PACK_URL and PACK_SHA256 (so a mirror of the published file needs only the URL)."""
    sha256 = os.environ.get("SUPERINFO_DATA_SHA256") or PACK_SHA256
    return pack_url(), check_sha256(sha256, "SUPERINFO_DATA_SHA256")


def pack_url() -> str:
    return os.environ.get("SUPERINFO_DATA_URL") or PACK_URL


def download_pack(
    dest: str | Path | None = None, url: str | None = None, sha256: str | None = None, progress: bool = True
) -> Path:
    """Download the JPEG pack to `dest` (default data/cifar10-jpeg.npz), keeping it only if its
    sha256 matches. url / sha256 default to `pack_source()`. Raises VerificationError (a
    truncated or altered download) or OSError (offline, refused, HTTP error); either way
    nothing is left at `dest`."""
    dest = Path(dest) if dest is not None else REPO_ROOT / "data" / PACK_NAME
    sha256 = sha256 or pack_source()[1]
    return fetch_verified(url or pack_url(), dest, sha256=sha256, progress=progress)


def missing_data_message(download_error: Exception | None = None, pack_error: Exception | None = None) -> str:
    """Every place searched, why each download failed (`pack_error`: the pack's; `download_error`:
    torchvision's), and the ways to get the data."""
    url = pack_url()
    lines = ["CIFAR-10 was not found. Searched:"] + [f"  - {p}" for p in candidate_paths()]
    if pack_error is not None:
        lines.append(f"The JPEG pack's download from {url} failed: {pack_error}")
    if download_error is not None:
        lines.append(f"torchvision's download into {REPO_ROOT / 'data'} failed: {download_error}")
    lines += [
        "Get it by one of:",
        f"  - with internet: python -m superinfo_lib.data download (the JPEG pack, 18 MB, from {url});",
        "    the trainer (unless given --no-download) and the notebooks do this themselves, then try "
        "torchvision's download;",
        "  - a torchvision download you already have: pass --data (or $SUPERINFO_DATA) the folder "
        "holding cifar-10-batches-py;",
        f"  - copy a JPEG pack ({PACK_NAME}) into data/ or point $SUPERINFO_DATA or --data at it;",
        "  - see data/README.md.",
    ]
    return "\n".join(lines)


def load_cifar10(
    path: str | Path | None = None,
    download: bool = False,
    train_limit: int | None = None,
    test_limit: int | None = None,
) -> ImageData:
    """CIFAR-10 from `path` or the first place found (see module docstring).

    With `download` and nothing found (and no `path` given: a path that does not exist is an
    error, not a reason to download), the JPEG pack is downloaded into data/, then, if that
    fails, torchvision's CIFAR-10; if both fail, FileNotFoundError says why and what to do.

    train_limit / test_limit keep only the first images (the pack's order is a random
    permutation, so a prefix is roughly class-balanced) and decode only those.
    """
    try:
        found = find_cifar10(path)
    except FileNotFoundError as err:
        if path is not None or not download:
            raise
        found = _download_cifar10(err)
    if found.is_file():
        return read_pack(found, train_limit, test_limit)
    return read_torchvision_layout(found, train_limit, test_limit)


def _download_cifar10(not_found: FileNotFoundError) -> Path:
    """The JPEG pack if it downloads and verifies, else torchvision's folder in data/."""
    url, _ = pack_source()  # a malformed $SUPERINFO_DATA_SHA256 is the user's to fix: raised
    try:
        return download_pack(progress=True)
    except (OSError, VerificationError) as err:  # offline, refused, cut short, altered
        pack_err = err
    print(
        f"The JPEG pack's download from {url} failed ({pack_err}); trying torchvision's CIFAR-10 in "
        "data/ instead (a slow download of about 170 MB unless it is already there)",
        file=sys.stderr,
    )
    try:  # downloads, or verifies the MD5 of an earlier download, before anything is read
        download_torchvision(REPO_ROOT / "data")
    except Exception as download_err:  # offline, proxy, disk full...
        raise FileNotFoundError(missing_data_message(download_err, pack_error=pack_err)) from not_found
    return REPO_ROOT / "data"


def download_torchvision(root: Path) -> None:
    import torchvision

    torchvision.datasets.CIFAR10(str(root), train=True, download=True)
    torchvision.datasets.CIFAR10(str(root), train=False, download=True)


# ----------------------------------------------------------------------------- the JPEG pack


def _decode_jpegs(blob: np.ndarray, offsets: np.ndarray, limit: int | None, path: Path) -> torch.Tensor:
    from PIL import Image

    n = len(offsets) - 1 if limit is None else min(limit, len(offsets) - 1)
    # Decoded straight into (N, C, H, W): no second copy of the images at the peak (150 MB for
    # the training set, a good part of a 1 GB Binder session).
    out = np.empty((n, 3, 32, 32), dtype=np.uint8)
    for i in range(n):
        try:
            img = Image.open(io.BytesIO(blob[offsets[i] : offsets[i + 1]].tobytes())).convert("RGB")
        except Exception as err:
            raise ValueError(f"{path}: image {i} is not a readable JPEG ({err})") from err
        if img.size != (32, 32):
            raise ValueError(f"{path}: image {i} is {img.size[0]}x{img.size[1]}, expected 32x32")
        out[i] = np.asarray(img).transpose(2, 0, 1)
    return torch.from_numpy(out)


def read_pack(path: str | Path, train_limit: int | None = None, test_limit: int | None = None) -> ImageData:
    """Read a JPEG pack (format: data/README.md); ValueError naming the file if corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 pack not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as pack:
            arrays = {
                k: pack[k]
                for k in (
                    "train_jpeg",
                    "train_offsets",
                    "train_labels",
                    "test_jpeg",
                    "test_offsets",
                    "test_labels",
                    "classes",
                )
            }
    except KeyError as err:
        raise ValueError(f"{path} is not a CIFAR-10 JPEG pack: missing array {err}") from err
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path} is not a readable CIFAR-10 JPEG pack ({err})") from err
    split = {}
    for name, limit in (("train", train_limit), ("test", test_limit)):
        offsets, labels = arrays[f"{name}_offsets"], arrays[f"{name}_labels"]
        if len(offsets) != len(labels) + 1 or offsets[-1] > len(arrays[f"{name}_jpeg"]):
            raise ValueError(f"{path}: {name}_offsets do not match {name}_labels / {name}_jpeg")
        x = _decode_jpegs(arrays[f"{name}_jpeg"], offsets, limit, path)
        split[name] = (x, torch.from_numpy(labels[: len(x)].astype(np.int64)))
    return ImageData(
        *split["train"], *split["test"], tuple(str(c) for c in arrays["classes"]), source=f"JPEG pack {path}"
    )


def write_pack(
    path: str | Path,
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    classes=CLASSES,
    quality: int = 75,
) -> None:
    """Write images (N, 32, 32, 3) uint8 as a JPEG pack, each split in a fixed random order
    (seed 0 for train, 1 for test), atomically."""
    from PIL import Image

    arrays = {"classes": np.array(classes)}
    for name, x, y, seed in (("train", train_x, train_y, 0), ("test", test_x, test_y, 1)):
        order = np.random.default_rng(seed).permutation(len(x))
        blobs = []
        for i in order:
            buf = io.BytesIO()
            Image.fromarray(x[i]).save(buf, format="JPEG", quality=quality)
            blobs.append(np.frombuffer(buf.getvalue(), dtype=np.uint8))
        arrays[f"{name}_jpeg"] = np.concatenate(blobs)
        arrays[f"{name}_offsets"] = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
        arrays[f"{name}_labels"] = np.asarray(y, dtype=np.uint8)[order]
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def read_torchvision_layout(
    root: str | Path, train_limit: int | None = None, test_limit: int | None = None
) -> ImageData:
    """Read torchvision's `cifar-10-batches-py` pickles from a folder the user chose (pickles can
    run code: never call this on a path found by searching)."""
    root = Path(root)
    folder = root if root.name == "cifar-10-batches-py" else root / "cifar-10-batches-py"
    split = {}
    for name, files, limit in (
        ("train", [f"data_batch_{i}" for i in range(1, 6)], train_limit),
        ("test", ["test_batch"], test_limit),
    ):
        xs, ys = [], []
        for f in files:
            file = folder / f
            if not file.is_file():
                raise FileNotFoundError(f"CIFAR-10 batch file missing: {file}")
            try:
                with open(file, "rb") as fh:
                    entry = pickle.load(fh, encoding="latin1")
                xs.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                ys.append(np.asarray(entry["labels"], dtype=np.int64))
            except Exception as err:
                raise ValueError(f"{file} is not a readable CIFAR-10 batch ({err})") from err
        x, y = np.concatenate(xs)[:limit], np.concatenate(ys)[:limit]
        split[name] = (torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y))
    return ImageData(*split["train"], *split["test"], CLASSES, source=f"torchvision layout {folder}")


# ----------------------------------------------------------------------------- synthetic images


def synthetic_images(
    n_train: int = 512, n_test: int = 256, num_classes: int = 10, size: int = 32, seed: int = 0
) -> ImageData:
    """A tiny stand-in for CIFAR-10: each class is a coloured shape at a random place on a
    noisy background. Learnable in a few steps, so trainer tests run in seconds."""
    g = torch.Generator().manual_seed(seed)
    palette = torch.rand(num_classes, 3, generator=g) * 0.8 + 0.2
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")

    def make(n):
        y = torch.randint(num_classes, (n,), generator=g)
        centre = torch.randint(size // 4, 3 * size // 4, (n, 2), generator=g)
        radius = size / 6 + (y % 3).float() * size / 12  # shape size depends on class
        dist = ((yy - centre[:, 0, None, None]) ** 2 + (xx - centre[:, 1, None, None]) ** 2).float().sqrt()
        mask = (dist < radius[:, None, None]).float()[:, None]  # (n, 1, H, W)
        background = torch.rand(n, 3, 1, 1, generator=g) * 0.3 + 0.1 * torch.rand(
            n, 3, size, size, generator=g
        )
        img = mask * palette[y][:, :, None, None] + (1 - mask) * background
        return (img.clamp(0, 1) * 255).to(torch.uint8), y

    train_x, train_y = make(n_train)
    test_x, test_y = make(n_test)
    return ImageData(
        train_x,
        train_y,
        test_x,
        test_y,
        tuple(f"class{i}" for i in range(num_classes)),
        source=f"synthetic (seed {seed})",
    )


# ----------------------------------------------------------------------------- augmentation


@dataclass(frozen=True)
class AugmentConfig:
    """SimCLR's CIFAR augmentation; every sample draws its own parameters. `noise_sd` adds
    Gaussian pixel noise of that standard deviation (pixel values in [0, 1]) to each view
    after the colour changes: information that the other view never shares."""

    crop_scale: tuple[float, float] = (0.2, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    grayscale_p: float = 0.2
    noise_sd: float = 0.0


# The trainer's --augment choices. "strong" changes each view more (smaller crops, twice the
# colour jitter, pixel noise): more of what one view sees is not shared with the other.
AUGMENT_PRESETS = {
    "standard": AugmentConfig(),
    "strong": AugmentConfig(
        crop_scale=(0.08, 1.0),
        brightness=0.8,
        contrast=0.8,
        saturation=0.8,
        hue=0.2,
        grayscale_p=0.2,
        noise_sd=0.05,
    ),
}


# Names of the columns of the parameter matrix `augment` returns (for probes).
AUG_PARAM_NAMES = (
    "crop_cx",
    "crop_cy",
    "crop_w",
    "crop_h",
    "flip",
    "jitter_applied",
    "brightness",
    "contrast",
    "saturation",
    "hue",
    "grayscale",
)


def _uniform(n, lo, hi, g, device):
    return lo + (hi - lo) * torch.rand(n, device=device, generator=g)


def sample_aug_params(
    n: int, cfg: AugmentConfig, generator: torch.Generator | None = None, device="cpu"
) -> torch.Tensor:
    """(n, len(AUG_PARAM_NAMES)) float32: one independent draw per sample.

    Crop boxes are in [0, 1] image coordinates (centre, width, height); jitter factors are
    multiplicative (1 = unchanged), hue an additive shift in turns; factors are 1 / 0 where
    jitter is not applied.
    """
    g = generator
    area = _uniform(n, *cfg.crop_scale, g, device)
    log_ratio = _uniform(n, math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]), g, device)
    ratio = torch.exp(log_ratio)
    w = torch.sqrt(area * ratio).clamp(max=1.0)
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = w / 2 + (1 - w) * torch.rand(n, device=device, generator=g)
    cy = h / 2 + (1 - h) * torch.rand(n, device=device, generator=g)
    flip = (torch.rand(n, device=device, generator=g) < cfg.flip_p).float()
    jitter = (torch.rand(n, device=device, generator=g) < cfg.jitter_p).float()
    brightness = 1 + jitter * _uniform(n, -cfg.brightness, cfg.brightness, g, device)
    contrast = 1 + jitter * _uniform(n, -cfg.contrast, cfg.contrast, g, device)
    saturation = 1 + jitter * _uniform(n, -cfg.saturation, cfg.saturation, g, device)
    hue = jitter * _uniform(n, -cfg.hue, cfg.hue, g, device)
    gray = (torch.rand(n, device=device, generator=g) < cfg.grayscale_p).float()
    return torch.stack([cx, cy, w, h, flip, jitter, brightness, contrast, saturation, hue, gray], dim=1)


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    return 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


def _shift_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate hue by `shift` turns per sample: RGB -> HSV -> RGB, all batched. x (B, 3, H, W) in [0, 1]."""
    r, g, b = x.unbind(1)
    maxc, _ = x.max(1)
    minc, _ = x.min(1)
    v = maxc
    delta = maxc - minc
    s = delta / maxc.clamp_min(1e-8)
    safe = delta.clamp_min(1e-8)
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, (h / 6.0) % 1.0, torch.zeros_like(h))
    h = (h + shift[:, None, None]) % 1.0
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.long() % 6
    choices_r = torch.stack([v, q, p, p, t, v], 1)
    choices_g = torch.stack([t, v, v, q, p, p], 1)
    choices_b = torch.stack([p, p, t, v, v, q], 1)
    idx = i[:, None]
    return torch.stack(
        [choices_r.gather(1, idx)[:, 0], choices_g.gather(1, idx)[:, 0], choices_b.gather(1, idx)[:, 0]], 1
    )


def apply_aug_params(images: torch.Tensor, params: torch.Tensor, out_size: int | None = None) -> torch.Tensor:
    """Augment a batch with per-sample parameters, then normalise.

    Args:
        images: (B, 3, H, W) uint8 (or float in [0, 1]).
        params: (B, 11) from `sample_aug_params`.
    Returns:
        (B, 3, out, out) float32, normalised by the CIFAR-10 mean / std.
    """
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    b = x.shape[0]
    out_size = out_size or x.shape[-1]
    cx, cy, w, h, flip, _, brightness, contrast, saturation, hue, gray = params.T
    # Random resized crop + flip as one affine map in [-1, 1] coordinates (bilinear).
    theta = torch.zeros(b, 2, 3, device=x.device)
    theta[:, 0, 0] = w * (1 - 2 * flip)
    theta[:, 0, 2] = 2 * cx - 1
    theta[:, 1, 1] = h
    theta[:, 1, 2] = 2 * cy - 1
    grid = F.affine_grid(theta, (b, 3, out_size, out_size), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    # Colour jitter in torchvision's definitions, fixed order (torchvision shuffles it).
    x = (x * brightness[:, None, None, None]).clamp(0, 1)
    mean_gray = _grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
    x = (contrast[:, None, None, None] * x + (1 - contrast[:, None, None, None]) * mean_gray).clamp(0, 1)
    x = (saturation[:, None, None, None] * x + (1 - saturation[:, None, None, None]) * _grayscale(x)).clamp(
        0, 1
    )
    x = _shift_hue(x, hue)
    x = torch.where(gray[:, None, None, None] > 0, _grayscale(x).expand_as(x), x)
    mean, std = _mean_std(x.device)
    return (x - mean) / std


def augment(
    images: torch.Tensor, cfg: AugmentConfig = AugmentConfig(), generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One augmented view per image, on the images' device: ((B, 3, H, W) float, (B, 11) params)."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError("images is an empty batch")
    params = sample_aug_params(images.shape[0], cfg, generator, images.device)
    views = apply_aug_params(images, params)
    if cfg.noise_sd > 0:  # in pixel units: divided by each channel's normalising std
        noise = torch.randn(views.shape, device=views.device, generator=generator)
        views = views + noise * (cfg.noise_sd / _mean_std(views.device)[1])
    return views, params


def two_views(
    batch: torch.Tensor,
    generator: torch.Generator | None = None,
    cfg: AugmentConfig = AugmentConfig(),
    channels_last: bool = False,
) -> torch.Tensor:
    """Two independently augmented views of each image: uint8 (B, 3, H, W) -> float (2B, 3, H, W),
    view 1 of every image first, then view 2 (the layout `step.training_step` expects)."""
    v1, _ = augment(batch, cfg, generator)
    v2, _ = augment(batch, cfg, generator)
    views = torch.cat([v1, v2])
    return views.contiguous(memory_format=torch.channels_last) if channels_last else views


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> normalised float, no augmentation (for evaluation)."""
    mean, std = _mean_std(images.device)
    return (images.float() / 255 - mean) / std


@functools.cache
def _mean_std(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The normalisation constants, made once per device (no host-to-device copy per batch)."""
    return (
        torch.tensor(MEAN, device=device).view(1, 3, 1, 1),
        torch.tensor(STD, device=device).view(1, 3, 1, 1),
    )


# ----------------------------------------------------------------------------- CLI


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m superinfo_lib.data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("download", help="download the JPEG pack, verified by its sha256")
    fetch.add_argument("--url", help=f"where to get it (default: $SUPERINFO_DATA_URL, else {PACK_URL})")
    fetch.add_argument(
        "--sha256", metavar="HEX", help="its sha256 (default: $SUPERINFO_DATA_SHA256, else PACK_SHA256)"
    )
    fetch.add_argument(
        "--out",
        metavar="PATH",
        default=str(REPO_ROOT / "data" / PACK_NAME),
        help="where to write it (%(default)s)",
    )
    make = sub.add_parser("make-pack", help="make a JPEG pack from torchvision's CIFAR-10 layout")
    make.add_argument("--root", default=str(REPO_ROOT / "data"), help="folder holding cifar-10-batches-py")
    make.add_argument("--out", default=str(REPO_ROOT / "data" / PACK_NAME))
    make.add_argument("--download", action="store_true", help="download with torchvision first")
    args = parser.parse_args(argv)
    if args.command == "download":
        _download_command(parser, args)
    else:
        _make_pack_command(args)


def _download_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    try:
        sha256 = check_sha256(args.sha256, "--sha256") if args.sha256 else pack_source()[1]
    except ValueError as err:
        parser.error(str(err))
    url = args.url or pack_url()
    out = Path(args.out)
    if out.is_file() and sha256_file(out) == sha256:
        print(f"{out} is already there (sha256 {sha256})")
        return
    try:
        download_pack(out, url, sha256, progress=True)
    except (OSError, VerificationError) as err:
        parser.exit(1, f"could not download the JPEG pack from {url}: {err}\n")
    print(f"wrote {out} ({out.stat().st_size} bytes, sha256 {sha256}) from {url}")


def _make_pack_command(args: argparse.Namespace) -> None:
    if args.download:
        download_torchvision(Path(args.root))
    data = read_torchvision_layout(args.root)
    write_pack(
        args.out,
        data.train_x.permute(0, 2, 3, 1).numpy(),
        data.train_y.numpy(),
        data.test_x.permute(0, 2, 3, 1).numpy(),
        data.test_y.numpy(),
        data.classes,
    )
    print(
        f"wrote {args.out}: {len(data.train_y)} train + {len(data.test_y)} test images, "
        f"sha256 {sha256_file(args.out)}"
    )


if __name__ == "__main__":
    main()
