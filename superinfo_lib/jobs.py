"""What the GPU scripts (bench/bench_gpu.py, experiments/) share: data, output folders, the
time budget.

Output: result JSONs go into --results-dir (default runs/gpu_results, ignored by git);
when --out is given (default: $OUT) every JSON of that folder is also packed into
<out>/results.tar after each write: one file to carry back from a remote machine. Import
the tar into results/ with
    python -m superinfo_lib.results import-bundle <machine's out folder>/results.tar results/
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from . import results
from .data import ImageData, load_cifar10, synthetic_images

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_RESULTS_DIR = REPO_ROOT / "runs" / "gpu_results"
DEFAULT_WORK_DIR = REPO_ROOT / "runs" / "gpu_work"


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None, help="CIFAR-10 pack (.npz); default: superinfo_lib's search")
    parser.add_argument(
        "--synthetic", action="store_true", help="synthetic images instead of CIFAR-10 (tests)"
    )
    parser.add_argument("--train-limit", type=int, default=None, help="first N training images only")
    parser.add_argument("--test-limit", type=int, default=None, help="first N test images only")
    parser.add_argument(
        "--results-dir",
        default=str(DEFAULT_RESULTS_DIR),
        help="where result JSONs go (not results/: import them after checking)",
    )
    parser.add_argument("--work-dir", default=str(DEFAULT_WORK_DIR), help="checkpoints and logs of the runs")
    parser.add_argument(
        "--out",
        default=os.environ.get("OUT"),
        help="also pack the result JSONs into <out>/results.tar (default: $OUT if set)",
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="wall-clock budget: stop starting work that would not finish inside it",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=float(os.environ["SUPERINFO_DEADLINE"]) if os.environ.get("SUPERINFO_DEADLINE") else None,
        help="also stop by this Unix time (default: $SUPERINFO_DEADLINE), shared by the "
        "commands of one device call: export SUPERINFO_DEADLINE=$(( $(date +%%s) + 540 ))",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    parser.add_argument(
        "--tag",
        default=None,
        help="recorded in every result as session_item (experiments/gpu_session.py's queue)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="CPU-sized: small arch, few images and steps; proves the code path, no figures",
    )


def resolve_device(name: str | None) -> torch.device:
    return torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))


def load_data(args, smoke_train: int = 512, smoke_test: int = 256) -> ImageData:
    """CIFAR-10 (or the synthetic set), with --smoke defaulting to a few hundred images."""
    train_limit = args.train_limit or (smoke_train if args.smoke else None)
    test_limit = args.test_limit or (smoke_test if args.smoke else None)
    if args.synthetic:
        return synthetic_images(n_train=train_limit or 512, n_test=test_limit or 256, seed=args.seed)
    return load_cifar10(args.data, download=False, train_limit=train_limit, test_limit=test_limit)


class Budget:
    """A wall-clock budget in seconds (None: unlimited), counted from construction, and an
    optional absolute deadline (Unix time) shared with the other commands of the same call."""

    def __init__(self, seconds: float | None, deadline: float | None = None):
        if seconds is not None and seconds <= 0:
            raise ValueError(f"--budget-s must be > 0, got {seconds}")
        self.seconds, self.deadline = seconds, deadline
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        left = float("inf") if self.seconds is None else self.seconds - self.elapsed()
        return left if self.deadline is None else min(left, self.deadline - time.time())

    def allows(self, estimate_s: float) -> bool:
        return self.left() >= estimate_s


class ResultWriter:
    """Writes result JSONs into results_dir and refreshes <out>/results.tar after each."""

    def __init__(
        self,
        results_dir: str | Path,
        out: str | None,
        seed: int,
        device: torch.device,
        tag: str | None = None,
    ):
        self.results_dir = Path(results_dir)
        self.bundle = Path(out) / "results.tar" if out else None
        self.seed, self.device, self.tag = seed, device, tag

    def write(self, kind: str, payload: dict, name: str) -> Path:
        payload = {**payload, "session_item": self.tag} if self.tag else payload
        path = results.write_result(kind, payload, self.results_dir, name, seed=self.seed, device=self.device)
        if self.bundle is not None:
            results.write_bundle(self.results_dir, self.bundle)
        return path


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_queue(
    pending: Callable[[], list[dict]],
    start: Callable[[dict], subprocess.Popen],
    parallel: int,
    estimate_s: Callable[[dict], float],
    left_s: Callable[[], float],
    poll_s: float = 5.0,
) -> list[str]:
    """Run the queue's runs as worker processes, `parallel` at a time, until none is left.

    `pending()` gives the runs still to do (dicts with "item" and "label"), in order; it is asked
    again whenever a worker ends, so a run may become ready when another finishes. A run starts
    only if `estimate_s(run)` fits in `left_s()`. Interrupted (Ctrl-C), the workers are stopped;
    their checkpoints stay for the next call. Returns the labels of the runs that failed.
    """
    running: dict[str, tuple[subprocess.Popen, dict]] = {}
    failed: list[str] = []
    skipped: set[str] = set()
    try:
        while True:
            queue = [s for s in pending() if s["label"] not in running and s["label"] not in skipped]
            while queue and len(running) < parallel:
                spec = queue.pop(0)
                need = estimate_s(spec)
                if need > left_s():
                    item, label = spec["item"], spec["label"]
                    print(f"[{item}] {label} needs ~{need:.0f} s, {left_s():.0f} s left: not started")
                    skipped.add(spec["label"])
                    continue
                running[spec["label"]] = (start(spec), spec)
            if not running:
                return failed
            time.sleep(poll_s)
            for label, (proc, spec) in list(running.items()):
                if proc.poll() is not None:
                    del running[label]
                    status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                    print(f"[{spec['item']}] {label}: {status}", flush=True)
                    if proc.returncode:
                        failed.append(label)
                        skipped.add(label)
    finally:
        for proc, _ in running.values():  # interrupted: stop the workers (their checkpoints stay)
            proc.terminate()


def launch_commit() -> dict[str, str]:
    """The environment that makes a queue's workers record the commit the queue was launched at
    (superinfo_lib.results reads $SUPERINFO_COMMIT), not the one checked out when each writes."""
    sha, _ = results.git_commit()
    return {"SUPERINFO_COMMIT": os.environ.get("SUPERINFO_COMMIT", sha)}


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports kilobytes)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- CPU queues
# experiments/cpu_study.py and experiments/cpu_claim.py: resumable queues of named runs, one
# worker process per run.


def add_queue_args(parser: argparse.ArgumentParser, results_help: str, work_dir: Path) -> None:
    """The flags every CPU queue takes (its own go on after them)."""
    parser.add_argument("--budget-s", type=float, default=None, help="wall-clock budget of this call")
    parser.add_argument("--data", default=None, help="CIFAR-10 pack (.npz); default: superinfo_lib's search")
    parser.add_argument("--results-dir", default=None, help=results_help)
    parser.add_argument("--work-dir", default=str(work_dir), help="checkpoints and logs")
    parser.add_argument(
        "--only", nargs="+", default=None, metavar="LABEL",
        help="run just these runs, by label; --list-runs prints the labels",
    )  # fmt: skip
    parser.add_argument("--list-runs", action="store_true", help="print every run's label and exit")
    parser.add_argument("--parallel", type=int, default=2, help="runs at once (default 2: one per core)")
    parser.add_argument(
        "--threads", type=int, default=None, help="threads per run (default: cores / parallel)"
    )
    parser.add_argument("--precision", default="auto", help="auto: bf16 where the CPU has native bf16")
    parser.add_argument("--smoke", action="store_true", help="tiny runs: the code path, no figures")
    parser.add_argument("--synthetic", action="store_true", help="synthetic images (with --smoke)")
    parser.add_argument("--train-limit", type=int, default=None, help="first N training images only")
    parser.add_argument("--test-limit", type=int, default=None, help="first N test images only")
    parser.add_argument("--run", default=None, help=argparse.SUPPRESS)  # a worker: one run's spec (JSON)


def parse_queue_args(
    parser: argparse.ArgumentParser, argv, results_dir: Path, smoke_results_dir: Path
) -> argparse.Namespace:
    """Parse and check a queue's flags: the arguments to repeat for each worker (command_args),
    threads per run, where results go (smoke results never into `results_dir`), the precision,
    and the data file's sha256 (None for synthetic images or a listing, which needs no data)."""
    from .data import find_cifar10
    from .download import sha256_file
    from .step import choose_precision

    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.command_args = [a for i, a in enumerate(argv) if a != "--run" and (i == 0 or argv[i - 1] != "--run")]
    if args.budget_s is not None and args.budget_s <= 0:
        parser.error(f"--budget-s must be > 0, got {args.budget_s}")
    if args.parallel < 1:
        parser.error(f"--parallel must be >= 1, got {args.parallel}")
    if args.smoke and not (args.synthetic or args.train_limit):
        args.train_limit, args.test_limit = 512, 256
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    args.threads = args.threads or max(1, cores // args.parallel)
    args.results_dir = Path(args.results_dir or (smoke_results_dir if args.smoke else results_dir))
    if args.smoke and args.results_dir.resolve() == Path(results_dir).resolve():
        parser.error(f"--smoke results must not go into {results_dir}: give another --results-dir")
    if args.precision == "auto":
        args.precision = choose_precision("cpu")
    found = None if args.synthetic or args.list_runs else find_cifar10(args.data)
    args.data_sha256 = sha256_file(found) if found is not None and found.is_file() else None
    return args


def check_only(parser: argparse.ArgumentParser, only: list[str] | None, known: list[str]) -> None:
    """--only names runs of this queue, or the error lists them."""
    unknown = [label for label in only or () if label not in known]
    if unknown:
        parser.error(f"--only: unknown run(s) {', '.join(unknown)}; the runs are: {', '.join(known)}")


def lock_run(work: Path, label: str):
    """Hold an exclusive lock on a run's folder for this process's life (a second worker on the
    same run stops at once, naming it); returns the open lock file, to keep."""
    import fcntl

    work.mkdir(parents=True, exist_ok=True)
    lock = open(work / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise SystemExit(f"{label}: another process is running it ({work})") from None
    return lock
