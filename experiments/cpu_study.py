"""The CPU study: SimCLR, MIB and SuperInfo on CIFAR-10 with a CPU-sized encoder, three seeds.

    python experiments/cpu_study.py --budget-s 9000        # the whole study: ~1.5-2 h on 2 cores
    python experiments/cpu_study.py --smoke --synthetic --results-dir /tmp/s   # the code path, a minute
    python experiments/cpu_study.py --only main-superinfo-s0 --results-dir runs/rerun   # one named run

It reads the results already in --results-dir (default results/cpu/), runs what is missing in
the order below, and writes each result the moment it exists:

  bench   bench/bench_gpu.py on the CPU: the trainer's epoch against forward + backward + step
          alone (the compute limit) and against a DataLoader + torchvision-transforms pipeline
          with 2 workers; one run on two cores against two runs on one core each.
  sweep   SuperInfo at symmetric beta in {0, 1e-4, 1e-3, 1e-2, 3e-2} and the asymmetric pair
          (2e-2, 0), seed 0, trained on 45,000 training images and evaluated on the 5,000 held
          out: beta is chosen there (the best kNN with beta > 0), never on the test set.
  main    SimCLR, MIB and SuperInfo (the sweep's beta) x seeds 0, 1, 2, 10 epochs each on all
          50,000 training images, evaluated on the 10,000 test images by eval.evaluate_model.
  precision  SimCLR in bf16 and in fp32, seeds 0 and 1, a short run on the validation split:
          does bf16 cost accuracy?
  floor   the encoder before any training (the trainer's initialisation, seeds 0, 1, 2) under the
          main runs' evaluation: what every probe reads from a random convnet, the floor that
          training must beat (far above chance: a random convnet's features already separate
          classes a little).

Runs go two at a time, one core each (the bench's `concurrency` row measures that this trains
more pairs per second than one run on both cores). Each run checkpoints every epoch in
<work-dir>/<label>/ and resumes there: a SIGKILL loses at most the epoch in progress. A run is
started only if its estimated time (from the runs already done) fits in what is left of
--budget-s; the next call continues the queue.
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
from superinfo_lib.data import load_cifar10, synthetic_images, validation_split
from superinfo_lib.eval import evaluate_model
from superinfo_lib.metrics import epoch_history
from superinfo_lib.models import SuperInfoModel
from superinfo_lib.train import CPU_RECIPE, TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent
CPU_RESULTS_DIR = results.CPU_RESULTS_DIR
ITEMS = ("bench", "sweep", "main", "precision", "floor")
METHODS = ("simclr", "mib", "superinfo")
SEEDS = (0, 1, 2)
SWEEP_BETAS = ((0.0, 0.0), (1e-4, 1e-4), (1e-3, 1e-3), (1e-2, 1e-2), (3e-2, 3e-2), (2e-2, 0.0))
VAL_HOLDOUT = 5000

# The recipe is the trainer's CPU recipe (superinfo_lib.train.CPU_RECIPE: the small convnet,
# batch 256, temperature 0.2, chosen by measurement, docs/results.md "Results on a CPU") with the
# trainer's learning rate (SGD, 0.06 x batch / 256), for every method alike.
RECIPE = {k: CPU_RECIPE[k] for k in ("arch", "batch_size", "temperature")}
EPOCHS = {"sweep": 8, "main": 10, "precision": 4}
# Seconds per training pair on one core while another run shares the CPU, until runs are timed.
DEFAULT_S_PER_PAIR = 1 / 700
DEFAULT_EVAL_S = {"validation": 60.0, "test": 150.0}


# ----------------------------------------------------------------------------- the plan


def sweep_specs(args) -> list[dict]:
    return [
        {
            "item": "sweep",
            "label": f"sweep-superinfo-b{b12:g}-{b21:g}",
            "method": "superinfo",
            "beta_12": b12,
            "beta_21": b21,
            "seed": 0,
            "epochs": args.epochs["sweep"],
            "evaluated_on": "validation",
        }
        for b12, b21 in args.sweep_betas
    ]


def main_specs(args, beta: tuple[float, float] | None) -> list[dict]:
    """SimCLR and MIB first (they do not wait for the sweep), then SuperInfo at `beta`
    (none while the sweep is unfinished)."""
    specs = []
    for method in METHODS:
        if method == "superinfo" and beta is None:
            continue
        for seed in args.seeds:
            spec = {
                "item": "main",
                "label": f"main-{method}-s{seed}",
                "method": method,
                "seed": seed,
                "epochs": args.epochs["main"],
                "evaluated_on": "test",
            }
            if method == "superinfo":
                spec.update(beta_12=beta[0], beta_21=beta[1])
            specs.append(spec)
    return specs


def precision_specs(args) -> list[dict]:
    return [
        {
            "item": "precision",
            "label": f"precision-simclr-{precision}-s{seed}",
            "method": "simclr",
            "precision": precision,
            "seed": seed,
            "epochs": args.epochs["precision"],
            "evaluated_on": "validation",
        }
        for precision in ("bf16", "fp32")
        for seed in args.seeds[:2]
    ]


def floor_specs(args) -> list[dict]:
    return [
        {"item": "floor", "label": f"floor-random-init-s{seed}", "method": "random-init", "seed": seed,
         "epochs": 0, "evaluated_on": "test"}
        for seed in args.seeds
    ]  # fmt: skip


def best_sweep_row(rows: list[dict]) -> dict | None:
    """The complete validation row with beta > 0 and the best kNN (linear breaks ties)."""
    candidates = [
        r
        for r in rows
        if r.get("complete")
        and r.get("evaluated_on") == "validation"
        and (r["beta_12"] > 0 or r["beta_21"] > 0)
    ]
    return max(candidates, key=lambda r: (r["knn_top1"], r.get("linear_top1") or 0), default=None)


SWEEP_ROW_KEYS = (
    "label",
    "beta_12",
    "beta_21",
    "knn_top1",
    "knn_top1_mu",
    "linear_top1",
    "few_label",
    "aug_probe_mean_r2",
    "aug_probe_mu_mean_r2",
    "aug_probe_z_mean_r2",
    "sigma_median",
    "final_nce",
    "final_kl_12",
    "final_kl_21",
    "final_mi_lower_bound",
    "evaluated_on",
    "epochs",
    "complete",
    "train_s",
    "peak_rss_mb",
    "timestamp",
    "commit",
    "command",
)


def study_command(args) -> str:
    """The command line of this call of the script (a worker's: its queue's, without --run)."""
    return " ".join(shlex.quote(a) for a in ["python", "experiments/cpu_study.py", *args.command_args])


def rerun_command(args, labels: list[str]) -> str:
    """One command that makes these runs again (into results/cpu/ unless given --results-dir)."""
    data = ["--data", args.data] if args.data else []
    return " ".join(shlex.quote(a) for a in ["python", "experiments/cpu_study.py", *data, "--only", *labels])


def write_sweep(args, runs: dict[str, dict]) -> dict | None:
    """The sweep result from its runs so far; returns the chosen row once every row is in."""
    specs = sweep_specs(args)
    rows = [{k: runs[s["label"]].get(k) for k in SWEEP_ROW_KEYS} for s in specs if s["label"] in runs]
    if not rows:
        return None
    finished = len(rows) == len(specs)
    best = best_sweep_row(rows) if finished else None
    written = sorted(r["timestamp"] for r in rows if r.get("timestamp"))
    payload = {
        "label": "cpu-sweep",
        "smoke": args.smoke,
        "method": "superinfo",
        "epochs": args.epochs["sweep"],
        "evaluated_on": "validation",
        "n_validation": args.val_holdout,
        "complete": finished,
        "rows": rows,
        "best": best,
        # The sweep's own time: its runs' training seconds, and when the first and last were written.
        "train_s": sum(r.get("train_s") or 0.0 for r in rows),
        "first_run_at": written[0] if written else None,
        "last_run_at": written[-1] if written else None,
        "rerun_command": rerun_command(args, [s["label"] for s in specs]),
        **recipe_fields(args),
    }
    path = Path(args.results_dir) / "sweep-cpu.json"
    stored = results.read_result(path) if path.exists() else {}
    if any(stored.get(k) != payload[k] for k in ("rows", "best", "complete")):  # else: nothing new
        results.write_result(
            "sweep", payload, args.results_dir, path.name, seed=0, device="cpu", command=study_command(args)
        )
    return best


def stored_sweep_best() -> dict | None:
    """The beta the stored study chose (results/cpu/sweep-cpu.json), for a SuperInfo main run
    asked for by name in a results folder without a finished sweep of its own."""
    path = CPU_RESULTS_DIR / "sweep-cpu.json"
    return results.read_result(path).get("best") if path.exists() else None


def all_labels(args) -> list[str]:
    specs = sweep_specs(args) + main_specs(args, (0.0, 0.0)) + precision_specs(args) + floor_specs(args)
    return [s["label"] for s in specs]


def recipe_fields(args) -> dict:
    return {
        "arch": args.arch,
        "batch_size": args.batch_size,
        "precision": args.precision,
        "temperature": args.temperature,
    }


# ----------------------------------------------------------------------------- one run (a worker)


def load_data(args):
    if args.synthetic:
        return synthetic_images(n_train=args.train_limit or 512, n_test=args.test_limit or 256, seed=0)
    return load_cifar10(args.data, download=False, train_limit=args.train_limit, test_limit=args.test_limit)


def run_spec(spec: dict, args) -> Path:
    """Train (resuming the run's checkpoint), evaluate, write the run's result JSON."""
    torch.set_num_threads(args.threads)
    work = Path(args.work_dir) / spec["label"]
    lock = jobs.lock_run(work, spec["label"])  # noqa: F841 (held until the run ends)
    data = load_data(args)
    if spec["evaluated_on"] == "validation":
        data = validation_split(data, args.val_holdout)
    cfg = TrainConfig(
        loss=spec["method"],
        epochs=spec["epochs"],
        batch_size=args.batch_size,
        lr=args.lr,
        temperature=args.temperature,
        beta_12=spec.get("beta_12"),
        beta_21=spec.get("beta_21"),
        arch=args.arch,
        precision=spec.get("precision", args.precision),
        seed=spec["seed"],
        out=str(work),
        resume=True,
        knn_every=args.knn_every,
        linear_epochs=0,
        checkpoint_every=1,
        log_every=50,
        device="cpu",
    )
    if spec["item"] == "floor":  # no training: the model exactly as the trainer initialises it
        cfg = dataclasses.replace(cfg, loss="simclr", epochs=1)
    resolved = cfg.resolve()
    if spec["item"] == "floor":
        torch.manual_seed(spec["seed"])
        model, history = SuperInfoModel(resolved.arch), []
    else:
        train(cfg, data=data, progress=False)
        history = epoch_history(work / "metrics.jsonl")
        model, _ = load_checkpoint_model(work / "checkpoint.pt")
    t0 = time.perf_counter()
    scores = evaluate_model(
        model,
        data,
        linear_epochs=args.linear_epochs,
        few_label=(10, 100),
        few_label_draws=args.few_label_draws,
        probe_images=min(args.probe_images, len(data.test_x)),
        robustness_images=args.robustness_images if spec["evaluated_on"] == "test" else 0,
        mu_knn=True,
        z_probe=True,
        seed=spec["seed"],
    )
    last = history[-1] if history else {}
    payload = {
        **spec,
        "smoke": args.smoke,
        **recipe_fields(args),
        "precision": resolved.precision,
        "lr": resolved.lr,
        "temperature": resolved.preset.temperature,
        "beta_12": resolved.preset.beta_12,
        "beta_21": resolved.preset.beta_21,
        "beta_warmup_fraction": resolved.preset.beta_warmup_fraction,
        "epochs_done": len(history),
        "complete": len(history) == spec["epochs"],
        "data_sha256": args.data_sha256,
        "peak_rss_mb": jobs.peak_rss_mb(),
        "data_source": data.source,
        **scores,
        **{f"final_{k}": last.get(k) for k in ("nce", "kl_12", "kl_21", "mi_lower_bound")},
        "per_epoch": history,
        "epoch_times_s": [e["epoch_time_s"] for e in history],
        "train_s": sum(e["epoch_time_s"] for e in history),
        "eval_s": time.perf_counter() - t0,
    }
    return results.write_result(
        "run", payload, args.results_dir, f"run-{spec['label']}.json", seed=spec["seed"], device="cpu",
        command=study_command(args),
    )  # fmt: skip


# ----------------------------------------------------------------------------- the queue


class Study:
    def __init__(self, args):
        self.args = args
        self.deadline = time.time() + args.budget_s if args.budget_s else float("inf")
        self.env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), **jobs.launch_commit()}

    def left(self) -> float:
        return self.deadline - time.time()

    def records(self) -> list[dict]:
        return results.load_results(self.args.results_dir, include_cpu=True)

    def finished_runs(self) -> dict[str, dict]:
        return {r["label"]: r for r in self.records() if r["kind"] == "run" and r.get("complete")}

    def estimate(self, spec: dict, runs: dict[str, dict]) -> float:
        """Seconds for `spec`: its pairs at the measured seconds per pair, plus an evaluation."""
        timed = [r for r in runs.values() if r.get("train_s") and r.get("n_train")]
        s_per_pair = (
            sum(r["train_s"] for r in timed) / sum(r["epochs_done"] * r["n_train"] for r in timed)
            if timed
            else DEFAULT_S_PER_PAIR
        )
        evals = [r["eval_s"] for r in runs.values() if r.get("evaluated_on") == spec["evaluated_on"]]
        eval_s = max(evals) if evals else DEFAULT_EVAL_S[spec["evaluated_on"]]
        n_train = self.args.n_train - (self.args.val_holdout if spec["evaluated_on"] == "validation" else 0)
        return spec["epochs"] * n_train * s_per_pair + eval_s + 20  # + start-up and data loading

    def pending(self, runs: dict[str, dict]) -> list[dict]:
        best = write_sweep(self.args, runs)
        if best is None and self.args.only:  # one named run: the stored study's choice of beta
            best = stored_sweep_best()
        beta = None if best is None else (best["beta_12"], best["beta_21"])
        specs = sweep_specs(self.args) + main_specs(self.args, beta) + precision_specs(self.args)
        specs += floor_specs(self.args)
        if self.args.only:
            specs = [s for s in specs if s["label"] in self.args.only]
        return [s for s in specs if s["label"] not in runs]

    def start(self, spec: dict) -> subprocess.Popen:
        log = Path(self.args.work_dir) / spec["label"] / "log.txt"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, __file__, *self.args.command_args, "--run", json.dumps(spec)]
        print(f"[{spec['item']}] start {spec['label']} (log: {log})", flush=True)
        return subprocess.Popen(cmd, stdout=open(log, "a"), stderr=subprocess.STDOUT, env=self.env)

    def bench(self) -> None:
        if any(r["kind"] == "benchmark" and r.get("session_item") == "cpu-study" for r in self.records()):
            print("[bench] already in the results: skipped", flush=True)
            return
        need = 30.0 if self.args.smoke else 400.0
        if need > self.left():
            print(f"[bench] needs ~{need:.0f} s, {self.left():.0f} s left: skipped", flush=True)
            return
        a = self.args
        cmd = [sys.executable, str(ROOT / "bench/bench_gpu.py"), "--device", "cpu", "--arch", a.arch]
        cmd += ["--batch-size", str(32 if a.smoke else a.batch_size), "--results-dir", str(a.results_dir)]
        cmd += ["--only", "compute_limit", "trainer", "trainer_fp32", "concurrency", "tutorial_2_workers"]
        cmd += ["--trainer-epochs", "2", "--tag", "cpu-study"]
        cmd += ["--smoke"] if a.smoke else []
        cmd += ["--synthetic"] if a.synthetic else (["--data", a.data] if a.data else [])
        for flag, value in (("--train-limit", a.train_limit), ("--test-limit", a.test_limit)):
            cmd += [flag, str(value)] if value else []
        print("[bench] $", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)

    def run(self) -> int:
        a = self.args
        if "bench" in a.items:
            self.bench()
        failed = jobs.run_queue(
            pending=lambda: [s for s in self.pending(self.finished_runs()) if s["item"] in a.items],
            start=self.start,
            parallel=a.parallel,
            estimate_s=lambda spec: self.estimate(spec, self.finished_runs()),
            left_s=self.left,
            poll_s=0.5 if a.smoke else 5,
        )
        runs = self.finished_runs()
        self.pending(runs)  # rewrites the sweep file with every finished row
        everything = sweep_specs(a) + main_specs(a, (0, 0)) + precision_specs(a) + floor_specs(a)
        missing = [
            s["label"]
            for s in everything
            if s["item"] in a.items and s["label"] not in runs and (not a.only or s["label"] in a.only)
        ]
        print(f"{len(runs)} runs in {a.results_dir}; still to run: {', '.join(missing) or 'none'}")
        if failed:
            print(f"failed: {', '.join(failed)} (see <work-dir>/<label>/log.txt)", file=sys.stderr)
        return 1 if failed else 0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    jobs.add_queue_args(
        parser, "default results/cpu (smoke: runs/cpu_study_smoke)", ROOT / "runs" / "cpu_study"
    )
    parser.add_argument("--items", nargs="*", default=list(ITEMS), choices=ITEMS, help="restrict the queue")
    args = jobs.parse_queue_args(parser, argv, CPU_RESULTS_DIR, ROOT / "runs" / "cpu_study_smoke")
    args.arch, args.temperature, args.lr = RECIPE["arch"], RECIPE["temperature"], None
    args.batch_size = 32 if args.smoke else RECIPE["batch_size"]
    args.epochs = {"sweep": 1, "main": 1, "precision": 1} if args.smoke else EPOCHS
    args.sweep_betas = SWEEP_BETAS[:2] + SWEEP_BETAS[-1:] if args.smoke else SWEEP_BETAS
    args.seeds = SEEDS[:1] if args.smoke else SEEDS
    args.val_holdout = 64 if args.smoke else VAL_HOLDOUT
    args.n_train = args.train_limit or 50000
    args.knn_every = 0 if args.smoke else 4
    args.linear_epochs = 5 if args.smoke else 100
    args.few_label_draws = 2 if args.smoke else 5
    args.probe_images = 128 if args.smoke else 5000
    args.robustness_images = 32 if args.smoke else 2000
    if args.only:
        jobs.check_only(parser, args.only, all_labels(args))
        args.items = [i for i in args.items if i != "bench"]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list_runs:
        print("\n".join(all_labels(args)))
        return 0
    if args.run is not None:
        print(f"wrote {run_spec(json.loads(args.run), args)}", flush=True)
        return 0
    print(
        f"CPU study: {' > '.join(args.items)}; {args.parallel} run(s) at once, "
        f"{args.threads} thread(s) each; "
        f"budget {args.budget_s} s; results in {args.results_dir}",
        flush=True,
    )
    return Study(args).run()


if __name__ == "__main__":
    raise SystemExit(main())
