"""GPU training runs (baseline, beta sweep, long runs), each evaluated and written as a result JSON.

    python experiments/gpu_runs.py baseline --data device_data/cifar10-jpeg.npz --budget-s 330
        100-epoch SimCLR (beta = 0).
    python experiments/gpu_runs.py sweep --data device_data/cifar10-jpeg.npz --epochs 20 --budget-s 540
        SuperInfo at beta in {0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2} (symmetric) + one asymmetric pair,
        evaluated on a validation split (the last 5,000 training images; --val-holdout): beta is
        chosen there, never on the test set.
    python experiments/gpu_runs.py long --data device_data/cifar10-jpeg.npz --beta 1e-3 --budget-s 540
        100-epoch SuperInfo at the chosen beta (or --sweep FILE: its best beta > 0) and 100-epoch MIB.
    python experiments/gpu_runs.py sweep --smoke --synthetic     # CPU, seconds: the code path, no figures

Each run trains with superinfo_lib.train.train in chunks of --chunk-epochs (resuming its own
checkpoint), so that a partial result is written after every chunk and the --budget-s guard
can stop between chunks; a run that does not fit is skipped (sweep) or left partial
("complete": false). After training: kNN (k=200, t=0.1) and linear probe of the backbone,
few-label probes (10 and 100 labels per class), and the augmentation-parameter probe on the
backbone and on mu (held-out ridge R^2; lower = less superfluous information).
"""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from superinfo_lib import jobs as common
from superinfo_lib.checkpoint import load_checkpoint_model
from superinfo_lib.data import validation_split
from superinfo_lib.eval import evaluate_model
from superinfo_lib.metrics import epoch_history
from superinfo_lib.train import TrainConfig, train

SWEEP_BETAS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
# One asymmetric pair: only KL(q1||q2) penalised. The two views are exchangeable (same
# augmentation distribution, shared encoder), so (b, 0) and (0, b) differ only by noise.
SWEEP_ASYMMETRIC = ((1e-3, 0.0),)
# A sweep evaluates on the last VAL_HOLDOUT training images (at most a fifth of them) unless
# --val-holdout says otherwise; baseline and long runs evaluate on the test set.
VAL_HOLDOUT = 5000


# ----------------------------------------------------------------------------- one run


def evaluate(
    checkpoint: Path, data, device, linear_epochs: int, probe_images: int, seed: int, robustness_images: int
) -> dict:
    """The library's one evaluation (eval.evaluate_model) of a checkpoint, on `device`."""
    model, _ = load_checkpoint_model(checkpoint, map_location=device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return evaluate_model(
        model,
        data,
        linear_epochs=linear_epochs,
        few_label=(10, 100),
        probe_images=probe_images,
        robustness_images=robustness_images,
        mu_knn=True,
        seed=seed,
    )


def run_one(
    spec: dict, data, args, budget: common.Budget, writer: common.ResultWriter, estimates: dict
) -> dict:
    """Train + evaluate one run described by spec {method, epochs, beta_12, beta_21, label};
    writes its JSON after every chunk and at the end; returns the payload."""
    device = common.resolve_device(args.device)
    label = spec["label"]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    work = Path(args.work_dir) / f"{label}-{stamp}"
    name = f"run-{label}-{stamp}.json"
    cfg = TrainConfig(
        loss=spec["method"],
        epochs=spec["epochs"],
        batch_size=args.batch_size,
        beta_12=spec.get("beta_12"),
        beta_21=spec.get("beta_21"),
        arch=args.arch,
        seed=args.seed,
        out=str(work),
        knn_every=args.knn_every,
        linear_epochs=0,
        log_every=10**9,
        compile=args.compile,
        device=device.type,
        resume=True,
    )
    steps_per_epoch = len(data.train_x) // args.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"--batch-size {args.batch_size} is larger than the {len(data.train_x)} training images"
        )
    total = spec["epochs"] * steps_per_epoch
    preset = cfg.resolve().preset
    payload = {
        "label": label,
        "smoke": args.smoke,
        "method": spec["method"],
        "epochs": spec["epochs"],
        "precision": cfg.resolve().precision,
        "evaluated_on": "validation" if args.val_holdout else "test",
        "epochs_done": 0,
        "complete": False,
        "batch_size": args.batch_size,
        "arch": args.arch,
        "beta_12": preset.beta_12,
        "beta_21": preset.beta_21,
        "temperature": preset.temperature,
        "beta_warmup_fraction": preset.beta_warmup_fraction,
        "data_source": data.source,
        "n_train": len(data.train_x),
        "n_test": len(data.test_x),
        "config": None,
        "knn_top1": None,
        "linear_top1": None,
        "few_label": {"10": None, "100": None},
        "aug_probe_mean_r2": None,
        "aug_probe_mu_mean_r2": None,
        "per_epoch": [],
        "epoch_times_s": [],
        "train_s": 0.0,
        "eval_s": None,
        "stopped": None,
    }

    def refresh():
        metrics = work / "metrics.jsonl"
        if metrics.exists():
            payload["per_epoch"] = epoch_history(metrics)
            payload["epoch_times_s"] = [e["epoch_time_s"] for e in payload["per_epoch"]]
            payload["epochs_done"] = len(payload["per_epoch"])
            last = payload["per_epoch"][-1] if payload["per_epoch"] else {}
            for k in ("nce", "kl_12", "kl_21", "mi_lower_bound"):
                payload[f"final_{k}"] = last.get(k)
        # Peak memory so far: this process's resident memory (a session runs several runs in one
        # process, so it is the session's peak), and on a GPU torch's peak allocation for this run.
        payload["peak_rss_mb"] = common.peak_rss_mb()
        if device.type == "cuda":
            payload["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        return writer.write("run", payload, name)

    done = 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)  # peak_gpu_mb: this run's, not the session's
    print(
        f"== {label}: {spec['method']}, {spec['epochs']} epochs, beta {preset.beta_12:g}/{preset.beta_21:g}, "
        f"{budget.left():.0f} s left",
        flush=True,
    )
    while done < total:
        chunk_epochs = min(args.chunk_epochs, (total - done) // steps_per_epoch)
        need = chunk_epochs * estimates.get("epoch_s", 0.0) + estimates.get("eval_s", 0.0)
        if not budget.allows(need):
            payload["stopped"] = (
                f"budget: {budget.left():.0f} s left, the next chunk + evaluation needs ~{need:.0f} s"
            )
            print(f"   stopped: {payload['stopped']}", flush=True)
            break
        t0 = time.perf_counter()
        stop = done + chunk_epochs * steps_per_epoch
        train(replace(cfg, stop_at_step=stop), data=data, progress=False)
        chunk_s = time.perf_counter() - t0
        payload["train_s"] += chunk_s
        estimates["epoch_s"] = chunk_s / chunk_epochs  # wall per epoch: checkpoints, kNN, reloads included
        done = stop
        payload["config"] = asdict(cfg.resolve())
        refresh()
    payload["complete"] = done == total
    if done > 0 and budget.allows(min(estimates.get("eval_s", 0.0), 5.0)):
        t0 = time.perf_counter()
        payload.update(
            evaluate(
                work / "checkpoint.pt",
                data,
                device,
                args.linear_epochs,
                args.probe_images,
                args.seed,
                args.robustness_images,
            )
        )
        payload["eval_s"] = estimates["eval_s"] = time.perf_counter() - t0
    path = refresh()
    fmt = lambda v: "–" if v is None else f"{100 * v:.2f}%"  # noqa: E731
    print(
        f"   {label}: {payload['epochs_done']}/{spec['epochs']} epochs in {payload['train_s']:.0f} s, "
        f"kNN {fmt(payload['knn_top1'])}, linear {fmt(payload['linear_top1'])}, "
        f"aug probe R2 {payload['aug_probe_mean_r2']} -> {path}",
        flush=True,
    )
    if not args.keep_checkpoints:
        shutil.rmtree(work, ignore_errors=True)
    payload["_file"] = path.name
    return payload


# ----------------------------------------------------------------------------- plans


def sweep_specs(args) -> list[dict]:
    pairs = [(b, b) for b in args.betas] + [tuple(p) for p in args.asymmetric]
    return [
        {
            "method": "superinfo",
            "epochs": args.epochs,
            "beta_12": b12,
            "beta_21": b21,
            "label": f"sweep-superinfo-e{args.epochs}-b{b12:g}-{b21:g}",
        }
        for b12, b21 in pairs
    ]


SWEEP_ROW_KEYS = (
    "beta_12",
    "beta_21",
    "knn_top1",
    "linear_top1",
    "few_label",
    "final_nce",
    "final_kl_12",
    "final_kl_21",
    "final_mi_lower_bound",
    "aug_probe_mean_r2",
    "aug_probe_mu_mean_r2",
    "evaluated_on",
    "epochs_done",
    "complete",
    "train_s",
    "peak_rss_mb",
    "peak_gpu_mb",
)


def best_row(rows: list[dict]) -> dict | None:
    """The complete row with beta > 0 and the highest kNN top-1 (linear top-1 breaks ties)."""
    candidates = [
        r
        for r in rows
        if r.get("complete") and r.get("knn_top1") is not None and (r["beta_12"] > 0 or r["beta_21"] > 0)
    ]
    return max(candidates, key=lambda r: (r["knn_top1"], r.get("linear_top1") or 0), default=None)


def beta_from_sweep(path: str) -> tuple[float, float]:
    """The best beta > 0 of a sweep evaluated on validation images; a sweep evaluated on the
    test set (or that does not say where) is refused: beta chosen there would be fit to the test."""
    from superinfo_lib.results import read_result

    record = read_result(path)
    if record["kind"] != "sweep":
        raise ValueError(f"--sweep {path} is a {record['kind']!r} result, not a sweep")
    places = {record.get("evaluated_on")} | {r.get("evaluated_on") for r in record.get("rows", [])}
    if places != {"validation"}:
        found = ", ".join(sorted(str(p) for p in places))
        raise ValueError(
            f"--sweep {path} was evaluated on {found}, not only on validation images: choosing beta "
            "there would fit it to the test set; rerun the sweep with a validation split (--val-holdout)"
        )
    best = best_row(record.get("rows", []))
    if best is None:
        raise ValueError(f"--sweep {path} has no complete row with beta > 0")
    return best["beta_12"], best["beta_21"]


def run_sweep(data, args, budget: common.Budget, writer: common.ResultWriter, estimates: dict) -> list[dict]:
    """Every (beta_12, beta_21) of the sweep that fits the budget; the sweep JSON after each."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    sweep_name = f"sweep-superinfo-e{args.epochs}-{stamp}.json"
    rows = []
    evaluated_on = "validation" if args.val_holdout else "test"
    for spec in sweep_specs(args):
        # A sweep row must be a whole run: skip what cannot finish (first run: no estimate yet).
        need = spec["epochs"] * estimates.get("epoch_s", 0.0) + estimates.get("eval_s", 0.0)
        if not budget.allows(need):
            rows.append(
                {
                    "beta_12": spec["beta_12"],
                    "beta_21": spec["beta_21"],
                    "complete": False,
                    "evaluated_on": evaluated_on,
                    "skipped": f"budget: {budget.left():.0f} s left, needs ~{need:.0f} s",
                }
            )
        else:
            run = run_one(spec, data, args, budget, writer, estimates)
            rows.append({**{k: run.get(k) for k in SWEEP_ROW_KEYS}, "run_file": run["_file"]})
        writer.write(
            "sweep",
            {
                "label": "sweep",
                "smoke": args.smoke,
                "method": "superinfo",
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "arch": args.arch,
                "evaluated_on": evaluated_on,
                "rows": rows,
                "best": best_row(rows),
            },
            sweep_name,
        )
    print("\nbeta_12   beta_21   kNN %   linear %  KL12      InfoNCE bound  aug R2")
    for r in rows:
        f = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
        knn, linear = r.get("knn_top1"), r.get("linear_top1")
        print(
            f"{r['beta_12']:<9g} {r['beta_21']:<9g} {f(knn and 100 * knn, '.2f'):>6} "
            f"{f(linear and 100 * linear, '.2f'):>9}  {f(r.get('final_kl_12'), '.4g'):<9} "
            f"{f(r.get('final_mi_lower_bound'), '.4g'):<14} {f(r.get('aug_probe_mean_r2'), '.3f')}"
            + ("" if r.get("complete") else "  (incomplete)")
        )
    return rows


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("plan", choices=["baseline", "sweep", "long"])
    common.add_common_args(parser)
    parser.add_argument("--epochs", type=int, default=None, help="baseline/long: 100; sweep: 20 (smoke: 1)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 512 (smoke: 64)")
    parser.add_argument(
        "--arch", default=None, choices=["resnet18", "small"], help="default resnet18 (smoke: small)"
    )
    parser.add_argument(
        "--betas", type=float, nargs="*", default=list(SWEEP_BETAS), help="sweep: symmetric betas"
    )
    parser.add_argument(
        "--asymmetric",
        type=lambda s: tuple(float(x) for x in s.split(",")),
        nargs="*",
        default=list(SWEEP_ASYMMETRIC),
        help="sweep: extra B12,B21 pairs",
    )
    parser.add_argument(
        "--beta",
        type=lambda s: tuple(float(x) for x in s.split(",")),
        default=None,
        help="long: SuperInfo's B or B12,B21",
    )
    parser.add_argument("--sweep", default=None, help="long: take SuperInfo's beta from this sweep JSON")
    parser.add_argument("--methods", nargs="*", default=["superinfo", "mib"], help="long: which runs")
    parser.add_argument(
        "--chunk-epochs", type=int, default=None, help="epochs between partial results (default 10)"
    )
    parser.add_argument("--knn-every", type=int, default=None, help="kNN monitor every N epochs (default 10)")
    parser.add_argument(
        "--linear-epochs", type=int, default=None, help="linear probe epochs (default 100; smoke 5)"
    )
    parser.add_argument(
        "--probe-images", type=int, default=5000, help="test images for the augmentation probe"
    )
    parser.add_argument(
        "--robustness-images",
        type=int,
        default=None,
        help="test images for the corruption robustness (default 10000; smoke 32; 0 skips it)",
    )
    parser.add_argument(
        "--val-holdout",
        type=int,
        default=None,
        help=f"evaluate on the last N training images instead of the test set (sweep: default "
        f"{VAL_HOLDOUT}, at most a fifth of the training images: beta is chosen there, never on the "
        "test set; baseline/long: default 0, the test set). A sweep with 0 is marked as evaluated "
        "on the test set, and `long --sweep` refuses it",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the backbone (trainer's option); each chunk recompiles, so "
        "pair it with a --chunk-epochs as large as the run",
    )
    parser.add_argument("--keep-checkpoints", action="store_true", help="keep <work-dir>/<run>/checkpoint.pt")
    args = parser.parse_args(argv)
    smoke = args.smoke
    args.arch = args.arch or ("small" if smoke else "resnet18")
    args.batch_size = args.batch_size or (64 if smoke else 512)
    args.epochs = args.epochs or (1 if smoke else 20 if args.plan == "sweep" else 100)
    args.chunk_epochs = args.chunk_epochs or (1 if smoke else 10)
    args.knn_every = args.knn_every if args.knn_every is not None else (1 if smoke else 10)
    args.linear_epochs = args.linear_epochs or (5 if smoke else 100)
    if args.beta is not None and len(args.beta) == 1:
        args.beta = (args.beta[0], args.beta[0])
    if args.val_holdout is not None and args.val_holdout < 0:
        parser.error("--val-holdout must be >= 0")
    if args.robustness_images is None:
        args.robustness_images = 32 if args.smoke else 10000
    for name in ("epochs", "batch_size", "chunk_epochs", "linear_epochs", "probe_images"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.plan == "long" and args.beta is None and args.sweep is None:
        parser.error("long needs --beta B[,B21] or --sweep FILE")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    device = common.resolve_device(args.device)
    budget = common.Budget(args.budget_s, args.deadline)
    data = common.load_data(args)
    if args.val_holdout is None:
        args.val_holdout = min(VAL_HOLDOUT, len(data.train_x) // 5) if args.plan == "sweep" else 0
    if args.val_holdout:
        data = validation_split(data, args.val_holdout)
    writer = common.ResultWriter(args.results_dir, args.out, args.seed, device, args.tag)
    print(
        f"{args.plan} on {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}: "
        f"{len(data.train_x)} training images ({data.source}), arch {args.arch}, batch {args.batch_size}, "
        f"budget {args.budget_s} s",
        flush=True,
    )
    # Until the first evaluation is timed, assume 30 s for one on a GPU (kNN + probes on 60k images).
    estimates: dict = {} if device.type != "cuda" else {"eval_s": 30.0}
    if args.plan == "baseline":
        run_one(
            {"method": "simclr", "epochs": args.epochs, "label": f"simclr-e{args.epochs}"},
            data,
            args,
            budget,
            writer,
            estimates,
        )
    elif args.plan == "long":
        b12, b21 = args.beta if args.beta is not None else beta_from_sweep(args.sweep)
        for method in args.methods:
            spec = (
                {
                    "method": "superinfo",
                    "beta_12": b12,
                    "beta_21": b21,
                    "label": f"superinfo-e{args.epochs}-b{b12:g}-{b21:g}",
                }
                if method == "superinfo"
                else {"method": method, "label": f"{method}-e{args.epochs}"}
            )
            run_one({**spec, "epochs": args.epochs}, data, args, budget, writer, estimates)
    else:
        run_sweep(data, args, budget, writer, estimates)
    if device.type != "cuda":
        print("(CPU run: these numbers prove the code path only; they are not GPU figures)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
