"""When does a KL penalty help downstream on the toy? Longer training, and which unshared
information beta = 0 slowly memorises.

    python experiments/toy_conditions.py                       # 18 min on one core (264 runs)
    python experiments/toy_conditions.py --smoke --out /tmp/c.json   # the code path, seconds

Notebook 4 measures, over 8 seeds, that after 1,000 steps a moderate beta beats beta = 0 with
one label per class, and that at 150 steps no beta helps. Three questions stay:

  length     Does beta = 0's few-label accuracy fall as training goes on (200 -> 1,000 -> 3,000
             steps) while a moderate beta's holds?
  which      If so, what does beta = 0 memorise: the per-view noise or the per-view nuisance
             bits? The same runs on data without noise (noise 0) and on data whose nuisance bits
             carry no signal (nuisance_scale 0) separate the two.
  nuisance   More nuisance bits (8 instead of 2) at a short budget (150 steps) and at 1,000.

Every run is notebook 4's `sweep_row` on `make_multiview` data of the condition (seed 1000 +
seed, as the notebook). Each row is written to --out the moment it exists; a second call runs
only what is missing, so a killed run loses at most the run in progress.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from superinfo_lib.results import REPO_ROOT, provenance, write_json
from superinfo_lib.toy import make_multiview, sweep_row

OUT = REPO_ROOT / "results" / "toy" / "conditions.json"
# name -> make_multiview arguments (the defaults: noise 0.3, 2 nuisance bits of scale 2)
CONDITIONS = {
    "default": {},
    "no_noise": {"noise": 0.0},
    "no_nuisance": {"nuisance_scale": 0.0},
    "more_nuisance": {"nuisance_bits": 8},
}
SEEDS = tuple(range(8))


def plan(smoke: bool) -> list[dict]:
    """The runs, in the order they are made (the questions' key runs first)."""
    if smoke:
        return [
            {"condition": c, "steps": 20, "beta": b, "seed": 0}
            for c in ("default", "no_noise")
            for b in (0.0, 1e-3)
        ]
    runs = []
    for steps in (200, 1000, 3000):
        for condition in ("default", "no_noise", "no_nuisance"):
            for beta in (0.0, 1e-3, 1e-2):
                runs += [{"condition": condition, "steps": steps, "beta": beta, "seed": s} for s in SEEDS]
    for steps in (150, 1000):
        for beta in (0.0, 1e-3, 1e-2):
            runs += [{"condition": "more_nuisance", "steps": steps, "beta": beta, "seed": s} for s in SEEDS]
    return runs


def key(run: dict) -> tuple:
    """A planned run or a stored row (whose beta is beta_12 = beta_21)."""
    return (run["condition"], run["steps"], run.get("beta", run.get("beta_12")), run["seed"])


def load(path: Path) -> dict:
    if not path.exists():
        return {"rows": []}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise SystemExit(f"--out {path} is not valid JSON ({err}); move it away to start afresh") from err


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT, help="the JSON file the rows go to")
    parser.add_argument("--smoke", action="store_true", help="four 20-step runs: the code path only")
    args = parser.parse_args(argv)
    record = load(args.out)
    done = {key(r) for r in record["rows"]}
    todo = [run for run in plan(args.smoke) if key(run) not in done]
    print(f"{len(done)} runs in {args.out}, {len(todo)} to make", flush=True)
    for i, run in enumerate(todo, 1):
        start = time.perf_counter()
        data = make_multiview(seed=1000 + run["seed"], **CONDITIONS[run["condition"]])
        row = sweep_row(run["beta"], run["beta"], run["seed"], run["steps"], data=data)
        row.update(condition=run["condition"], steps=run["steps"], seconds=time.perf_counter() - start)
        record["rows"].append(row)
        record.update(
            provenance(command=" ".join(["python", "experiments/toy_conditions.py", *sys.argv[1:]])),
            conditions=CONDITIONS,
            smoke=args.smoke,
        )
        write_json(args.out, record)
        print(
            f"[{i}/{len(todo)}] {run['condition']} {run['steps']} steps "
            f"beta {run['beta']:g} seed {run['seed']}: "
            f"1 label {row['few_label_acc_1']:.3f}, 5 labels {row['few_label_acc']:.3f} "
            f"({row['seconds']:.0f} s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
