"""GPU benchmark: the compute limit, the project's training epoch and the usual tutorial pipeline,
measured in one run on one device, printed as ratios and written as a "benchmark" result.

    python bench/bench_gpu.py --data device_data/cifar10-jpeg.npz --budget-s 170   # GPU (bench/README.md)
    python bench/bench_gpu.py --smoke --synthetic                                  # CPU: code path only

Rows (every epoch time is normalised to one pass over the training set at the row's batch):
  compute_limit*   forward + backward + SGD step of ResNet-18 (CIFAR stem) + Gaussian head +
                   projector on ONE fixed, pre-augmented batch of two views (bf16, channels_last):
                   no data work at all, so no epoch can be faster than this.
  trainer          superinfo_lib.train.train itself for a few epochs (data on the GPU, per-sample
                   GPU augmentation, SuperInfo loss with its Gaussian head): the project's epoch.
  project*         the trainer's step (superinfo_lib.step.training_step on two views from
                   superinfo_lib.data.two_views) outside the trainer's loop, so that options can
                   be tried one at a time: _compiled (torch.compile of backbone and projector; its
                   compile time is reported and amortised over 100 epochs), _graph (the whole step
                   captured in one CUDA graph), _bs1024 (a larger batch; lr scales with it).
  tutorial_*       a DataLoader with torchvision transforms on PIL images (what most SimCLR
                   tutorials do), feeding the same model, with 2 workers (Colab) and all cores.

Every row is guarded: an option that fails records its error and the run goes on; rows that
would not fit in --budget-s are recorded as skipped. The JSON is rewritten after every row.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from superinfo_lib import jobs as common
from superinfo_lib.checkpoint import load_checkpoint
from superinfo_lib.data import MEAN, STD, two_views
from superinfo_lib.losses import PRESETS
from superinfo_lib.metrics import read_metrics
from superinfo_lib.models import SuperInfoModel
from superinfo_lib.step import choose_precision, make_scaler, training_step
from superinfo_lib.train import TrainConfig, epoch_order, step_generator, train

# Speed targets, checked on the GPU rows.
TARGETS = {
    "trainer_over_compute_limit": ("<=", 1.15),
    "speedup_vs_tutorial_all_cores": (">=", 2.5),
    "speedup_vs_tutorial_2_workers": (">=", 15.0),
    "trainer_100_epochs_s": ("<=", 240.0),
}
# On a CPU the model's compute, not the pipeline, dominates: the targets of the CPU study.
CPU_TARGETS = {
    "trainer_over_compute_limit": ("<=", 1.15),
    "speedup_vs_tutorial_2_workers": (">=", 2.0),
}


# ----------------------------------------------------------------------------- the step


class Setup:
    """A model, its optimiser and the trainer's step (superinfo_lib.step.training_step)."""

    def __init__(
        self,
        arch: str,
        batch_size: int,
        device: torch.device,
        compiled: bool = False,
        fused: bool = True,
        graph: bool = False,
    ):
        torch.manual_seed(0)
        self.device = device
        self.autocast_cache = not graph  # autocast's weight-cast cache must be off under CUDA graphs
        # channels_last on every device, as the trainer (faster on CPUs too: superinfo_lib.step)
        self.channels_last = True
        self.model = SuperInfoModel(arch).to(device, memory_format=torch.channels_last)
        opt_kwargs = {"fused": True} if (fused and device.type == "cuda") else {"foreach": True}
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=0.06 * batch_size / 256, momentum=0.9, weight_decay=5e-4, **opt_kwargs
        )
        self.preset = PRESETS["superinfo"]
        self.precision = choose_precision(device)
        self.scaler = make_scaler(device, self.precision)
        if compiled:
            self.model.backbone = torch.compile(self.model.backbone)
            self.model.projector = torch.compile(self.model.projector)

    def views(self, batch: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
        """Two per-sample augmented views of a uint8 batch, as the trainer makes them."""
        return two_views(batch, gen, channels_last=self.channels_last)

    def step(self, views: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
        """The training step; returns the loss (no host sync)."""
        terms = training_step(
            self.model,
            self.optimizer,
            views,
            self.preset,
            precision=self.precision,
            scaler=self.scaler,
            generator=gen,
            autocast_cache=self.autocast_cache,
        )
        return terms["loss"].detach()


def capture_graph(setup: Setup, body, warmup: int = 3):
    """Capture `body()` (a step reading only static tensors) in one CUDA graph, after
    warm-up steps on a side stream (PyTorch's whole-network capture recipe)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            setup.optimizer.zero_grad(set_to_none=True)
            body()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    setup.optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        body()
    return graph


# ----------------------------------------------------------------------------- timing


def time_steps(run_step, device, steps: int, warmup: int, repeats: int) -> dict:
    """Median seconds per step over `repeats` blocks of `steps` (synchronised around each
    block), after `warmup` steps; the first step is timed alone (compilation, autotuning)."""
    t0 = time.perf_counter()
    run_step(0)
    common.sync(device)
    first = time.perf_counter() - t0
    for i in range(1, warmup):
        run_step(i)
    common.sync(device)
    blocks, i = [], warmup
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            run_step(i)
            i += 1
        common.sync(device)
        blocks.append((time.perf_counter() - t0) / steps)
    return {"step_s": statistics.median(blocks), "step_s_blocks": blocks, "first_step_s": first}


def finish_row(row: dict, n_train: int) -> dict:
    b = row["batch_size"]
    row["epoch_s"] = row["step_s"] * (n_train // b)
    row["pairs_per_s"] = b / row["step_s"]
    if row.get("compiled"):
        # Compilation happens in the first step, or in the warm-up before a graph capture.
        row["compile_s"] = max(0.0, row["first_step_s"] - row["step_s"]) + row.get("setup_s", 0.0)
        row["epoch_s_with_compile_over_100"] = row["epoch_s"] + row["compile_s"] / 100
    return row


# ----------------------------------------------------------------------------- rows


def row_compute_limit(ctx, batch_size: int, compiled=False, graph=False, fused=True, name=None) -> dict:
    setup = Setup(ctx.arch, batch_size, ctx.device, compiled=compiled, fused=fused, graph=graph)
    idx = torch.randperm(len(ctx.train_x), device=ctx.device)[:batch_size]
    with torch.no_grad():
        views = setup.views(ctx.train_x[idx], None)  # fixed, pre-augmented
    t0 = time.perf_counter()
    if graph:
        g = capture_graph(setup, lambda: setup.step(views, None))
        common.sync(ctx.device)
        run = lambda i: g.replay()  # noqa: E731
    else:
        run = lambda i: setup.step(views, None)  # noqa: E731
    setup_s = time.perf_counter() - t0
    timing = time_steps(run, ctx.device, ctx.steps, ctx.warmup, ctx.repeats)
    return finish_row(
        {
            "name": name,
            "batch_size": batch_size,
            "compiled": compiled,
            "graph": graph,
            "setup_s": setup_s,
            "fused_optimizer": fused and ctx.device.type == "cuda",
            **timing,
        },
        ctx.n_train,
    )


def row_project(ctx, batch_size: int, compiled=False, graph=False, name=None) -> dict:
    """The trainer's step: a fresh batch from the GPU-resident set, two per-sample views."""
    setup = Setup(ctx.arch, batch_size, ctx.device, compiled=compiled, graph=graph)
    order = epoch_order(len(ctx.train_x), ctx.seed, 0, 0).to(ctx.device)
    steps_per_epoch = len(ctx.train_x) // batch_size

    def batch_at(i):
        j = i % steps_per_epoch
        return ctx.train_x[order[j * batch_size : (j + 1) * batch_size]]

    t0 = time.perf_counter()
    if graph:
        # Static index buffer, default CUDA generator (graph-safe); the rest as the trainer.
        static_idx = order[:batch_size].clone()
        g = capture_graph(setup, lambda: setup.step(setup.views(ctx.train_x[static_idx], None), None))

        def run(i):
            j = i % steps_per_epoch
            static_idx.copy_(order[j * batch_size : (j + 1) * batch_size])
            g.replay()
    else:

        def run(i):
            gen = step_generator(ctx.seed, i, 0, ctx.device)
            setup.step(setup.views(batch_at(i), gen), gen)

    common.sync(ctx.device)
    setup_s = time.perf_counter() - t0
    timing = time_steps(run, ctx.device, ctx.steps, ctx.warmup, ctx.repeats)
    return finish_row(
        {
            "name": name,
            "batch_size": batch_size,
            "compiled": compiled,
            "graph": graph,
            "setup_s": setup_s,
            **timing,
        },
        ctx.n_train,
    )


def row_trainer(
    ctx, batch_size: int, epochs: int, name=None, precision: str = "auto", compile: bool = False
) -> dict:
    """superinfo_lib.train.train itself, `epochs` epochs of a 100-epoch schedule, no evaluation."""
    steps_per_epoch = len(ctx.data.train_x) // batch_size
    with tempfile.TemporaryDirectory(dir=ctx.work_dir) as tmp:
        cfg = TrainConfig(
            loss="superinfo",
            epochs=100,
            batch_size=batch_size,
            arch=ctx.arch,
            seed=ctx.seed,
            out=tmp,
            knn_every=0,
            linear_epochs=0,
            log_every=10**9,
            precision=precision,
            compile=compile,
            stop_at_step=epochs * steps_per_epoch,
            device=ctx.device.type,
        )
        t0 = time.perf_counter()
        train(cfg, data=ctx.data, progress=False)
        wall = time.perf_counter() - t0
        epoch_times = [r["epoch_time_s"] for r in read_metrics(tmp, kind="epoch")]
        # The trainer saves a checkpoint every `checkpoint_every` epochs: time one save of the same size.
        saves = math.ceil(100 / cfg.resolve().checkpoint_every)
        state = load_checkpoint(Path(tmp) / "checkpoint.pt", map_location=ctx.device)
        t0 = time.perf_counter()
        torch.save(state, Path(tmp) / "resave.pt")
        checkpoint_s = time.perf_counter() - t0
    steady = epoch_times[1:] or epoch_times
    epoch_s = statistics.median(steady)
    step_s = epoch_s / steps_per_epoch
    return {
        "name": name,
        "batch_size": batch_size,
        "precision": cfg.resolve().precision,
        "compiled": compile,
        "epoch_times_s": epoch_times,
        "wall_s": wall,
        "checkpoint_save_s": checkpoint_s,
        "step_s": step_s,
        "first_step_s": None,
        "epoch_s": step_s * (ctx.n_train // batch_size),
        "pairs_per_s": batch_size / step_s,
        "projected_100_epochs_s": epoch_times[0] + 99 * epoch_s + saves * checkpoint_s,
        "note": f"100-epoch projection: first epoch + 99 x steady epoch + {saves} checkpoint saves; "
        "kNN monitor and final evaluation not included",
    }


def row_concurrency(ctx, batch_size: int, epochs: int, processes=(1, 2, 3), name=None) -> dict:
    """Training throughput of 1, 2 and 3 trainer processes sharing the one device: does running
    several runs at once give more epochs per second in all? On a CPU the cores are split
    between the processes (OMP_NUM_THREADS = cores / processes), so none is oversubscribed."""
    source = (
        ["--synthetic", "--train-limit", str(ctx.n_train)]
        if ctx.synthetic
        else (["--data", ctx.data_path] if ctx.data_path else [])
    )
    steps = epochs * (ctx.n_train // batch_size)
    out = {"name": name, "batch_size": batch_size, "epochs_each": epochs, "by_processes": {}}
    for k in processes:
        env = dict(os.environ)
        if ctx.device.type == "cpu":
            env["OMP_NUM_THREADS"] = str(max(1, ctx.all_cores // k))
            out.setdefault("threads_per_process", {})[str(k)] = int(env["OMP_NUM_THREADS"])
        with tempfile.TemporaryDirectory(dir=ctx.work_dir) as tmp:
            procs = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "superinfo_lib.train",
                        "--loss",
                        "superinfo",
                        "--arch",
                        ctx.arch,
                        "--batch-size",
                        str(batch_size),
                        "--epochs",
                        "100",
                        "--stop-at-step",
                        str(steps),
                        "--knn-every",
                        "0",
                        "--linear-epochs",
                        "0",
                        "--log-every",
                        "10",
                        "--no-download",
                        "--seed",
                        str(i),
                        "--out",
                        f"{tmp}/p{i}",
                        "--device",
                        ctx.device.type,
                        *source,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                )
                for i in range(k)
            ]
            errors = [p.communicate()[1] for p in procs]
            if any(p.returncode for p in procs):
                raise RuntimeError(
                    f"{k} processes: " + next(e for p, e in zip(procs, errors) if p.returncode)[-300:]
                )
            # Steady state: the median logged throughput after the first log interval of each process.
            rates = [
                statistics.median(
                    [r["pairs_per_s"] for r in read_metrics(f"{tmp}/p{i}", kind="step")[1:]]
                    or [r["pairs_per_s"] for r in read_metrics(f"{tmp}/p{i}", kind="step")]
                )
                for i in range(k)
            ]
        total = sum(rates)
        out["by_processes"][str(k)] = {"pairs_per_s": total, "epochs_per_s": total / ctx.n_train}
    one = out["by_processes"][str(processes[0])]["pairs_per_s"]
    best = max(out["by_processes"], key=lambda k: out["by_processes"][k]["pairs_per_s"])
    out.update(best_processes=int(best), gain_over_one=out["by_processes"][best]["pairs_per_s"] / one)
    return out


class TwoViewPIL(torch.utils.data.Dataset):
    """CIFAR-10 as torchvision's dataset serves it: uint8 HWC arrays -> PIL -> transforms, twice."""

    def __init__(self, images_nhwc: np.ndarray, transform):
        self.images, self.transform = images_nhwc, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image

        img = Image.fromarray(self.images[i])
        return self.transform(img), self.transform(img)


def tutorial_transform():
    """SimCLR's CIFAR-10 augmentation with torchvision's PIL transforms."""
    from torchvision import transforms as T

    return T.Compose(
        [
            T.RandomResizedCrop(32, scale=(0.2, 1.0)),
            T.RandomHorizontalFlip(),
            T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            T.RandomGrayscale(p=0.2),
            T.ToTensor(),
            T.Normalize(MEAN, STD),
        ]
    )


def row_tutorial(ctx, batch_size: int, workers: int, name=None) -> dict:
    setup = Setup(ctx.arch, batch_size, ctx.device)
    dataset = TwoViewPIL(
        np.ascontiguousarray(ctx.data.train_x.permute(0, 2, 3, 1).numpy()), tutorial_transform()
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=ctx.device.type == "cuda",
        drop_last=True,
        persistent_workers=workers > 0,
    )
    batches = iter(loader)

    def run(i):
        nonlocal batches
        try:
            v1, v2 = next(batches)
        except StopIteration:
            batches = iter(loader)
            v1, v2 = next(batches)
        views = torch.cat([v1, v2]).to(ctx.device, non_blocking=True)
        if setup.channels_last:
            views = views.contiguous(memory_format=torch.channels_last)
        setup.step(views, None)

    # Drain what the workers prefetched while starting (prefetch_factor 2 each), then time at
    # least two rounds of all workers: otherwise the buffer makes the loader look fast.
    warmup, steps = 2 * workers + 2, max(ctx.tutorial_steps, 2 * workers)
    timing = time_steps(run, ctx.device, steps, warmup=warmup, repeats=1)
    batches = loader = None  # let the workers shut down before the next row
    return finish_row(
        {
            "name": name,
            "batch_size": batch_size,
            "workers": workers,
            "warmup_steps": warmup,
            "note": "first_step_s includes starting the workers",
            **timing,
        },
        ctx.n_train,
    )


# ----------------------------------------------------------------------------- plan and report


def plan(ctx, args) -> list[tuple[str, float, callable]]:
    """(name, time estimate in s, row function) in priority order; estimates size the budget."""
    b, cuda, cores = args.batch_size, ctx.device.type == "cuda", ctx.all_cores
    rows = [
        ("compute_limit", 10, lambda: row_compute_limit(ctx, b)),
        ("trainer", 15 if cuda else 30, lambda: row_trainer(ctx, b, args.trainer_epochs)),
        ("trainer_fp16", 8, lambda: row_trainer(ctx, b, 1, precision="fp16")),
        ("trainer_fp32", 10, lambda: row_trainer(ctx, b, 1, precision="fp32")),
        (
            "concurrency",
            60,
            lambda: row_concurrency(ctx, b, args.trainer_epochs, (1, 2, 3) if cuda else (1, 2)),
        ),
        ("project", 10, lambda: row_project(ctx, b)),
        ("tutorial_all_cores", 20, lambda: row_tutorial(ctx, b, cores)),
        ("tutorial_2_workers", 30, lambda: row_tutorial(ctx, b, 2)),
    ]
    if cuda:
        rows += [
            ("compute_limit_graph", 15, lambda: row_compute_limit(ctx, b, graph=True)),
            ("project_graph", 15, lambda: row_project(ctx, b, graph=True)),
        ]
    if not args.no_compile:
        rows += [
            ("trainer_compiled", 100, lambda: row_trainer(ctx, b, args.trainer_epochs, compile=True)),
            ("compute_limit_compiled", 90, lambda: row_compute_limit(ctx, b, compiled=True)),
            ("project_compiled", 90, lambda: row_project(ctx, b, compiled=True)),
        ]
        if cuda:
            rows += [("project_compiled_graph", 60, lambda: row_project(ctx, b, compiled=True, graph=True))]
    rows += [("compute_limit_foreach", 10, lambda: row_compute_limit(ctx, b, fused=False))]
    if cuda:
        rows += [
            ("compute_limit_bs1024", 10, lambda: row_compute_limit(ctx, 2 * b)),
            ("project_bs1024", 10, lambda: row_project(ctx, 2 * b)),
            ("trainer_bs1024", 15, lambda: row_trainer(ctx, 2 * b, args.trainer_epochs)),
        ]
    if args.only:
        rows = [r for r in rows if r[0] in args.only]
    return rows


def ratios(rows: list[dict], batch_size: int) -> dict:
    ok = {r["name"]: r for r in rows if "epoch_s" in r}
    limits = [r for n, r in ok.items() if n.startswith("compute_limit") and r["batch_size"] == batch_size]
    out = {}
    if limits:
        best = min(limits, key=lambda r: r["epoch_s"])
        out["compute_limit_row"] = best["name"]
        out["compute_limit_epoch_s"] = best["epoch_s"]
        for r in rows:
            if "epoch_s" in r:
                r["ratio_to_compute_limit"] = r["epoch_s"] / best["epoch_s"]
    trainer = ok.get("trainer")
    if trainer:
        if limits:
            out["trainer_over_compute_limit"] = trainer["epoch_s"] / out["compute_limit_epoch_s"]
        out["trainer_100_epochs_s"] = trainer["projected_100_epochs_s"]
        for key, row in (
            ("speedup_vs_tutorial_all_cores", "tutorial_all_cores"),
            ("speedup_vs_tutorial_2_workers", "tutorial_2_workers"),
        ):
            if row in ok:
                out[key] = ok[row]["epoch_s"] / trainer["epoch_s"]
    projects = [r for n, r in ok.items() if n.startswith("project") and r["batch_size"] == batch_size]
    if projects and limits:
        fastest = min(projects, key=lambda r: r.get("epoch_s_with_compile_over_100", r["epoch_s"]))
        out["fastest_project_row"] = fastest["name"]
        out["fastest_project_over_compute_limit"] = (
            fastest.get("epoch_s_with_compile_over_100", fastest["epoch_s"]) / out["compute_limit_epoch_s"]
        )
    return out


def check_targets(r: dict, targets: dict = TARGETS) -> dict:
    out = {}
    for key, (op, bound) in targets.items():
        if key in r:
            out[key] = {
                "value": r[key],
                "target": f"{op} {bound}",
                "met": r[key] <= bound if op == "<=" else r[key] >= bound,
            }
    return out


def print_report(rows: list[dict], summary: dict, targets: dict, device_name: str) -> None:
    print(f"\nbenchmark on {device_name}")
    print(f"{'row':<24} {'batch':>5} {'step ms':>9} {'epoch s':>8} {'pairs/s':>9} {'x limit':>8}  note")
    for r in rows:
        if "epoch_s" in r:
            print(
                f"{r['name']:<24} {r['batch_size']:>5} {1e3 * r['step_s']:>9.2f} {r['epoch_s']:>8.2f} "
                f"{r['pairs_per_s']:>9.0f} {r.get('ratio_to_compute_limit', float('nan')):>8.3f}  "
                + (f"compile {r['compile_s']:.0f} s" if r.get("compile_s") is not None else "")
            )
        elif "by_processes" in r:
            rates = ", ".join(f"{k}: {v['pairs_per_s']:.0f}" for k, v in r["by_processes"].items())
            print(
                f"{r['name']:<24} {r['batch_size']:>5}  pairs/s by processes {rates}; "
                f"best {r['best_processes']} ({r['gain_over_one']:.2f} x one)"
            )
        else:
            print(
                f"{r['name']:<24} {'':>5} {'':>9} {'':>8} {'':>9} {'':>8}  "
                + (r.get("error") or r.get("skipped") or "")[:120]
            )
    for key, value in summary.items():
        print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")
    for key, t in targets.items():
        print(f"  target {key} {t['target']}: {t['value']:.3f} -> {'met' if t['met'] else 'NOT met'}")


class Context:
    pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common.add_common_args(parser)
    parser.add_argument(
        "--arch", default=None, choices=["resnet18", "small"], help="default resnet18 (small with --smoke)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="pairs per step (default 512; 32 with --smoke)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="timed steps per block (default 20; 2 with --smoke)"
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed blocks per row (median; default 3)")
    parser.add_argument(
        "--tutorial-steps", type=int, default=None, help="timed steps of the tutorial rows (default 10)"
    )
    parser.add_argument(
        "--trainer-epochs", type=int, default=None, help="epochs of the trainer row (default 3)"
    )
    parser.add_argument(
        "--no-compile", action="store_true", help="skip the torch.compile rows (implied on CPU)"
    )
    parser.add_argument("--only", nargs="*", default=None, help="run only these rows (names as in the table)")
    args = parser.parse_args(argv)
    device = common.resolve_device(args.device)
    if args.smoke:
        args.arch = args.arch or "small"
        args.batch_size = args.batch_size or 32
    args.arch = args.arch or "resnet18"
    args.batch_size = args.batch_size or 512
    if device.type != "cuda":
        args.no_compile = True  # inductor on a 2-core CPU takes minutes: not worth a smoke test
    budget = common.Budget(args.budget_s, args.deadline)

    ctx = Context()
    ctx.device, ctx.arch, ctx.seed = device, args.arch, args.seed
    ctx.steps = args.steps or (2 if args.smoke else 20)
    ctx.repeats = args.repeats or (1 if args.smoke else 3)
    ctx.warmup = 1 if args.smoke else 5
    ctx.tutorial_steps = args.tutorial_steps or (2 if args.smoke else 10)
    args.trainer_epochs = args.trainer_epochs or (2 if args.smoke else 3)
    ctx.all_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ctx.data = common.load_data(args)
    ctx.synthetic, ctx.data_path = args.synthetic, args.data
    ctx.train_x = ctx.data.train_x.to(device)
    ctx.n_train = len(ctx.data.train_x)
    ctx.work_dir = Path(args.work_dir)
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    if args.batch_size * 2 > ctx.n_train:
        raise SystemExit(
            f"error: --batch-size {args.batch_size} needs at least {2 * args.batch_size} training images"
        )

    writer = common.ResultWriter(args.results_dir, args.out, args.seed, device, args.tag)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    name = f"benchmark-{args.arch}-b{args.batch_size}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"
    rows: list[dict] = []
    summary, targets = {}, {}

    def save():
        payload = {
            "label": "benchmark",
            "smoke": args.smoke,
            "arch": args.arch,
            "batch_size": args.batch_size,
            "n_train": ctx.n_train,
            "data_source": ctx.data.source,
            "cpu_cores": ctx.all_cores,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "rows": rows,
            "ratios": summary,
            "targets": targets,
            "elapsed_s": budget.elapsed(),
            "budget_s": args.budget_s,
        }
        return writer.write("benchmark", payload, name)

    print(
        f"benchmark on {device_name}: {ctx.n_train} training images ({ctx.data.source}), arch {args.arch}, "
        f"batch {args.batch_size}, {ctx.all_cores} CPU cores, budget {args.budget_s} s",
        flush=True,
    )
    for row_name, estimate, fn in plan(ctx, args):
        if not budget.allows(estimate):
            rows.append(
                {"name": row_name, "skipped": f"budget: {budget.left():.0f} s left, needs ~{estimate} s"}
            )
            continue
        t0 = time.perf_counter()
        try:
            row = fn()
            row["name"] = row_name
        except Exception as err:  # one failing option must not lose the other rows
            row = {"name": row_name, "error": f"{type(err).__name__}: {err}"[:500]}
        row["row_wall_s"] = time.perf_counter() - t0
        rows.append(row)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        summary.clear()
        summary.update(ratios(rows, args.batch_size))
        targets.clear()
        targets.update(check_targets(summary, TARGETS if device.type == "cuda" else CPU_TARGETS))
        path = save()
        print(
            f"  {row_name}: "
            + (
                f"epoch {row['epoch_s']:.3f} s, {row['pairs_per_s']:.0f} pairs/s"
                if "epoch_s" in row
                else row.get("error", str(row.get("gain_over_one")))[:200]
            )
            + f" ({row['row_wall_s']:.1f} s)",
            flush=True,
        )
    path = save()
    print_report(rows, summary, targets, device_name)
    print(f"wrote {path}" + (f" and {writer.bundle}" if writer.bundle else ""))
    if device.type != "cuda":
        print("(CPU run: these numbers prove the code path only; they are not GPU figures)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
