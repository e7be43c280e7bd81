"""One command turns a GPU session into results: run the next items of a fixed queue.

    python experiments/gpu_session.py --data device_data/cifar10-jpeg.npz --budget-s 540
    python experiments/gpu_session.py --smoke --synthetic          # CPU: the code path, seconds

It reads the results already in results/ (and in --results-dir), runs the queue's next items
that are not there yet, writes and packs every result as soon as it exists (<out>/results.tar,
--out defaults to $OUT), and never starts an item it cannot finish inside the budget. Import
the bundle with `python -m superinfo_lib.results import-bundle`, commit, and the next session
with a GPU continues the queue. The queue, in order:

  bench    CUDA smoke and benchmark (~2 min): one short epoch per precision (bf16, fp16, fp32),
           the compute limit, the trainer's epoch, the DataLoader + torchvision tutorial pipeline
           with 2 workers and all cores, and the throughput of 1, 2 and 3 trainer processes
           sharing the GPU.
  main     SimCLR, SuperInfo and MIB, 100 epochs, batch 512, seed 0 -- at the same time when
           `bench` measured that several processes give more epochs per second, else one by one.
           SuperInfo's beta is the preset's, stated before the run; if the sweep later picks
           another, `main` is run again with it (--superinfo-beta).
  sweep    SuperInfo at beta in {0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2} and one asymmetric pair, 30
           epochs, evaluated on 5,000 training images held out (never on the test set).
  seeds    seeds 1 and 2 of the three 100-epoch runs, for a mean and a spread.
  compile  the trainer with torch.compile (its compile time counted), when time is left.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from superinfo_lib import results
from superinfo_lib.jobs import DEFAULT_RESULTS_DIR
from superinfo_lib.losses import PRESETS

ROOT = Path(__file__).resolve().parent.parent
QUEUE = ("bench", "main", "sweep", "seeds", "compile")
METHODS = ("simclr", "superinfo", "mib")
# Seconds per 100-epoch ResNet-18 run until `bench` has measured the trainer (H200: ~2.7 s/epoch).
DEFAULT_EPOCH_S = 3.0
EVAL_S = 40.0  # kNN, linear and few-label probes, augmentation probe, on a GPU


def done(records: list[dict], item: str, seed: int | None = None) -> bool:
    """Whether `item` already has its complete results (for `seeds`: that seed's three runs)."""
    mine = [r for r in records if r.get("session_item") == item and (seed is None or r.get("seed") == seed)]
    if item in ("main", "seeds"):
        return {r["method"] for r in mine if r["kind"] == "run" and r.get("complete")} >= set(METHODS)
    if item == "sweep":
        return any(r["kind"] == "sweep" and all(row.get("complete") for row in r["rows"]) for r in mine)
    return any(r["kind"] == "benchmark" for r in mine)


def measured(records: list[dict]) -> tuple[float, int]:
    """(seconds per epoch of one run, processes to run at once) from the latest benchmark."""
    benches = [r for r in records if r["kind"] == "benchmark" and not r.get("smoke")]
    if not benches:
        return DEFAULT_EPOCH_S, 1
    rows = {row.get("name"): row for row in benches[-1]["rows"]}
    epoch_s = rows.get("trainer", {}).get("epoch_s", DEFAULT_EPOCH_S)
    concurrency = rows.get("concurrency", {})
    # Run at once only when it pays: at least 10% more epochs per second in all.
    processes = concurrency.get("best_processes", 1) if concurrency.get("gain_over_one", 1) >= 1.1 else 1
    return epoch_s, processes


class Session:
    def __init__(self, args):
        self.args = args
        self.deadline = time.time() + args.budget_s if args.budget_s else float("inf")
        self.results_dir = Path(args.results_dir)

    def left(self) -> float:
        return self.deadline - time.time()

    def records(self) -> list[dict]:
        found = []
        for folder in {results.RESULTS_DIR, self.results_dir}:
            if folder.is_dir():
                found += results.load_results(folder, include_cpu=self.args.smoke)
        return found

    def script(self, path: str, *extra: str, budget_s: float, tag: str, seed: int = 0) -> subprocess.Popen:
        a = self.args
        common = [
            "--results-dir",
            str(self.results_dir),
            "--budget-s",
            f"{max(1.0, budget_s):.0f}",
            "--tag",
            tag,
            "--seed",
            str(seed),
        ]
        if a.out:
            common += ["--out", a.out]
        if a.data:
            common += ["--data", a.data]
        for flag, value in (("--train-limit", a.train_limit), ("--test-limit", a.test_limit)):
            common += [flag, str(value)] if value else []
        if a.smoke:
            common += ["--smoke", *(["--synthetic"] if a.synthetic else []), "--device", a.device or "cpu"]
        cmd = [sys.executable, str(ROOT / path), *extra, *common]
        print("$", " ".join(cmd), flush=True)
        return subprocess.Popen(cmd)

    def wait(self, procs: list[subprocess.Popen]) -> bool:
        return all(p.wait() == 0 for p in procs)

    def runs(self, item: str, seed: int, epochs: int, estimate_epoch_s: float, processes: int) -> bool:
        """The three methods' runs, `processes` at a time; each process gets what is left."""
        beta = self.args.superinfo_beta
        pending = list(METHODS)
        ok = True
        while pending:
            batch, pending = pending[:processes], pending[processes:]
            procs = [
                self.script(
                    "experiments/gpu_runs.py",
                    "long",
                    "--methods",
                    m,
                    "--epochs",
                    str(epochs),
                    "--beta",
                    f"{beta:g}",
                    budget_s=self.left(),
                    tag=item,
                    seed=seed,
                )
                for m in batch
            ]
            ok = self.wait(procs) and ok
        return ok

    def corruption_bench(self, item: str) -> bool:
        """bench/bench_corruptions.py: corrupting the test set against one training epoch."""
        a = self.args
        cmd = [sys.executable, str(ROOT / "bench/bench_corruptions.py")]
        cmd += (["--smoke"] if a.smoke else []) + (["--data", a.data] if a.data else [])
        cmd += ["--device", a.device] if a.device else []
        print("$", " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        print(proc.stdout[-3000:], proc.stderr[-2000:], flush=True)
        if proc.returncode:
            return False
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        payload = {
            "label": "corruptions",
            "smoke": a.smoke,
            "rows": [],
            "corruptions": summary,
            "session_item": item,
        }
        device = "cpu" if summary["device"] == "cpu" else "cuda"
        results.write_result("benchmark", payload, self.results_dir, device=device)
        if a.out:
            results.write_bundle(self.results_dir, Path(a.out) / "results.tar")
        return True

    def run_item(self, item: str, epoch_s: float, processes: int) -> bool:
        a = self.args
        epochs = 1 if a.smoke else 100
        if item == "bench":
            only = [
                "compute_limit",
                "trainer",
                "trainer_fp16",
                "trainer_fp32",
                "concurrency",
                "tutorial_all_cores",
                "tutorial_2_workers",
            ]
            extra = ["--only", *only, "--trainer-epochs", "2"] + (["--batch-size", "32"] if a.smoke else [])
            return self.wait(
                [self.script("bench/bench_gpu.py", *extra, budget_s=min(self.left(), 150), tag=item)]
            )
        if item == "main":
            return self.runs(item, 0, epochs, epoch_s, processes)
        if item == "seeds":
            records = self.records()
            return all(
                self.runs(item, seed, epochs, epoch_s, processes)
                for seed in (1, 2)
                if not done(records, item, seed)
            )
        if item == "sweep":
            extra = [
                "sweep",
                "--epochs",
                "1" if a.smoke else "30",
                "--val-holdout",
                "64" if a.smoke else "5000",
            ]
            return self.wait([self.script("experiments/gpu_runs.py", *extra, budget_s=self.left(), tag=item)])
        extra = ["--only", "trainer_compiled", "--trainer-epochs", "2"]
        return self.wait([self.script("bench/bench_gpu.py", *extra, budget_s=self.left(), tag=item)])

    def estimate(self, item: str, epoch_s: float, processes: int) -> float:
        """Seconds an item needs; items that would not fit are not started."""
        if self.args.smoke:
            return 1.0
        runs_s = 3 * (100 * epoch_s + EVAL_S) / max(1, processes) * (1.0 if processes == 1 else 1.1)
        return {
            "bench": 120.0,
            "main": runs_s,
            "seeds": 2 * runs_s,
            "compile": 150.0,
            "sweep": 7 * (30 * epoch_s * 0.9 + EVAL_S),
        }[item]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget-s", type=float, default=None, help="wall-clock budget of the session")
    parser.add_argument("--data", default=None, help="CIFAR-10 pack (.npz); default: superinfo_lib's search")
    parser.add_argument("--results-dir", default=str(DEFAULT_RESULTS_DIR), help="where new result JSONs go")
    parser.add_argument("--out", default=os.environ.get("OUT"), help="pack results into <out>/results.tar")
    parser.add_argument(
        "--superinfo-beta",
        type=float,
        default=PRESETS["superinfo"].beta_12,
        help="SuperInfo's symmetric beta in `main` and `seeds` (default: the preset's)",
    )
    parser.add_argument("--items", nargs="*", choices=QUEUE, default=list(QUEUE), help="restrict the queue")
    parser.add_argument(
        "--smoke", action="store_true", help="CPU-sized runs: proves the code path, no figures"
    )
    parser.add_argument("--synthetic", action="store_true", help="synthetic images (with --smoke)")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    parser.add_argument("--train-limit", type=int, default=None, help="first N training images only (tests)")
    parser.add_argument("--test-limit", type=int, default=None, help="first N test images only (tests)")
    args = parser.parse_args(argv)
    if args.budget_s is not None and args.budget_s <= 0:
        parser.error(f"--budget-s must be > 0, got {args.budget_s}")
    session = Session(args)
    print(f"SuperInfo GPU session: queue {' > '.join(QUEUE)}; budget {args.budget_s} s", flush=True)
    for item in (i for i in QUEUE if i in args.items):
        records = session.records()
        if done(records, item):
            print(f"[{item}] already in the results: skipped", flush=True)
            continue
        epoch_s, processes = measured(records)
        need = session.estimate(item, epoch_s, processes)
        if need > session.left():
            print(f"[{item}] needs ~{need:.0f} s, {session.left():.0f} s left: stopping here", flush=True)
            break
        print(f"[{item}] starting (~{need:.0f} s; {processes} process(es) at once)", flush=True)
        if not session.run_item(item, epoch_s, processes):
            print(f"[{item}] a command failed: see its output above", flush=True)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
