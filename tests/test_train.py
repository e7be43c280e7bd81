"""superinfo_lib.train: resume, checkpoints, NaN handling, config validation, the CLI."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import superinfo_lib.step as step_mod
import superinfo_lib.train as train_mod
from superinfo_lib.checkpoint import load_backbone, load_checkpoint
from superinfo_lib.losses import PRESETS
from superinfo_lib.metrics import read_metrics
from superinfo_lib.train import NonFiniteLoss, TrainConfig, lr_at, train

REPO = Path(__file__).resolve().parent.parent
TERMS = ("loss", "nce", "kl_12", "kl_21", "mi_lower_bound", "lr", "beta_12", "beta_21")


def tiny_config(out, **changes):
    """2 epochs x 4 steps of the small convnet on synthetic images: a few seconds on a CPU."""
    settings = dict(
        synthetic=True,
        arch="small",
        epochs=2,
        batch_size=32,
        train_limit=128,
        test_limit=64,
        knn_every=0,
        linear_epochs=0,
        log_every=1,
        device="cpu",
        out=str(out),
    )
    return TrainConfig(**{**settings, **changes})


def step_records(out):
    lines = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in lines if r["kind"] == "step"}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    results = train(tiny_config(out, loss="mib"), progress=False)
    return out, results


def test_uninterrupted_run_writes_everything(uninterrupted):
    out, results = uninterrupted
    records = step_records(out)
    assert sorted(records) == list(range(1, 9))  # 2 epochs x 128/32 steps
    assert all(math.isfinite(records[s][k]) for s in records for k in TERMS)
    assert records[1]["beta_12"] < records[8]["beta_12"]  # MIB's warm-up ramps beta
    final = json.loads((out / "final.json").read_text())
    assert final["step"] == 8 and 0 <= final["knn_top1"] <= 1 and final == results
    assert not [p for p in os.listdir(out) if ".tmp" in p]  # checkpoints written atomically
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["step"] == 8 and ckpt["epoch"] == 2
    assert load_backbone(out / "checkpoint.pt")(torch.zeros(2, 3, 32, 32)).shape == (2, 128)


@pytest.mark.parametrize("split_at", [3, 4])  # mid-epoch and at an epoch's end
def test_resume_repeats_the_uninterrupted_run(uninterrupted, tmp_path, split_at):
    reference = step_records(uninterrupted[0])
    train(tiny_config(tmp_path, loss="mib", stop_at_step=split_at), progress=False)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == split_at
    assert not (tmp_path / "final.json").exists()  # stopped early: no final results
    results = train(tiny_config(tmp_path, loss="mib", resume=True), progress=False)
    resumed = step_records(tmp_path)
    assert sorted(resumed) == list(range(1, 9))
    for step in range(1, 9):
        for k in TERMS:
            assert resumed[step][k] == pytest.approx(reference[step][k], rel=1e-6, abs=1e-6), (step, k)
    assert results["knn_top1"] == uninterrupted[1]["knn_top1"]


def test_existing_checkpoint_is_not_overwritten(tmp_path):
    train(tiny_config(tmp_path, stop_at_step=1), progress=False)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(FileExistsError, match="checkpoint.pt"):
        train(tiny_config(tmp_path), progress=False)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    with pytest.raises(ValueError, match="batch_size"):  # --resume with other settings
        train(tiny_config(tmp_path, batch_size=16, resume=True), progress=False)


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real_loss = step_mod.superinfo_loss
    calls = []

    def loss_turning_nan(*args, **kwargs):
        terms = real_loss(*args, **kwargs)
        calls.append(1)
        if len(calls) > 5:  # steps 0..4 fine, step 5 is NaN
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    monkeypatch.setattr(step_mod, "superinfo_loss", loss_turning_nan)
    with pytest.raises(NonFiniteLoss, match=r"step 5\b") as err:
        train(tiny_config(tmp_path), progress=False)
    assert "step 4" in str(err.value)  # the checkpoint it kept
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["step"] == 4
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    errors = [
        json.loads(line)
        for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
        if json.loads(line)["kind"] == "error"
    ]
    assert len(errors) == 1 and "step 5" in errors[0]["message"]
    assert not (tmp_path / "final.json").exists()


def test_checkpoint_interval_and_the_kept_checkpoint(tmp_path, monkeypatch):
    """Every 2nd epoch and at the end: a NaN in epoch 4 keeps the epoch-2 checkpoint (step 8)."""
    saved = []
    real_save = train_mod.save_checkpoint
    monkeypatch.setattr(
        train_mod,
        "save_checkpoint",
        lambda path, model, opt, step, *a: (saved.append(step), real_save(path, model, opt, step, *a)),
    )
    train(tiny_config(tmp_path / "full", epochs=3, checkpoint_every=2), progress=False)
    assert saved == [8, 12]  # epoch 2, then the end (epoch 3)

    real_loss, calls = step_mod.superinfo_loss, []

    def loss_turning_nan(*args, **kwargs):
        terms = real_loss(*args, **kwargs)
        calls.append(1)
        if len(calls) > 13:  # step 13 (epoch 4) is NaN
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    monkeypatch.setattr(step_mod, "superinfo_loss", loss_turning_nan)
    with pytest.raises(NonFiniteLoss, match=r"step 13\b.*step 8\b"):
        train(tiny_config(tmp_path / "nan", epochs=4, checkpoint_every=2), progress=False)
    assert load_checkpoint(tmp_path / "nan" / "checkpoint.pt")["step"] == 8


@pytest.mark.parametrize(
    "changes,name",
    [
        (dict(checkpoint_every=0), "checkpoint-every"),
        (dict(temperature=0), "temperature"),
        (dict(temperature=-0.5), "temperature"),
        (dict(beta_12=-1e-3), "beta_12"),
        (dict(beta_21=-1e-3), "beta_21"),
        (dict(loss="byol"), "loss"),
        (dict(lr=float("nan")), "lr"),
        (dict(beta_12=float("inf")), "beta_12"),
        (dict(precision="fp8"), "precision"),
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch-size"),
        (dict(train_limit=0), "train-limit"),
    ],
)
def test_bad_config_raises_naming_the_setting(changes, name):
    with pytest.raises(ValueError, match=name):
        TrainConfig(**changes).resolve()


def test_config_defaults_and_opt_in():
    cfg = TrainConfig(beta_12=-1e-3, allow_negative_beta=True, device="cpu").resolve()
    assert cfg.preset.beta_12 == -1e-3 and cfg.preset.beta_21 == 1e-3  # one override, one preset value
    cpu = TrainConfig(device="cpu").resolve()  # CPU: the CPU study's recipe, short, and says so
    assert cpu.scaled_down and cpu.train_limit is None and cpu.arch == "small"
    assert (cpu.epochs, cpu.batch_size, cpu.preset.temperature) == (5, 256, 0.2)
    assert cpu.precision == ("bf16" if step_mod.cpu_has_native_bf16() else "fp32")
    assert TrainConfig(device="cpu", epochs=3).resolve().preset.temperature == 0.5  # the preset's
    gpu = TrainConfig(device="cuda", loss="mib", precision="bf16").resolve()
    assert gpu.arch == "resnet18"
    assert gpu.epochs == 100 and gpu.batch_size == 512 and gpu.preset.beta_12 == 1e-2 and not gpu.scaled_down
    assert gpu.preset.beta_warmup_fraction == 0.5  # MIB's schedule comes with its preset
    assert gpu.lr == pytest.approx(0.06 * 512 / 256)
    assert cpu.checkpoint_every == 1 and gpu.checkpoint_every == 10


def test_cli_help_gives_the_defaults_resolve_picks(capsys):
    """--help states each device's default epochs, batch size and latent size as resolve() and the
    models pick them."""
    from superinfo_lib.models import SuperInfoModel

    with pytest.raises(SystemExit):
        train_mod.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    cpu, gpu = (TrainConfig(device=d, precision="fp32").resolve() for d in ("cpu", "cuda"))
    assert f"training epochs (default {gpu.epochs} on a GPU, {cpu.epochs} on a CPU)" in text
    assert f"batch per process (default {gpu.batch_size} on a GPU, {cpu.batch_size} on a CPU)" in text
    sizes = {arch: SuperInfoModel(arch).latent_dim for arch in (gpu.arch, cpu.arch)}
    assert f"512 for {gpu.arch}, 128 for {cpu.arch}" in text and sizes == {gpu.arch: 512, cpu.arch: 128}


def test_lr_schedule():
    base, total, warmup = 0.5, 100, 10
    assert lr_at(0, total, warmup, base) == pytest.approx(base / warmup)
    assert lr_at(warmup - 1, total, warmup, base) == pytest.approx(base)
    assert lr_at(warmup, total, warmup, base) == pytest.approx(base)
    assert lr_at(warmup + 45, total, warmup, base) == pytest.approx(base / 2)  # cosine midpoint
    assert lr_at(total, total, warmup, base) == pytest.approx(0, abs=1e-12)


def run_cli(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "superinfo_lib.train", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_reports_bad_arguments(tmp_path):
    proc = run_cli("--temperature", "0", "--synthetic", "--arch", "small", "--out", str(tmp_path / "run"))
    assert proc.returncode == 2 and "temperature" in proc.stderr
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_cli_smoke_run_on_cifar10(tmp_path):
    """The real CLI on real CIFAR-10 images: metrics, checkpoint, final evaluation above chance.
    The small convnet keeps it to seconds; the ResNet-18 defaults are checked in
    test_config_defaults_and_opt_in and run on a GPU."""
    out = tmp_path / "run"
    proc = run_cli(
        "--loss",
        "superinfo",
        "--arch",
        "small",
        "--epochs",
        "1",
        "--train-limit",
        "2048",
        "--test-limit",
        "1000",
        "--batch-size",
        "128",
        "--linear-epochs",
        "30",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("metrics.jsonl", "checkpoint.pt", "final.json"):
        assert (out / name).is_file(), name
    final = json.loads((out / "final.json").read_text())
    assert "JPEG pack" in final["data_source"] or "torchvision" in final["data_source"]
    assert final["step"] == 16 and final["knn_top1"] > 0.15  # chance is 0.10
    assert 0.1 <= final["linear_top1"] <= 1
    records = read_metrics(out)
    assert records[0]["kind"] == "config" and records[0]["arch"] == "small"
    assert records[0]["preset"]["beta_12"] == PRESETS["superinfo"].beta_12
    steps = [r for r in records if r["kind"] == "step"]
    assert steps and all(math.isfinite(r["loss"]) for r in steps)
    assert load_backbone(out / "checkpoint.pt")(torch.zeros(1, 3, 32, 32)).shape == (1, 128)


def test_bf16_runs_on_cpu(tmp_path):
    """bf16 runs through CPU autocast: the loss stays finite and the run completes (fp16 below)."""
    results = train(tiny_config(tmp_path, precision="bf16", epochs=1), progress=False)
    assert results["step"] == 4 and results["precision"] == "bf16"
    assert all(math.isfinite(r["loss"]) for r in step_records(tmp_path).values())


def test_fp16_resume_restores_the_gradient_scaler(tmp_path):
    """fp16 scales the loss; the scale changes during training and must survive a resume, or the
    resumed run's steps differ from the uninterrupted run's."""
    cfg = dict(precision="fp16", loss="mib", epochs=1)
    train(tiny_config(tmp_path / "full", **cfg), progress=False)
    train(tiny_config(tmp_path / "split", stop_at_step=2, **cfg), progress=False)
    saved = load_checkpoint(tmp_path / "split" / "checkpoint.pt")["scaler"]
    assert saved is not None and saved["scale"] > 0 and "_growth_tracker" in saved
    train(tiny_config(tmp_path / "split", resume=True, **cfg), progress=False)
    full, split = step_records(tmp_path / "full"), step_records(tmp_path / "split")
    assert sorted(split) == sorted(full) == [1, 2, 3, 4]
    for step in full:
        assert split[step]["loss"] == pytest.approx(full[step]["loss"], rel=1e-5, abs=1e-6), step
    with pytest.raises(ValueError, match="precision"):  # a resume cannot change the precision
        train(tiny_config(tmp_path / "split", resume=True, loss="mib", epochs=1), progress=False)


@pytest.mark.parametrize("watched", [False, True])
def test_progress_bar_only_where_someone_watches(tmp_path, capsys, monkeypatch, watched):
    """Piped into a log file, tqdm's carriage-return updates pile up: one line per epoch instead."""
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: watched)
    train(tiny_config(tmp_path / "run"), progress=True)
    out, err = capsys.readouterr()
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("epoch")] == [
        "epoch 1/2",
        "epoch 2/2",
    ]
    assert ("\r" in err) == watched


def test_augment_setting_is_recorded_checked_on_resume_and_defaults_for_old_checkpoints(tmp_path):
    train(tiny_config(tmp_path, augment="strong", stop_at_step=2), progress=False)
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["config"]["augment"] == "strong"
    with pytest.raises(ValueError, match="augment"):
        train(tiny_config(tmp_path, resume=True), progress=False)  # standard now, strong there
    # A checkpoint written before --augment existed resumes as "standard".
    old = tmp_path / "old"
    train(tiny_config(old, stop_at_step=2), progress=False)
    state = load_checkpoint(old / "checkpoint.pt")
    del state["config"]["augment"]
    torch.save(state, old / "checkpoint.pt")
    assert train(tiny_config(old, resume=True), progress=False)["step"] == 8
    with pytest.raises(ValueError, match="--augment must be one of"):
        tiny_config(tmp_path / "bad", augment="wild").resolve()
