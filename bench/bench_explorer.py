"""How long one live recomputation of the coefficient explorer takes (budget: 2 s on 2 CPU cores).

One recomputation = what a slider change triggers: retrain the toy encoder, probe every
factor, update the plotly figures in place. The script moves the sliders through a few
settings as a user would and prints the wall time of each, the median, and its ratio to
the budget. It also prints the process CPU time (less sensitive to other programs on a
shared machine) and the load average, since wall times on a busy machine read high.

Then the CIFAR-10 case, in the same run: the stored-β slider visits every stored setting once
(each visit loads that encoder and recomputes kNN, sigma, the augmentation probe and the
nearest neighbours on explorer_cifar.LIVE_SIZES images), and the script prints the median
and its ratio to the toy's median. Loading the images (once) is timed apart. Without the
published encoders it times random-init encoders of the same architecture (the same
arithmetic), written to a temporary folder, and says so.

    .venv/bin/python bench/bench_explorer.py              # explorer defaults
    .venv/bin/python bench/bench_explorer.py --threads 2  # compare thread counts
    .venv/bin/python bench/bench_explorer.py --no-cifar   # the toy only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from superinfo_lib import explorer_cifar, pretrained
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
    parser.add_argument("--no-cifar", action="store_true", help="skip the CIFAR-10 case")
    parser.add_argument(
        "--encoders", default=None, help="published encoders' folder (default: results/cpu/encoders/)"
    )
    parser.add_argument("--data", default=None, help="CIFAR-10 pack (default: the first place found)")
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
    if not args.no_cifar:
        with tempfile.TemporaryDirectory() as tmp:
            cifar_wall, cifar_cpu = bench_cifar(args, Path(tmp))
        ratios = f"wall {cifar_wall / wall:.2f} x, cpu {cifar_cpu / cpu:.2f} x"
        print(f"CIFAR-10 / toy recomputation, same run: {ratios}")
    return 0


def stand_in_encoders(folder: Path) -> Path:
    """Random-init small encoders (the study's architecture) published as the sweep is; returns the
    folder. Their arithmetic, hence their time, is that of the trained ones."""
    from superinfo_lib.models import SuperInfoModel

    entries = []
    for b12, b21 in ((0.0, 0.0), (1e-4, 1e-4), (1e-3, 1e-3), (1e-2, 1e-2), (2e-2, 0.0), (3e-2, 3e-2)):
        name = f"sweep-superinfo-b{b12:g}-{b21:g}"
        info = pretrained.save_encoder(SuperInfoModel("small"), folder / f"{name}.safetensors")
        entries.append({"name": name, "file": f"{name}.safetensors", "beta_12": b12, "beta_21": b21})
        entries[-1] |= {"arch": "small", "latent_dim": 128, **info}
    (folder / pretrained.MANIFEST_NAME).write_text(json.dumps({"format": 1, "encoders": entries}))
    return folder


def bench_cifar(args, tmp: Path) -> tuple[float, float]:
    """Visit every stored setting once; print each time; return the median (wall, cpu) seconds."""
    folder = Path(args.encoders) if args.encoders else pretrained.ENCODERS_DIR
    try:
        explorer_cifar.load_sweep(folder, folder / pretrained.MANIFEST_NAME)
        what = f"the published encoders in {folder}"
    except FileNotFoundError as err:
        folder = stand_in_encoders(tmp)
        what = f"random-init stand-ins of the same architecture ({err})"
    start, cpu_start = time.perf_counter(), time.process_time()
    live = explorer_cifar.load_live_data(args.data)
    print(
        f"CIFAR-10: {what}; images loaded once in wall {time.perf_counter() - start:.1f} s, "
        f"cpu {time.process_time() - cpu_start:.1f} s; images per recomputation {live.sizes()}"
    )
    explorer = build_explorer(
        num_threads=args.threads, run=False, encoders=folder, cifar_data=live, results_dir=tmp / "none"
    )
    walls, cpus = [], []
    slider = explorer.controls["cifar_beta"]
    moves = [(explorer.controls["mode"], "cifar")]  # entering CIFAR-10 mode computes the first setting
    moves += [(slider, name) for _, name in slider.options[1:]]
    for control, value in moves:
        cpu_start = time.process_time()
        control.value = value  # its observer recomputes once
        cpus.append(time.process_time() - cpu_start)
        walls.append(explorer.last_cifar_seconds)
        r = explorer.cifar_result
        numbers = (
            f"kNN {r['knn_top1']:.3f}, median σ {r['sigma_median']:.3g}, "
            f"aug R² on z {r['aug_probe_z_mean_r2']:.3f}"
        )
        label = explorer_cifar.setting_label(r)
        print(f"  stored β {label:>8}: wall {walls[-1]:.2f} s  cpu {cpus[-1]:.2f} s  ({numbers})")
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"median CIFAR-10 recomputation: wall {wall:.2f} s, cpu {cpu:.2f} s")
    return wall, cpu


if __name__ == "__main__":
    sys.exit(main())
