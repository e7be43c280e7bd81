"""bench/bench_corruptions.py runs (--smoke, CPU, as a subprocess) and prints its summary.

No timing is asserted: the smoke numbers prove the code path, they are not figures.
"""

import json
import subprocess
import sys
from pathlib import Path

from superinfo_lib.corruptions import CORRUPTIONS

ROOT = Path(__file__).resolve().parent.parent


def test_bench_corruptions_smoke_prints_its_summary():
    command = [sys.executable, str(ROOT / "bench" / "bench_corruptions.py"), "--smoke", "--device", "cpu"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["device"] == "cpu" and summary["smoke"] is True
    assert summary["images"] == 64 and summary["corruptions"] == 10 and summary["severities"] == 5
    assert list(summary["per_corruption_s"]) == list(CORRUPTIONS)
    assert summary["corruption_s"] == sum(summary["per_corruption_s"].values())
    assert summary["images_per_s"] > 0 and summary["epoch_s"] > 0
    assert summary["ratio_corruption_to_epoch"] == summary["corruption_s"] / summary["epoch_s"]
    assert any(line.strip().startswith("all ") and "images/s" in line for line in lines)
    assert any("corruption time / epoch time" in line for line in lines)
