"""The numbers of a multi-seed comparison: mean ± sd over seeds, and paired differences.

Runs of the same seed share their initialisation and data order, so method B - method A is
compared seed by seed (a paired difference); its 95 % interval is mean ± t(0.975, n-1) x sd / sqrt(n).
The words follow the interval: one that holds 0 is "no measurable difference at this scale".

    from superinfo_lib.results import load_results
    from superinfo_lib.study import summary_rows, difference_rows
    runs = [r for r in load_results("results/cpu", kind="run") if r["item"] == "main"]
"""

from __future__ import annotations

import math
from statistics import mean, stdev

# Two-sided 95 % quantiles of Student's t, t(0.975, df), for df = 1..10 (standard tables).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
# One-sided 80 % quantiles of Student's t, t(0.80, df), for df = 1..10 (standard tables).
T_80 = {1: 1.376, 2: 1.061, 3: 0.978, 4: 0.941, 5: 0.920, 6: 0.906, 7: 0.896, 8: 0.889, 9: 0.883, 10: 0.879}

# (key, label, how the value reads): a dotted key goes into nested dicts.
METRICS = (
    ("knn_top1", "kNN top-1 (h)", "accuracy"),
    ("knn_top1_mu", "kNN top-1 (mu)", "accuracy"),
    ("linear_top1", "linear top-1 (h)", "accuracy"),
    ("few_label.10", "linear, 10 labels/class", "accuracy"),
    ("few_label.100", "linear, 100 labels/class", "accuracy"),
    ("aug_probe_mean_r2", "augmentation probe R² on h", "r2"),
    ("aug_probe_mu_mean_r2", "augmentation probe R² on mu", "r2"),
    ("aug_probe_z_mean_r2", "augmentation probe R² on a sample z", "r2"),
    ("sigma_median", "median sigma", "number"),
    ("robustness.mean_corruption.knn", "kNN under corruption (mean)", "accuracy"),
    ("robustness.relative_drop.knn", "kNN relative drop under corruption", "ratio"),
    ("final_nce", "final InfoNCE loss", "number"),
    ("final_kl_12", "final KL(q1 ‖ q2)", "number"),
)


def metric(record: dict, key: str) -> float | None:
    """record["a"]["b"] for key "a.b"; None where any part is missing."""
    value = record
    for part in key.split("."):
        if not isinstance(value, dict) or value.get(part) is None:
            return None
        value = value[part]
    return float(value)


def mean_sd(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (n - 1); sd is None for a single value."""
    if not values:
        raise ValueError("values is empty")
    return mean(values), (stdev(values) if len(values) > 1 else None)


def paired_difference(a: dict[int, float], b: dict[int, float]) -> dict | None:
    """b - a over the seeds both have: {"mean", "sd", "low", "high", "n", "seeds"} with a 95 %
    t interval; None with fewer than two shared seeds (no interval can be given)."""
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return None
    diffs = [b[s] - a[s] for s in seeds]
    m, sd = mean_sd(diffs)
    df = len(diffs) - 1
    half = T_975.get(df, 1.96) * sd / math.sqrt(len(diffs))
    return {"mean": m, "sd": sd, "low": m - half, "high": m + half, "n": len(diffs), "seeds": seeds}


def detectable_effect(diff: dict) -> float:
    """The smallest true difference a paired design of this size finds with 80 % power at the 5 %
    level, given the spread of its differences: (t(0.975, df) + t(0.80, df)) x sd / sqrt(n), the
    usual approximation. Below it, "not detected" says little."""
    df = diff["n"] - 1
    return (T_975.get(df, 1.96) + T_80.get(df, 0.842)) * diff["sd"] / math.sqrt(diff["n"])


def verdict(diff: dict | None, higher: str = "higher", lower: str = "lower") -> str:
    """What the interval allows one to say."""
    if diff is None:
        return "no interval (fewer than two seeds)"
    if diff["low"] <= 0 <= diff["high"]:
        return "no measurable difference at this scale"
    return higher if diff["mean"] > 0 else lower


def by_method(runs: list[dict], key: str) -> dict[str, dict[int, float]]:
    """{method: {seed: value}} of one metric over complete runs."""
    out: dict[str, dict[int, float]] = {}
    for r in runs:
        value = metric(r, key)
        if r.get("complete") and value is not None:
            out.setdefault(r["method"], {})[r["seed"]] = value
    return out


def _fmt(value: float, kind: str, signed: bool = False) -> str:
    sign = "+" if signed else ""
    if kind == "accuracy":
        return f"{100 * value:{sign}.2f}"
    return f"{value:{sign}.3f}" if abs(value) < 100 else f"{value:{sign}.1f}"


def summary_rows(runs: list[dict], methods=("simclr", "mib", "superinfo"), metrics=METRICS) -> list[dict]:
    """One row per metric: "mean ± sd (n)" per method (accuracies in %)."""
    rows = []
    for key, label, kind in metrics:
        values = by_method(runs, key)
        if not values:
            continue
        row = {"metric": label + (" %" if kind == "accuracy" else "")}
        for m in methods:
            seeds = values.get(m, {})
            if not seeds:
                row[m] = "–"
                continue
            mu, sd = mean_sd(list(seeds.values()))
            row[m] = _fmt(mu, kind) + ("" if sd is None else f" ± {_fmt(sd, kind)}") + f" ({len(seeds)})"
        rows.append(row)
    return rows


def difference_rows(runs: list[dict], baseline: str = "simclr", others=("superinfo", "mib"), metrics=METRICS):
    """One row per (metric, method): the paired difference method - baseline, its 95 % interval
    and the verdict (accuracies in percentage points)."""
    rows = []
    for key, label, kind in metrics:
        values = by_method(runs, key)
        for other in others:
            diff = paired_difference(values.get(baseline, {}), values.get(other, {}))
            if diff is None:
                continue
            rows.append(
                {
                    "metric": label + (" (points)" if kind == "accuracy" else ""),
                    "difference": f"{other} − {baseline}",
                    "mean": _fmt(diff["mean"], kind, signed=True),
                    "95 % interval": f"[{_fmt(diff['low'], kind, True)}, {_fmt(diff['high'], kind, True)}]",
                    "seeds": str(diff["n"]),
                    "reading": verdict(diff),
                    "_diff": diff,
                    "_key": key,
                    "_method": other,
                }
            )
    return rows
