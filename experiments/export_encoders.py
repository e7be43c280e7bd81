"""Publish the CPU study's encoders: backbone + Gaussian head of each run as safetensors, a manifest.

    python experiments/cpu_study.py --only main-simclr-s0 ... --results-dir runs/rerun   # train them
    python experiments/export_encoders.py --work-dir runs/cpu_study --rerun-dir runs/rerun

For every sweep and main run of the stored study (results/cpu/run-*.json) whose checkpoint is in
--work-dir, this checks that the re-run's result (in --rerun-dir) has the stored figures, then
writes results/cpu/encoders/<label>.safetensors and the manifest (superinfo_lib.pretrained).
With --verify it also recomputes the stored kNN accuracy from the written file.

A figure may differ only where the cause is known and given: `--explained KEY ... --reason TEXT`
exports such a re-run anyway and records, in its manifest entry, the re-run's file and each
explained figure as stored and as re-run (the reason goes into the manifest once).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from superinfo_lib import pretrained, results
from superinfo_lib.checkpoint import load_checkpoint_model
from superinfo_lib.data import load_cifar10, validation_split
from superinfo_lib.eval import evaluate_model

ROOT = Path(__file__).resolve().parent.parent
# The figures a re-run must repeat exactly (dotted keys go into nested dicts).
FIGURES = (
    "knn_top1",
    "knn_top1_mu",
    "linear_top1",
    "few_label.10",
    "few_label.100",
    "sigma_median",
    "aug_probe_mean_r2",
    "aug_probe_mu_mean_r2",
    "aug_probe_z_mean_r2",
    "robustness.mean_corruption.knn",
    "robustness.mean_corruption.linear",
    "final_nce",
    "final_kl_12",
)


def figure(record: dict, key: str):
    value = record
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def compare(stored: dict, rerun: dict, explained=()) -> tuple[list[str], dict]:
    """The figures that differ between the stored run and its re-run: those not in `explained`
    as 'key: stored -> rerun', and those in it as {key: {"stored", "rerun"}}."""
    differ = [key for key in FIGURES if figure(stored, key) != figure(rerun, key)]
    unexplained = [f"{k}: {figure(stored, k)} -> {figure(rerun, k)}" for k in differ if k not in explained]
    return unexplained, {
        k: {"stored": figure(stored, k), "rerun": figure(rerun, k)} for k in differ if k in explained
    }


def repository_path(path: str) -> str:
    """`path` relative to the repository when it lies inside it (as the manifest records it)."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--work-dir", default=str(ROOT / "runs" / "cpu_study"), help="the re-runs' checkpoints"
    )
    parser.add_argument("--rerun-dir", required=True, help="the re-runs' result files")
    parser.add_argument("--results-dir", default=str(results.CPU_RESULTS_DIR), help="the stored study")
    parser.add_argument("--out", default=str(pretrained.ENCODERS_DIR))
    parser.add_argument("--verify", action="store_true", help="recompute kNN from each written file")
    parser.add_argument("--data", default=None, help="CIFAR-10 pack (for --verify)")
    parser.add_argument(
        "--explained", nargs="+", default=[], metavar="KEY", help="figures allowed to differ (needs --reason)"
    )
    parser.add_argument("--reason", default=None, help="why the --explained figures differ")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.explained) - set(FIGURES))
    if unknown:
        known = ", ".join(FIGURES)
        parser.error(f"--explained: not a compared figure: {', '.join(unknown)} (known: {known})")
    if bool(args.explained) != bool(args.reason):
        parser.error("--explained and --reason go together: name the figures and say why they differ")
    stored = [
        r
        for r in results.load_results(args.results_dir, kind="run", include_cpu=True)
        if r.get("item") in ("sweep", "main")
    ]
    reruns = {r["label"]: r for r in results.load_results(args.rerun_dir, kind="run", include_cpu=True)}
    data = load_cifar10(args.data) if args.verify else None
    entries, problems = [], []
    for record in sorted(stored, key=lambda r: (r["item"] != "main", r["label"])):
        label = record["label"]
        checkpoint = Path(args.work_dir) / label / "checkpoint.pt"
        if label not in reruns or not checkpoint.is_file():
            problems.append(f"{label}: no re-run result or checkpoint")
            continue
        differences, explained = compare(record, reruns[label], args.explained)
        if differences:
            problems.append(f"{label}: the re-run differs: " + "; ".join(differences))
            continue
        model, ckpt = load_checkpoint_model(checkpoint)
        file = f"{label}.safetensors"
        info = pretrained.save_encoder(model, Path(args.out) / file)
        entry = {
            "name": label,
            "file": file,
            "method": record["method"],
            "seed": record["seed"],
            "beta_12": record["beta_12"],
            "beta_21": record["beta_21"],
            "epochs": record["epochs"],
            "arch": model.arch,
            "latent_dim": model.latent_dim,
            "evaluated_on": record["evaluated_on"],
            "n_train": record["n_train"],
            **info,
            "run_file": repository_path(record["_path"]),
            "commit": reruns[label]["commit"],
            "knn_top1": record["knn_top1"],
        }
        if explained:
            entry["rerun_file"] = repository_path(reruns[label]["_path"])
            entry["differs_from_run_file"] = explained
        entries.append(entry)
        print(f"{label}: {info['bytes']} bytes, sha256 {info['sha256'][:12]}…", flush=True)
    manifest = {"format": 1, "source": "experiments/export_encoders.py", "encoders": entries}
    if args.explained:
        manifest["differences_explained"] = {"figures": args.explained, "reason": args.reason}
    manifest_path = Path(args.out) / pretrained.MANIFEST_NAME
    results.write_json(manifest_path, manifest)
    total = sum(e["bytes"] for e in entries)
    print(f"{len(entries)} encoders, {total / 2**20:.1f} MB in {args.out}")
    if args.verify:  # through the loader a learner uses: hash check, then the stored kNN again
        for entry in entries:
            encoder = pretrained.load_encoder(entry["name"], source=args.out, manifest=manifest_path)
            split = validation_split(data, 5000) if entry["evaluated_on"] == "validation" else data
            knn = evaluate_model(encoder, split, linear_epochs=0, few_label=(), probe_images=0)["knn_top1"]
            print(
                f"{entry['name']}: kNN {knn:.4f} from the file (stored {entry['knn_top1']:.4f})", flush=True
            )
            if knn != entry["knn_top1"]:
                problems.append(
                    f"{entry['name']}: kNN from the written file {knn} != stored {entry['knn_top1']}"
                )
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
