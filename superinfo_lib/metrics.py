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


def epoch_means(step_records: list[dict], key: str) -> dict[int, float]:
    """{epoch (1-based): the mean of `key` over that epoch's logged steps}, for the "step"
    records of a metrics.jsonl (their "epoch" is 0-based). A run resumed after a crash repeats
    the steps after its last checkpoint, so a step can be logged twice: its later record counts."""
    latest = {r["step"]: r for r in step_records}  # later records replace earlier ones
    sums: dict[int, list[float]] = {}
    for r in latest.values():
        sums.setdefault(r["epoch"] + 1, []).append(r[key])
    return {epoch: sum(values) / len(values) for epoch, values in sorted(sums.items())}


def epoch_history(run: str | Path) -> list[dict]:
    """One row per completed epoch: epoch (1-based), epoch time, mean loss terms over the
    epoch's logged steps (`epoch_means`), the last learning rate and betas, and kNN where
    measured. A resumed run's repeated records count once, the later one."""
    records = read_metrics(run)
    steps = [r for r in records if r.get("kind") == "step"]
    means = {term: epoch_means(steps, term) for term in TERMS}
    last_step = {r["epoch"] + 1: r for r in {r["step"]: r for r in steps}.values()}
    epochs = {r["epoch"]: r for r in records if r.get("kind") == "epoch" and r.get("complete", True)}
    rows = []
    for e in (epochs[k] for k in sorted(epochs)):
        number = e["epoch"] + 1
        row = {"epoch": number, "epoch_time_s": e["epoch_time_s"]}
        if number in means["loss"]:
            row.update({term: means[term][number] for term in TERMS})
            last = last_step[number]
            row.update(lr=last["lr"], beta_12=last["beta_12"], beta_21=last["beta_21"])
        if "knn_top1" in e:
            row["knn_top1"] = e["knn_top1"]
        rows.append(row)
    return rows
