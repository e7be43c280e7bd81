"""How long one live recomputation of the coefficient explorer takes (budget: 2 s on 2 CPU cores).

One recomputation = what a slider change triggers: retrain the toy encoder, probe every
factor, update the plotly figures in place. The script moves the sliders through a few
settings as a user would and prints the wall time of each, the median, and its ratio to
the budget. It also prints the process CPU time (less sensitive to other programs on a
shared machine) and the load average, since wall times on a busy machine read high.

    .venv/bin/python bench/bench_explorer.py              # explorer defaults
    .venv/bin/python bench/bench_explorer.py --threads 2  # compare thread counts
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from superinfo_lib.widgets import LIVE_STEPS, build_explorer

BUDGET_S = 2.0
# (slider, value) moves, applied one after another, each one recomputation.
MOVES = (
    ("beta_12", 1e-3),
    ("beta_21", 1e-3),
    ("beta_12", 1e-2),
    ("temperature", 0.3),
    ("latent_dim", 32),
    ("beta_21", 0.1),
    ("lambda_pred", 0.5),
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads of the live training (explorer: 1)"
    )
    parser.add_argument("--steps", type=int, default=LIVE_STEPS, help="training steps per recomputation")
    parser.add_argument(
        "--moves", type=int, default=len(MOVES), help=f"how many slider moves (1..{len(MOVES)})"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.moves <= len(MOVES):
        parser.error(f"--moves must be in 1..{len(MOVES)}, got {args.moves}")

    explorer = build_explorer(num_threads=args.threads, steps=args.steps)  # first run warms up torch
    print(
        f"cores: {os.cpu_count()}, torch threads: {args.threads}, steps: {args.steps}, "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    walls, cpus = [], []
    for name, value in MOVES[: args.moves]:
        cpu_start = time.process_time()
        explorer.controls[name].value = value  # the observer recomputes once
        cpus.append(time.process_time() - cpu_start)
        walls.append(explorer.last_seconds)
        probes = ", ".join(f"{k} {v:.2f}" for k, v in explorer.result.probes.items())
        print(f"  {name:>11} = {value:<6g} wall {walls[-1]:.2f} s  cpu {cpus[-1]:.2f} s  ({probes})")
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(
        f"median recomputation: wall {wall:.2f} s ({wall / BUDGET_S:.2f} x the {BUDGET_S:g} s budget), "
        f"cpu {cpu:.2f} s ({cpu / BUDGET_S:.2f} x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
