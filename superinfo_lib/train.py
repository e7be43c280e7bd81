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
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
import torch.nn as nn

from . import distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .data import AUGMENT_PRESETS, ImageData, load_cifar10, synthetic_images, two_views
from .eval import evaluate_model, extract_features, knn_accuracy
from .losses import PRESETS, LossPreset
from .metrics import TERMS, MetricsLog
from .models import SuperInfoModel
from .step import PRECISIONS, choose_precision, make_scaler, training_step

REPO_ROOT = Path(__file__).resolve().parent.parent
# A CPU's defaults: the CPU study's recipe (experiments/cpu_study.py), short: about 3 minutes on
# 2 cores. The small convnet gave the best kNN per CPU-minute of the encoders tried there.
CPU_RECIPE = {"arch": "small", "epochs": 5, "batch_size": 256, "temperature": 0.2}
# A GPU's defaults: ResNet-18 (CIFAR stem) at batch 512, as the peer SimCLR runs on CIFAR-10, for
# 100 epochs: the `full` profile of notebooks 5 and 6.
GPU_RECIPE = {"arch": "resnet18", "epochs": 100, "batch_size": 512}
# Settings that must match for --resume to continue the same run.
RESUME_MUST_MATCH = (
    "loss",
    "arch",
    "latent_dim",
    "batch_size",
    "epochs",
    "seed",
    "preset",
    "precision",
    "train_limit",
    "synthetic",
    "world_size",
    "augment",
)
# Checkpoints written before a setting existed resume as its default.
RESUME_DEFAULTS = {"augment": "standard"}


@dataclass
class TrainConfig:
    """Everything a run needs. None means: choose from the device or the preset (see `resolve`)."""

    loss: str = "superinfo"
    epochs: int | None = None
    batch_size: int | None = None  # per process; the global batch is this x world size
    lr: float | None = None  # default 0.06 x global batch / 256 (SGD)
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float | None = None  # default 10% of the epochs
    lambda_pred: float | None = None  # overrides of the preset's coefficients (None: the preset's)
    beta_12: float | None = None
    beta_21: float | None = None
    temperature: float | None = None
    allow_negative_beta: bool = False
    augment: str = "standard"  # a name in superinfo_lib.data.AUGMENT_PRESETS
    arch: str | None = None  # default: resnet18 on a GPU, the small convnet on a CPU
    latent_dim: int | None = None
    precision: str = "auto"  # bf16 / fp16 / fp32; auto: from the device (superinfo_lib.step)
    data: str | None = None
    download: bool = True
    synthetic: bool = False
    train_limit: int | None = None
    test_limit: int | None = None
    knn_every: int = 10  # epochs between kNN monitor runs (0: only at the end)
    linear_epochs: int = 100  # final linear probe (0: skip)
    checkpoint_every: int | None = None  # epochs between checkpoints (default: 1 on CPU, 10 on GPU)
    out: str | None = None
    resume: bool = False
    seed: int = 0
    compile: bool = False
    stop_at_step: int | None = None  # stop early; the schedule still spans --epochs
    log_every: int = 50
    device: str | None = None
    world_size: int = 1
    scaled_down: bool = False
    preset: LossPreset | None = None  # the coefficients the loop uses; set by `resolve`

    def resolve(self) -> TrainConfig:
        """Fill the defaults that depend on the device; resolve the loss coefficients once, into
        `preset`; validate every argument."""
        if self.loss not in PRESETS:
            raise ValueError(f"--loss must be one of {sorted(PRESETS)}, got {self.loss!r}")
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        on_cpu = device == "cpu"
        cpu_defaults = on_cpu and self.epochs is None and self.train_limit is None and not self.synthetic
        temperature = self.temperature
        if temperature is None and cpu_defaults:
            temperature = CPU_RECIPE["temperature"]
        preset = PRESETS[self.loss].with_overrides(
            lambda_pred=self.lambda_pred,
            beta_12=self.beta_12,
            beta_21=self.beta_21,
            temperature=temperature,
            allow_negative_beta=self.allow_negative_beta,
        )
        r = replace(self, device=device, preset=preset, precision=choose_precision(device, self.precision))

        def default(value, cpu, gpu):
            return value if value is not None else (cpu if on_cpu else gpu)

        for name in ("arch", "epochs", "batch_size"):
            setattr(r, name, default(getattr(r, name), CPU_RECIPE[name], GPU_RECIPE[name]))
        # A GPU epoch takes seconds and a checkpoint (weights + momentum, ~90 MB) a good
        # fraction of one: save every 10 epochs there, and always at the end of a run.
        r.checkpoint_every = default(r.checkpoint_every, 1, 10)
        if cpu_defaults:
            r.scaled_down = True
        r.lr = r.lr if r.lr is not None else 0.06 * r.batch_size * r.world_size / 256
        r.warmup_epochs = r.warmup_epochs if r.warmup_epochs is not None else 0.1 * r.epochs
        r.out = r.out or str(REPO_ROOT / "runs" / r.loss)
        r.validate()
        return r

    def validate(self) -> None:
        def flag(name):
            return "--" + name.replace("_", "-")

        for name in ("epochs", "batch_size", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{flag(name)} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "momentum", "weight_decay", "warmup_epochs"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{flag(name)} must be finite and >= 0, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        if self.augment not in AUGMENT_PRESETS:
            raise ValueError(f"--augment must be one of {sorted(AUGMENT_PRESETS)}, got {self.augment!r}")
        for name in ("train_limit", "test_limit", "stop_at_step"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{flag(name)} must be >= 1, got {getattr(self, name)}")


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


class NonFiniteLoss(RuntimeError):
    pass


@dataclass
class Run:
    """The state of one training run, shared by the pieces of `train`."""

    cfg: TrainConfig
    dist: distributed.DistInfo
    device: torch.device
    out: Path
    data: ImageData
    shards: tuple[torch.Tensor, ...]  # this process's train_x, train_y, test_x, test_y
    model: SuperInfoModel
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    steps_per_epoch: int
    log: MetricsLog
    step: int = 0
    saved_step: int | None = None  # the step of the checkpoint on disk
    train_model: nn.Module | None = None  # the model as trained (DDP-wrapped with several processes)

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    @property
    def total_steps(self) -> int:
        return self.cfg.epochs * self.steps_per_epoch

    @property
    def final_step(self) -> int:
        return min(self.total_steps, self.cfg.stop_at_step or self.total_steps)

    @property
    def channels_last(self) -> bool:
        return True  # faster on GPUs and on CPUs alike (superinfo_lib.step's docstring)

    def say(self, *args) -> None:
        if self.dist.is_main:
            print(*args, flush=True)


def train(cfg: TrainConfig, data: ImageData | None = None, progress: bool = True) -> dict:
    """Run one training job; returns the final results (also written to final.json)."""
    dist_info = distributed.setup(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cfg = replace(cfg, world_size=dist_info.world_size).resolve()
    run = start_run(cfg, dist_info, data)
    features = None
    try:
        while run.step < run.final_step:
            epoch = run.step // run.steps_per_epoch
            epoch_time = train_epoch(run, epoch, progress)
            features = end_epoch(run, epoch, epoch_time)
        results = finish(run, features)
    except NonFiniteLoss as err:
        msg = (
            f"{err}; stopped. The last good checkpoint (step {run.saved_step}) is kept at "
            f"{run.checkpoint_path}"
            if run.saved_step is not None
            else f"{err}; stopped before any checkpoint was written"
        )
        run.log.write({"kind": "error", "message": msg})
        raise NonFiniteLoss(msg) from None
    finally:
        run.log.close()
    distributed.barrier()
    return results


def start_run(cfg: TrainConfig, dist_info: distributed.DistInfo, data: ImageData | None) -> Run:
    """Output folder, data shards, model, optimiser, resumed state, the config record."""
    device = torch.device(f"cuda:{dist_info.local_rank}" if cfg.device == "cuda" else cfg.device)
    out = Path(cfg.out)
    if dist_info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if (out / "checkpoint.pt").exists() and not cfg.resume:
            raise FileExistsError(
                f"{out / 'checkpoint.pt'} exists: pass --resume to continue it, or --out to start a new "
                "run elsewhere (nothing was overwritten)"
            )
    if cfg.scaled_down and dist_info.is_main:
        print(
            f"CPU run: the CPU study's recipe, short ({cfg.arch} convnet, {cfg.epochs} epochs on all "
            f"training images, batch {cfg.batch_size}, temperature {cfg.preset.temperature}, "
            f"{cfg.precision}); about 3 minutes on 2 cores. The CPU study trains this recipe for "
            f"10 epochs (docs/results.md); a GPU run trains ResNet-18 for {GPU_RECIPE['epochs']}. Pass "
            "--epochs, --arch or --train-limit to change it."
        )
    data = data or load_data(cfg, dist_info)
    # Each process holds its shard of the training set (and of the test set, for kNN) on its device.
    r, w = dist_info.rank, dist_info.world_size
    shards = tuple(t[r::w].to(device) for t in (data.train_x, data.train_y, data.test_x, data.test_y))
    shard_size = len(data.train_x) // w  # the smallest shard: every rank must run the same steps
    steps_per_epoch = shard_size // cfg.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"--batch-size {cfg.batch_size} is larger than the {shard_size} training images of each process"
        )
    model, optimizer, scaler = build_model(cfg, dist_info, device)
    log = MetricsLog(out / "metrics.jsonl" if dist_info.is_main else None)
    run = Run(cfg, dist_info, device, out, data, shards, model, optimizer, scaler, steps_per_epoch, log)
    resume(run)
    if cfg.compile:
        model.backbone = torch.compile(model.backbone)
    run.train_model = model
    if dist_info.enabled:
        ids = [device.index] if device.type == "cuda" else None
        run.train_model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    if run.step == 0:
        device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        log.write(
            {
                "kind": "config",
                **asdict(cfg),
                "data_source": data.source,
                "torch": torch.__version__,
                "device_name": device_name,
                "steps_per_epoch": steps_per_epoch,
            }
        )
    return run


def load_data(cfg: TrainConfig, dist_info: distributed.DistInfo) -> ImageData:
    if cfg.synthetic:
        return synthetic_images(n_train=cfg.train_limit or 512, n_test=cfg.test_limit or 256, seed=cfg.seed)
    # Rank 0 loads first (and may download); the others wait, then read what it found.
    if not dist_info.is_main:
        distributed.barrier()
    data = load_cifar10(
        cfg.data,
        download=cfg.download and dist_info.is_main,
        train_limit=cfg.train_limit,
        test_limit=cfg.test_limit,
    )
    if dist_info.is_main:
        distributed.barrier()
    return data


def build_model(cfg: TrainConfig, dist_info: distributed.DistInfo, device: torch.device):
    """The model (channels_last, synchronised batch norm with several processes), SGD
    (fused on a GPU) and the gradient scaler of the run's precision."""
    torch.manual_seed(cfg.seed)
    model = SuperInfoModel(cfg.arch, cfg.latent_dim).to(device, memory_format=torch.channels_last)
    if dist_info.enabled:
        model = distributed.convert_sync_batchnorm(model, device.type)  # BN statistics of the global batch
    fused = {"fused": True} if device.type == "cuda" else {}
    optimizer = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, **fused
    )
    return model, optimizer, make_scaler(device, cfg.precision)


def resume(run: Run) -> None:
    """With --resume, continue from the run folder's checkpoint (if any), after checking that it
    was written by the same run; with several processes, check they all resumed the same step."""
    cfg, path = run.cfg, run.checkpoint_path
    if cfg.resume and path.exists():
        ckpt = load_checkpoint(path, map_location=run.device)
        now = asdict(cfg)
        then = {k: ckpt["config"].get(k, RESUME_DEFAULTS.get(k)) for k in RESUME_MUST_MATCH}
        mismatched = [k for k in RESUME_MUST_MATCH if then[k] != now[k]]
        if mismatched:
            raise ValueError(
                f"--resume: {path} was written with different "
                + ", ".join(f"{k} ({then[k]!r} there, {now[k]!r} now)" for k in mismatched)
            )
        run.model.load_state_dict(ckpt["model"])
        run.optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scaler"):
            run.scaler.load_state_dict(ckpt["scaler"])
        run.step = run.saved_step = ckpt["step"]
        run.say(f"resumed {path} at step {run.step} (epoch {ckpt['epoch']})")
    elif cfg.resume:
        run.say(f"--resume: no checkpoint at {path} yet, starting from scratch")
    if run.dist.enabled:  # a node that cannot see the checkpoint would start over and desynchronise
        steps = torch.tensor([run.step, -run.step], device=run.device)
        lowest, minus_highest = distributed.all_reduce_min(steps).tolist()
        if lowest != -minus_highest:
            raise ValueError(
                f"--resume: the processes found checkpoints at different steps ({lowest} to "
                f"{-minus_highest}); --out must be a folder that every node reads"
            )


# Longer than most functions here: the hot loop; split further, the per-step state would
# travel through many arguments.
def train_epoch(run: Run, epoch: int, progress: bool) -> float:
    """Train until the end of `epoch` (or the run's last step); returns the wall time.

    Loss terms are summed on the device and read back every --log-every steps, so there is no
    host sync per step; a non-finite loss is noticed there and stops every process together.
    """
    cfg, device, rank = run.cfg, run.device, run.dist.rank
    train_x = run.shards[0]
    order = epoch_order(len(train_x), cfg.seed, epoch, rank).to(device)
    tracker = StepTracker(run, epoch)
    bar = None
    if progress and run.dist.is_main and someone_watches():
        from tqdm.auto import tqdm

        bar = tqdm(
            total=run.steps_per_epoch,
            initial=run.step % run.steps_per_epoch,
            desc=f"{cfg.loss} epoch {epoch + 1}/{cfg.epochs}",
            leave=False,
        )
    gather = distributed.gather_with_grad if run.dist.enabled else None
    warmup_steps = round(cfg.warmup_epochs * run.steps_per_epoch)
    epoch_end = min((epoch + 1) * run.steps_per_epoch, run.final_step)
    t_epoch = time.perf_counter()
    while run.step < epoch_end:
        i = run.step % run.steps_per_epoch
        lr = lr_at(run.step, run.total_steps, warmup_steps, cfg.lr)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        betas = cfg.preset.betas_at(run.step / run.total_steps)
        gen = step_generator(cfg.seed, run.step, rank, device)
        views = two_views(
            train_x[order[i * cfg.batch_size : (i + 1) * cfg.batch_size]],
            gen,
            AUGMENT_PRESETS[cfg.augment],
            channels_last=run.channels_last,
        )
        terms = training_step(
            run.train_model,
            run.optimizer,
            views,
            cfg.preset,
            betas,
            precision=cfg.precision,
            scaler=run.scaler,
            generator=gen,
            gather=gather,
            rank=rank,
        )
        tracker.add(terms)
        run.step += 1
        if bar is not None:
            bar.update(1)
        if run.step % cfg.log_every == 0 or run.step == epoch_end:
            means = tracker.flush(lr, betas)
            if bar is not None:
                bar.set_postfix(
                    loss=f"{means['loss']:.3f}", nce=f"{means['nce']:.3f}", kl=f"{means['kl_12']:.1f}"
                )
    if bar is not None:
        bar.close()
    return time.perf_counter() - t_epoch


def someone_watches() -> bool:
    """Whether a live progress bar is read: in a terminal or a notebook. Written to a log file, its
    carriage-return updates pile up into one huge line; there `end_epoch`'s line per epoch says it."""
    return "ipykernel" in sys.modules or sys.stderr.isatty()


class StepTracker:
    """Sums the loss terms on the device and logs their means; finds the first non-finite step."""

    def __init__(self, run: Run, epoch: int):
        self.run, self.epoch = run, epoch
        self.sums = torch.zeros(len(TERMS), device=run.device)
        self.first_bad = torch.full((), -1, dtype=torch.long, device=run.device)
        self.step_on_device = torch.full((), run.step, dtype=torch.long, device=run.device)
        self.count, self.t_log = 0, time.perf_counter()

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        values = torch.stack([terms[k].detach().float() for k in TERMS])
        bad_now = (self.first_bad < 0) & ~torch.isfinite(values).all()
        self.first_bad = torch.where(bad_now, self.step_on_device, self.first_bad)
        self.step_on_device += 1
        self.sums += values
        self.count += 1

    def flush(self, lr: float, betas: tuple[float, float]) -> dict:
        run = self.run
        # Every rank must stop together: the earliest non-finite step on any rank.
        never = torch.full_like(self.first_bad, run.total_steps)
        bad = int(distributed.all_reduce_min(torch.where(self.first_bad < 0, never, self.first_bad)).item())
        if bad != run.total_steps:
            raise NonFiniteLoss(f"the loss became non-finite at step {bad}")
        means = dict(zip(TERMS, (distributed.all_reduce_mean(self.sums) / self.count).tolist()))
        now = time.perf_counter()
        pairs_per_s = self.count * run.cfg.batch_size * run.dist.world_size / (now - self.t_log)
        run.log.write(
            {
                "kind": "step",
                "step": run.step,
                "epoch": self.epoch,
                "lr": lr,
                "beta_12": betas[0],
                "beta_21": betas[1],
                **means,
                "pairs_per_s": pairs_per_s,
            }
        )
        self.sums.zero_()
        self.count, self.t_log = 0, now
        return means


def end_epoch(run: Run, epoch: int, epoch_time: float):
    """kNN monitor when due, checkpoint when due (always at a stop mid-epoch and at the end),
    the epoch's record. Returns the kNN features (reused by the final evaluation) or None."""
    cfg = run.cfg
    completed = run.step % run.steps_per_epoch == 0
    knn = features = None
    due = cfg.knn_every and ((epoch + 1) % cfg.knn_every == 0 or epoch + 1 == cfg.epochs)
    if completed and due:
        knn, features = knn_monitor(run)
    save_now = not completed or (epoch + 1) % cfg.checkpoint_every == 0 or run.step == run.final_step
    if save_now:
        run.saved_step = run.step
    if run.dist.is_main:
        run.log.write(
            {
                "kind": "epoch",
                "epoch": epoch,
                "step": run.step,
                "epoch_time_s": epoch_time,
                "complete": completed,
                **({"knn_top1": knn} if knn is not None else {}),
            }
        )
        if save_now:
            save_checkpoint(
                run.checkpoint_path,
                run.model,
                run.optimizer,
                run.step,
                epoch + int(completed),
                asdict(cfg),
                run.scaler,
            )
        run.say(
            f"epoch {epoch + 1}/{cfg.epochs}: step {run.step}, {epoch_time:.1f} s"
            + (f", kNN top-1 {knn:.4f}" if knn is not None else "")
        )
    return features


def knn_monitor(run: Run) -> tuple[float, tuple[torch.Tensor, ...]]:
    return sharded_knn(
        run.model.backbone, *run.shards, len(run.data.classes), run.channels_last, run.cfg.precision
    )


@torch.no_grad()
def sharded_knn(
    backbone: nn.Module,
    train_x,
    train_y,
    test_x,
    test_y,
    num_classes: int,
    channels_last: bool = False,
    precision: str | None = None,
) -> tuple[float, tuple[torch.Tensor, ...]]:
    """kNN top-1 of the backbone's features; each rank embeds its shard, all ranks vote.

    Returns the accuracy and the gathered (train_f, train_y, test_f, test_y), which the final
    evaluation reuses instead of embedding the data again.
    """

    def embed(images):
        return extract_features(backbone, images, channels_last=channels_last, precision=precision)

    gather = distributed.gather_rows
    features = (gather(embed(train_x)), gather(train_y), gather(embed(test_x)), gather(test_y))
    return knn_accuracy(*features, num_classes), features


def finish(run: Run, features) -> dict:
    """At the last step: the library's evaluation (kNN, linear probe) written to final.json."""
    cfg = run.cfg
    results = {
        "loss": cfg.loss,
        "step": run.step,
        "epochs": cfg.epochs,
        "scaled_down": cfg.scaled_down,
        "precision": cfg.precision,
        "data_source": run.data.source,
    }
    if run.step < run.total_steps:
        return results
    if features is None:
        _, features = knn_monitor(run)
    if run.dist.is_main:
        # Every rank holds the gathered features of the whole set; rank 0 evaluates.
        scores = evaluate_model(
            run.model,
            run.data,
            linear_epochs=cfg.linear_epochs,
            few_label=(),
            probe_images=0,
            features=features,
        )
        results.update({k: scores[k] for k in ("knn_top1", "linear_top1") if scores.get(k) is not None})
        (run.out / "final.json").write_text(json.dumps(results, indent=2) + "\n")
        run.log.write({"kind": "final", **results})
        run.say("final: " + ", ".join(f"{k} {v:.4f}" for k, v in results.items() if k.endswith("top1")))
    return results


# Longer than most functions here: one line per command-line option.
def parse_args(argv=None) -> TrainConfig:
    parser = argparse.ArgumentParser(
        prog="python -m superinfo_lib.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    types = {f.name: f for f in fields(TrainConfig)}
    parser.add_argument("--loss", default="superinfo", choices=sorted(PRESETS))
    for name, help_text in (
        (
            "epochs",
            f"training epochs (default {GPU_RECIPE['epochs']} on a GPU, {CPU_RECIPE['epochs']} on a CPU)",
        ),
        (
            "batch-size",
            f"batch per process (default {GPU_RECIPE['batch_size']} on a GPU, "
            f"{CPU_RECIPE['batch_size']} on a CPU)",
        ),
        ("train-limit", "use only the first N training images"),
        ("test-limit", "use only the first N test images"),
        ("latent-dim", "size of z (default: the backbone's: 512 for resnet18, 128 for small)"),
        ("stop-at-step", "stop after this many steps (the schedule still spans --epochs)"),
        ("knn-every", "epochs between kNN monitor runs (0: at the end only)"),
        ("linear-epochs", "epochs of the final linear probe (0: skip)"),
        ("checkpoint-every", "epochs between checkpoints (default 1 on CPU, 10 on GPU; always at the end)"),
        ("log-every", "steps between metric lines"),
        ("seed", "random seed"),
    ):
        dest = name.replace("-", "_")
        parser.add_argument(f"--{name}", type=int, default=types[dest].default, help=help_text)
    for name, help_text in (
        ("lr", "peak learning rate (default 0.06 x global batch / 256)"),
        ("momentum", None),
        ("weight-decay", None),
        ("warmup-epochs", "default 10%% of epochs"),
        ("lambda-pred", "weight of InfoNCE (default: the preset's)"),
        ("beta-12", "weight of KL(q1||q2) (default: the preset's)"),
        ("beta-21", "weight of KL(q2||q1) (default: the preset's)"),
        ("temperature", "InfoNCE temperature (default: the preset's)"),
    ):
        dest = name.replace("-", "_")
        parser.add_argument(f"--{name}", type=float, default=types[dest].default, help=help_text)
    parser.add_argument(
        "--augment", default="standard", choices=sorted(AUGMENT_PRESETS),
        help="augmentation: standard (SimCLR's) or strong (smaller crops, more jitter, pixel noise)",
    )  # fmt: skip
    parser.add_argument("--allow-negative-beta", action="store_true", help="accept beta < 0 (see the course)")
    parser.add_argument(
        "--arch", default=None, choices=["resnet18", "small"], help="default: resnet18 (GPU), small (CPU)"
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", *PRECISIONS],
        help="auto: bf16 where the GPU or CPU has native bf16, fp16 (+ scaling) on older GPUs, else fp32",
    )
    parser.add_argument(
        "--data", default=None, help="CIFAR-10 pack (.npz) or torchvision folder (default: search)"
    )
    parser.add_argument(
        "--no-download",
        dest="download",
        action="store_false",
        help="never download CIFAR-10 (neither the JPEG pack nor torchvision's)",
    )
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
