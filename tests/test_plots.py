"""superinfo_lib.plots: one colour per method and factor, labels in legends (not on the data), figures that
fit the notebook, log axes only where the data span decades; the toy-sweep and bound figures."""

import numpy as np
import pytest
import torch

from superinfo_lib import plots
from superinfo_lib.data import AUG_PARAM_NAMES, AugmentConfig, augment
from superinfo_lib.toy import CHANCE


def test_beta_label_is_readable_without_si_prefixes():
    assert [plots.beta_label(b) for b in (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.3, 1.0, -0.1, -1e-3)] == [
        "0",
        "1e-4",
        "3e-4",
        "1e-3",
        "3e-3",
        "0.01",
        "0.3",
        "1",
        "-0.1",
        "-1e-3",
    ]


def rows_for(pairs, seeds=(0, 1, 2)):
    return [
        {
            "beta_12": a,
            "beta_21": b,
            "seed": s,
            **{k: 0.5 + 0.1 * s for k in CHANCE},
            "final_mi_lower_bound": 2.0 + s,
            "final_kl_12": 10.0 ** (s + 1),
            "sigma_median": 0.1,
        }
        for a, b in pairs
        for s in seeds
    ]


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
    figures = [
        plots.toy_sweep_figure(rows, betas, CHANCE, 5),
        plots.toy_bounds_figure(rows, betas, 256),
        plots.toy_settings_figure(rows, [(1e-3, 1e-3), (2e-3, 0.0)], CHANCE, "t"),
        plots.sigma_kl_figure(rows, betas),
    ]
    for fig in figures:
        assert axes_titled(fig)
        assert fig.layout.autosize and fig.layout.width is None
        for trace in fig.data:  # every trace is a mean over seeds: error bars
            assert trace.error_y.array is not None and len(trace.error_y.array) == len(trace.y)
    sweep = figures[0]
    assert {t.legend for t in sweep.data} == {"legend", "legend2"}  # one legend per panel
    # r, q, t and the nuisance share a chance level: one line, one label, in the margin (never on the data)
    labels = [a.text for a in sweep.layout.annotations if "chance" in (a.text or "")]
    assert labels == [" chance: s", " chance: r, q, t, n", " chance: y"]
    assert all(
        a.xanchor == "left" and a.x == 1.0 for a in sweep.layout.annotations if "chance" in (a.text or "")
    )


def test_bound_figures_title_every_axis():
    points = [
        {"encoder_std": s, "truth": 1.0, "bound": 2.0, "mc_bound": 2.0, "mc_stderr": 0.1} for s in (1, 0.1)
    ]
    assert axes_titled(plots.kl_bound_figure(points))
    steps = [{"step": i, "mi_lower_bound": 0.1 * i, "kl_12": 1.0, "kl_21": 2.0} for i in range(3)]
    fig = plots.training_bounds_figure(steps, 128)
    assert axes_titled(fig) and fig.layout.yaxis.type == "linear"
    scores = {"trained": {"a": 0.1, "mean_r2": 0.1}, "control": {"a": -0.1, "mean_r2": -0.1}}
    fig = plots.aug_probe_figure(scores, ["a"], 10)
    assert axes_titled(fig) and not [a for a in fig.layout.annotations if "chance" in (a.text or "")]
    # Notebook 3's labels: the control also says "trained", yet must not share the trained colour.
    labels = ("trained (β = 0), own view", "random init, own view", "trained, the OTHER view (control)")
    fig = plots.aug_probe_figure({label: scores["trained"] for label in labels}, ["a"], 10)
    assert len({bar.marker.color for bar in fig.data}) == 3
    assert fig.data[2].marker.color == plots.AUG_PROBE_COLORS["control"]


METHODS = ("simclr", "mib", "superinfo")


def step_records(kl_scale: float, n: int = 5) -> list[dict]:
    return [
        {
            "step": s + 1,
            "loss": 5.0 - 0.1 * s,
            "nce": 4.8 - 0.1 * s,
            "mi_lower_bound": 0.1 * s,
            "kl_12": kl_scale * (s + 1),
            "kl_21": kl_scale * (s + 2),
            "beta_12": 1e-3,
        }
        for s in range(n)
    ]


def evaluated() -> dict:
    return {
        m: {
            "knn_top1": 0.2 + 0.01 * i,
            "linear_top1": 0.3 + 0.02 * i,
            "aug_probe_mu_mean_r2": 0.05 + 0.01 * i,
            "few_label": {"10": 0.25, "100": 0.35},
        }
        for i, m in enumerate(METHODS)
    }


def trace_colors(fig) -> dict[str, set]:
    """legend name -> colours its traces use (line or marker)."""
    out: dict[str, set] = {}
    for t in fig.data:
        color = (t.line.color if "line" in t and t.line.color else None) or (
            t.marker.color if "marker" in t else None
        )
        if color:
            out.setdefault(t.name, set()).add(color)
    return out


def test_a_method_has_one_colour_in_every_figure():
    figures = [
        plots.training_curves_figure({m: step_records(1.0 + i) for i, m in enumerate(METHODS)}),
        plots.knn_monitor_figure({m: [(1, 0.25)] for m in METHODS}, chance=0.1),
        plots.knn_monitor_figure(
            {m: [(e, 0.2 + 0.01 * e) for e in range(1, 6)] for m in METHODS}, chance=0.1
        ),
        plots.evaluation_figure(evaluated(), [("kNN", lambda e: e["knn_top1"])], chance=0.1),
    ]
    for fig in figures:
        colors = trace_colors(fig)
        for m in METHODS:
            assert colors[plots.METHOD_LABELS[m]] == {plots.METHOD_COLORS[m]}, (fig.layout.title.text, m)


def test_method_colour_matches_by_prefix_and_names_no_method_by_its_default():
    assert plots.method_color("SuperInfo (beta 1e-3)") == plots.METHOD_COLORS["superinfo"]
    assert plots.method_color("beta = 3e-4") == "#7F7F7F"
    assert plots.method_color("beta = 3e-4", default=None) is None
    assert plots.method_color("mib", default=None) == plots.METHOD_COLORS["mib"]


def test_reference_lines_are_named_in_the_legend_not_written_on_the_plot():
    fig = plots.learned_critic_figure([(0, 1.2), (10, 1.9)], true_mi=2.04, optimal_bound=2.02)
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert "true I(x; y) = 2.04 nats" in names and "optimal critic: 2.02 nats" in names
    assert not fig.layout.annotations  # the two labels used to overlap on the plot
    low, high = fig.layout.yaxis.range
    assert low < 1.2 and high > 2.04  # both lines inside the plot, not on its edge
    fig = plots.evaluation_figure(evaluated(), [("kNN", lambda e: e["knn_top1"])], chance=0.1)
    # the only annotations are the two subplot titles, above the panels
    assert len(fig.layout.annotations) == 2 and all(
        a.yref == "paper" and a.y >= 1 for a in fig.layout.annotations
    )
    assert any(t.name == "chance (10%)" for t in fig.data)
    scatter = [t for t in fig.data if t.type == "scatter" and t.x and t.x[0] is not None]
    assert all(t.mode == "markers" for t in scatter)  # no method names as text over the points
    lo, hi = fig.layout.xaxis2.range
    assert all(lo < t.x[0] < hi for t in scatter)


def test_sweep_figure_draws_each_batch_size_with_its_ceiling():
    sweep = [
        {
            "batch_pairs": n,
            "true_mi": t,
            "bound": min(t, np.log(2 * n - 1)) - 0.01,
            "stderr": 0.01,
            "ceiling": float(np.log(2 * n - 1)),
        }
        for n in (4, 32)
        for t in (0.0, 1.0, 3.0)
    ]
    fig = plots.infonce_sweep_figure(sweep)
    curves = [t for t in fig.data if t.name and t.name.startswith("N = ")]
    assert [t.name for t in curves] == ["N = 4 pairs (ceiling dotted)", "N = 32 pairs (ceiling dotted)"]
    ceilings = sorted(s.y0 for s in fig.layout.shapes)
    assert ceilings == pytest.approx([np.log(7), np.log(63)])
    assert all(t.error_y.array is not None for t in curves)


def test_log_axis_only_where_values_span_decades():
    assert plots.spans_decades([1.0, 5.0, 2000.0])
    assert not plots.spans_decades([20.0, 70.0])  # 2 ... 7 minor ticks meant 20 ... 70
    assert not plots.spans_decades([0.0, 1.0, 2000.0])  # a zero cannot go on a log axis
    wide = {"simclr": step_records(100.0), "mib": step_records(0.01)}
    fig = plots.training_curves_figure(wide)
    kl_axis = fig.layout.yaxis4  # panel 4: KL(q1||q2)
    assert kl_axis.type == "log" and kl_axis.dtick == 1
    assert fig.layout.yaxis.type != "log"  # the total loss spans no decades


def test_every_axis_has_a_title():
    figures = [
        plots.training_curves_figure({m: step_records(1.0) for m in METHODS}),
        plots.evaluation_figure(evaluated(), [("kNN", lambda e: e["knn_top1"])], chance=0.1),
        plots.bar_chart(["a", "b"], [1, 2], "class", "training images"),
        plots.learned_critic_figure([(0, 1.0)], 2.0, 1.9),
    ]
    for fig in figures:
        axes = [k for k in fig.layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))]
        assert axes and all(fig.layout[k].title.text for k in axes), fig.layout.title.text


def test_image_grid_fits_the_notebook_with_labels_on_the_left():
    rows = {name: np.zeros((12, 32, 32, 3), dtype=np.uint8) for name in ("original", "view 1", "view 2")}
    fig = plots.image_grid(rows, column_titles=[f"class {i}" for i in range(12)], title="gallery")
    assert fig.layout.width is None and fig.layout.autosize  # follows the output's width
    assert list(fig.layout.yaxis.ticktext) == ["original", "view 1", "view 2"]
    assert fig.layout.yaxis.side in (None, "left") and fig.layout.xaxis.side == "top"
    canvas = np.asarray(fig.data[0].z)
    scale = (plots.MAX_WIDTH - fig.layout.margin.l - fig.layout.margin.r) / canvas.shape[1]
    # the height gives the picture its aspect ratio at the full width, no more
    plot_height = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    assert canvas.shape[0] * scale <= plot_height <= canvas.shape[0] * scale + 25
    with pytest.raises(ValueError, match="rows"):
        plots.image_grid({"a": np.zeros((2, 8, 8, 3), np.uint8), "b": np.zeros((3, 8, 8, 3), np.uint8)})


def test_augmentation_rows_read_the_parameters_each_view_drew():
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    gen = torch.Generator().manual_seed(0)
    _, p1 = augment(images, AugmentConfig(), gen)
    _, p2 = augment(images, AugmentConfig(), gen)
    rows = plots.augmentation_rows({"1": p1, "2": p2}, ["a", "b", "c"])
    assert [r["view"] for r in rows] == ["1", "2"] * 3 and [r["image"] for r in rows] == [
        "a",
        "",
        "b",
        "",
        "c",
        "",
    ]
    flip = AUG_PARAM_NAMES.index("flip")
    assert [r["flip"] for r in rows[::2]] == ["yes" if f else "no" for f in p1[:, flip].tolist()]
    assert rows[0]["crop w x h at centre"].startswith(f"{p1[0, AUG_PARAM_NAMES.index('crop_w')]:.2f} x ")


def test_display_images_undoes_the_normalisation():
    images = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    from superinfo_lib.data import normalize

    back = plots.display_images(normalize(images))
    assert back.shape == (2, 8, 8, 3) and back.dtype == np.uint8
    assert np.abs(back.astype(int) - images.permute(0, 2, 3, 1).numpy().astype(int)).max() <= 1


def study_run(seed, knn, nce):
    per_epoch = [
        {"epoch": 1, "nce": nce + 1, "kl_12": 10.0, "loss": nce + 1},
        {"epoch": 2, "nce": nce, "kl_12": 5.0, "loss": nce, "knn_top1": knn},
    ]
    return {"seed": seed, "per_epoch": per_epoch, "knn_top1": knn, "aug_probe_mean_r2": 0.2}


def test_study_figures_draw_the_mean_over_seeds_and_their_sd():
    import statistics

    from superinfo_lib.plots import study_comparison_figure, study_curves_figure

    runs = {"simclr": [study_run(0, 0.5, 3.0), study_run(1, 0.6, 3.2)], "mib": [study_run(0, 0.4, 4.0)]}
    fig = study_curves_figure(runs)
    simclr_nce = next(t for t in fig.data if t.name.startswith("SimCLR") and t.xaxis == "x")
    assert list(simclr_nce.x) == [1, 2] and list(simclr_nce.y) == pytest.approx([4.1, 3.1])
    assert list(simclr_nce.error_y.array) == pytest.approx([statistics.stdev([4.0, 4.2])] * 2)
    assert "2 seeds" in simclr_nce.name
    mib_nce = next(t for t in fig.data if t.name.startswith("MIB") and t.xaxis == "x")
    assert not mib_nce.error_y.visible  # one seed: no spread to draw
    knn = next(t for t in fig.data if t.name.startswith("SimCLR") and t.xaxis == "x4")
    assert list(knn.x) == [2] and list(knn.y) == pytest.approx([0.55])  # only epochs that measured kNN
    bars = study_comparison_figure(
        runs, [("kNN", lambda r: r["knn_top1"])], [("h", lambda r: r["aug_probe_mean_r2"])]
    )
    simclr_bar = next(t for t in bars.data if t.name.startswith("SimCLR") and t.xaxis == "x")
    assert list(simclr_bar.y) == pytest.approx([0.55])
    assert list(simclr_bar.error_y.array) == pytest.approx([statistics.stdev([0.5, 0.6])])
