"""A run's metrics.jsonl: written by the trainer, read by everything else through `read_metrics`.

One JSON object per line, each with a "kind": "config" (the run's settings, once), "step" (loss
terms, betas, learning rate and throughput every --log-every steps), "epoch" (epoch time, kNN
when measured), "final" (the final evaluation) and "error" (why a run stopped).
"""

from __future__ import annotations

import json
from pathlib import Path

TERMS = ("loss", "nce", "kl_12", "kl_21", "mi_lower_bound")


class MetricsLog:
    """Appends records to <run>/metrics.jsonl (a no-op when `path` is None: other ranks)."""

    def __init__(self, path: str | Path | None):
        self.file = open(path, "a") if path is not None else None

    def write(self, record: dict) -> None:
        if self.file:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file:
            self.file.close()


def read_metrics(run: str | Path, kind: str | None = None) -> list[dict]:
    """The records of a run folder's metrics.jsonl (or of that file), optionally of one kind."""
    path = Path(run)
    path = path / "metrics.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"no metrics file at {path}")
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if kind is None or r.get("kind") == kind]


def epoch_history(run: str | Path) -> list[dict]:
    """One row per completed epoch: epoch (1-based), epoch time, mean loss terms over the
    epoch's logged steps, the last learning rate and betas, and kNN where measured.

    A run resumed after a crash repeats what followed its last checkpoint, so an epoch or a step
    can be logged twice: the later record (the one the resumed model carries) counts."""
    records = read_metrics(run)
    steps = list({r["step"]: r for r in records if r.get("kind") == "step"}.values())
    epochs = {r["epoch"]: r for r in records if r.get("kind") == "epoch" and r.get("complete", True)}
    rows = []
    for e in (epochs[k] for k in sorted(epochs)):
        in_epoch = [s for s in steps if s["epoch"] == e["epoch"]]
        row = {"epoch": e["epoch"] + 1, "epoch_time_s": e["epoch_time_s"]}
        if in_epoch:
            row.update({k: sum(s[k] for s in in_epoch) / len(in_epoch) for k in TERMS})
            last = in_epoch[-1]
            row.update(lr=last["lr"], beta_12=last["beta_12"], beta_21=last["beta_21"])
        if "knn_top1" in e:
            row["knn_top1"] = e["knn_top1"]
        rows.append(row)
    return rows
