"""The results format: one JSON file per GPU figure, under results/.

Every file is one JSON object with a "kind" and the provenance that `write_result` adds:

    {"kind": "run" | "sweep" | "benchmark", "format": 1,
     "device": "NVIDIA H100 80GB HBM3" or "cpu", "device_type": "cuda" or "cpu",
     "torch": "2.11.0+cu130", "python": "3.12.3", "commit": "<git sha or 'unknown'>",
     "commit_source": "git" | "env" | "unknown", "seed": 0, "command": "python bench/...",
     "timestamp": "2026-11-27T19:30:00+00:00", "smoke": false, ...payload}

Payloads by kind (keys the notebooks and docs/results.md read):
  run:       method, epochs, epochs_done, complete, batch_size, beta_12, beta_21, knn_top1,
             linear_top1, few_label {"10": .., "100": ..}, aug_probe_mean_r2 (backbone),
             aug_probe_mu_mean_r2, final_nce, final_kl_12, final_kl_21, final_mi_lower_bound,
             per_epoch [{epoch, loss, nce, kl_12, kl_21, mi_lower_bound, knn_top1?, epoch_time_s}],
             epoch_times_s, train_s, peak_rss_mb (the process's peak resident memory, MB),
             peak_gpu_mb (GPU runs: torch's peak allocation), precision, robustness
             (superinfo_lib.corruptions.robustness_eval:
             clean / mean_corruption / relative_drop per predictor, accuracy per corruption and
             severity), session_item (the GPU session's queue item)
  sweep:     epochs, rows [one per (beta_12, beta_21): the run keys above, without per_epoch], best
  benchmark: rows [{name, batch_size, step_s, epoch_s, pairs_per_s, ratio_to_compute_limit, ...}],
             ratios, targets

Figures measured on a CPU are smoke tests of the code path, never results: the reader
marks them ("cpu": true), `results_table` leaves them out unless asked, and
`write_result` refuses to put them into the repository's results/ folder.

    python -m superinfo_lib.results table [results/]            # markdown tables
    python -m superinfo_lib.results import-bundle results.tar results/
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "results"
# The CPU study's results (experiments/cpu_study.py): real figures, of a CPU-sized setting; kept
# apart from the GPU figures, never in the same table.
CPU_RESULTS_DIR = RESULTS_DIR / "cpu"
KINDS = ("run", "sweep", "benchmark")
FORMAT_VERSION = 1


# ----------------------------------------------------------------------------- provenance


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def device_info(device=None) -> dict:
    """{"device": name, "device_type": "cuda" / "cpu"} of `device` (default: cuda if present);
    on a CPU also its model and the threads torch computes with."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        return {"device": torch.cuda.get_device_name(device), "device_type": "cuda"}
    return {
        "device": "cpu",
        "device_type": device.type,
        "cpu_model": cpu_model(),
        "cpu_threads": torch.get_num_threads(),
        "cpu_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }


def git_commit() -> tuple[str, str]:
    """(sha, source). A remote machine may get a copy of the working tree without .git, so
    $SUPERINFO_COMMIT (set in the remote command) takes precedence when present."""
    if os.environ.get("SUPERINFO_COMMIT"):
        return os.environ["SUPERINFO_COMMIT"], "env"
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        if re.fullmatch(r"[0-9a-f]{40}", sha):
            return sha + ("-dirty" if dirty else ""), "git"
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown", "unknown"


def provenance(seed: int | None = None, command: str | None = None, device=None) -> dict:
    sha, source = git_commit()
    return {
        "format": FORMAT_VERSION,
        **device_info(device),
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        "commit": sha,
        "commit_source": source,
        "seed": seed,
        "command": command if command is not None else " ".join(shlex.quote(a) for a in sys.argv),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


# ----------------------------------------------------------------------------- writing


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "result"


def result_name(kind: str, label: str) -> str:
    """A file name that sorts by time: <kind>-<label>-<UTC timestamp>.json."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{kind}-{_slug(label)}-{stamp}.json"


def write_result(
    kind: str,
    payload: dict,
    out_dir: str | Path,
    name: str | None = None,
    *,
    seed: int | None = None,
    command: str | None = None,
    device=None,
    allow_cpu_in_results: bool = False,
) -> Path:
    """Write payload + provenance as <out_dir>/<name> (atomically; rewriting the same name
    updates a partial result). Returns the path.

    Raises ValueError for an unknown kind, and for a CPU figure aimed at the repository's
    results/ folder (results/ holds GPU figures only).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not isinstance(payload, dict):
        raise ValueError(f"payload must be a dict, got {type(payload).__name__}")
    record = {"kind": kind, **provenance(seed, command, device), **payload}
    record["kind"] = kind
    out_dir = Path(out_dir)
    if (
        record["device_type"] != "cuda"
        and not allow_cpu_in_results
        and out_dir.resolve() == RESULTS_DIR.resolve()
    ):
        raise ValueError(
            f"out_dir {out_dir} is the repository's results/ folder, which holds GPU figures "
            "only: write CPU (smoke) results elsewhere"
        )
    path = out_dir / (name or result_name(kind, str(payload.get("label", kind))))
    if path.suffix != ".json":
        raise ValueError(f"name must end in .json, got {path.name!r}")
    return write_json(path, record)


def write_json(path: Path, record: dict) -> Path:
    """Write record as JSON to path atomically (a crash mid-write leaves the old file whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=_jsonable) + "\n")
    os.replace(tmp, path)
    return path


def _jsonable(value):
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_bundle(results_dir: str | Path, bundle: str | Path) -> Path:
    """Pack every *.json of results_dir into one tar (atomically), so that a session's results
    travel back from a remote machine as one file."""
    results_dir, bundle = Path(results_dir), Path(bundle)
    bundle.parent.mkdir(parents=True, exist_ok=True)
    tmp = bundle.with_name(bundle.name + ".tmp")
    with tarfile.open(tmp, "w") as tar:
        for path in sorted(results_dir.glob("*.json")):
            tar.add(path, arcname=path.name)
    os.replace(tmp, bundle)
    return bundle


# ----------------------------------------------------------------------------- reading


class ResultList(list):
    """A list of result dicts with a `message` saying what was found (or why nothing was)."""

    message: str = ""


def read_result(path: str | Path) -> dict:
    """One result file, with "_path" and "cpu" (True unless measured on a CUDA device) added.
    ValueError naming the file if it is not a result."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from err
    if not isinstance(record, dict) or record.get("kind") not in KINDS:
        raise ValueError(f"{path} is not a result file: expected a JSON object with kind in {KINDS}")
    record["_path"] = str(path)
    record["cpu"] = record.get("device_type") != "cuda"
    return record


def load_results(
    results_dir: str | Path = RESULTS_DIR, kind: str | None = None, include_cpu: bool = True
) -> ResultList:
    """Every result (*.json) in results_dir, oldest first, optionally of one kind.

    A missing or empty folder gives an empty list whose `.message` says so; a corrupt file
    raises ValueError naming it. CPU results carry "cpu": True (see the module docstring).
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} or None, got {kind!r}")
    results_dir = Path(results_dir)
    out = ResultList()
    if not results_dir.is_dir():
        out.message = (
            f"no results: the folder {results_dir} does not exist (GPU figures are made by "
            "bench/README.md's commands on a GPU machine)"
        )
        return out
    for path in sorted(results_dir.glob("*.json")):
        record = read_result(path)
        if (kind is None or record["kind"] == kind) and (include_cpu or not record["cpu"]):
            out.append(record)
    out.sort(key=lambda r: (str(r.get("timestamp", "")), r["_path"]))
    what = f"{kind} results" if kind else "results"
    if not out:
        out.message = (
            f"no {what} in {results_dir} yet (GPU figures are made by bench/README.md's "
            "commands on a GPU machine)"
        )
    else:
        cpu = sum(r["cpu"] for r in out)
        out.message = f"{len(out)} {what} in {results_dir}" + (
            f", {cpu} of them from a CPU (smoke tests, not GPU figures)" if cpu else ""
        )
    return out


# ----------------------------------------------------------------------------- tables


def _fmt(value, digits: int = 4) -> str:
    """None -> "–", bool -> yes/no, float -> `digits` significant digits (large ones as integers)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 10**digits else f"{value:.{digits}g}"
    return str(value)


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def _cost(values: dict, epochs, on_gpu: bool) -> dict:
    """Time and peak memory of one run (a run record or a sweep row): training seconds, seconds
    per epoch, the process's peak resident memory and, on a GPU, torch's peak allocation.
    Files written before these were recorded say "not recorded"."""
    train_s, rss, gpu = values.get("train_s"), values.get("peak_rss_mb"), values.get("peak_gpu_mb")
    per_epoch = train_s / epochs if train_s and isinstance(epochs, int) and epochs > 0 else None
    return {
        "train s": _fmt(float(train_s), 3) if train_s else "–",
        "s/epoch": _fmt(per_epoch, 3),
        "peak RSS MB": _fmt(float(rss), 4) if rss else "not recorded",
        "peak GPU MB": (_fmt(float(gpu), 4) if gpu else "not recorded") if on_gpu else "–",
    }


def _device_label(record: dict) -> str:
    if not record.get("cpu"):
        return record.get("device", "?")
    if record.get("smoke", True):
        return f"{record.get('device', '?')} (CPU smoke test, not a GPU figure)"
    threads = record.get("cpu_threads")
    return f"CPU {record.get('cpu_model', '?')}" + (f", {threads} thread(s)" if threads else "")


# Longer than most functions here: one branch per result kind, each a flat list of display columns.
def results_table(results: list[dict], kind: str = "run", include_cpu: bool = False) -> list[dict]:
    """Rows (dicts of display strings) for one kind, CPU results left out unless asked.

    run: one row per run; sweep: one row per beta pair of every sweep; benchmark: one row
    per benchmark row. Runs and sweeps show each run's time and peak memory beside its
    accuracy; the GPU-memory column only where a row comes from a GPU.
    """
    rows, any_gpu = [], False
    for record in results:
        if record.get("kind") != kind or (
            record.get("cpu", record.get("device_type") != "cuda") and not include_cpu
        ):
            continue
        device, on_gpu = _device_label(record), not record.get("cpu", record.get("device_type") != "cuda")
        any_gpu |= on_gpu
        if kind == "run":
            few = record.get("few_label") or {}
            rows.append(
                {
                    "method": record.get("method"),
                    "epochs": _fmt(record.get("epochs_done", record.get("epochs"))),
                    "batch": _fmt(record.get("batch_size")),
                    "beta_12 / beta_21": f"{_fmt(record.get('beta_12'))} / {_fmt(record.get('beta_21'))}",
                    "kNN top-1 %": _pct(record.get("knn_top1")),
                    "linear %": _pct(record.get("linear_top1")),
                    "10/class %": _pct(few.get("10")),
                    "100/class %": _pct(few.get("100")),
                    "aug probe R2": _fmt(record.get("aug_probe_mean_r2"), 3),
                    **_cost(record, record.get("epochs_done", record.get("epochs")), on_gpu),
                    "device": device,
                    "seed": _fmt(record.get("seed")),
                }
            )
        elif kind == "sweep":
            for row in record.get("rows", []):
                rows.append(
                    {
                        "epochs": _fmt(record.get("epochs")),
                        "beta_12": _fmt(row.get("beta_12")),
                        "beta_21": _fmt(row.get("beta_21")),
                        "kNN top-1 %": _pct(row.get("knn_top1")),
                        "linear %": _pct(row.get("linear_top1")),
                        "final KL12": _fmt(row.get("final_kl_12"), 3),
                        "final KL21": _fmt(row.get("final_kl_21"), 3),
                        "final InfoNCE bound": _fmt(row.get("final_mi_lower_bound"), 3),
                        "aug probe R2": _fmt(row.get("aug_probe_mean_r2"), 3),
                        "complete": _fmt(row.get("complete")),
                        **_cost(row, row.get("epochs_done", row.get("epochs", record.get("epochs"))), on_gpu),
                        "device": device,
                    }
                )
        elif kind == "benchmark":
            for row in record.get("rows", []):
                rows.append(
                    {
                        "row": row.get("name"),
                        "batch": _fmt(row.get("batch_size")),
                        "epoch s": _fmt(row.get("epoch_s"), 3),
                        "pairs/s": _fmt(row.get("pairs_per_s"), 3),
                        "x compute limit": _fmt(row.get("ratio_to_compute_limit"), 3),
                        "note": row.get("error") or row.get("note") or "",
                        "device": device,
                    }
                )
        else:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not any_gpu:
        for row in rows:
            row.pop("peak GPU MB", None)
    return rows


def markdown_table(rows: list[dict], empty: str = "(no GPU results yet)") -> str:
    """GitHub markdown for rows of equal keys (as `results_table` returns); keys starting with
    "_" hold data for code, not for the table."""
    if not rows:
        return empty
    header = [k for k in rows[0] if not k.startswith("_")]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(row.get(h, "")) for h in header) + " |" for row in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- importing a bundle


def import_bundle(
    bundle: str | Path, results_dir: str | Path = RESULTS_DIR, allow_cpu: bool = False
) -> list[Path]:
    """Copy the result JSONs of a tar written by `write_bundle` into results_dir, after checking
    each one; CPU results are refused unless allow_cpu. Returns the paths written."""
    bundle, results_dir = Path(bundle), Path(results_dir)
    if not bundle.is_file():
        raise FileNotFoundError(f"bundle not found: {bundle}")
    written = []
    try:
        tar = tarfile.open(bundle)
    except tarfile.TarError as err:
        raise ValueError(f"{bundle} is not a tar file ({err})") from err
    with tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".json")]
        checked = []
        for m in members:
            name = Path(m.name).name
            try:
                record = json.loads(tar.extractfile(m).read())
            except json.JSONDecodeError as err:
                raise ValueError(f"{bundle}:{m.name} is not valid JSON ({err})") from err
            if not isinstance(record, dict) or record.get("kind") not in KINDS:
                raise ValueError(f"{bundle}:{m.name} is not a result file")
            if record.get("device_type") != "cuda" and not allow_cpu:
                raise ValueError(
                    f"{bundle}:{m.name} was measured on {record.get('device')!r}, not a GPU: "
                    "results/ holds GPU figures only"
                )
            checked.append((name, record))
    results_dir.mkdir(parents=True, exist_ok=True)
    for name, record in checked:
        path = results_dir / name
        path.write_text(json.dumps(record, indent=1) + "\n")
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m superinfo_lib.results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    table = sub.add_parser("table", help="print the markdown tables of a results folder")
    table.add_argument("results_dir", nargs="?", default=str(RESULTS_DIR))
    table.add_argument("--include-cpu", action="store_true", help="show CPU smoke results too (marked)")
    imp = sub.add_parser("import-bundle", help="check and copy a device run's results.tar into results/")
    imp.add_argument("bundle")
    imp.add_argument("results_dir", nargs="?", default=str(RESULTS_DIR))
    args = parser.parse_args(argv)
    try:
        if args.command == "table":
            results = load_results(args.results_dir)
            print(results.message)
            for kind in KINDS:
                print(f"\n### {kind}\n\n" + markdown_table(results_table(results, kind, args.include_cpu)))
            cpu_dir = Path(args.results_dir) / "cpu"
            if cpu_dir.is_dir():
                cpu = [r for r in load_results(cpu_dir) if not r.get("smoke")]
                print(f"\n## CPU study ({cpu_dir}): a CPU-sized setting, not GPU figures")
                for kind in KINDS:
                    print(
                        f"\n### {kind} (CPU)\n\n" + markdown_table(results_table(cpu, kind, True), "(none)")
                    )
        else:
            for path in import_bundle(args.bundle, args.results_dir):
                print(f"wrote {path}")
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
