"""docs/results.md and the README say what the stored CPU study measured.

Every table of the CPU study in docs/results.md is recomputed here from results/cpu/ (the main
runs, the untrained floor, the sweep, the precision pair), and every number its sentences and the
README's headline quote is derived from the same files: a result file that changes, or a sentence
that drifts from it, fails here. The claim study's section is its analysis (superinfo_lib.claim)
of results/cpu-claim/, quoted; until its 18 runs are in, the pages say it is under way.
"""

import json
import statistics
from pathlib import Path

import pytest

from superinfo_lib import claim, study
from superinfo_lib.results import load_results, results_table

ROOT = Path(__file__).resolve().parent.parent
CPU = ROOT / "results" / "cpu"
RESULTS_PAGE = ROOT / "docs" / "results.md"
README = ROOT / "README.md"
CLAIM_README = ROOT / "results" / "cpu-claim" / "README.md"
FLOOR = "floor (untrained)"
SHOWN = study.METRICS[:11]  # the probes the page shows (not the final losses)
# The probes a SuperInfo gain would show on: kNN, linear, few-label, kNN under corruption.
ACCURACY_PROBES = (
    "knn_top1",
    "linear_top1",
    "few_label.10",
    "few_label.100",
    "robustness.mean_corruption.knn",
)


CPU_STUDY, CLAIM_STUDY = "Results on a CPU: the CPU study", "The claim study"


def plain(text: str) -> str:
    """One line per paragraph, ASCII minus signs: sentences wrap anywhere in the markdown."""
    return " ".join(text.replace("−", "-").split())


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every markdown table in text, as rows of {column title: cell}."""
    found, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| ---") and i > 0 and lines[i - 1].startswith("|"):
            titles = [c.strip() for c in lines[i - 1].strip().strip("|").split("|")]
            rows = []
            for body in lines[i + 1 :]:
                if not body.startswith("|"):
                    break
                rows.append(dict(zip(titles, (c.strip() for c in body.strip().strip("|").split("|")))))
            found.append(rows)
    return found


def table_with(text: str, title: str) -> list[dict[str, str]]:
    (table,) = [t for t in tables(text) if t and title in t[0]]
    return table


def page_section(heading: str) -> str:
    """The results page's section whose "## " heading starts with heading, up to the next one."""
    (section,) = [s for s in RESULTS_PAGE.read_text().split("\n## ") if s.startswith(heading)]
    return section


@pytest.fixture(scope="module")
def runs():
    stored = [r for r in load_results(CPU, kind="run") if r.get("item") in ("main", "floor")]
    assert {r["method"] for r in stored} == {"simclr", "mib", "superinfo", "random-init"}
    return stored


@pytest.fixture(scope="module")
def main_runs(runs):
    return [r for r in runs if r["item"] == "main"]


@pytest.fixture(scope="module")
def differences(main_runs):
    return {
        (d["_method"], d["_key"]): d for d in study.difference_rows(main_runs, metrics=SHOWN, detailed=True)
    }


def means(runs, key):
    return {method: statistics.fmean(v.values()) for method, v in study.by_method(runs, key).items()}


def test_the_summary_table_is_the_stored_runs_with_the_untrained_floor(runs):
    expected = study.summary_rows(runs, methods=("random-init", "simclr", "mib", "superinfo"), metrics=SHOWN)
    expected = [{(FLOOR if k == "random-init" else k): v for k, v in row.items()} for row in expected]
    assert table_with(page_section(CPU_STUDY), FLOOR) == expected
    assert all(row[FLOOR] != "–" and row[FLOOR].endswith("(3)") for row in expected)  # every probe


def test_the_difference_table_is_the_stored_paired_differences(main_runs):
    shown = table_with(page_section(CPU_STUDY), "detectable (80 % power)")
    expected = study.difference_rows(main_runs, metrics=SHOWN, detailed=True)
    assert shown == [{k: v for k, v in d.items() if not k.startswith("_")} for d in expected]
    for d in expected:  # the words follow the interval
        holds_0 = d["_diff"]["low"] <= 0 <= d["_diff"]["high"]
        assert d["reading"].startswith("not detected") == holds_0, d["metric"]


def test_what_the_cpu_study_shows_is_what_it_measured(runs, main_runs, differences):
    text = plain(RESULTS_PAGE.read_text())
    knn = means(runs, "knn_top1")
    # SimCLR's kNN and the untrained floor.
    assert (
        f"SimCLR reaches {100 * knn['simclr']:.1f} % kNN top-1 after 10 epochs" in text
        and f"{100 * (knn['simclr'] - knn['random-init']):.1f} points above the untrained floor "
        f"({100 * knn['random-init']:.1f} %)"
        in text
    )
    # The KL term and z, per method: MIB's nearly empty, SuperInfo's at a fraction of SimCLR's.
    z = means(runs, "aug_probe_z_mean_r2")
    assert z["mib"] < 0.005 and z["random-init"] < 0.0005 < z["superinfo"]
    assert f"(probe R² {z['mib']:.3f}, the untrained floor's {z['random-init']:.3f})" in text
    share = round(100 * z["superinfo"] / z["simclr"])
    assert f"{z['superinfo']:.3f}, {share} % of SimCLR's {z['simclr']:.3f}" in text
    assert differences[("superinfo", "aug_probe_z_mean_r2")]["reading"] == "lower"
    mu = means(runs, "aug_probe_mu_mean_r2")
    assert f"MIB's R² falls from SimCLR's {mu['simclr']:.3f} to {mu['mib']:.3f}" in text
    assert differences[("mib", "aug_probe_mu_mean_r2")]["reading"] == "lower"
    assert f"SuperInfo's mu ({mu['superinfo']:.3f}) no difference is detected" in text
    assert differences[("superinfo", "aug_probe_mu_mean_r2")]["reading"].startswith("not detected")
    h = means(runs, "aug_probe_mean_r2")
    assert (
        f"(R² {h['mib']:.3f} for MIB, {h['superinfo']:.3f} for SuperInfo, against {h['simclr']:.3f}), "
        f"though the untrained convnet's h already reads {h['random-init']:.3f}" in text
    )
    # MIB: its cost, and its beta and warm-up confounded (what the run files say it trained with).
    cost = [-100 * differences[("mib", k)]["_diff"]["mean"] for k in ("knn_top1", "linear_top1")]
    assert f"MIB costs {cost[0]:.1f} points of kNN and {cost[1]:.1f} of linear accuracy" in text
    by = {m: [r for r in main_runs if r["method"] == m] for m in ("mib", "superinfo")}
    assert {(r["beta_12"], r["beta_21"], r["beta_warmup_fraction"]) for r in by["mib"]} == {(1e-2, 1e-2, 0.5)}
    assert {(r["beta_12"], r["beta_warmup_fraction"]) for r in by["superinfo"]} == {(1e-4, 0.0)}
    assert "its β (1e-2 per direction, 100 times SuperInfo's) and its warm-up" in text
    assert "the study does not separate the two, so the cost cannot be put on β alone" in text
    sweep = {
        (r["beta_12"], r["beta_21"]): r for r in json.loads((CPU / "sweep-cpu.json").read_text())["rows"]
    }
    lost = 100 * (sweep[(0.0, 0.0)]["knn_top1"] - sweep[(1e-2, 1e-2)]["knn_top1"])
    assert f"β = 1e-2 with no warm-up lost {lost:.1f} kNN points to β = 0: one seed" in text
    # SuperInfo: not detected on every accuracy probe; what the intervals leave open; what 3 seeds detect.
    diffs = [differences[("superinfo", k)] for k in ACCURACY_PROBES]
    assert all(d["reading"].startswith("not detected") for d in diffs)
    highs = [f"{100 * d['_diff']['high']:+.2f}" for d in diffs]
    names = ("(kNN)", "(linear)", "(10 labels/class)", "(100 labels/class)", "points (kNN under corruption)")
    said = [f"{v} {n}" for v, n in zip(highs, names)]
    assert f"leave gains up to {', '.join(said[:4])} and {said[4]} not excluded" in text
    detectable = [100 * study.detectable_effect(d["_diff"]) for d in diffs]
    span = f"{min(detectable):.1f} to {max(detectable):.1f} points"
    assert f"Three seeds detect, with 80 % power, only differences of about {span}" in text
    widest = max(diffs, key=lambda d: d["_diff"]["high"])
    assert widest["_key"] == "linear_top1"
    top = f"{100 * widest['_diff']['high']:.1f}"
    assert (
        f"not detected at this scale; gains up to about {top} points (linear probe) are not excluded" in text
    )
    mu_knn = differences[("superinfo", "knn_top1_mu")]
    assert (
        mu_knn["reading"] == "lower"
        and f"Only kNN on mu is lower ({-100 * mu_knn['_diff']['mean']:.1f} points)" in text
    )
    # The README's headline: the same numbers.
    readme = plain(README.read_text())
    assert (
        f"SimCLR reaches {100 * knn['simclr']:.1f} % kNN top-1, against {100 * knn['random-init']:.1f} %"
        in readme
    )
    ten = f"{100 * differences[('superinfo', 'few_label.10')]['_diff']['high']:.1f}"
    assert (
        f"gains up to about {top} points (linear probe; {ten} with 10 labels per class) are not excluded"
        in readme
    )
    assert f"only differences of about {span.replace(' to ', '–')}" in readme
    for where in (text, readme):
        assert "not reproduced at this scale" not in where and "no measurable difference" not in where


def test_the_sweep_table_and_its_floor_row(runs):
    stored = json.loads((CPU / "sweep-cpu.json").read_text())
    assert stored["evaluated_on"] == "validation" and stored["complete"]
    shown = table_with(RESULTS_PAGE.read_text(), "β12 / β21")
    rows = {(r["beta_12"], r["beta_21"]): r for r in stored["rows"]}
    assert len(shown) == len(rows) + 1
    for line in shown[:-1]:
        r = rows[tuple(float(b) for b in line["β12 / β21"].split(" / "))]
        assert (
            line["kNN %"] == f"{100 * r['knn_top1']:.2f}"
            and line["linear %"] == f"{100 * r['linear_top1']:.2f}"
        )
        assert line["10 labels/class %"] == f"{100 * r['few_label']['10']:.2f}"
        for title, key in (("aug R² h", "aug_probe_mean_r2"), ("aug R² mu", "aug_probe_mu_mean_r2")):
            assert line[title] == f"{r[key]:.3f}"
        assert float(line["aug R² z"]) == pytest.approx(r["aug_probe_z_mean_r2"], abs=5e-4)
        assert (
            line["median σ"] == f"{r['sigma_median']:.3g}"
            and line["final KL(q1‖q2)"] == f"{r['final_kl_12']:.3g}"
        )
    floor = shown[-1]
    assert floor["β12 / β21"] == "floor (untrained; test images)" and floor["final KL(q1‖q2)"] == "–"
    floor_runs = [r for r in runs if r["item"] == "floor"]
    assert {r["evaluated_on"] for r in floor_runs} == {"test"} and len(floor_runs) == 3
    m = {key: statistics.fmean(study.metric(r, key) for r in floor_runs) for key, _, _ in SHOWN}
    assert (
        floor["kNN %"] == f"{100 * m['knn_top1']:.2f}"
        and floor["linear %"] == f"{100 * m['linear_top1']:.2f}"
    )
    assert floor["10 labels/class %"] == f"{100 * m['few_label.10']:.2f}"
    assert (
        floor["aug R² h"] == f"{m['aug_probe_mean_r2']:.3f}"
        and floor["aug R² mu"] == f"{m['aug_probe_mu_mean_r2']:.3f}"
    )
    assert (
        floor["aug R² z"] == f"{m['aug_probe_z_mean_r2']:.3f}"
        and floor["median σ"] == f"{m['sigma_median']:.3g}"
    )
    # The asymmetric pair against the symmetric one with the same sum: one seed each, and how far apart.
    asym, sym = rows[(2e-2, 0.0)], rows[(1e-2, 1e-2)]
    knn_gap = 100 * abs(asym["knn_top1"] - sym["knn_top1"])
    linear_gap = 100 * abs(asym["linear_top1"] - sym["linear_top1"])
    assert (asym["knn_top1"] - sym["knn_top1"]) * (
        asym["linear_top1"] - sym["linear_top1"]
    ) < 0  # "the other way round"
    text = plain(RESULTS_PAGE.read_text())
    assert (
        f"with one seed each, they are {knn_gap:.2f} points apart in kNN "
        f"({100 * asym['knn_top1']:.2f} against {100 * sym['knn_top1']:.2f} %) "
        f"and {linear_gap:.2f} in linear accuracy, the other way round" in text
    )
    assert {r["seed"] for r in load_results(CPU, kind="run") if r.get("item") == "sweep"} == {0}


def test_the_time_and_memory_table_is_each_main_runs_cost(main_runs):
    """Each main run's accuracy beside its training time and peak memory, as `results_table` gives
    them; the scale sentence quotes the benchmark's compute limit and the claim runs' memory."""
    order = {"simclr": 0, "mib": 1, "superinfo": 2}
    ordered = sorted(main_runs, key=lambda r: (order[r["method"]], r["seed"]))
    shown = table_with(RESULTS_PAGE.read_text(), "peak RSS MB")
    expected = results_table(ordered, "run", include_cpu=True)
    assert shown == [{title: row[title] for title in shown[0]} for row in expected]
    assert all(row["train s"] != "–" for row in shown)
    text = plain(RESULTS_PAGE.read_text())
    (bench,) = [
        r for r in load_results(CPU, kind="benchmark") if r.get("timestamp", "").startswith("2026-11-30")
    ]
    limit = {row["name"]: row for row in bench["rows"]}["compute_limit"]["epoch_s"]
    assert f"the compute limit measured on this CPU with both cores is {limit:.1f} s per epoch" in text
    claim_rss = [
        r["peak_rss_mb"] for r in load_results(CPU.parent / "cpu-claim", kind="run") if r["item"] == "claim"
    ]
    assert claim_rss and max(claim_rss) < 2 * 1024
    assert "under 2 GB each" in text


def test_the_bf16_sentence_says_what_was_compared(main_runs):
    precision = {r["precision"]: r for r in load_results(CPU, kind="run") if r.get("item") == "precision"}
    assert set(precision) == {"bf16", "fp32"}  # one run each
    bf16, fp32 = precision["bf16"], precision["fp32"]
    assert {r["seed"] for r in precision.values()} == {0} and {
        r["epochs_done"] for r in precision.values()
    } == {4}
    assert {r["evaluated_on"] for r in precision.values()} == {"validation"}
    monitor = fp32["per_epoch"][-1]["knn_top1"]
    assert monitor != fp32["knn_top1"]  # the fp32 run's own monitor (fp32 features) is not its evaluation
    gap = 100 * (bf16["knn_top1"] - fp32["knn_top1"])
    sd = statistics.stdev(r["knn_top1"] for r in main_runs if r["method"] == "simclr")
    text = plain(RESULTS_PAGE.read_text())
    assert (
        f"{100 * bf16['knn_top1']:.2f} % kNN for the bf16-trained run, "
        f"{100 * fp32['knn_top1']:.2f} % for the fp32-trained one, a gap of {gap:+.2f} points "
        f"(bf16 - fp32: fp32 higher), against SimCLR's seed-to-seed sd of {100 * sd:.2f} points" in text
    )
    assert gap < 0 and f"fourth epoch, with features in fp32, read {100 * monitor:.2f} %" in text
    assert "Both runs' final evaluations extracted their features in bf16" in text
    assert bf16["precision"] == "bf16" and all(r["precision"] == "bf16" for r in main_runs)


def test_the_toy_conditions_text_is_what_the_stored_runs_measured():
    """Notebook 4 and docs/results.md on results/toy/conditions.json: the longer-training intervals,
    the gap between beta = 1e-3 and beta = 0, noise alone, and what survives Holm's correction."""
    import nbformat

    from superinfo_lib.toy import compare_conditions

    stored = json.loads((ROOT / "results" / "toy" / "conditions.json").read_text())
    compared = compare_conditions(stored["rows"])
    one = "few_label_acc_1"

    def interval(d):
        return f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"

    def gain(condition, steps, beta=1e-3):
        match = (one, condition, steps, beta)
        return next(
            g
            for g in compared["gain_over_beta_0"]
            if (g["key"], g["condition"], g["steps"], g["beta"]) == match
        )

    def longer(beta, condition="default"):
        match = (one, condition, beta, 1000, 3000)
        return next(
            d
            for d in compared["longer_training"]
            if (d["key"], d["condition"], d["beta"], d["from"], d["to"]) == match
        )

    # The growth of the gap: (1e-3 - 0 at 3,000 steps) - (1e-3 - 0 at 1,000 steps), seed by seed.
    def by_seed(steps, beta):
        return {
            r["seed"]: r[one]
            for r in stored["rows"]
            if (r["condition"], r["steps"], r["beta_12"]) == ("default", steps, beta)
        }

    gaps = [{s: by_seed(n, 1e-3)[s] - by_seed(n, 0.0)[s] for s in range(8)} for n in (1000, 3000)]
    growth = study.paired_difference(*gaps)
    assert growth["low"] <= 0 <= growth["high"]  # "is not detected"
    notebook = nbformat.read(ROOT / "notebooks" / "04_superinfo_objective.ipynb", as_version=4)
    nb_text = plain("\n".join(c.source for c in notebook.cells if c.cell_type == "markdown"))
    docs_text = plain(RESULTS_PAGE.read_text())
    # Holm's correction over every interval the stored runs give, as notebook 4 computes it.
    family = compared["gain_over_beta_0"] + compared["longer_training"]
    adjusted = dict(zip(map(id, family), study.holm([study.p_value(d) for d in family])))
    survive = sum(a <= 0.05 for a in adjusted.values())
    holm_said = f"Under Holm's correction for all {len(family)} (family-wise error 5 %), {survive} survive"
    both = [
        interval(longer(1e-3)),
        interval(gain("no_nuisance", 3000)),
        f"adjusted p {adjusted[id(gain('default', 1000))]:.3f}",
        f"{adjusted[id(gain('default', 1000, beta=1e-2))]:.3f}",
        f"({adjusted[id(longer(0.0))]:.3f})",
        holm_said,
    ]
    for where in (nb_text, docs_text):
        for said in both:
            assert said in where, said
    assert longer(1e-3)["high"] < 0 and longer(0.0)["mean"] < longer(1e-3)["mean"]
    said = f"grows is its gap to beta = 0 ({gain('default', 1000)['mean']:+.3f} after 1,000 steps, "
    assert said + f"{gain('default', 3000)['mean']:+.3f} after 3,000)" in docs_text
    for said in (
        f"β = 0's 1-label accuracy falls from 1,000 to 3,000 steps ({interval(longer(0.0))})",
        f"{interval(gain('default', 1000))} at 1,000 and {interval(gain('default', 3000))} at 3,000 steps",
        f"(the growth of the gap itself, {interval(growth)}, is not detected)",
        "8 of these 12 intervals end below the",
        holm_said + ", listed above",
    ):
        assert said in nb_text, said
    for where in (nb_text, docs_text):
        assert "gain needs both" not in where.replace("not evidence that the gain needs both", "")
        assert "does as well" not in where and "no measurable" not in where


def test_the_claim_study_is_quoted_from_its_analysis_or_said_to_be_under_way():
    """Until the 18 claim runs are in, every page calls the study under way and quotes none of its
    figures. Once they are in: the results page's claim section has the test figures and the paired
    differences as claim.summary_rows / report_rows give them and claim.findings's sentences
    word for word, and the README's headline gives the reading and beta*'s primary interval."""
    analysis = claim.analyse(claim.load_claim_runs(), claim.load_floor())
    page, readme, claim_readme = (plain(p.read_text()) for p in (RESULTS_PAGE, README, CLAIM_README))
    if analysis["runs"] < analysis["expected_runs"]:
        assert "under way" in page and "under way" in readme and "(in progress)" in claim_readme
        assert "## " + CLAIM_STUDY not in RESULTS_PAGE.read_text() and "β* =" not in page + readme
        return
    section = page_section(CLAIM_STUDY)
    assert table_with(section, FLOOR) == claim.summary_rows(analysis)
    shown = table_with(section, "Holm p")
    assert shown == [
        {k: v for k, v in row.items() if not k.startswith("_")} for row in claim.report_rows(analysis)
    ]
    for sentence in claim.findings(analysis):
        assert plain(sentence) in plain(section), sentence
    star = analysis["primary"][claim.beta_key(analysis["beta_star"])]
    assert f"**{analysis['reading']}**" in readme and plain(claim.interval(star)) in readme
    assert "in progress" not in claim_readme and "under way" not in plain(section)
    # Each run's time: its 30 epochs at its median epoch time, plus its evaluations.
    minutes = [
        (r["epochs"] * statistics.median(e["epoch_time_s"] for e in r["per_epoch"]) + r["eval_s"]) / 60
        for r in load_results(CLAIM_README.parent, kind="run")
        if r["item"] == "claim"
    ]
    assert 45 <= round(min(minutes)) and round(max(minutes)) <= 60
    assert "18 runs of 45 to 60 minutes each on one core" in plain(section)
