"""Train SimCLR, MIB or SuperInfo on CIFAR-10 with the data and augmentation on the device.

    python -m superinfo_lib.train --loss superinfo            # GPU: 100 epochs, batch 512
    python -m superinfo_lib.train --loss simclr --epochs 20
    python -m superinfo_lib.train --loss superinfo --resume   # continue runs/superinfo
    torchrun --nproc_per_node=4 -m superinfo_lib.train --loss superinfo   # several GPUs

Writes into --out (default runs/<loss>): metrics.jsonl (one JSON object per line),
checkpoint.pt (atomic, resumable) and final.json (kNN + linear probe at the end).
On a CPU the defaults scale the run down (1 epoch on 2,048 images) and say so.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn as nn

from . import distributed
from .data import AugmentConfig, ImageData, augment, load_cifar10, synthetic_images
from .eval import extract_features, knn_accuracy, linear_probe
from .losses import PRESETS, superinfo_loss
from .models import SuperInfoModel, _strip_prefixes, model_config

REPO_ROOT = Path(__file__).resolve().parent.parent
# Settings that must match for --resume to continue the same run.
RESUME_MUST_MATCH = ("loss", "arch", "latent_dim", "batch_size", "epochs", "seed", "lambda_pred",
                     "beta_12", "beta_21", "temperature", "train_limit", "synthetic", "world_size")


@dataclass
class TrainConfig:
    """Everything a run needs. None means: choose from the device (see `resolve`)."""
    loss: str = "superinfo"
    epochs: int | None = None
    batch_size: int | None = None           # per process; the global batch is this x world size
    lr: float | None = None                 # default 0.06 x global batch / 256 (SGD)
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float | None = None      # default 10% of the epochs
    lambda_pred: float | None = None        # None: the preset's value
    beta_12: float | None = None
    beta_21: float | None = None
    temperature: float | None = None
    allow_negative_beta: bool = False
    arch: str = "resnet18"
    latent_dim: int | None = None
    data: str | None = None
    download: bool = True
    synthetic: bool = False
    train_limit: int | None = None
    test_limit: int | None = None
    knn_every: int = 10                     # epochs between kNN monitor runs (0: only at the end)
    linear_epochs: int = 100                # final linear probe (0: skip)
    checkpoint_every: int | None = None     # epochs between checkpoints (default: 1 on CPU, 10 on GPU)
    out: str | None = None
    resume: bool = False
    seed: int = 0
    compile: bool = False
    stop_at_step: int | None = None         # stop early; the schedule still spans --epochs
    log_every: int = 50
    device: str | None = None
    world_size: int = 1
    scaled_down: bool = field(default=False)

    def resolve(self) -> "TrainConfig":
        """Fill the defaults that depend on the device; validate every argument."""
        if self.loss not in PRESETS:
            raise ValueError(f"--loss must be one of {sorted(PRESETS)}, got {self.loss!r}")
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        on_cpu = device == "cpu"
        cpu_defaults = on_cpu and self.epochs is None and self.train_limit is None and not self.synthetic
        preset = PRESETS[self.loss]
        resolved = TrainConfig(**{**asdict(self), "device": device})
        for name in ("lambda_pred", "beta_12", "beta_21", "temperature"):
            if getattr(resolved, name) is None:
                setattr(resolved, name, getattr(preset, name))
        if resolved.epochs is None:
            resolved.epochs = 1 if on_cpu else 100
        if resolved.batch_size is None:
            resolved.batch_size = 128 if on_cpu else 512
        if resolved.checkpoint_every is None:
            # A GPU epoch takes seconds and a checkpoint (weights + momentum, ~90 MB) a good
            # fraction of one: save every 10 epochs there, and always at the end of a run.
            resolved.checkpoint_every = 1 if on_cpu else 10
        if cpu_defaults:
            resolved.train_limit, resolved.test_limit, resolved.scaled_down = 2048, 1000, True
            resolved.linear_epochs = min(resolved.linear_epochs, 30)
        global_batch = resolved.batch_size * resolved.world_size
        if resolved.lr is None:
            resolved.lr = 0.06 * global_batch / 256
        if resolved.warmup_epochs is None:
            resolved.warmup_epochs = 0.1 * resolved.epochs
        if resolved.out is None:
            resolved.out = str(REPO_ROOT / "runs" / resolved.loss)
        for name in ("epochs", "batch_size", "log_every", "checkpoint_every"):
            if getattr(resolved, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(resolved, name)}")
        for name in ("lr", "momentum", "weight_decay", "warmup_epochs", "lambda_pred", "beta_12",
                     "beta_21", "temperature"):
            value = getattr(resolved, name)
            if not math.isfinite(value):
                raise ValueError(f"--{name.replace('_', '-')} must be finite, got {value}")
        if resolved.temperature <= 0:
            raise ValueError(f"--temperature must be > 0, got {resolved.temperature}")
        if resolved.lr <= 0:
            raise ValueError(f"--lr must be > 0, got {resolved.lr}")
        for name in ("beta_12", "beta_21"):
            if getattr(resolved, name) < 0 and not resolved.allow_negative_beta:
                raise ValueError(f"--{name.replace('_', '-')} is negative ({getattr(resolved, name)}): "
                                 "that rewards an unbounded upper bound; add --allow-negative-beta to run it")
        for name in ("train_limit", "test_limit", "stop_at_step"):
            value = getattr(resolved, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        return resolved


def lr_at(step: int, total_steps: int, warmup_steps: int, base_lr: float) -> float:
    """Linear warm-up from 0, then cosine decay to 0."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def step_generator(seed: int, step: int, rank: int, device) -> torch.Generator:
    """All randomness of one step (augmentation, latent noise) comes from (seed, step, rank),
    so a resumed run repeats exactly what an uninterrupted one would have drawn."""
    return torch.Generator(device=device).manual_seed(((seed * 1_000_003 + step) * 4099 + rank) % (2**63))


def epoch_order(n: int, seed: int, epoch: int, rank: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed((seed * 7919 + epoch) * 4099 + rank))


def save_checkpoint(path: Path, model: nn.Module, optimizer, step: int, epoch: int, cfg: TrainConfig,
                    extra: dict | None = None) -> None:
    """Write to a temporary file, then rename: a crash never leaves a half-written checkpoint."""
    state = {"model": _strip_prefixes(model.state_dict()), "optimizer": optimizer.state_dict(),
             "model_config": model_config(model), "step": step, "epoch": epoch, "config": asdict(cfg),
             "torch_version": torch.__version__, **(extra or {})}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


class NonFiniteLoss(RuntimeError):
    pass


def load_data(cfg: TrainConfig, dist_info: distributed.DistInfo) -> ImageData:
    if cfg.synthetic:
        return synthetic_images(n_train=cfg.train_limit or 512, n_test=cfg.test_limit or 256, seed=cfg.seed)
    # Rank 0 loads first (and may download); the others wait, then read what it found.
    if not dist_info.is_main:
        distributed.barrier()
    data = load_cifar10(cfg.data, download=cfg.download and dist_info.is_main,
                        train_limit=cfg.train_limit, test_limit=cfg.test_limit)
    if dist_info.is_main:
        distributed.barrier()
    return data


@torch.no_grad()
def knn_monitor(model: SuperInfoModel, train_x, train_y, test_x, test_y, num_classes: int,
                channels_last: bool) -> tuple[float, tuple[torch.Tensor, ...]]:
    """kNN top-1 of the backbone features; each rank embeds its shard, all ranks vote.

    Returns the accuracy and the gathered (train_f, train_y, test_f, test_y), which the final
    linear probe reuses instead of embedding the data again.
    """
    features = (distributed.gather_rows(extract_features(model.backbone, train_x, channels_last=channels_last)),
                distributed.gather_rows(train_y),
                distributed.gather_rows(extract_features(model.backbone, test_x, channels_last=channels_last)),
                distributed.gather_rows(test_y))
    return knn_accuracy(*features, num_classes), features


def train(cfg: TrainConfig, data: ImageData | None = None, progress: bool = True) -> dict:
    """Run one training job; returns the final results (also written to final.json)."""
    dist_info = distributed.setup(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cfg = TrainConfig(**{**asdict(cfg), "world_size": dist_info.world_size}).resolve()
    device = torch.device(f"cuda:{dist_info.local_rank}" if cfg.device == "cuda" else cfg.device)
    is_main = dist_info.is_main
    say = print if is_main else (lambda *a, **k: None)
    out = Path(cfg.out)
    ckpt_path = out / "checkpoint.pt"
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        if ckpt_path.exists() and not cfg.resume:
            raise FileExistsError(f"{ckpt_path} exists: pass --resume to continue it, or --out to start "
                                  "a new run elsewhere (nothing was overwritten)")
    if cfg.scaled_down:
        say(f"CPU run, scaled down: {cfg.epochs} epoch on {cfg.train_limit} training images, kNN on "
            f"{cfg.test_limit} test images (pass --epochs / --train-limit to change; use a GPU for real results)")

    data = data or load_data(cfg, dist_info)
    num_classes = len(data.classes)
    # Each process holds its shard of the training set (and of the test set, for kNN) on its device.
    r, w = dist_info.rank, dist_info.world_size
    train_x, train_y = data.train_x[r::w].to(device), data.train_y[r::w].to(device)
    test_x, test_y = data.test_x[r::w].to(device), data.test_y[r::w].to(device)
    shard_size = len(data.train_x) // w      # the smallest shard: every rank must run the same steps
    steps_per_epoch = shard_size // cfg.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"--batch-size {cfg.batch_size} is larger than the {shard_size} training images "
                         "of each process")
    total_steps = cfg.epochs * steps_per_epoch
    warmup_steps = round(cfg.warmup_epochs * steps_per_epoch)

    torch.manual_seed(cfg.seed)
    model = SuperInfoModel(cfg.arch, cfg.latent_dim).to(device)
    channels_last = device.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if dist_info.enabled:
        model = distributed.convert_sync_batchnorm(model, device.type)   # BN statistics over the global batch
    optimizer_kwargs = {"fused": True} if device.type == "cuda" else {}
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                weight_decay=cfg.weight_decay, **optimizer_kwargs)
    step = 0
    if cfg.resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        mismatched = [k for k in RESUME_MUST_MATCH if ckpt["config"].get(k) != getattr(cfg, k)]
        if mismatched:
            raise ValueError(f"--resume: {ckpt_path} was written with different "
                             + ", ".join(f"{k} ({ckpt['config'].get(k)!r} there, {getattr(cfg, k)!r} now)"
                                         for k in mismatched))
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step = ckpt["step"]
        say(f"resumed {ckpt_path} at step {step} (epoch {ckpt['epoch']})")
    elif cfg.resume:
        say(f"--resume: no checkpoint at {ckpt_path} yet, starting from scratch")
    if dist_info.enabled:  # a node that cannot see the checkpoint would start over and desynchronise
        steps = torch.tensor([step, -step], device=device)
        lowest, minus_highest = distributed.all_reduce_min(steps).tolist()
        if lowest != -minus_highest:
            raise ValueError(f"--resume: the processes found checkpoints at different steps ({lowest} to "
                             f"{-minus_highest}); --out must be a folder that every node reads")

    train_model = model
    if cfg.compile:
        model.backbone = torch.compile(model.backbone)
    if dist_info.enabled:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    metrics_file = open(out / "metrics.jsonl", "a") if is_main else None

    def log(record: dict) -> None:
        if metrics_file:
            metrics_file.write(json.dumps(record) + "\n")
            metrics_file.flush()

    if is_main and step == 0:
        log({"kind": "config", **asdict(cfg), "data_source": data.source, "torch": torch.__version__,
             "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
             "steps_per_epoch": steps_per_epoch})
    preset = PRESETS[cfg.loss].with_overrides(lambda_pred=cfg.lambda_pred, beta_12=cfg.beta_12,
                                              beta_21=cfg.beta_21, temperature=cfg.temperature)
    aug_cfg = AugmentConfig()
    term_names = ("loss", "nce", "kl_12", "kl_21", "mi_lower_bound")
    last_good_step = step
    final_step = total_steps if cfg.stop_at_step is None else min(total_steps, cfg.stop_at_step)
    knn = features = None
    try:
        while step < final_step:
            epoch = step // steps_per_epoch
            order = epoch_order(len(train_x), cfg.seed, epoch, r).to(device)
            sums = torch.zeros(len(term_names), device=device)
            first_bad = torch.full((), -1, dtype=torch.long, device=device)
            step_on_device = torch.full((), step, dtype=torch.long, device=device)
            count, t_epoch, t_log = 0, time.perf_counter(), time.perf_counter()
            bar = None
            if progress and is_main:
                from tqdm.auto import tqdm
                bar = tqdm(total=steps_per_epoch, initial=step % steps_per_epoch,
                           desc=f"{cfg.loss} epoch {epoch + 1}/{cfg.epochs}", leave=False)
            epoch_end = min((epoch + 1) * steps_per_epoch, final_step)
            while step < epoch_end:
                i = step % steps_per_epoch
                batch = train_x[order[i * cfg.batch_size:(i + 1) * cfg.batch_size]]
                lr = lr_at(step, total_steps, warmup_steps, cfg.lr)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                beta_12, beta_21 = preset.betas_at(step / total_steps)
                gen = step_generator(cfg.seed, step, r, device)
                v1, _ = augment(batch, aug_cfg, gen)
                v2, _ = augment(batch, aug_cfg, gen)
                views = torch.cat([v1, v2])
                if channels_last:
                    views = views.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    o = train_model(views, generator=gen)
                    p1, p2 = o["p"].chunk(2)
                    gathered = None
                    if dist_info.enabled:
                        gathered = (distributed.gather_with_grad(p1), distributed.gather_with_grad(p2))
                    mu1, mu2 = o["mu"].chunk(2)
                    lv1, lv2 = o["logvar"].chunk(2)
                    terms = superinfo_loss(p1, p2, mu1, lv1, mu2, lv2, lambda_pred=preset.lambda_pred,
                                           beta_12=beta_12, beta_21=beta_21, temperature=preset.temperature,
                                           allow_negative_beta=cfg.allow_negative_beta, gathered=gathered,
                                           rank=r, check_finite=False)
                optimizer.zero_grad(set_to_none=True)
                terms["loss"].backward()
                optimizer.step()
                # No host sync per step: accumulate on the device, check at the log interval.
                values = torch.stack([terms[k].detach().float() for k in term_names])
                finite = torch.isfinite(values).all()
                first_bad = torch.where((first_bad < 0) & ~finite, step_on_device, first_bad)
                step_on_device += 1
                sums += values
                count += 1
                step += 1
                if bar is not None:
                    bar.update(1)
                if step % cfg.log_every == 0 or step == epoch_end:
                    # Every rank must stop together: the earliest non-finite step on any rank.
                    no_bad = torch.full_like(first_bad, total_steps)
                    bad = int(distributed.all_reduce_min(torch.where(first_bad < 0, no_bad, first_bad)).item())
                    bad = -1 if bad == total_steps else bad
                    if bad >= 0:
                        raise NonFiniteLoss(f"the loss became non-finite at step {bad}")
                    means = (distributed.all_reduce_mean(sums) / count).tolist()
                    now = time.perf_counter()
                    record = {"kind": "step", "step": step, "epoch": epoch, "lr": lr, "beta_12": beta_12,
                              "beta_21": beta_21, **dict(zip(term_names, means)),
                              "pairs_per_s": count * cfg.batch_size * w / (now - t_log)}
                    log(record)
                    if bar is not None:
                        bar.set_postfix(loss=f"{means[0]:.3f}", nce=f"{means[1]:.3f}", kl=f"{means[2]:.1f}")
                    sums.zero_()
                    count, t_log = 0, now
            if bar is not None:
                bar.close()
            epoch_time = time.perf_counter() - t_epoch
            completed = step % steps_per_epoch == 0
            knn = features = None
            if completed and cfg.knn_every and ((epoch + 1) % cfg.knn_every == 0 or epoch + 1 == cfg.epochs):
                knn, features = knn_monitor(model, train_x, train_y, test_x, test_y, num_classes, channels_last)
            save_now = not completed or (epoch + 1) % cfg.checkpoint_every == 0 or step == final_step
            if save_now:
                last_good_step = step
            if is_main:
                log({"kind": "epoch", "epoch": epoch, "step": step, "epoch_time_s": epoch_time,
                     "complete": completed, **({"knn_top1": knn} if knn is not None else {})})
                if save_now:
                    save_checkpoint(ckpt_path, model, optimizer, step, epoch + int(completed), cfg)
                say(f"epoch {epoch + 1}/{cfg.epochs}: step {step}, {epoch_time:.1f} s"
                    + (f", kNN top-1 {knn:.4f}" if knn is not None else ""))
    except NonFiniteLoss as err:
        msg = (f"{err}; stopped. The last good checkpoint (step {last_good_step}) is kept at {ckpt_path}"
               if ckpt_path.exists() else f"{err}; stopped before any checkpoint was written")
        log({"kind": "error", "message": msg})
        raise NonFiniteLoss(msg) from None
    finally:
        if metrics_file:
            metrics_file.close()

    results = {"loss": cfg.loss, "step": step, "epochs": cfg.epochs, "scaled_down": cfg.scaled_down,
               "data_source": data.source}
    if step == total_steps:
        if features is None:
            knn, features = knn_monitor(model, train_x, train_y, test_x, test_y, num_classes, channels_last)
        results["knn_top1"] = knn
        if cfg.linear_epochs and is_main:
            # Every rank holds the gathered features of the whole set; rank 0 fits the probe.
            train_f, train_labels, test_f, test_labels = features
            results["linear_top1"] = linear_probe(train_f, train_labels, test_f, test_labels, num_classes,
                                                  epochs=cfg.linear_epochs)
        if is_main:
            (out / "final.json").write_text(json.dumps(results, indent=2) + "\n")
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps({"kind": "final", **results}) + "\n")
            say("final: " + ", ".join(f"{k} {v:.4f}" for k, v in results.items() if k.endswith("top1")))
    distributed.barrier()
    return results


def parse_args(argv=None) -> TrainConfig:
    parser = argparse.ArgumentParser(prog="python -m superinfo_lib.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    types = {f.name: f for f in fields(TrainConfig)}
    parser.add_argument("--loss", default="superinfo", choices=sorted(PRESETS))
    for name, help_text in (("epochs", "training epochs (GPU default 100, CPU 1)"),
                            ("batch-size", "batch per process (GPU default 512, CPU 128)"),
                            ("train-limit", "use only the first N training images"),
                            ("test-limit", "use only the first N test images"),
                            ("latent-dim", "size of z (default: the backbone's, 512)"),
                            ("stop-at-step", "stop after this many steps (the schedule still spans --epochs)"),
                            ("knn-every", "epochs between kNN monitor runs (0: at the end only)"),
                            ("linear-epochs", "epochs of the final linear probe (0: skip)"),
                            ("checkpoint-every", "epochs between checkpoints (default 1 on CPU, 10 on GPU; "
                                                 "always at the end)"),
                            ("log-every", "steps between metric lines"),
                            ("seed", "random seed")):
        dest = name.replace("-", "_")
        parser.add_argument(f"--{name}", type=int, default=types[dest].default, help=help_text)
    for name, help_text in (("lr", "peak learning rate (default 0.06 x global batch / 256)"),
                            ("momentum", None), ("weight-decay", None), ("warmup-epochs", "default 10%% of epochs"),
                            ("lambda-pred", "weight of InfoNCE (default: the preset's)"),
                            ("beta-12", "weight of KL(q1||q2) (default: the preset's)"),
                            ("beta-21", "weight of KL(q2||q1) (default: the preset's)"),
                            ("temperature", "InfoNCE temperature (default: the preset's)")):
        dest = name.replace("-", "_")
        parser.add_argument(f"--{name}", type=float, default=types[dest].default, help=help_text)
    parser.add_argument("--allow-negative-beta", action="store_true", help="accept beta < 0 (see the course)")
    parser.add_argument("--arch", default="resnet18", choices=["resnet18", "small"])
    parser.add_argument("--data", default=None, help="CIFAR-10 pack (.npz) or torchvision folder (default: search)")
    parser.add_argument("--no-download", dest="download", action="store_false",
                        help="never try torchvision's download")
    parser.add_argument("--synthetic", action="store_true", help="train on the synthetic image set (tests)")
    parser.add_argument("--out", default=None, help="run folder (default runs/<loss>)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbone")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    return TrainConfig(**vars(parser.parse_args(argv)))


def main(argv=None) -> int:
    cfg = parse_args(argv)
    try:
        train(cfg)
    except (ValueError, FileNotFoundError, FileExistsError, NonFiniteLoss) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        distributed.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
