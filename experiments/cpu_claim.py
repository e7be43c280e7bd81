"""Does the KL penalty help with one label per class on CIFAR-10, where the toy says it should?

    python experiments/cpu_claim.py --data PACK               # the 18 runs, two at a time; resumable
    python experiments/cpu_claim.py --only claim-b0.001-s0    # one run, by its label
    python experiments/cpu_claim.py --only claim-floor-s0 claim-floor-s1 claim-floor-s2   # the floor
    python experiments/cpu_claim.py --smoke --synthetic --results-dir /tmp/c   # the code path

Notebook 4's toy finds the penalty's gain with long training, per-view noise, nuisance that one
view sees and the other does not, and one label per class. The CPU study (cpu_study.py) asked in
the other regime: standard augmentation, 10 epochs, 10 and 100 labels per class. Here:

- SuperInfo with beta_12 = beta_21 in {0, 3e-4, 1e-3} (no warm-up), seeds 0-5: 18 runs;
- the CPU recipe (small convnet, batch 256, temperature 0.2, bf16 where native) for 30 epochs
  with the `strong` augmentation (superinfo_lib.data.AUGMENT_PRESETS: crops of 8-100 % of the
  image, colour jitter 0.8 / hue 0.2, grayscale 0.2, pixel noise of sd 0.05 per view);
- trained on 45,000 images; 5,000 held out as validation; the 10,000 test images untouched
  until the end;
- after epochs 10 and 20, a monitor on the validation split; after 30, validation and test:
  kNN, linear probes with 1, 5 and 10 labels per class and a nearest-class-mean probe with 1,
  each over the same 100 label draws for every run (eval.label_draw_probes); full-label kNN and
  linear; sigma and the augmentation probe on the test set;
- the floor: the convnet exactly as the trainer initialises it (seeds 0, 1, 2), not trained,
  under the same evaluation (claim-floor-s<seed>, item "floor"): what each probe reads from a
  random convnet, to read every trained figure against instead of chance.

beta* (3e-4 or 1e-3) is the one with the better seed-averaged validation 1-label accuracy; it is
picked from the validation figures only (superinfo_lib.claim). Each run checkpoints every epoch
in <work-dir>/<label>/ and resumes there; each result is written the moment it exists.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

from superinfo_lib import jobs, results
from superinfo_lib.checkpoint import load_checkpoint_model
from superinfo_lib.data import (
    AUGMENT_PRESETS,
    ImageData,
    load_cifar10,
    synthetic_images,
    validation_split,
)
from superinfo_lib.eval import evaluate_model, extract_features
from superinfo_lib.metrics import epoch_history
from superinfo_lib.models import SuperInfoModel
from superinfo_lib.train import CPU_RECIPE, TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent
CLAIM_RESULTS_DIR = results.RESULTS_DIR / "cpu-claim"
BETAS = (0.0, 3e-4, 1e-3)
SEEDS = tuple(range(6))
FLOOR_SEEDS = (0, 1, 2)
EPOCHS = 30
MONITOR_EPOCHS = (10, 20)
AUGMENT = "strong"
VAL_HOLDOUT = 5000
LABELS_PER_CLASS = (1, 5, 10)
LABEL_DRAWS = 100
# Seconds per training pair on one core beside another run (the CPU study's main runs), until timed.
DEFAULT_S_PER_PAIR = 1 / 650


def specs(args) -> list[dict]:
    """Seed by seed, so that every finished seed holds all three betas (a paired comparison);
    then the untrained floor (evaluation only: minutes, not an hour)."""
    claim = [
        {"item": "claim", "label": f"claim-b{beta:g}-s{seed}", "beta": beta, "seed": seed}
        for seed in args.seeds
        for beta in args.betas
    ]
    floor = [
        {"item": "floor", "label": f"claim-floor-s{seed}", "method": "random-init", "seed": seed}
        for seed in args.floor_seeds
    ]
    return claim + floor


# ----------------------------------------------------------------------------- one run (a worker)


def load_splits(args) -> tuple[ImageData, ImageData]:
    """(train on 45,000 / evaluate on the 5,000 held out, train on 45,000 / evaluate on test)."""
    if args.synthetic:
        data = synthetic_images(n_train=args.train_limit or 512, n_test=args.test_limit or 256, seed=0)
    else:
        data = load_cifar10(
            args.data, download=False, train_limit=args.train_limit, test_limit=args.test_limit
        )
    val = validation_split(data, args.val_holdout)
    test = dataclasses.replace(val, test_x=data.test_x, test_y=data.test_y, source=data.source)
    return val, test


def evaluate(model, splits: dict[str, ImageData], args, seed: int, final: bool) -> dict:
    """The probes on each split: the training images' features are extracted once for all."""
    train_data = next(iter(splits.values()))

    def embed(x):
        return extract_features(model.backbone, x, channels_last=True)

    train_f = embed(train_data.train_x)
    out = {}
    for name, data in splits.items():
        on_test = name == "test"
        out[name] = evaluate_model(
            model,
            data,
            features=(train_f, data.train_y, embed(data.test_x), data.test_y),
            linear_epochs=args.linear_epochs if final else 0,
            few_label=(),
            label_probes=LABELS_PER_CLASS,
            label_probe_draws=args.label_draws,
            probe_images=min(args.probe_images, len(data.test_x)) if on_test else 0,
            mu_knn=on_test,
            z_probe=on_test,
            seed=seed,
        )
    return out


def run_spec(spec: dict, args) -> Path:
    """Train to epoch 10, 20 and 30 (resuming the run's checkpoint), evaluating at each; a floor
    spec evaluates the untrained model once instead."""
    torch.set_num_threads(args.threads)
    work = Path(args.work_dir) / spec["label"]
    lock = jobs.lock_run(work, spec["label"])  # noqa: F841 (held until the run ends)
    val, test = load_splits(args)
    if spec["item"] == "floor":
        return run_floor(spec, args, val, test)
    cfg = TrainConfig(
        loss="superinfo",
        epochs=args.epochs,
        batch_size=args.batch_size,
        temperature=CPU_RECIPE["temperature"],
        beta_12=spec["beta"],
        beta_21=spec["beta"],
        arch=CPU_RECIPE["arch"],
        augment=AUGMENT,
        precision=args.precision,
        seed=spec["seed"],
        out=str(work),
        resume=True,
        knn_every=0,
        linear_epochs=0,
        checkpoint_every=1,
        log_every=50,
        device="cpu",
    )
    resolved = cfg.resolve()
    steps_per_epoch = len(val.train_x) // cfg.batch_size
    stages = {}
    eval_s = 0.0
    for epoch in (*args.monitor_epochs, args.epochs):
        stage_file = work / f"eval-epoch{epoch}.json"
        if stage_file.exists():  # evaluated before an interruption
            stages[epoch] = json.loads(stage_file.read_text())
            continue
        train(dataclasses.replace(cfg, stop_at_step=epoch * steps_per_epoch), data=val, progress=False)
        t0 = time.perf_counter()
        model, _ = load_checkpoint_model(work / "checkpoint.pt")
        final = epoch == args.epochs
        stages[epoch] = {
            "epoch": epoch,
            **evaluate(
                model, {"validation": val, **({"test": test} if final else {})}, args, spec["seed"], final
            ),
            "eval_s": time.perf_counter() - t0,
        }
        results.write_json(stage_file, stages[epoch])
    history = epoch_history(work / "metrics.jsonl")
    eval_s = sum(s["eval_s"] for s in stages.values())
    last = history[-1] if history else {}
    final = stages[args.epochs]
    payload = {
        **spec,
        "method": "superinfo",
        "smoke": args.smoke,
        "beta_12": resolved.preset.beta_12,
        "beta_21": resolved.preset.beta_21,
        "beta_warmup_fraction": resolved.preset.beta_warmup_fraction,
        "arch": resolved.arch,
        "batch_size": resolved.batch_size,
        "precision": resolved.precision,
        "lr": resolved.lr,
        "temperature": resolved.preset.temperature,
        "augment": AUGMENT,
        "augment_config": dataclasses.asdict(AUGMENT_PRESETS[AUGMENT]),
        "epochs": args.epochs,
        "epochs_done": len(history),
        "complete": len(history) == args.epochs,
        **evaluation_fields(args, val, test),
        "validation": final["validation"],
        "test": final["test"],
        "monitor": {str(e): stages[e]["validation"] for e in args.monitor_epochs},
        **{f"final_{k}": last.get(k) for k in ("nce", "kl_12", "kl_21", "mi_lower_bound")},
        "per_epoch": history,
        "train_s": sum(e["epoch_time_s"] for e in history),
        "eval_s": eval_s,
        "peak_rss_mb": jobs.peak_rss_mb(),
    }
    return write_run(spec, payload, args)


def run_floor(spec: dict, args, val: ImageData, test: ImageData) -> Path:
    """The model exactly as the trainer initialises it (its seed, its architecture), not trained,
    under the last epoch's evaluation on validation and test."""
    torch.manual_seed(spec["seed"])
    model = SuperInfoModel(CPU_RECIPE["arch"])
    t0 = time.perf_counter()
    scores = evaluate(model, {"validation": val, "test": test}, args, spec["seed"], final=True)
    payload = {
        **spec,
        "smoke": args.smoke,
        "arch": CPU_RECIPE["arch"],
        "epochs": 0,
        "epochs_done": 0,
        "complete": True,
        **evaluation_fields(args, val, test),
        **scores,
        "monitor": {},
        "per_epoch": [],
        "train_s": 0.0,
        "eval_s": time.perf_counter() - t0,
        "peak_rss_mb": jobs.peak_rss_mb(),
    }
    return write_run(spec, payload, args)


def evaluation_fields(args, val: ImageData, test: ImageData) -> dict:
    """What a result records of the data and probes it was evaluated with (runs and floor alike)."""
    return {
        "n_train": len(val.train_x),
        "n_validation": len(val.test_x),
        "n_test": len(test.test_x),
        "data_source": test.source,
        "data_sha256": args.data_sha256,
        "label_draws": args.label_draws,
        "labels_per_class": list(LABELS_PER_CLASS),
    }


def write_run(spec: dict, payload: dict, args) -> Path:
    command = " ".join(shlex.quote(a) for a in ["python", "experiments/cpu_claim.py", *args.command_args])
    name = f"run-{spec['label']}.json"
    return results.write_result("run", payload, args.results_dir, name, seed=spec["seed"], command=command)


# ----------------------------------------------------------------------------- the queue


def finished(args) -> dict[str, dict]:
    records = results.load_results(args.results_dir, include_cpu=True)
    return {r["label"]: r for r in records if r["kind"] == "run" and r.get("complete")}


def queue(args) -> int:
    deadline = time.time() + args.budget_s if args.budget_s else float("inf")
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), **jobs.launch_commit()}

    def pending():
        done = finished(args)
        return [
            s for s in specs(args) if s["label"] not in done and (not args.only or s["label"] in args.only)
        ]

    def estimate(spec):
        if spec["item"] == "floor":  # one evaluation, no training
            return max([r["eval_s"] for r in finished(args).values() if r.get("eval_s")], default=600) + 30
        timed = [r for r in finished(args).values() if r.get("train_s")]
        if timed:
            return max(r["train_s"] + r["eval_s"] for r in timed) + 30
        return args.epochs * (args.n_train - args.val_holdout) * DEFAULT_S_PER_PAIR + 600

    def start(spec):
        log = Path(args.work_dir) / spec["label"] / "log.txt"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, __file__, *args.command_args, "--run", json.dumps(spec)]
        print(f"[claim] start {spec['label']} (log: {log})", flush=True)
        return subprocess.Popen(cmd, stdout=open(log, "a"), stderr=subprocess.STDOUT, env=env)

    failed = jobs.run_queue(
        pending, start, args.parallel, estimate, lambda: deadline - time.time(), 0.5 if args.smoke else 5
    )
    left = [s["label"] for s in pending()]
    print(f"{len(finished(args))} runs in {args.results_dir}; still to run: {', '.join(left) or 'none'}")
    if failed:
        print(f"failed: {', '.join(failed)} (see <work-dir>/<label>/log.txt)", file=sys.stderr)
    return 1 if failed else 0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    jobs.add_queue_args(
        parser, "default results/cpu-claim (smoke: runs/cpu_claim_smoke)", ROOT / "runs" / "cpu_claim"
    )
    args = jobs.parse_queue_args(parser, argv, CLAIM_RESULTS_DIR, ROOT / "runs" / "cpu_claim_smoke")
    args.batch_size = 32 if args.smoke else CPU_RECIPE["batch_size"]
    args.epochs = 3 if args.smoke else EPOCHS
    args.monitor_epochs = (1, 2) if args.smoke else MONITOR_EPOCHS
    args.betas = BETAS
    args.seeds = SEEDS[:2] if args.smoke else SEEDS
    args.floor_seeds = FLOOR_SEEDS[:1] if args.smoke else FLOOR_SEEDS
    args.val_holdout = 64 if args.smoke else VAL_HOLDOUT
    args.n_train = args.train_limit or 50000
    args.linear_epochs = 5 if args.smoke else 100
    args.label_draws = 4 if args.smoke else LABEL_DRAWS
    args.probe_images = 128 if args.smoke else 5000
    jobs.check_only(parser, args.only, [s["label"] for s in specs(args)])
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list_runs:
        print("\n".join(s["label"] for s in specs(args)))
        return 0
    if args.run is not None:
        print(f"wrote {run_spec(json.loads(args.run), args)}", flush=True)
        return 0
    print(
        f"CPU claim study: {len(specs(args))} runs ({len(args.floor_seeds)} of them "
        f"the untrained floor), {args.parallel} at once, {args.threads} thread(s) each; "
        f"budget {args.budget_s} s; results in {args.results_dir}",
        flush=True,
    )
    return queue(args)


if __name__ == "__main__":
    raise SystemExit(main())
