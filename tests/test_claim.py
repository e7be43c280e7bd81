"""superinfo_lib.claim: the claim study's pre-registered analysis, on run records of known values."""

import json

import pytest
import torch

from superinfo_lib import claim, results
from superinfo_lib.eval import label_draw_probes
from superinfo_lib.study import p_value

BASE = [0.20, 0.22, 0.19, 0.21, 0.23, 0.18]  # beta = 0's 1-label accuracy per seed
# Seed-to-seed noise of a difference (sd ~ 0.0013, ~0.13 points): each beta reads it shifted.
NOISE = [0.001, -0.002, 0.0005, 0.0015, -0.001, 0.0]


def probe(value: float) -> dict:
    """One label-draw probe as eval.label_draw_probes writes it (here over two draws)."""
    return {"mean": value, "sd": 0.02, "per_draw": [value - 0.02 / 2**0.5, value + 0.02 / 2**0.5]}


def split(one: float, linear: float = 0.6, knn: float = 0.5, test: bool = False) -> dict:
    """One split's evaluation with the keys cpu_claim.evaluate writes (evaluate_model's)."""
    out = {
        "knn_top1": knn,
        "linear_top1": linear,
        "few_label": {},
        "linear_epochs": 100,
        "n_train": 45000,
        "n_test": 10000 if test else 5000,
        "few_label_draws": {},
        "label_probes": {
            "linear": {"1": probe(one), "5": probe(one + 0.1), "10": probe(one + 0.2)},
            "ncm": {"1": probe(one - 0.01)},
            "draws": 2,
        },
        "sigma_median": 0.35,
    }
    if test:
        out.update(knn_top1_mu=knn - 0.02, aug_probe_mean_r2=0.08, aug_probe_mu_mean_r2=0.07)
        out.update(aug_probe_z_mean_r2=0.0, aug_probe={"images": 5000})
    return out


def record(beta: float, seed: int, val: float, test: float, m10: float, m20: float, full: float) -> dict:
    """A run as cpu_claim.run_spec writes it (the keys the analysis reads, and their neighbours)."""
    return {
        "item": "claim",
        "label": f"claim-b{beta:g}-s{seed}",
        "beta": beta,
        "seed": seed,
        "method": "superinfo",
        "smoke": False,
        "beta_12": beta,
        "beta_21": beta,
        "beta_warmup_fraction": 0.0,
        "augment": "strong",
        "epochs": 30,
        "epochs_done": 30,
        "complete": True,
        "n_train": 45000,
        "n_validation": 5000,
        "n_test": 10000,
        "label_draws": 2,
        "labels_per_class": [1, 5, 10],
        "validation": split(val),
        "test": split(test, linear=full, test=True),
        "monitor": {"10": {**split(m10), "linear_top1": None}, "20": {**split(m20), "linear_top1": None}},
        "final_nce": 4.0,
        "per_epoch": [],
    }


def study(gains: dict[float, dict] | None = None, seeds=claim.SEEDS) -> dict[float, dict[int, dict]]:
    """{beta: {seed: record}}: gains[beta] = {"test", "val", "m10", "m20", "full"} over beta = 0
    (0 where not given), each beta's noise the seed noise shifted by one more seed."""
    gains = gains or {}
    runs = {}
    for k, beta in enumerate(claim.BETAS):
        g = {"test": 0.0, "val": 0.0, "m10": 0.0, "m20": 0.0, "full": 0.0, **gains.get(beta, {})}
        runs[beta] = {}
        for seed in seeds:
            noise = NOISE[(seed + k) % 6]
            base = BASE[seed]
            runs[beta][seed] = record(
                beta,
                seed,
                val=base + g["val"] + noise,
                test=base + g["test"] + noise,
                m10=base - 0.03 + g["m10"] + noise,
                m20=base - 0.01 + g["m20"] + noise,
                full=0.6 + g["full"] + noise,
            )
    return runs


# beta = 1e-3: +2 points on test with one label, a validation gain that grows 0.5 -> 1 -> 2.5 points.
GROWING = {"test": 0.02, "val": 0.025, "m10": 0.005, "m20": 0.01}
SMALL = {"test": 0.002, "val": 0.002, "m10": 0.002, "m20": 0.002}


def test_a_growing_one_label_gain_without_a_full_label_gain_is_supported():
    a = claim.analyse(study({3e-4: SMALL, 1e-3: GROWING}))
    assert a["runs"] == 18 and a["beta_star"] == 1e-3 and a["reading"] == "supported"
    gain = a["primary"]["0.001"]
    assert gain["mean"] == pytest.approx(0.02) and gain["n"] == 6 and gain["p_holm"] < 0.05
    assert a["conditions"] == {
        "gain": True,
        "grows": True,
        "no_full_label_gain": True,
        "both_below_one_point": False,
    }
    by_epoch = a["growth"]["0.001"]
    assert list(by_epoch) == ["10", "20", "30"]  # the monitors, then the final validation figure
    assert [by_epoch[e]["mean"] for e in by_epoch] == pytest.approx([0.005, 0.01, 0.025])
    # The secondary differences are the same pairs on other probes (5 labels: +10 points shifted alike).
    assert a["secondary"]["label_probes.linear.5.mean"]["0.001"]["mean"] == pytest.approx(0.02)
    assert a["secondary"]["linear_top1"]["0.001"]["mean"] == pytest.approx(0.0, abs=1e-12)
    json.dumps(a)  # JSON-ready


@pytest.mark.parametrize(
    "change",
    [
        {"m10": 0.03},  # the validation gain shrinks from epoch 10 to 30: no growth
        {"full": 0.02},  # the gain is there with every label too: not a few-label effect
    ],
)
def test_the_same_gain_without_growth_or_with_a_full_label_gain_is_not_supported(change):
    a = claim.analyse(study({3e-4: SMALL, 1e-3: {**GROWING, **change}}))
    assert a["conditions"]["gain"] is True
    assert a["conditions"]["grows"] is False or a["conditions"]["no_full_label_gain"] is False
    assert a["reading"] == "inconclusive"  # 1e-3's interval reaches above +1 point: not refuted


def test_gains_below_one_point_for_both_betas_refute_at_this_scale():
    a = claim.analyse(study({3e-4: SMALL, 1e-3: {**SMALL, "test": -0.003}}))
    assert all(a["primary"][b]["high"] < 0.01 for b in ("0.0003", "0.001"))
    assert a["reading"] == "refuted at this scale"
    # beta* (a validation tie: 3e-4) gains +0.2 points, not significantly; 1e-3 loses significantly.
    assert a["beta_star"] == 3e-4 and a["conditions"]["gain"] is False
    assert a["primary"]["0.001"]["high"] < 0 and a["primary"]["0.001"]["p_holm"] < 0.05


def test_one_beta_below_a_point_and_a_noisy_gain_is_inconclusive():
    runs = study({3e-4: SMALL, 1e-3: GROWING})
    for seed, r in runs[1e-3].items():  # 1e-3's test gain: +2 points on average, +-6 between seeds
        r["test"]["label_probes"]["linear"]["1"]["mean"] += (-0.06, 0.06)[seed % 2]
    a = claim.analyse(runs)
    d = a["primary"]["0.001"]
    assert d["low"] < 0 < 0.01 < d["high"] and a["primary"]["0.0003"]["high"] < 0.01
    assert a["conditions"]["gain"] is False and a["reading"] == "inconclusive"


def test_beta_star_comes_from_validation_even_where_test_favours_the_other():
    # Validation: 3e-4 is better (+1 point vs 0); test: 1e-3 is far better (+3 points vs 0).
    runs = study({3e-4: {"val": 0.01}, 1e-3: {"val": 0.0, "test": 0.03, "m20": 0.01}})
    choice = claim.choose_beta(runs)
    assert choice["beta_star"] == 3e-4
    assert choice["validation_means"]["0.0003"] - choice["validation_means"]["0.001"] == pytest.approx(
        0.01, abs=1e-3
    )
    a = claim.analyse(runs)
    assert a["beta_star"] == 3e-4
    # The reading follows beta* = 3e-4 (no test gain), not 1e-3's significant +3 points.
    assert a["primary"]["0.001"]["p_holm"] < 0.05 and a["conditions"]["gain"] is False
    assert a["reading"] == "inconclusive"


def test_a_validation_tie_goes_to_the_smaller_beta():
    runs = study()
    for beta in (3e-4, 1e-3):  # the same validation figures for both, seed by seed
        for seed, r in runs[beta].items():
            r["validation"]["label_probes"]["linear"]["1"]["mean"] = BASE[seed] + 0.01
    assert claim.choose_beta(runs)["beta_star"] == 3e-4
    for seed, r in runs[1e-3].items():  # a real difference (0.1 points) is no tie
        r["validation"]["label_probes"]["linear"]["1"]["mean"] = BASE[seed] + 0.011
    assert claim.choose_beta(runs)["beta_star"] == 1e-3


def test_holm_adjusts_the_two_primary_p_values_as_a_naive_step_down():
    runs = study({3e-4: {"test": 0.002}, 1e-3: {"test": 0.003}})
    a = claim.analyse(runs)
    p = {b: p_value(a["primary"][b]) for b in ("0.0003", "0.001")}
    assert [a["primary"][b]["p"] for b in p] == [p[b] for b in p]
    small, large = sorted(p, key=p.get)
    assert 0 < p[small] < p[large] < 1
    # Step-down by hand: the smaller times 2; the larger times 1, never below the first.
    assert a["primary"][small]["p_holm"] == pytest.approx(min(1, 2 * p[small]))
    assert a["primary"][large]["p_holm"] == pytest.approx(max(min(1, 2 * p[small]), p[large]))
    assert a["primary"][small]["detectable"] > 0


def test_incomplete_runs_read_incomplete_and_choose_beta_from_two_seeds_each():
    runs = study({3e-4: SMALL, 1e-3: GROWING})
    for seed in (2, 3, 4, 5):
        del runs[1e-3][seed]
    a = claim.analyse(runs)
    assert a["runs"] == 14 and a["reading"] == "incomplete: 14 of 18 runs"
    assert a["beta_star"] == 1e-3 and a["choice"]["validation_seeds"] == {"0": 6, "0.0003": 6, "0.001": 2}
    assert a["primary"]["0.001"]["n"] == 2 and a["seeds"]["0.001"] == [0, 1]
    del runs[0.0][1], runs[0.0][2], runs[0.0][3], runs[0.0][4], runs[0.0][5]  # beta = 0: one seed
    a = claim.analyse(runs)
    assert a["beta_star"] is None and a["reading"] == "incomplete: 9 of 18 runs"
    assert a["primary"] == {"0.0003": None, "0.001": None}
    assert claim.analyse({})["reading"] == "incomplete: 0 of 18 runs"


def test_the_fixture_has_label_draw_probes_keys():
    """The records above hold label_probes as eval.label_draw_probes writes them."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(40) % 10
    out = label_draw_probes(
        (torch.randn(40, 4, generator=g), y, torch.randn(20, 4, generator=g), y[:20]), 10, draws=2, epochs=2
    )
    fixture = split(0.2)["label_probes"]
    assert set(out) == set(fixture) and set(out["linear"]) == set(fixture["linear"])
    assert set(out["ncm"]) == set(fixture["ncm"]) and set(out["linear"]["1"]) == set(fixture["linear"]["1"])


def test_the_loader_reads_the_files_the_script_writes(tmp_path, capsys):
    runs = study({3e-4: SMALL, 1e-3: GROWING})
    for seeds in runs.values():
        for r in seeds.values():  # as cpu_claim.run_spec writes each run
            name = f"run-{r['label']}.json"
            results.write_result(
                "run", r, tmp_path, name, seed=r["seed"], command="python experiments/cpu_claim.py"
            )
    other = {**runs[0.0][0], "item": "main", "label": "main-simclr-s0", "beta": 0.5}
    results.write_result("run", other, tmp_path, "run-main-simclr-s0.json", seed=0)
    half = {**runs[1e-3][0], "label": "claim-b0.001-s9", "seed": 9, "complete": False}
    results.write_result("run", half, tmp_path, "run-claim-b0.001-s9.json", seed=9)
    loaded = claim.load_claim_runs(tmp_path)
    assert {b: sorted(s) for b, s in loaded.items()} == {b: list(claim.SEEDS) for b in claim.BETAS}
    assert loaded[1e-3][0]["label"] == "claim-b0.001-s0" and loaded[1e-3][0]["cpu"] is True
    assert claim.analyse(loaded)["reading"] == claim.analyse(runs)["reading"] == "supported"
    assert claim.load_claim_runs(tmp_path / "absent") == {}
    assert claim.main(["--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Reading: supported" in out and "beta* = 0.001" in out and "| primary |" in out
    assert claim.main(["--results-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["beta_star"] == 1e-3


def test_report_rows_put_the_primary_pair_first_with_holm_and_the_detectable_effect():
    rows = claim.report_rows(claim.analyse(study({3e-4: SMALL, 1e-3: GROWING})))
    assert [r["part"] for r in rows[:2]] == ["primary", "primary"] and rows[1]["beta - 0"] == "0.001 (beta*)"
    assert rows[1]["mean (points)"] == "+2.00" and rows[1]["Holm p"] != "–"
    assert all(r["Holm p"] == "–" for r in rows[2:])
    assert sum(r["split"] == "validation" for r in rows) == 6  # 2 betas x epochs 10, 20, 30
    table = results.markdown_table(claim.summary_rows(claim.analyse(study())))
    assert "| linear, 1 label/class % | – | 20.50 ± 1.81 (6) |" in table  # no floor evaluated: "–"


def floor_record(seed: int, one: float) -> dict:
    """The untrained floor's evaluation as cpu_claim.run_floor writes it."""
    return {
        "item": "floor",
        "label": f"claim-floor-s{seed}",
        "method": "random-init",
        "seed": seed,
        "smoke": False,
        "epochs": 0,
        "epochs_done": 0,
        "complete": True,
        "validation": split(one),
        "test": split(one, linear=0.45, knn=0.38, test=True),
        "monitor": {},
        "per_epoch": [],
    }


def test_the_floor_is_its_own_column_and_outside_the_rule(tmp_path):
    runs = study({3e-4: SMALL, 1e-3: GROWING})
    floor = {seed: floor_record(seed, one) for seed, one in enumerate([0.14, 0.15, 0.16])}
    for r in [*floor.values(), *(r for seeds in runs.values() for r in seeds.values())]:
        results.write_result("run", r, tmp_path, f"run-{r['label']}.json", seed=r["seed"], command="c")
    assert claim.load_floor(tmp_path).keys() == {0, 1, 2}
    assert claim.count(claim.load_claim_runs(tmp_path)) == 18  # the floor is not one of the runs
    with_floor = claim.analyse(claim.load_claim_runs(tmp_path), claim.load_floor(tmp_path))
    without = claim.analyse(claim.load_claim_runs(tmp_path))
    assert with_floor["reading"] == without["reading"] == "supported"
    assert with_floor["floor"][claim.ONE_LABEL]["mean"] == pytest.approx(0.15)
    assert with_floor["floor"][claim.ONE_LABEL]["draw_sd"] == pytest.approx(0.02)
    rows = {r["test set"]: r for r in claim.summary_rows(with_floor)}
    assert rows["linear, 1 label/class %"][claim.FLOOR] == "15.00 ± 1.00 (3)"
    assert rows["kNN, all labels %"][claim.FLOOR] == "38.00 ± 0.00 (3)"


def test_forest_rows_are_the_test_differences_each_read_by_its_interval():
    a = claim.analyse(study({3e-4: SMALL, 1e-3: GROWING}))
    rows = claim.forest_rows(a)
    assert len(rows) == 2 * (1 + len(claim.SECONDARY))
    assert [r["_method"] for r in rows[:2]] == ["beta = 0.0003", "beta = 0.001"]
    assert rows[1]["metric"] == "linear, 1 label/class (points)" and rows[1]["_diff"] is a["primary"]["0.001"]
    assert rows[1]["reading"] == "higher"  # +2 points over seed noise of ~0.13
    for r in rows:
        d = r["_diff"]
        assert r["reading"].startswith("not detected") == (d["low"] <= 0 <= d["high"])
    assert claim.forest_rows(claim.analyse(study(seeds=[0]))) == []  # one seed: no interval
    from superinfo_lib import plots

    fig = plots.forest_figure(rows, baseline="beta = 0")
    assert {trace.name for trace in fig.data} == {"beta = 0.0003 − beta = 0", "beta = 0.001 − beta = 0"}
    assert "method − beta = 0" in fig.layout.annotations[0].text
    # Betas are not methods: each its own series colour (a method keeps its own, as in the CPU study).
    assert [t.marker.color for t in fig.data] == list(plots.SERIES_COLORS[:2])
    as_methods = [{**r, "_method": "mib" if r["_method"].endswith("0.001") else "superinfo"} for r in rows]
    colors = {t.name: t.marker.color for t in plots.forest_figure(as_methods).data}
    assert colors == {
        "MIB − SimCLR": plots.method_color("mib"),
        "SuperInfo − SimCLR": plots.method_color("superinfo"),
    }


def test_the_gain_by_epoch_figure_draws_each_validation_difference_in_points():
    from superinfo_lib import plots

    growth = claim.analyse(study({3e-4: SMALL, 1e-3: GROWING}))["growth"]
    fig = plots.gain_by_epoch_figure(growth)
    traces = {t.name: t for t in fig.data if t.name and t.name.startswith("beta")}
    grows = traces["beta = 0.001 − beta = 0"]
    assert list(grows.x) == [10, 20, 30]
    assert list(grows.y) == pytest.approx([100 * growth["0.001"][e]["mean"] for e in ("10", "20", "30")])
    assert list(grows.y) == pytest.approx([0.5, 1.0, 2.5])  # GROWING's validation gains, in points
    d = growth["0.001"]["30"]
    assert grows.error_y.array[-1] == pytest.approx(100 * (d["high"] - d["mean"]))
    assert grows.error_y.arrayminus[-1] == pytest.approx(100 * (d["mean"] - d["low"]))
    one_seed = claim.analyse(study(seeds=[0]))["growth"]
    assert all(len(t.x) == 0 for t in plots.gain_by_epoch_figure(one_seed).data if t.name.startswith("beta"))


def test_beta_star_is_recorded_once_all_runs_are_in_and_only_once(tmp_path, capsys):
    runs = study({3e-4: SMALL, 1e-3: GROWING})
    for seeds in runs.values():
        for r in seeds.values():
            results.write_result("run", r, tmp_path, f"run-{r['label']}.json", seed=r["seed"], command="c")
    (tmp_path / "run-claim-b0-s5.json").rename(tmp_path / "held-back.txt")
    with pytest.raises(SystemExit):
        claim.main(["--results-dir", str(tmp_path), "--record-choice"])
    assert "17 of 18 claim runs" in capsys.readouterr().err
    (tmp_path / "held-back.txt").rename(tmp_path / "run-claim-b0-s5.json")
    assert claim.main(["--results-dir", str(tmp_path), "--record-choice"]) == 0
    path = tmp_path / "analysis" / "beta-star.json"
    recorded = json.loads(path.read_text())
    assert recorded["beta_star"] == 1e-3 and recorded["runs"] == 18 and recorded["commit"]
    assert recorded["validation_means"] == claim.choose_beta(runs)["validation_means"]
    assert claim.record_choice(tmp_path) == path  # the same choice again: kept as it is
    assert claim.count(claim.load_claim_runs(tmp_path)) == 18  # the record is not a run file
    path.write_text(json.dumps({**recorded, "beta_star": 3e-4}))
    with pytest.raises(ValueError, match="records beta\\* = 0.0003; the runs now give 0.001"):
        claim.record_choice(tmp_path)


@pytest.mark.parametrize(
    "gains, reading, why",
    [
        ({3e-4: SMALL, 1e-3: GROWING}, "supported", "survives Holm's correction, grows"),
        ({3e-4: SMALL, 1e-3: {**SMALL, "test": -0.003}}, "refuted at this scale", "neither β's 1-label"),
        ({3e-4: SMALL, 1e-3: {**GROWING, "m10": 0.03}}, "inconclusive", "does not grow"),
        ({3e-4: SMALL, 1e-3: {**GROWING, "full": 0.02}}, "inconclusive", "a full-label gain comes"),
    ],
)
def test_findings_quote_the_analysis_and_give_the_rules_reason(gains, reading, why):
    a = claim.analyse(study(gains))
    text = " ".join(claim.findings(a))
    assert f"the toy's prediction is **{reading}**: " in text and why in text
    assert claim.findings(a)[-2:] == [claim.MEANING[reading], claim.SCOPE]  # what the reading means
    star = claim.beta_key(a["beta_star"])
    assert f"β* = {star}, chosen on the validation figures alone" in text
    for b in ("0.0003", "0.001"):
        d = a["primary"][b]
        shown = f"{100 * d['mean']:+.2f} points [{100 * d['low']:+.2f}, {100 * d['high']:+.2f}]"
        assert f"β = {b}{' (β*)' if b == star else ''}: {shown}, Holm-adjusted p" in text
        assert f"{100 * d['detectable']:.2f} points for β = {b}" in text
    grow = a["growth"][star]
    assert (
        f"gain is {100 * grow['10']['mean']:+.2f} points after epoch 10 and {100 * grow['30']['mean']:+.2f}"
        in text
    )
    assert claim.findings(claim.analyse(study(seeds=[0, 1]))) == [
        "The claim study is incomplete (6 of 18 runs)."
    ]
