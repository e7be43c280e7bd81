"""superinfo_lib.study: mean ± sd over seeds, paired differences and what their interval allows."""

import math
import random

import pytest

from superinfo_lib.results import markdown_table
from superinfo_lib.study import (
    T_975,
    by_method,
    detectable_effect,
    difference_rows,
    mean_sd,
    metric,
    paired_difference,
    reading,
    summary_rows,
    verdict,
)


def test_t_quantiles_match_the_tables():
    # Known values of Student's t(0.975, df); df -> infinity tends to the normal's 1.96.
    assert T_975[2] == pytest.approx(4.303, abs=1e-3)
    assert T_975[10] == pytest.approx(2.228, abs=1e-3)
    assert all(T_975[d] > T_975[d + 1] > 1.96 for d in range(1, 10))


def test_paired_difference_against_a_naive_computation():
    a = {0: 0.50, 1: 0.52, 2: 0.49}
    b = {0: 0.53, 1: 0.545, 2: 0.51, 3: 0.9}  # seed 3 has no partner: left out
    d = paired_difference(a, b)
    diffs = [0.03, 0.025, 0.02]
    m = sum(diffs) / 3
    sd = math.sqrt(sum((x - m) ** 2 for x in diffs) / 2)
    assert d["seeds"] == [0, 1, 2] and d["n"] == 3
    assert d["mean"] == pytest.approx(m) and d["sd"] == pytest.approx(sd)
    assert d["high"] - d["mean"] == pytest.approx(4.303 * sd / math.sqrt(3))
    assert d["low"] > 0 and verdict(d) == "higher"


def test_the_words_follow_the_interval():
    noisy = paired_difference({0: 0.5, 1: 0.5, 2: 0.5}, {0: 0.52, 1: 0.47, 2: 0.51})
    assert noisy["low"] < 0 < noisy["high"]
    assert verdict(noisy) == "no measurable difference at this scale"
    worse = paired_difference({0: 0.5, 1: 0.6}, {0: 0.4, 1: 0.5})
    assert verdict(worse) == "lower"  # the same drop on both seeds: sd 0, a point interval
    assert paired_difference({0: 0.5}, {0: 0.6}) is None
    assert verdict(None).startswith("no interval")


def test_interval_covers_the_true_difference_about_95_percent_of_the_time():
    rng = random.Random(0)
    covered = 0
    for _ in range(2000):
        a = {s: rng.gauss(0.5, 0.02) for s in range(3)}
        b = {s: a[s] + 0.01 + rng.gauss(0, 0.01) for s in range(3)}
        d = paired_difference(a, b)
        covered += d["low"] <= 0.01 <= d["high"]
    assert 0.93 < covered / 2000 < 0.97


def run(method, seed, knn, complete=True, **extra):
    return {"method": method, "seed": seed, "knn_top1": knn, "complete": complete, **extra}


def test_tables_of_a_study():
    runs = [
        run("simclr", 0, 0.50, robustness={"mean_corruption": {"knn": 0.40}}),
        run("simclr", 1, 0.52),
        run("superinfo", 0, 0.51),
        run("superinfo", 1, 0.55),
        run("superinfo", 2, 0.99, complete=False),  # an unfinished run counts nowhere
    ]
    assert metric(runs[0], "robustness.mean_corruption.knn") == 0.40
    assert metric(runs[1], "robustness.mean_corruption.knn") is None
    assert by_method(runs, "knn_top1") == {"simclr": {0: 0.50, 1: 0.52}, "superinfo": {0: 0.51, 1: 0.55}}
    summary = {r["metric"]: r for r in summary_rows(runs)}
    assert summary["kNN top-1 (h) %"]["simclr"] == "51.00 ± 1.41 (2)"
    assert summary["kNN top-1 (h) %"]["mib"] == "–"
    diffs = difference_rows(runs)
    assert [(d["_key"], d["_method"]) for d in diffs] == [("knn_top1", "superinfo")]
    assert diffs[0]["mean"] == "+2.00" and diffs[0]["seeds"] == "2"
    table = markdown_table(diffs)
    assert "_diff" not in table and "superinfo − simclr" in table
    assert diffs[0]["reading"] == verdict(diffs[0]["_diff"]) and "detectable (80 % power)" not in diffs[0]
    (detailed,) = difference_rows(runs, detailed=True)
    assert detailed["reading"] == reading(detailed["_diff"], "accuracy")
    assert detailed["detectable (80 % power)"] == f"{100 * detectable_effect(detailed['_diff']):.2f}"


def test_mean_sd_of_one_value_has_no_sd():
    assert mean_sd([0.3]) == (0.3, None)
    with pytest.raises(ValueError, match="empty"):
        mean_sd([])


def test_detectable_effect_is_the_difference_a_paired_t_test_finds_four_times_in_five():
    """Simulate: a true difference of `detectable_effect` (noise sd 1, 3 seeds) is found (interval
    above 0) in about 80 % of experiments; half of it far less often."""
    rng = random.Random(0)
    effect = detectable_effect({"n": 3, "sd": 1.0})
    assert effect == pytest.approx((4.303 + 1.061) / 3**0.5)

    def power(true_diff, trials=4000):
        found = 0
        for _ in range(trials):
            a = {s: 0.0 for s in range(3)}
            b = {s: true_diff + rng.gauss(0, 1) for s in range(3)}
            found += paired_difference(a, b)["low"] > 0
        return found / trials

    assert 0.72 < power(effect) < 0.88
    assert power(effect / 2) < 0.45


def test_reading_says_not_detected_and_what_the_interval_leaves_open():
    noisy = paired_difference({0: 0.5, 1: 0.5, 2: 0.5}, {0: 0.52, 1: 0.47, 2: 0.51})
    assert reading(noisy, "accuracy") == f"not detected; gains up to {100 * noisy['high']:+.2f} not excluded"
    assert reading(noisy) == f"not detected; {noisy['low']:+.3f} to {noisy['high']:+.3f} not excluded"
    worse = paired_difference({0: 0.5, 1: 0.6}, {0: 0.4, 1: 0.5})
    assert reading(worse) == verdict(worse) == "lower"
    assert reading(None) == verdict(None)


def test_t_p_values_against_known_values_and_the_interval():
    """Two-sided p of Student's t: the 97.5 % quantiles give 0.05, t = 0 gives 1, known values of
    df = 1 (Cauchy) and df = 2 in closed form; scipy where it is installed."""
    from superinfo_lib.study import p_value, t_two_sided_p

    for df, t in T_975.items():
        assert t_two_sided_p(t, df) == pytest.approx(0.05, abs=2e-4), df
    assert t_two_sided_p(0.0, 5) == 1.0 and t_two_sided_p(float("inf"), 3) == 0.0
    for t in (0.3, 1.0, 4.0):
        assert t_two_sided_p(t, 1) == pytest.approx(1 - 2 * math.atan(t) / math.pi)
        assert t_two_sided_p(-t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t))
    with pytest.raises(ValueError):
        t_two_sided_p(1.0, 0)
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in range(1, 31):
        for t in (0.1, 0.9, 2.0, 3.5, 8.0):
            assert t_two_sided_p(t, df) == pytest.approx(2 * scipy_stats.t.sf(t, df), rel=1e-9, abs=1e-15)
    # The interval and the test agree: 0 outside the 95 % interval exactly where p < 0.05.
    rng = random.Random(1)
    for _ in range(300):
        a = {s: rng.gauss(0, 1) for s in range(4)}
        b = {s: a[s] + rng.gauss(0.6, 0.5) for s in range(4)}
        d = paired_difference(a, b)
        if abs(abs(d["mean"]) - (d["high"] - d["mean"])) > 1e-3:  # not on the edge
            assert (p_value(d) < 0.05) == (not d["low"] <= 0 <= d["high"])
    assert (
        p_value({"mean": 0.0, "sd": 0.0, "n": 3}) == 1.0 and p_value({"mean": 0.1, "sd": 0.0, "n": 3}) == 0.0
    )


def test_holm_against_a_naive_step_down_and_known_values():
    from superinfo_lib.study import holm

    # Known: sorted 0.005 x 4, 0.01 x 3, 0.03 x 2 and 0.04 x 1 held up to the running maximum.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([]) == [] and holm([0.2]) == [0.2] and holm([0.6, 0.7]) == [1.0, 1.0]

    def naive_rejections(ps, alpha):  # the textbook procedure: stop at the first p above alpha / (m - i)
        rejected = set()
        for i, k in enumerate(sorted(range(len(ps)), key=lambda j: ps[j])):
            if ps[k] > alpha / (len(ps) - i):
                break
            rejected.add(k)
        return rejected

    rng = random.Random(2)
    for _ in range(500):
        ps = [rng.random() ** rng.choice((1, 3, 8)) for _ in range(rng.randint(1, 12))]
        adjusted = holm(ps)
        assert all(p <= a <= 1 for p, a in zip(ps, adjusted))
        for alpha in (0.01, 0.05, 0.1):
            assert {i for i, a in enumerate(adjusted) if a <= alpha} == naive_rejections(ps, alpha)
