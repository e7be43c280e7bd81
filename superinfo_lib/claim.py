"""The claim study's analysis (experiments/cpu_claim.py), as it was fixed before any run finished.

The study: SuperInfo with beta_12 = beta_21 = beta in {0, 3e-4, 1e-3}, seeds 0-5 (18 runs), 30
epochs of the `strong` augmentation; 45,000 training images, 5,000 held out as validation, the
10,000 test images looked at only after epoch 30. The analysis:

1. beta* = the one of 3e-4 and 1e-3 with the better seed-averaged VALIDATION accuracy of the
   1-label linear probe after the last epoch; validation figures only, a tie goes to the smaller.
2. Every beta on the test set: mean ± sd over seeds of each probe.
3. Primary: beta - 0 on the test 1-label linear accuracy, paired over seeds, for both non-zero
   betas, their p-values Holm-adjusted as a family of two; the smallest effect the design detects.
4. Secondary (descriptive, no correction): the same paired differences for 5 and 10 labels per
   class, the 1-label nearest-class-mean probe, full-label kNN and linear; and the validation
   1-label gain after epochs 10, 20 and 30 (the monitors run on validation, never on test).
5. The reading: "supported" if beta*'s 1-label test gain has a Holm-adjusted p < 0.05 and a mean
   above 0, AND its validation 1-label gain is larger after epoch 30 than after epoch 10, AND its
   full-label linear difference's 95 % interval does not lie above 0; else "refuted at this
   scale" if the 95 % interval of BOTH non-zero betas' 1-label test gain ends below +1 point;
   else "inconclusive". With fewer than 6 seeds of any beta: "incomplete: N of 18 runs", and
   beta* is chosen from what exists only where every beta has at least 2 seeds (else None).

Beside the betas, the tables show the floor: the untrained convnet under the same evaluation
(`run-claim-floor-s<seed>.json`, seeds 0-2), which every probe is read against instead of chance.
It is descriptive and takes no part in the rule.

Accuracies are fractions (0.5 = 50 %); differences are printed in percentage points. Betas are
keyed in the JSON-ready output by their label spelling ("0", "0.0003", "0.001").

    python -m superinfo_lib.claim                       # results/cpu-claim: tables and reading
    python -m superinfo_lib.claim --results-dir DIR --json
    python -m superinfo_lib.claim --record-choice       # once all 18 are in: beta* to analysis/beta-star.json
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from statistics import mean

from . import results, study

CLAIM_RESULTS_DIR = results.RESULTS_DIR / "cpu-claim"
BETAS = (0.0, 3e-4, 1e-3)  # as experiments/cpu_claim.py: 0 is the baseline
CANDIDATES = BETAS[1:]
SEEDS = tuple(range(6))
EXPECTED_RUNS = len(BETAS) * len(SEEDS)
ALPHA = 0.05
ONE_POINT = 0.01  # one percentage point of accuracy
TIE = 1e-12  # validation means closer than this are a tie (rounding of a sum, not a difference)

# (key into a split's evaluation, label, how it reads); a dotted key goes into nested dicts.
ONE_LABEL = "label_probes.linear.1.mean"
FULL_LINEAR = "linear_top1"
SECONDARY = (
    ("label_probes.linear.5.mean", "linear, 5 labels/class", "accuracy"),
    ("label_probes.linear.10.mean", "linear, 10 labels/class", "accuracy"),
    ("label_probes.ncm.1.mean", "nearest class mean, 1 label/class", "accuracy"),
    ("knn_top1", "kNN, all labels", "accuracy"),
    (FULL_LINEAR, "linear, all labels", "accuracy"),
)
TEST_MEASURES = (
    (ONE_LABEL, "linear, 1 label/class", "accuracy"),
    *SECONDARY,
    ("knn_top1_mu", "kNN of mu, all labels", "accuracy"),
    ("sigma_median", "median sigma", "number"),
    ("aug_probe_mean_r2", "augmentation probe R² on h", "number"),
    ("aug_probe_mu_mean_r2", "augmentation probe R² on mu", "number"),
    ("aug_probe_z_mean_r2", "augmentation probe R² on a sample z", "number"),
)
LABELS = {key: label for key, label, _ in TEST_MEASURES}


def beta_key(beta: float) -> str:
    """A beta as the run labels spell it: 0 -> "0", 3e-4 -> "0.0003"."""
    return f"{beta:g}"


# ----------------------------------------------------------------------------- the runs


def load_claim_runs(results_dir: str | Path = CLAIM_RESULTS_DIR) -> dict[float, dict[int, dict]]:
    """{beta: {seed: record}} of the complete claim runs in results_dir (the files
    `run-claim-b<beta>-s<seed>.json` that cpu_claim.py writes with results.write_result("run",
    ...)); a missing folder gives {}. Where one run was written twice, the newest file counts."""
    out: dict[float, dict[int, dict]] = {}
    for record in results.load_results(results_dir, kind="run", include_cpu=True):  # oldest first
        if record.get("item") == "claim" and record.get("complete"):
            out.setdefault(float(record["beta"]), {})[int(record["seed"])] = record
    return out


def load_floor(results_dir: str | Path = CLAIM_RESULTS_DIR) -> dict[int, dict]:
    """{seed: record} of the untrained floor's evaluations (`run-claim-floor-s<seed>.json`, item
    "floor"): the convnet as the trainer initialises it, under the claim runs' evaluation."""
    return {
        int(r["seed"]): r
        for r in results.load_results(results_dir, kind="run", include_cpu=True)
        if r.get("item") == "floor" and r.get("complete")
    }


def _seed_values(records: dict[int, dict], path: str) -> dict[int, float]:
    out = {}
    for seed, record in records.items():
        value = study.metric(record, path)
        if value is not None:
            out[seed] = value
    return out


def values(
    runs: dict[float, dict[int, dict]], beta: float, key: str, split: str = "test"
) -> dict[int, float]:
    """{seed: value} of one measure of one beta on one split: "test", "validation" (both after
    the last epoch) or "monitor.<epoch>" (validation after that epoch); seeds without it left out."""
    return _seed_values(runs.get(beta, {}), f"{split}.{key}")


def count(runs: dict[float, dict[int, dict]]) -> int:
    """How many of the study's 18 runs (BETAS x SEEDS) are there."""
    return sum(seed in runs.get(beta, {}) for beta in BETAS for seed in SEEDS)


# ----------------------------------------------------------------------------- the analysis


def choose_beta(runs: dict[float, dict[int, dict]]) -> dict:
    """beta* from the validation figures only: {"beta_star": 3e-4, 1e-3 or None,
    "validation_means": {"0.0003": mean, "0.001": mean}, "validation_seeds": {"0": n, ...}}.
    The mean is over the seeds a beta has of the validation 1-label linear accuracy after the
    last epoch; the better one wins, a tie the smaller beta. None while any beta (0 included)
    has fewer than two seeds."""
    seeds = {beta_key(b): len(values(runs, b, ONE_LABEL, "validation")) for b in BETAS}
    means = {
        beta_key(b): mean(v.values()) if (v := values(runs, b, ONE_LABEL, "validation")) else None
        for b in CANDIDATES
    }
    star = None
    if min(seeds.values()) >= 2:
        small, large = (means[beta_key(b)] for b in CANDIDATES)
        star = CANDIDATES[1] if large - small > TIE else CANDIDATES[0]
    return {"beta_star": star, "validation_means": means, "validation_seeds": seeds}


def record_choice(results_dir: str | Path = CLAIM_RESULTS_DIR) -> Path:
    """Write beta* and the validation means it was chosen from to <results_dir>/analysis/beta-star.json
    (with the commit and time), once all 18 runs are in and before their test figures are read.
    A choice is made once: a record already there must name the same beta*. ValueError otherwise."""
    runs = load_claim_runs(results_dir)
    if (n := count(runs)) < EXPECTED_RUNS:
        raise ValueError(
            f"{results_dir}: {n} of {EXPECTED_RUNS} claim runs; beta* is recorded once all are in"
        )
    choice, path = choose_beta(runs), Path(results_dir) / "analysis" / "beta-star.json"
    if path.exists():
        recorded = json.loads(path.read_text())["beta_star"]
        if recorded != choice["beta_star"]:
            raise ValueError(f"{path} records beta* = {recorded}; the runs now give {choice['beta_star']}")
        return path
    record = {
        **choice,
        "runs": n,
        "chosen_by": "the better seed-averaged validation 1-label linear accuracy; a tie: the smaller beta",
        "commit": results.git_commit()[0],
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return results.write_json(path, record)


def _diff(runs, beta: float, key: str, split: str = "test") -> dict | None:
    """beta - 0 paired over seeds (study.paired_difference), None below two shared seeds."""
    return study.paired_difference(values(runs, 0.0, key, split), values(runs, beta, key, split))


def primary(runs: dict[float, dict[int, dict]]) -> dict[str, dict | None]:
    """{"0.0003": diff, "0.001": diff}: beta - 0 on the test 1-label linear accuracy, each diff
    study.paired_difference's dict plus "p" (paired t test), "p_holm" (Holm over the non-zero
    betas that have a difference) and "detectable" (80 % power at the 5 % level); None below
    two shared seeds."""
    out = {beta_key(b): _diff(runs, b, ONE_LABEL) for b in CANDIDATES}
    p = {k: study.p_value(d) for k, d in out.items() if d is not None}
    for k, p_holm in zip(p, study.holm(list(p.values()))):
        out[k] = {**out[k], "p": p[k], "p_holm": p_holm, "detectable": study.detectable_effect(out[k])}
    return out


def epochs(runs: dict[float, dict[int, dict]]) -> list[int]:
    """The epochs with a validation figure: the monitors' (10, 20) and the last (30)."""
    found = {int(e) for seeds in runs.values() for r in seeds.values() for e in r.get("monitor", {})}
    found |= {int(r["epochs"]) for seeds in runs.values() for r in seeds.values()}
    return sorted(found)


def growth(runs: dict[float, dict[int, dict]]) -> dict[str, dict[str, dict | None]]:
    """{"0.0003": {"10": diff, "20": diff, "30": diff}, ...}: beta - 0 on the VALIDATION 1-label
    linear accuracy after each epoch (the monitors, then the final validation figures)."""
    found = epochs(runs)
    return {
        beta_key(b): {
            str(e): _diff(runs, b, ONE_LABEL, "validation" if e == found[-1] else f"monitor.{e}")
            for e in found
        }
        for b in CANDIDATES
    }


def seed_figures(records: dict[int, dict]) -> dict[str, dict]:
    """{key: {"mean", "sd", "n", "draw_sd"}}: the test figures of one beta's runs (or the floor's)
    over their seeds (sd None for one seed); draw_sd, for a label-draw probe, is the mean over
    seeds of its sd over the label draws."""
    rows = {}
    for key, _, _ in TEST_MEASURES:
        v = _seed_values(records, f"test.{key}")
        if not v:
            continue
        m, sd = study.mean_sd(list(v.values()))
        draw = _seed_values(records, f"test.{key[: -len('.mean')]}.sd") if key.endswith(".mean") else {}
        rows[key] = {"mean": m, "sd": sd, "n": len(v), "draw_sd": mean(draw.values()) if draw else None}
    return rows


def test_figures(runs: dict[float, dict[int, dict]]) -> dict[str, dict[str, dict]]:
    """{"0": seed_figures, "0.0003": ..., "0.001": ...}: each beta's test figures over its seeds."""
    return {beta_key(b): seed_figures(runs.get(b, {})) for b in BETAS}


def decide(n_runs: int, star: float | None, first: dict, grow: dict, secondary: dict) -> tuple[str, dict]:
    """(reading, conditions) by the pre-registered rule (the module docstring's point 5)."""
    conditions = {"gain": None, "grows": None, "no_full_label_gain": None, "both_below_one_point": None}
    if star is not None:
        gain = first[beta_key(star)]
        conditions["gain"] = gain is not None and gain["p_holm"] < ALPHA and gain["mean"] > 0
        by_epoch = grow[beta_key(star)]
        ordered = [by_epoch[e] for e in sorted(by_epoch, key=int)]  # epoch 10, 20, 30
        if len(ordered) >= 2 and ordered[0] is not None and ordered[-1] is not None:
            conditions["grows"] = ordered[-1]["mean"] > ordered[0]["mean"]
        full = secondary[FULL_LINEAR][beta_key(star)]
        conditions["no_full_label_gain"] = None if full is None else full["low"] <= 0
    if all(first[beta_key(b)] is not None for b in CANDIDATES):
        conditions["both_below_one_point"] = all(first[beta_key(b)]["high"] < ONE_POINT for b in CANDIDATES)
    if n_runs < EXPECTED_RUNS:
        return f"incomplete: {n_runs} of {EXPECTED_RUNS} runs", conditions
    if conditions["gain"] and conditions["grows"] and conditions["no_full_label_gain"]:
        return "supported", conditions
    if conditions["both_below_one_point"]:
        return "refuted at this scale", conditions
    return "inconclusive", conditions


def analyse(runs: dict[float, dict[int, dict]], floor: dict[int, dict] | None = None) -> dict:
    """Everything the analysis reports, JSON-ready: "runs" (of 18, "expected_runs"), "seeds"
    ({"0": [seeds], ...}), "smoke" (any smoke run: no figures), "choice" (choose_beta), "beta_star",
    "test" (test_figures), "floor" (seed_figures of the untrained floor's evaluations, {} without
    them; descriptive, outside the rule), "primary" (primary), "secondary" ({key: {"0.0003": diff,
    "0.001": diff}}, test set), "growth" (growth: validation), "conditions" (each part of the
    rule: True, False, or None where it cannot be read) and "reading"."""
    choice = choose_beta(runs)
    first = primary(runs)
    secondary = {key: {beta_key(b): _diff(runs, b, key) for b in CANDIDATES} for key, _, _ in SECONDARY}
    grow = growth(runs)
    n_runs = count(runs)
    reading, conditions = decide(n_runs, choice["beta_star"], first, grow, secondary)
    return {
        "runs": n_runs,
        "expected_runs": EXPECTED_RUNS,
        "seeds": {beta_key(b): sorted(runs.get(b, {})) for b in BETAS},
        "smoke": any(r.get("smoke") for seeds in runs.values() for r in seeds.values()),
        "choice": choice,
        "beta_star": choice["beta_star"],
        "test": test_figures(runs),
        "floor": seed_figures(floor or {}),
        "primary": first,
        "secondary": secondary,
        "growth": grow,
        "conditions": conditions,
        "reading": reading,
    }


# ----------------------------------------------------------------------------- tables


def _fmt(value: float | None, kind: str = "accuracy", signed: bool = False) -> str:
    """An accuracy in % (a difference of them in points), anything else to 3 decimals; None "–"."""
    return "–" if value is None else study._fmt(value, kind, signed)


def _p(p: float | None) -> str:
    return "–" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


FLOOR = "floor (untrained)"


def summary_rows(analysis: dict) -> list[dict]:
    """One row per test measure: "mean ± sd (n)" for the untrained floor, then per beta
    (accuracies in %)."""

    def cell(s, kind):
        if s is None:
            return "–"
        return (
            _fmt(s["mean"], kind) + ("" if s["sd"] is None else f" ± {_fmt(s['sd'], kind)}") + f" ({s['n']})"
        )

    rows = []
    for key, label, kind in TEST_MEASURES:
        row = {
            "test set": label + (" %" if kind == "accuracy" else ""),
            FLOOR: cell(analysis["floor"].get(key), kind),
        }
        for b in BETAS:
            row[f"beta = {beta_key(b)}"] = cell(analysis["test"][beta_key(b)].get(key), kind)
        rows.append(row)
    return rows


def report_rows(analysis: dict) -> list[dict]:
    """One row per paired difference beta - 0 (points): the primary pair (with p, Holm's p and
    the detectable effect), the secondary test probes, the validation 1-label gain per epoch."""
    star = analysis["beta_star"]

    def row(part, measure, split, b, diff, tested=False):
        return {
            "part": part,
            "measure": measure,
            "split": split,
            "beta - 0": beta_key(b) + (" (beta*)" if b == star else ""),
            "mean (points)": "–" if diff is None else _fmt(diff["mean"], signed=True),
            "95 % interval": "–"
            if diff is None
            else f"[{_fmt(diff['low'], signed=True)}, {_fmt(diff['high'], signed=True)}]",
            "seeds": "< 2" if diff is None else str(diff["n"]),
            "p": _p(diff["p"]) if tested and diff else "–",
            "Holm p": _p(diff["p_holm"]) if tested and diff else "–",
            "detectable (80 % power)": _fmt(diff["detectable"]) if tested and diff else "–",
            "_diff": diff,
        }

    rows = [
        row("primary", LABELS[ONE_LABEL], "test", b, analysis["primary"][beta_key(b)], True)
        for b in CANDIDATES
    ]
    rows += [
        row("secondary", label, "test", b, analysis["secondary"][key][beta_key(b)])
        for key, label, _ in SECONDARY
        for b in CANDIDATES
    ]
    rows += [
        row("secondary", f"{LABELS[ONE_LABEL]}, after epoch {e}", "validation", b, d)
        for b in CANDIDATES
        for e, d in analysis["growth"][beta_key(b)].items()
    ]
    return rows


def forest_rows(analysis: dict) -> list[dict]:
    """The test-set differences beta - 0 (the primary 1-label pair, then the secondary probes) as
    rows for plots.forest_figure: "_method" "beta = <beta>", "metric" "<probe> (points)", "_diff"
    and "reading" (study.reading: the words the unadjusted 95 % interval allows); rows without
    two shared seeds are left out."""
    rows = []
    for key, label, _ in (TEST_MEASURES[0], *SECONDARY):
        for b in CANDIDATES:
            diff = (analysis["primary"] if key == ONE_LABEL else analysis["secondary"][key])[beta_key(b)]
            if diff is not None:
                rows.append(
                    {
                        "_key": key,
                        "_method": f"beta = {beta_key(b)}",
                        "_diff": diff,
                        "metric": f"{label} (points)",
                        "reading": study.reading(diff, "accuracy"),
                    }
                )
    return rows


FAILED = {  # a condition of "supported" that does not hold, in words
    "gain": "β*'s 1-label gain does not survive Holm's correction",
    "grows": "β*'s validation gain does not grow from the first evaluation to the last",
    "no_full_label_gain": "a full-label gain comes with β*'s",
}


# What each reading means: written after 13 of the 18 runs, before the reading could be known.
MEANING = {
    "supported": (
        "So on CIFAR-10, as in the toy, the KL penalty raises the accuracy of a linear probe that sees "
        "one label per class, its gain grows with training, and no gain with every label is detected "
        "alongside it."
    ),
    "refuted at this scale": (
        "So the gain the toy predicts does not appear on CIFAR-10 at this scale: a 1-label gain of one "
        "point or more is excluded for both β; a smaller one is not."
    ),
    "inconclusive": (
        "So by its rule the study neither shows the gain the toy predicts nor excludes one of a point "
        "or more; more seeds would narrow the intervals."
    ),
}
SCOPE = (
    "The study is one small convnet trained for 30 epochs on a CPU, with two β and six seeds, not the "
    "paper's architecture, recipe or coefficients: it tests what notebook 4's toy predicts for "
    "CIFAR-10, not the paper's numbers."
)


def interval(d: dict) -> str:
    """A paired difference as the pages quote it: "+0.41 points [+0.15, +0.67]" (mean, 95 % interval)."""
    low, high = _fmt(d["low"], signed=True), _fmt(d["high"], signed=True)
    return f"{_fmt(d['mean'], signed=True)} points [{low}, {high}]"


def _why(analysis: dict) -> str:
    """The rule's reason for the reading, from its conditions."""
    if analysis["reading"] == "supported":
        return (
            "β*'s 1-label gain survives Holm's correction, grows from the first evaluation to the last, "
            "and no full-label gain comes with it"
        )
    if analysis["reading"] == "refuted at this scale":
        return "neither β's 1-label interval reaches +1 point"
    failed = [words for key, words in FAILED.items() if not analysis["conditions"][key]]
    return "; ".join(failed) + "; and an interval reaches +1 point or beyond, so it is not refuted either"


def findings(analysis: dict) -> list[str]:
    """What the study found, as sentences to quote (notebook 6 ends its section 9 with them;
    markdown; numbers as the tables print them): beta*, both primary differences with Holm's p,
    the detectable effect, beta*'s validation gain after the first and last epoch, its full-label
    difference, the reading with the rule's reason, what the reading means (MEANING) and the
    study's scope (SCOPE). One sentence while runs are missing."""
    if analysis["runs"] < analysis["expected_runs"]:
        return [f"The claim study is incomplete ({analysis['runs']} of {analysis['expected_runs']} runs)."]
    star, first = analysis["beta_star"], analysis["primary"]
    gains = "; ".join(
        f"β = {beta_key(b)}{' (β*)' if b == star else ''}: {interval(first[beta_key(b)])}, "
        f"Holm-adjusted p {_p(first[beta_key(b)]['p_holm'])}"
        for b in CANDIDATES
    )
    detect = " and ".join(
        f"{_fmt(first[beta_key(b)]['detectable'])} points for β = {beta_key(b)}" for b in CANDIDATES
    )
    grow = analysis["growth"][beta_key(star)]
    epochs = sorted(grow, key=int)
    full = analysis["secondary"][FULL_LINEAR][beta_key(star)]
    return [
        f"β* = {beta_key(star)}, chosen on the validation figures alone.",
        f"With one label per class, the test-set difference from β = 0 over {first[beta_key(star)]['n']} "
        f"seeds is {gains}.",
        f"The design detects, with 80 % power, a difference of about {detect}.",
        f"On validation, β*'s 1-label gain is {_fmt(grow[epochs[0]]['mean'], signed=True)} points after "
        f"epoch {epochs[0]} and {_fmt(grow[epochs[-1]]['mean'], signed=True)} after epoch {epochs[-1]}; "
        f"with every label, its linear-probe difference is {interval(full)}.",
        f"By the rule written before the runs, the toy's prediction is **{analysis['reading']}**: "
        f"{_why(analysis)}.",
        MEANING[analysis["reading"]],
        SCOPE,
    ]


def report(analysis: dict) -> str:
    """The analysis as markdown: the choice of beta*, the test figures, the differences, the reading."""
    choice = analysis["choice"]
    means = ", ".join(
        f"beta = {k}: {_fmt(v)} %" for k, v in choice["validation_means"].items() if v is not None
    )
    star = analysis["beta_star"]
    lines = [
        f"Claim study: {analysis['runs']} of {analysis['expected_runs']} runs"
        + (" (smoke runs: the code path, not figures)" if analysis["smoke"] else ""),
        "",
        f"beta* = {'none yet' if star is None else beta_key(star)} (validation 1-label linear, "
        f"mean over seeds: {means or 'no runs'})",
        "",
        results.markdown_table(summary_rows(analysis), empty="(no runs)"),
        "",
        results.markdown_table(report_rows(analysis), empty="(no differences)"),
        "",
        "Holm's correction covers the two primary rows only; the secondary rows are descriptive. "
        "The per-epoch rows are on the validation split.",
        "",
        f"Reading: {analysis['reading']} ({json.dumps(analysis['conditions'])})",
        "",
        " ".join(findings(analysis)),
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results-dir", default=str(CLAIM_RESULTS_DIR), help="default results/cpu-claim")
    parser.add_argument("--json", action="store_true", help="the analysis as JSON instead of tables")
    parser.add_argument(
        "--record-choice",
        action="store_true",
        help="write beta* to <results-dir>/analysis/beta-star.json (all 18 runs needed), print nothing else",
    )
    args = parser.parse_args(argv)
    if args.record_choice:
        try:
            print(f"beta* recorded in {record_choice(args.results_dir)}")
        except ValueError as err:
            parser.error(str(err))
        return 0
    analysis = analyse(load_claim_runs(args.results_dir), load_floor(args.results_dir))
    print(json.dumps(analysis, indent=1) if args.json else report(analysis))
    return 0


if __name__ == "__main__":
    sys.exit(main())
