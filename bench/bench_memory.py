"""Peak memory (RSS) of each course notebook's kernel, and where it grows (target: <= 1 GB on Binder).

Runs each notebook with papermill in a subprocess, as shipped (profile "auto", which is "smoke"
on a CPU) unless --profile says otherwise, in course order and in one output folder (notebook 6
reuses notebook 5's checkpoints). After every code cell a small probe cell records the kernel's
current RSS and its peak so far (`resource.getrusage(RUSAGE_SELF).ru_maxrss`); the script prints
per notebook its wall time, the kernel's peak RSS, and the cells that raised the peak most.

    .venv/bin/python bench/bench_memory.py                  # 01 02 05 06, profile auto
    .venv/bin/python bench/bench_memory.py 01 03 --profile smoke
    .venv/bin/python bench/bench_memory.py --all            # 01 .. 07

The kernel is the whole process (Python, torch, the notebook's data), started with the Python that
runs this script, and its torch build matters most: importing the CPU-only wheel that Binder
installs (binder/requirements.txt) costs about 0.2 GB, the CUDA wheel that PyPI serves on Linux
about 0.55 GB even on a machine without a GPU, and its CPU kernels hold more while training. To
measure what a Binder session holds, run this script from an environment with CPU-only torch; the
table names the torch build each kernel ran. Timings on a shared machine read high; the RSS
figures do not depend on load.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO_ROOT / "notebooks"
TARGET_MB = 1024
PROBE_TAG = "memory-probe"
DEFAULT = ("01", "02", "05", "06")

# Runs in the kernel after cell `index`: current and peak RSS in MB (Linux reports ru_maxrss in KB),
# and the version of torch once the notebook has imported it.
PROBE = """import resource as _r, sys as _s
_vm = [l for l in open("/proc/self/status") if l.startswith("VmRSS")]
_rss = int(_vm[0].split()[1]) / 1024 if _vm else float("nan")
_torch = getattr(_s.modules.get("torch"), "__version__", "-")
print("__memory__", {index}, _rss, _r.getrusage(_r.RUSAGE_SELF).ru_maxrss / 1024, _torch)"""


def notebook_path(key: str) -> Path:
    matches = sorted(p for p in NOTEBOOKS.glob(f"{key}*.ipynb") if not p.name.endswith(".out.ipynb"))
    if len(matches) != 1:
        raise SystemExit(
            f"notebook {key!r}: expected one match in {NOTEBOOKS}, found {[p.name for p in matches]}"
        )
    return matches[0]


def with_probes(source: Path, target: Path) -> list[str]:
    """Copy the notebook with a probe cell after every code cell; return each cell's first line."""
    nb = nbformat.read(source, as_version=4)
    cells, heads = [], []
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type == "code":
            heads.append(next((ln for ln in cell.source.splitlines() if ln.strip()), "")[:70])
            probe = nbformat.v4.new_code_cell(PROBE.format(index=len(heads) - 1))
            probe.metadata["tags"] = [PROBE_TAG]
            cells.append(probe)
    nb.cells = cells
    nbformat.write(nb, target)
    return heads


def read_probes(executed: Path) -> list[tuple[int, float, float, str]]:
    """(code cell index, RSS MB, peak MB, torch version) from the probe cells' output (a stream may
    arrive in pieces)."""
    rows = []
    for cell in nbformat.read(executed, as_version=4).cells:
        if PROBE_TAG not in cell.metadata.get("tags", []):
            continue
        text = "".join(out.get("text", "") for out in cell.get("outputs", []))
        for index, rss, peak, torch_version in re.findall(r"__memory__ (\d+) (\S+) (\S+) (\S+)", text):
            rows.append((int(index), float(rss), float(peak), torch_version))
    return rows


def run_one(source: Path, work: Path, output_dir: Path, profile: str | None, timeout_s: float) -> dict:
    probed = work / source.name
    executed = work / f"{source.stem}.out.ipynb"
    heads = with_probes(source, probed)
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(probed),
        str(executed),
        "-k",
        "python3",
        "--cwd",
        str(NOTEBOOKS),
        "-p",
        "output_dir",
        str(output_dir),
        "--no-progress-bar",
    ]
    if profile:
        cmd += ["-p", "profile", profile]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    wall = time.perf_counter() - start
    rows = read_probes(executed) if executed.exists() else []
    figures = output_dir / f"{source.stem}.json"
    ran_profile = (
        json.loads(figures.read_text()).get("profile") if proc.returncode == 0 and figures.exists() else None
    )
    peak = max((r[2] for r in rows), default=float("nan"))
    steps, previous = [], 0.0
    for index, rss, cell_peak, _ in rows:
        steps.append(
            {
                "cell": index,
                "head": heads[index],
                "rss_mb": rss,
                "peak_mb": cell_peak,
                "peak_rise_mb": cell_peak - previous,
            }
        )
        previous = cell_peak
    return {
        "notebook": source.stem,
        "ok": proc.returncode == 0,
        "profile": ran_profile,
        "torch": next((r[3] for r in reversed(rows) if r[3] != "-"), "-"),
        "wall_s": wall,
        "peak_mb": peak,
        "cells": steps,
        "error": None if proc.returncode == 0 else proc.stderr[-2000:],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "notebooks", nargs="*", help=f"notebook number prefixes (default: {' '.join(DEFAULT)})"
    )
    parser.add_argument("--all", action="store_true", help="every notebook, 01 .. 07")
    parser.add_argument("--profile", default=None, help="papermill -p profile (default: as shipped, 'auto')")
    parser.add_argument("--top", type=int, default=3, help="cells that raised the peak most, per notebook")
    parser.add_argument("--timeout-s", type=float, default=1800, help="per notebook")
    parser.add_argument("--json", default=None, help="also write the measurements to this file")
    args = parser.parse_args(argv)
    keys = [f"{i:02d}" for i in range(1, 8)] if args.all else (args.notebooks or list(DEFAULT))
    sources = sorted({notebook_path(k) for k in keys})  # course order: 06 reuses 05's checkpoints

    results = []
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        work, output_dir = Path(tmp), Path(tmp) / "outputs"
        for source in sources:
            r = run_one(source, work, output_dir, args.profile, args.timeout_s)
            results.append(r)
            state = "ok" if r["ok"] else "FAILED"
            print(
                f"{r['notebook']}: {state}, profile {r['profile']}, {r['wall_s']:.0f} s, "
                f"kernel peak RSS {r['peak_mb']:.0f} MB",
                flush=True,
            )
            for c in sorted(r["cells"], key=lambda c: -c["peak_rise_mb"])[: args.top]:
                print(
                    f"    cell {c['cell']:2d} +{c['peak_rise_mb']:6.0f} MB peak "
                    f"(RSS after {c['rss_mb']:5.0f} MB)  {c['head']}"
                )
            if r["error"]:
                print(r["error"])

    print(f"\n| notebook | profile | torch | wall time | kernel peak RSS | <= {TARGET_MB} MB |")
    print("|---|---|---|---|---|---|")
    for r in results:
        fits = "yes" if r["peak_mb"] <= TARGET_MB else "NO"
        print(
            f"| {r['notebook']} | {r['profile']} | {r['torch']} | {r['wall_s']:.0f} s | "
            f"{r['peak_mb']:.0f} MB | {fits} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
