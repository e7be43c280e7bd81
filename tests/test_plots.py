"""superinfo_lib.plots: the figure helpers of the toy sweep and the bounds (appended functions)."""
import pytest

from superinfo_lib import plots
from superinfo_lib.toy import CHANCE


def test_beta_label_is_readable_without_si_prefixes():
    assert [plots.beta_label(b) for b in (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.3, 1.0, -0.1, -1e-3)] == \
        ["0", "1e-4", "3e-4", "1e-3", "3e-3", "0.01", "0.3", "1", "-0.1", "-1e-3"]


def rows_for(pairs, seeds=(0, 1, 2)):
    return [{"beta_12": a, "beta_21": b, "seed": s, **{k: 0.5 + 0.1 * s for k in CHANCE},
             "final_mi_lower_bound": 2.0 + s, "final_kl_12": 10.0 ** (s + 1), "sigma_median": 0.1}
            for a, b in pairs for s in seeds]


def test_seed_summary_gives_mean_and_sample_sd():
    rows = rows_for([(0.0, 0.0)])
    means, stds = plots.seed_summary(rows, "nuisance", [(0.0, 0.0)])
    assert means == [pytest.approx(0.6)] and stds == [pytest.approx(0.1)]
    with pytest.raises(ValueError, match="no rows"):
        plots.seed_summary(rows, "nuisance", [(1.0, 1.0)])


def axes_titled(fig):
    layout = fig.layout.to_plotly_json()
    axes = [k for k in layout if k.startswith(("xaxis", "yaxis"))]
    return axes and all(layout[a].get("title", {}).get("text") for a in axes)


def test_toy_figures_title_every_axis_draw_error_bars_and_fit_the_page():
    betas = [0.0, 1e-3, 0.1]
    rows = rows_for([(b, b) for b in betas] + [(2e-3, 0.0)])
    figures = [plots.toy_sweep_figure(rows, betas, CHANCE, 5), plots.toy_bounds_figure(rows, betas, 256),
               plots.toy_settings_figure(rows, [(1e-3, 1e-3), (2e-3, 0.0)], CHANCE, "t"),
               plots.sigma_kl_figure(rows, betas)]
    for fig in figures:
        assert axes_titled(fig)
        assert fig.layout.autosize and fig.layout.width is None
        for trace in fig.data:                   # every trace is a mean over seeds: error bars
            assert trace.error_y.array is not None and len(trace.error_y.array) == len(trace.y)
    sweep = figures[0]
    assert {t.legend for t in sweep.data} == {"legend", "legend2"}          # one legend per panel
    # r and the nuisance share a chance level: one line, one label, in the margin (never on the data)
    labels = [a.text for a in sweep.layout.annotations if "chance" in (a.text or "")]
    assert labels == [" chance: s", " chance: r, n", " chance: y"]
    assert all(a.xanchor == "left" and a.x == 1.0 for a in sweep.layout.annotations if "chance" in (a.text or ""))


def test_bound_figures_title_every_axis():
    points = [{"encoder_std": s, "truth": 1.0, "bound": 2.0, "mc_bound": 2.0, "mc_stderr": 0.1} for s in (1, 0.1)]
    assert axes_titled(plots.kl_bound_figure(points))
    steps = [{"step": i, "mi_lower_bound": 0.1 * i, "kl_12": 1.0, "kl_21": 2.0} for i in range(3)]
    fig = plots.training_bounds_figure(steps, 128)
    assert axes_titled(fig) and fig.layout.yaxis.type == "linear"
    scores = {"trained": {"a": 0.1, "mean_r2": 0.1}, "control": {"a": -0.1, "mean_r2": -0.1}}
    fig = plots.aug_probe_figure(scores, ["a"], 10)
    assert axes_titled(fig) and not [a for a in fig.layout.annotations if "chance" in (a.text or "")]
