"""The numbers of a multi-seed comparison: mean ± sd over seeds, and paired differences.

Runs of the same seed share their initialisation and data order, so method B - method A is
compared seed by seed (a paired difference); its 95 % interval is mean ± t(0.975, n-1) x sd / sqrt(n).
The words follow the interval: `verdict` calls one that holds 0 "no measurable difference at this
scale"; `reading` says the same as "not detected" and adds what the interval leaves open. Many
intervals read at once: `p_value` gives each one's paired t test, `holm` adjusts them for the family.

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


def reading(diff: dict | None, kind: str = "number") -> str:
    """What the interval allows one to say, with what it leaves open: "higher" / "lower" where it
    excludes 0; else, for an accuracy, "not detected; gains up to <its upper end> not excluded"
    (in points, as difference_rows writes them), for any other measure "not detected; <low> to
    <high> not excluded"."""
    words = verdict(diff)
    if diff is None or words != "no measurable difference at this scale":
        return words
    high = _fmt(diff["high"], kind, signed=True)
    if kind == "accuracy":
        return f"not detected; gains up to {high} not excluded"
    return f"not detected; {_fmt(diff['low'], kind, signed=True)} to {high} not excluded"


def t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with df (an integer >= 1) degrees of freedom: the closed
    forms of Abramowitz & Stegun 26.7.3 (df odd) and 26.7.4 (df even)."""
    if df < 1 or int(df) != df:
        raise ValueError(f"df must be a positive integer, got {df}")
    if math.isinf(t):
        return 0.0
    theta = math.atan(abs(t) / math.sqrt(df))
    c2, term, total = math.cos(theta) ** 2, 1.0, 1.0
    if df % 2:  # odd: (2/pi) (theta + sin cos (1 + 2/3 cos^2 + 2.4/(3.5) cos^4 + ...))
        for k in range(1, (df - 1) // 2):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        inside = (2 / math.pi) * (theta + (math.sin(theta) * math.cos(theta) * total if df > 1 else 0.0))
    else:  # even: sin (1 + 1/2 cos^2 + 1.3/(2.4) cos^4 + ...)
        for k in range(1, df // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            total += term
        inside = math.sin(theta) * total
    return min(1.0, max(0.0, 1.0 - inside))


def p_value(diff: dict) -> float:
    """The two-sided p of the paired t test behind paired_difference's interval (mean / (sd /
    sqrt(n)), n - 1 degrees of freedom): for up to 11 seeds (T_975's table) below 0.05 where the
    95 % interval excludes 0, up to the table's three decimals."""
    if diff["sd"] == 0:
        return 1.0 if diff["mean"] == 0 else 0.0
    return t_two_sided_p(diff["mean"] / (diff["sd"] / math.sqrt(diff["n"])), diff["n"] - 1)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values, in their order: the i-th smallest
    times (m - i + 1), never below an earlier one, at most 1. A test whose adjusted p is at most
    alpha is rejected with the family-wise error rate held at alpha."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


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


def difference_rows(
    runs: list[dict], baseline: str = "simclr", others=("superinfo", "mib"), metrics=METRICS, detailed=False
):
    """One row per (metric, method): the paired difference method - baseline, its 95 % interval
    and the verdict (accuracies in percentage points). detailed=True (docs/results.md's table):
    `reading`'s words instead of the verdict, and the difference the design detects with 80 %
    power (`detectable_effect`)."""
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
                    "reading": reading(diff, kind) if detailed else verdict(diff),
                    **({"detectable (80 % power)": _fmt(detectable_effect(diff), kind)} if detailed else {}),
                    "_diff": diff,
                    "_key": key,
                    "_method": other,
                }
            )
    return rows
