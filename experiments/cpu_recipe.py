"""How the CPU study's recipe was chosen: encoders and (lr, temperature) at a fixed CPU budget.

    python experiments/cpu_recipe.py small:0.06:0.5:4 small48:0.06:0.5:2 ...   # ARCH:LR:TEMPERATURE:EPOCHS

Each spec trains SimCLR on 45,000 training images (one core, bf16 where native, batch 256) and
scores kNN top-1 on the 5,000 training images held out: nothing here reads the test set. The
encoders are compared at about the same CPU time (the wider net gets fewer epochs), so the
score reads as "kNN per CPU-minute". Run two at once (one per core), as the study does. Writes
one benchmark result, results/cpu/benchmark-cpu-recipe.json, with a row per spec.
"""

from __future__ import annotations

import argparse
import fcntl
import time
from pathlib import Path

import torch

from superinfo_lib import models, results
from superinfo_lib.data import load_cifar10, validation_split
from superinfo_lib.train import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent
# A wider variant of the small convnet, tried against it (2.1x its compute per image).
models.BACKBONES.setdefault("small48", lambda: models.SmallConvNet(48))


def parse_spec(text: str) -> dict:
    try:
        arch, lr, temperature, epochs = text.split(":")
        return {"arch": arch, "lr": float(lr), "temperature": float(temperature), "epochs": int(epochs)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"a spec is ARCH:LR:TEMPERATURE:EPOCHS, got {text!r}") from None


def add_row(path: Path, row: dict) -> None:
    """Add (or replace) one row of the result file; two processes may write it at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = results.read_result(path)["rows"] if path.exists() else []
        rows = [r for r in rows if r["name"] != row["name"]] + [row]
        payload = {"label": "cpu-recipe", "smoke": False, "evaluated_on": "validation", "rows": rows}
        results.write_result("benchmark", payload, path.parent, path.name, device="cpu")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("specs", nargs="+", type=parse_spec)
    parser.add_argument("--data", default=None, help="CIFAR-10 pack (.npz); default: superinfo_lib's search")
    parser.add_argument("--results-dir", default=str(results.CPU_RESULTS_DIR))
    parser.add_argument("--work-dir", default=str(ROOT / "runs" / "cpu_recipe"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = validation_split(load_cifar10(args.data, download=False), 5000)
    path = Path(args.results_dir) / "benchmark-cpu-recipe.json"
    for spec in args.specs:
        name = f"{spec['arch']} lr {spec['lr']:g} t {spec['temperature']:g} x {spec['epochs']} epochs"
        t0 = time.perf_counter()
        cfg = TrainConfig(
            loss="simclr", batch_size=256, knn_every=0, linear_epochs=0, log_every=10**9, device="cpu",
            out=str(Path(args.work_dir) / name.replace(" ", "_")), resume=True, **spec,
        )  # fmt: skip
        final = train(cfg, data=data, progress=False)
        wall = time.perf_counter() - t0
        knn = final["knn_top1"]
        row = {**spec, "name": name, "knn_val": knn, "wall_s": wall, "threads": args.threads}
        row.update(precision=final["precision"], note=f"kNN on 5,000 held-out images: {knn:.4f}")
        add_row(path, row)
        print(f"{name}: kNN (validation) {final['knn_top1']:.4f} in {wall:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
