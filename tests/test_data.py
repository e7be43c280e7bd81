"""superinfo_lib.data: the JPEG pack, torchvision's layout, finding CIFAR-10, augmentation."""

import colorsys
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import superinfo_lib.data as data_mod
from superinfo_lib.data import (
    AUG_PARAM_NAMES,
    CLASSES,
    AugmentConfig,
    _shift_hue,
    apply_aug_params,
    augment,
    load_cifar10,
    normalize,
    read_pack,
    read_torchvision_layout,
    sample_aug_params,
    synthetic_images,
    write_pack,
)

REPO = Path(__file__).resolve().parent.parent


def smooth_images(n, seed=0):
    """(n, 32, 32, 3) uint8 images JPEG keeps well: a colour gradient plus a block."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, 32), np.linspace(0, 1, 32), indexing="ij")
    out = np.empty((n, 32, 32, 3), dtype=np.uint8)
    for i in range(n):
        a, b, c = rng.uniform(0, 1, (3, 3))
        img = a[None, None] * yy[..., None] + b[None, None] * xx[..., None]
        r0, c0 = rng.integers(4, 20, 2)
        img[r0 : r0 + 10, c0 : c0 + 10] = c
        out[i] = np.clip(img / img.max() * 255, 0, 255).astype(np.uint8)
    return out


# ----------------------------------------------------------------------------- the pack


def test_write_read_pack_round_trip(tmp_path):
    train_x, test_x = smooth_images(12, seed=0), smooth_images(7, seed=1)
    train_y, test_y = np.arange(12) % 10, (np.arange(7) * 3) % 10
    path = tmp_path / "pack.npz"
    write_pack(path, train_x, train_y, test_x, test_y, quality=95)
    assert not list(tmp_path.glob("*.tmp*")), "write_pack leaves no temporary file"
    got = read_pack(path)
    assert got.classes == CLASSES
    for x, y, seed, got_x, got_y in (
        (train_x, train_y, 0, got.train_x, got.train_y),
        (test_x, test_y, 1, got.test_x, got.test_y),
    ):
        order = np.random.default_rng(seed).permutation(len(x))  # the pack's fixed order
        assert got_x.dtype == torch.uint8 and got_x.shape == (len(x), 3, 32, 32)
        assert torch.equal(got_y, torch.from_numpy(y[order]).long())
        expected = torch.from_numpy(x[order]).permute(0, 3, 1, 2).float()
        # JPEG is lossy (sharp colour edges suffer most), but far closer than any other image.
        per_image_error = (got_x.float() - expected).abs().mean(dim=(1, 2, 3))
        assert per_image_error.max() < 8
        assert (got_x.float() - expected.roll(1, 0)).abs().mean() > 20
    # A prefix decodes only the first images, in the same order.
    prefix = read_pack(path, train_limit=5, test_limit=2)
    assert torch.equal(prefix.train_x, got.train_x[:5]) and torch.equal(prefix.test_y, got.test_y[:2])


def test_corrupt_pack_raises_naming_the_file(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file" * 10)
    with pytest.raises(ValueError, match="garbage.npz"):
        read_pack(garbage)
    with pytest.raises(ValueError, match="garbage.npz"):
        load_cifar10(garbage)

    missing_arrays = tmp_path / "missing.npz"
    np.savez(missing_arrays, train_jpeg=np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match=r"missing.npz.*train_offsets"):
        read_pack(missing_arrays)

    good = tmp_path / "good.npz"
    write_pack(good, smooth_images(4), np.arange(4), smooth_images(2), np.arange(2))
    with np.load(good) as pack:
        arrays = dict(pack)
    arrays["train_jpeg"] = np.full_like(arrays["train_jpeg"], 7)  # right length, no JPEG in it
    bad_jpeg = tmp_path / "bad_jpeg.npz"
    np.savez(bad_jpeg, **arrays)
    with pytest.raises(ValueError, match=r"bad_jpeg.npz: image 0"):
        read_pack(bad_jpeg)


def test_missing_explicit_path_raises_naming_it(tmp_path):
    missing = tmp_path / "nowhere" / "cifar10-jpeg.npz"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_cifar10(missing)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_pack(missing)


# ----------------------------------------------------------------------------- torchvision layout


def write_fake_torchvision(root: Path, per_batch=4, seed=0):
    """A cifar-10-batches-py folder as torchvision writes it; returns (train_x, train_y, test_x, test_y)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        x = smooth_images(per_batch, seed=seed + k).transpose(0, 3, 1, 2).reshape(per_batch, 3072)
        y = [int(v) for v in rng.integers(0, 10, per_batch)]
        with open(folder / name, "wb") as f:
            pickle.dump({"data": x, "labels": y}, f)
        xs.append(x.reshape(-1, 3, 32, 32))
        ys.append(np.array(y))
    return np.concatenate(xs[:5]), np.concatenate(ys[:5]), xs[5], ys[5]


def test_read_torchvision_layout(tmp_path):
    train_x, train_y, test_x, test_y = write_fake_torchvision(tmp_path)
    for root in (tmp_path, tmp_path / "cifar-10-batches-py"):
        got = read_torchvision_layout(root)
        assert torch.equal(got.train_x, torch.from_numpy(train_x))
        assert torch.equal(got.train_y, torch.from_numpy(train_y).long())
        assert torch.equal(got.test_x, torch.from_numpy(test_x))
        assert torch.equal(got.test_y, torch.from_numpy(test_y).long())
    limited = load_cifar10(tmp_path, train_limit=6, test_limit=3)  # a folder path works too
    assert torch.equal(limited.train_x, torch.from_numpy(train_x[:6])) and len(limited.test_y) == 3
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="data_batch_3"):
        read_torchvision_layout(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        read_torchvision_layout(tmp_path)


def test_make_pack_cli(tmp_path):
    train_x, train_y, test_x, test_y = write_fake_torchvision(tmp_path / "root")
    out = tmp_path / "pack.npz"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "superinfo_lib.data",
            "make-pack",
            "--root",
            str(tmp_path / "root"),
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    got = read_pack(out)
    order = np.random.default_rng(0).permutation(len(train_y))
    assert torch.equal(got.train_y, torch.from_numpy(train_y[order]).long())
    assert torch.equal(
        got.test_y, torch.from_numpy(test_y[np.random.default_rng(1).permutation(len(test_y))]).long()
    )
    assert got.train_x.shape == (len(train_y), 3, 32, 32)
    expected = torch.from_numpy(train_x[order]).float()
    assert (got.train_x.float() - expected).abs().mean(dim=(1, 2, 3)).max() < 10  # JPEG quality 75


# ----------------------------------------------------------------------------- finding CIFAR-10


def test_load_cifar10_finds_the_real_pack():
    # No skip: a machine (or CI) without the pack must fail here, loudly.
    data = load_cifar10(train_limit=64, test_limit=32)
    assert "JPEG pack" in data.source or "torchvision" in data.source
    assert data.train_x.shape == (64, 3, 32, 32) and data.train_x.dtype == torch.uint8
    assert data.test_x.shape == (32, 3, 32, 32)
    assert data.classes == CLASSES
    assert set(data.train_y.tolist()) <= set(range(10)) and len(set(data.train_y.tolist())) >= 8


def test_a_torchvision_folder_is_read_only_when_named(tmp_path, monkeypatch):
    """Its pickles can run code: a cifar-10-batches-py folder lying in data/ is not searched."""
    monkeypatch.setattr(data_mod, "REPO_ROOT", tmp_path)
    monkeypatch.delenv("SUPERINFO_DATA", raising=False)
    write_fake_torchvision(tmp_path / "data")
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        load_cifar10()
    assert len(load_cifar10(tmp_path / "data").train_x) > 0  # named: read
    monkeypatch.setenv("SUPERINFO_DATA", str(tmp_path / "data"))
    assert len(load_cifar10().train_x) > 0  # named through the environment


def test_missing_data_names_every_place_searched(tmp_path, monkeypatch):
    monkeypatch.setattr(data_mod, "REPO_ROOT", tmp_path / "repo")
    monkeypatch.setenv("SUPERINFO_DATA", str(tmp_path / "env-pack.npz"))
    places = data_mod.candidate_paths()
    assert str(tmp_path / "env-pack.npz") in map(str, places) and len(places) == 2
    with pytest.raises(FileNotFoundError) as err:
        load_cifar10()
    for place in places:
        assert str(place) in str(err.value)


# ----------------------------------------------------------------------------- augmentation

IDENTITY = dict(
    crop_cx=0.5,
    crop_cy=0.5,
    crop_w=1.0,
    crop_h=1.0,
    flip=0.0,
    jitter_applied=0.0,
    brightness=1.0,
    contrast=1.0,
    saturation=1.0,
    hue=0.0,
    grayscale=0.0,
)


def params_of(n, **changes):
    row = [{**IDENTITY, **changes}[name] for name in AUG_PARAM_NAMES]
    return torch.tensor([row] * n, dtype=torch.float32)


def test_each_sample_draws_its_own_parameters():
    params = sample_aug_params(64, AugmentConfig(), torch.Generator().manual_seed(0))
    assert params.shape == (64, len(AUG_PARAM_NAMES))
    for name in ("crop_cx", "crop_cy", "crop_w", "crop_h", "brightness", "contrast", "saturation", "hue"):
        column = params[:, AUG_PARAM_NAMES.index(name)]
        assert len(column.unique()) > 32, name
    for name in ("flip", "grayscale", "jitter_applied"):
        assert set(params[:, AUG_PARAM_NAMES.index(name)].tolist()) == {0.0, 1.0}, name
    # The same image 16 times: every view differs from every other.
    image = synthetic_images(1, 1).train_x
    views, _ = augment(image.expand(16, -1, -1, -1), generator=torch.Generator().manual_seed(1))
    flat = views.flatten(1)
    distances = torch.cdist(flat, flat) + torch.eye(16) * 1e9
    assert distances.min() > 1e-3


def test_augment_is_reproducible_with_a_generator():
    images = synthetic_images(8, 1).train_x
    a, pa = augment(images, generator=torch.Generator().manual_seed(3))
    b, pb = augment(images, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(pa, pb)


def test_identity_params_give_normalize():
    images = synthetic_images(6, 1, seed=2).train_x
    out = apply_aug_params(images, params_of(6))
    assert torch.allclose(out, normalize(images), atol=1e-4)


def test_flip_mirrors_the_image():
    images = synthetic_images(6, 1, seed=3).train_x
    out = apply_aug_params(images, params_of(6, flip=1.0))
    assert torch.allclose(out, normalize(images.flip(-1)), atol=1e-4)
    assert not torch.allclose(out, normalize(images), atol=1e-2)


def test_grayscale_and_brightness_params():
    images = synthetic_images(4, 1, seed=4).train_x
    gray = apply_aug_params(images, params_of(4, grayscale=1.0))
    raw = gray * torch.tensor(data_mod.STD).view(1, 3, 1, 1) + torch.tensor(data_mod.MEAN).view(1, 3, 1, 1)
    assert torch.allclose(raw[:, 0], raw[:, 1], atol=1e-5) and torch.allclose(raw[:, 1], raw[:, 2], atol=1e-5)
    dark = apply_aug_params(images, params_of(4, brightness=0.5))
    expected = normalize((images.float() * 0.5).round().to(torch.uint8))
    assert (dark - expected).abs().max() < 0.01 / 0.24  # rounding to uint8 only


def test_hue_shift_zero_is_identity():
    x = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(_shift_hue(x, torch.zeros(5)), x, atol=1e-5)
    assert torch.allclose(_shift_hue(x, torch.ones(5)), x, atol=1e-5)  # a full turn


def test_hue_shift_matches_colorsys():
    g = torch.Generator().manual_seed(1)
    pixels = torch.rand(6, 3, 1, 4, generator=g)
    pixels[0, :, 0, 0] = torch.tensor([0.5, 0.5, 0.5])  # grey: hue undefined, unchanged
    pixels[1, :, 0, 1] = torch.tensor([1.0, 0.0, 0.0])
    shifts = torch.tensor([0.0, 0.25, -0.1, 0.5, 0.9, -0.45])
    out = _shift_hue(pixels, shifts)
    for b in range(6):
        for w in range(4):
            h, s, v = colorsys.rgb_to_hsv(*pixels[b, :, 0, w].tolist())
            expected = colorsys.hsv_to_rgb((h + float(shifts[b])) % 1.0, s, v)
            assert out[b, :, 0, w].tolist() == pytest.approx(expected, abs=1e-5), (b, w)


def test_augment_bad_input():
    with pytest.raises(ValueError, match="images"):
        augment(torch.zeros(2, 1, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="empty"):
        augment(torch.zeros(0, 3, 32, 32, dtype=torch.uint8))


def test_validation_split_holds_out_training_images_only():
    data = synthetic_images(n_train=50, n_test=20)
    val = data_mod.validation_split(data, 10)
    assert torch.equal(val.train_x, data.train_x[:40]) and torch.equal(val.test_x, data.train_x[40:])
    assert torch.equal(val.test_y, data.train_y[40:]) and "validation split" in val.source
    for bad in (0, 50):
        with pytest.raises(ValueError, match="holdout"):
            data_mod.validation_split(data, bad)


def test_strong_preset_adds_pixel_noise_of_its_sd_and_changes_nothing_else():
    """The noise is added after the colour changes, in pixel units ([0, 1]): view minus the
    noiseless view (same parameters), times the normalising std, has the preset's sd."""
    from superinfo_lib.data import AUGMENT_PRESETS, MEAN, STD

    strong = AUGMENT_PRESETS["strong"]
    assert strong.noise_sd == 0.05 and strong.crop_scale == (0.08, 1.0) and strong.hue == 0.2
    assert AUGMENT_PRESETS["standard"] == AugmentConfig()
    images = synthetic_images(64, 1, seed=4).train_x
    views, params = augment(images, strong, torch.Generator().manual_seed(0))
    noise = (views - apply_aug_params(images, params)) * torch.tensor(STD).view(1, 3, 1, 1)
    assert noise.std().item() == pytest.approx(0.05, rel=0.02)
    assert abs(noise.mean().item()) < 0.002
    assert len(MEAN) == 3
    # Without noise the same generator draws the same parameters as before the preset existed.
    plain, plain_params = augment(images, AugmentConfig(), torch.Generator().manual_seed(0))
    assert torch.equal(plain, apply_aug_params(images, plain_params))
