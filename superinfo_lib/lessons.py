"""The CIFAR-10 notebooks' bookkeeping, so that their cells teach: a run's settings from a profile,
one run's summary, the stored study's runs and the key-figures file the tests read.

    from superinfo_lib import lessons
    finals = lessons.train_methods(S, RUNS, data)           # notebook 5: train each method
    FIGURES["methods"] = {m: lessons.run_summary(RUNS / m, finals[m]) for m in finals}
    lessons.save_key_figures(FIGURES, OUT)
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import replace
from pathlib import Path

from . import study
from .metrics import TERMS, read_metrics
from .results import CPU_RESULTS_DIR, load_results
from .train import TrainConfig, train


def train_config(settings: dict, method: str, out: str | Path, **changes) -> TrainConfig:
    """The trainer's settings for `method` under a notebook profile (superinfo_lib.profiles):
    resumable, seed 0, written to `out`."""
    s = settings
    cfg = TrainConfig(
        loss=method,
        arch=s["arch"],
        epochs=s["epochs"],
        batch_size=s["batch_size"],
        temperature=s.get("temperature"),
        train_limit=s["train_limit"],
        test_limit=s["test_limit"],
        knn_every=s["knn_every"],
        linear_epochs=s["linear_epochs"],
        log_every=s["log_every"],
        out=str(out),
        resume=True,
        seed=0,
    )
    return replace(cfg, **changes)


def train_methods(settings: dict, runs_dir: Path, data, progress: bool = True) -> dict[str, dict]:
    """Train (or resume, or find finished) each of the profile's methods into runs_dir/<method>;
    {method: the trainer's final results}."""
    finals = {}
    for method in settings["methods"]:
        cfg = train_config(settings, method, Path(runs_dir) / method)
        if progress:
            print(f"=== {method} -> {cfg.out}", flush=True)
        finals[method] = train(cfg, data=data, progress=progress)
    return finals


def run_summary(run_dir: Path, final: dict) -> dict:
    """What notebook 5 records of one run: its steps, final probes, first and last InfoNCE, KL,
    betas, whether every logged term stayed finite, its speed, device and data."""
    records = read_metrics(run_dir)
    steps = [r for r in records if r["kind"] == "step"]
    config = next(r for r in records if r["kind"] == "config")
    return {
        "run_dir": str(run_dir),
        "steps": len(steps),
        "final_step": final["step"],
        "total_steps": config["epochs"] * config["steps_per_epoch"],
        "knn_top1": final.get("knn_top1"),
        "linear_top1": final.get("linear_top1"),
        "nce_first": steps[0]["nce"],
        "nce_last": steps[-1]["nce"],
        "kl_12_last": steps[-1]["kl_12"],
        "kl_min": min(min(r["kl_12"], r["kl_21"]) for r in steps),
        "beta_12_first": steps[0]["beta_12"],
        "beta_12_last": steps[-1]["beta_12"],
        "all_finite": all(math.isfinite(r[k]) for r in steps for k in TERMS),
        "images_per_s": statistics.median(2 * r["pairs_per_s"] for r in steps),
        "device": config["device_name"],
        "data_source": config["data_source"],
    }


def study_runs(item: str = "main", results_dir: Path = CPU_RESULTS_DIR) -> dict[str, list[dict]]:
    """The stored CPU study's complete runs of one item ("main", "sweep", "floor"), by method,
    each list in seed order."""
    runs = [
        r
        for r in load_results(results_dir, kind="run", include_cpu=True)
        if r.get("item") == item and r.get("complete") and not r.get("smoke")
    ]
    by_method: dict[str, list[dict]] = {}
    for r in sorted(runs, key=lambda r: (r["method"], r["seed"])):
        by_method.setdefault(r["method"], []).append(r)
    return by_method


def study_sweeps(results_dir: Path = CPU_RESULTS_DIR) -> list[dict]:
    """The stored CPU study's beta sweeps (where SuperInfo's beta was chosen)."""
    return [s for s in load_results(results_dir, kind="sweep", include_cpu=True) if not s.get("smoke")]


def provenance_line(runs: list[dict]) -> str:
    """Where a set of stored runs was measured: CPU model, threads, precision, commits, dates."""
    first = runs[0]
    commits = ", ".join(sorted({str(r.get("commit"))[:10] for r in runs}))
    dates = ", ".join(sorted({str(r.get("timestamp"))[:10] for r in runs}))
    return (
        f"Measured on a CPU ({first.get('cpu_model')}), {first.get('cpu_threads')} thread(s) per run, "
        f"{first.get('precision')}; commit(s) {commits}; date(s) {dates}."
    )


def curves_summary(by_method: dict[str, list[dict]]) -> dict:
    """What notebook 5 says of the stored study's per-epoch curves, per method."""
    return {
        m: {
            "seeds": len(rs),
            "epochs": [len(r["per_epoch"]) for r in rs],
            "final_kl_12": [r["per_epoch"][-1]["kl_12"] for r in rs],
            "final_nce": [r["per_epoch"][-1]["nce"] for r in rs],
            "first_nce": [r["per_epoch"][0]["nce"] for r in rs],
            "knn_by_epoch": [
                {row["epoch"]: row["knn_top1"] for row in r["per_epoch"] if "knn_top1" in row} for r in rs
            ],
        }
        for m, rs in by_method.items()
    }


def comparison_summary(by_method: dict[str, list[dict]], sweeps: list[dict], differences: list[dict]) -> dict:
    """What notebook 6 says of the stored study: runs and seeds per method, means over seeds, each
    paired difference with its reading, SuperInfo's beta and where the sweep chose it."""
    return {
        "runs": {m: len(rs) for m, rs in by_method.items()},
        "seeds": {m: [r["seed"] for r in rs] for m, rs in by_method.items()},
        "means": {
            m: {
                key: statistics.fmean(study.metric(r, key) for r in rs)
                for key, _, _ in study.METRICS
                if all(study.metric(r, key) is not None for r in rs)
            }
            for m, rs in by_method.items()
        },
        "differences": {
            f"{d['_method']}:{d['_key']}": d["_diff"] | {"reading": d["reading"]} for d in differences
        },
        "superinfo_beta": [(r["beta_12"], r["beta_21"]) for r in by_method.get("superinfo", [])],
        "sweep_evaluated_on": [s.get("evaluated_on") for s in sweeps],
        "sweep_best": [(s["best"]["beta_12"], s["best"]["beta_21"]) for s in sweeps if s.get("best")],
        "commits": sorted({r.get("commit") for rs in by_method.values() for r in rs}),
    }


def save_key_figures(figures: dict, out_dir: Path) -> Path:
    """Write the notebook's key figures to <out_dir>/<notebook>.json (what the tests check)."""
    path = Path(out_dir) / f"{figures['notebook']}.json"
    path.write_text(json.dumps(figures, indent=2, default=float) + "\n")
    print(f"key figures written to {path}")
    return path


def stored_encoders(methods=("simclr", "mib", "superinfo"), seed: int = 0) -> dict:
    """The CPU study's published encoders of one seed, by method (each checked against the
    manifest's sha256 as it loads; superinfo_lib.pretrained)."""
    from .pretrained import load_encoder

    return {m: load_encoder(f"main-{m}-s{seed}", progress=False) for m in methods}


def neighbour_agreement(neighbour_labels, query_labels) -> float:
    """The fraction of neighbours (Q, K) that share their query's class (Q,)."""
    return (neighbour_labels == query_labels[:, None]).float().mean().item()


def details(summary: str, body: str) -> str:
    """Markdown that shows `summary` and hides `body` one click away (an HTML <details> block)."""
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


# (label, evaluated run -> accuracy) of notebook 6's comparison figure of its own runs.
ACCURACY_PROBES = (
    ("kNN", lambda e: e["knn_top1"]),
    ("linear", lambda e: e["linear_top1"]),
    ("10 labels/class", lambda e: e["few_label"]["10"]),
    ("100 labels/class", lambda e: e["few_label"]["100"]),
)


def evaluate_own_runs(settings: dict, runs_dir: Path) -> dict:
    """Notebook 5's checkpoints of one profile (runs_dir/<method>/checkpoint.pt), each under the
    library's one evaluation (`evaluate_model`) with the profile's `own_runs` settings; a method
    without a checkpoint is named and skipped."""
    import torch

    from .checkpoint import load_checkpoint_model
    from .data import load_cifar10
    from .eval import evaluate_model

    s = settings["own_runs"]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    data = load_cifar10(download=True, train_limit=s["train_limit"], test_limit=s["test_limit"])
    evaluated = {}
    for method in settings["methods"]:
        path = Path(runs_dir) / method / "checkpoint.pt"
        if not path.exists():
            print(f"{method}: no checkpoint at {path}: run notebook 5 with this profile first")
            continue
        model, ckpt = load_checkpoint_model(path, map_location=device)
        scores = evaluate_model(
            model,
            data,
            linear_epochs=s["linear_epochs"],
            few_label=tuple(s["few_label"]),
            probe_images=s["probe_images"],
            robustness_images=s["robustness_images"],
            mu_knn=True,
        )
        evaluated[method] = {"checkpoint": str(path), "step": ckpt["step"], "device": device, **scores}
        print(f"{method}: kNN {scores['knn_top1']:.2%}, linear {scores['linear_top1']:.2%} ({path})")
    return evaluated


def show_gpu_results(results_dir: Path | None = None) -> list[dict]:
    """Display the GPU runs stored in results/ (a table, and where each was measured), or say that
    there are none; returns their key figures."""
    from IPython.display import Markdown, display

    from .results import RESULTS_DIR, markdown_table, results_table

    runs = [r for r in load_results(results_dir or RESULTS_DIR, kind="run") if not r["cpu"]]
    if not runs:
        display(
            Markdown(
                "**No GPU runs are stored in `results/` yet** (`bench/README.md` says how to make them)."
            )
        )
        return []
    lines = [
        f"- `{Path(r['_path']).name}`: {r.get('device')}, torch {r.get('torch')}, "
        f"commit {str(r.get('commit'))[:10]}, seed {r.get('seed')}, command `{r.get('command')}`"
        for r in runs
    ]
    table = markdown_table(results_table(runs, "run"))
    display(
        Markdown(
            f"**{len(runs)} GPU run(s) in `results/`:**\n\n{table}\n\nWhere each came from:\n\n"
            + "\n".join(lines)
        )
    )
    keys = (
        "method",
        "knn_top1",
        "linear_top1",
        "few_label",
        "aug_probe_mean_r2",
        "device",
        "commit",
        "command",
    )
    return [{k: r.get(k) for k in keys} | {"file": Path(r["_path"]).name} for r in runs]
