"""The course's one visual language: fixed colours per method and per factor, figures that
fit a notebook's width, a title on every axis, and labels that do not sit on the data.

Notebooks 03-07 and the explorer draw with these helpers, so SimCLR is the same colour
everywhere and a reader never has to re-learn a legend.
"""

from __future__ import annotations

# One colour per method, per factor and per loss term, everywhere in the course
# (colour-blind-safe Okabe-Ito palette).
METHOD_COLORS = {"simclr": "#0072B2", "mib": "#D55E00", "superinfo": "#009E73"}
METHOD_LABELS = {"simclr": "SimCLR", "mib": "MIB", "superinfo": "SuperInfo"}
FACTOR_COLORS = {"shared": "#0072B2", "specific": "#E69F00", "nuisance": "#CC79A7"}
TERM_COLORS = {
    "loss": "#222222",
    "nce": "#0072B2",
    "mi_lower_bound": "#0072B2",
    "kl_12": "#D55E00",
    "kl_21": "#F0E442",
    "knn_top1": "#0072B2",
    "linear_top1": "#009E73",
    "aug_probe_mean_r2": "#CC79A7",
}
PREVIOUS_COLOR = "#BBBBBB"
CHANCE_COLOR = "#555555"

# A JupyterLab output area is about 970 px wide; leave room for its scroll bar.
MAX_WIDTH = 940


def method_color(name: str) -> str:
    """Colour of a method; unknown names (e.g. "superinfo (beta 1e-3)") match by prefix."""
    for key, color in METHOD_COLORS.items():
        if name.lower().startswith(key):
            return color
    return "#7F7F7F"


def style(fig, height: int = 360, title: str | None = None, legend_below: bool = False):
    """Common layout: autosize to the output's width (never wider than MAX_WIDTH), white
    background, compact margins; returns `fig` so calls chain."""
    fig.update_layout(
        autosize=True,
        height=height,
        template="plotly_white",
        margin=dict(l=60, r=20, t=60 if title else 30, b=50),
        font=dict(size=12),
    )
    if title:
        fig.update_layout(title=dict(text=title, x=0, xanchor="left"))
    if legend_below:
        fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.2, x=0))
    return fig


def chance_line(fig, y: float, text: str = "chance", row=None, col=None, color: str = CHANCE_COLOR):
    """A dashed horizontal line with its label at the right end, outside the bars."""
    kwargs = {} if row is None else {"row": row, "col": col}
    fig.add_hline(
        y=y,
        line=dict(color=color, dash="dash", width=1),
        annotation_text=text,
        annotation_position="top right",
        annotation_font=dict(color=color, size=11),
        **kwargs,
    )
    return fig


def _robustness_curves(result: dict, predictor: str) -> tuple[list[float], dict[str, float]]:
    """Accuracy per severity (0 = clean, then the mean over corruptions) and per corruption
    (mean over severities) of one robustness_eval result."""
    severities = [str(s) for s in result["severities"]]
    by_severity = [result["clean"][predictor]] + [
        sum(result["accuracy"][c][s][predictor] for c in result["corruptions"]) / len(result["corruptions"])
        for s in severities
    ]
    by_corruption = {
        c: sum(result["accuracy"][c][s][predictor] for s in severities) / len(severities)
        for c in result["corruptions"]
    }
    return by_severity, by_corruption


def _mean_and_spread(values: list[list[float]]) -> tuple[list[float], list[float] | None]:
    """Mean over seeds (the outer list) and their standard deviation (None for one seed)."""
    import statistics

    columns = list(zip(*values, strict=True))
    std = [statistics.stdev(c) for c in columns] if len(values) > 1 else None
    return [statistics.fmean(c) for c in columns], std


# Longer than most functions here: one figure's traces and layout, formatted one argument per line.
def robustness_figure(results_by_method: dict, predictor: str = "linear", height: int = 640):
    """Accuracy under corruption, one colour per method.

    Args:
        results_by_method: method name -> a `corruptions.robustness_eval` result, or a list of
            them (one per seed: the figure draws their mean, and their standard deviation as
            error bars).
        predictor: which predictor's accuracy to draw ("linear" or "knn").
    Top: accuracy against severity (0 = clean, 1-5 = mean over corruptions). Bottom: accuracy per
    corruption, mean over severities, grouped by method.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=2,
        cols=1,
        vertical_spacing=0.2,
        subplot_titles=(
            "Accuracy against severity (mean over corruptions)",
            "Accuracy per corruption (mean over severities)",
        ),
    )
    for method, results in results_by_method.items():
        runs = results if isinstance(results, list) else [results]
        if not runs:
            raise ValueError(f"results_by_method[{method!r}] is an empty list")
        if any(predictor not in run["clean"] for run in runs):
            raise ValueError(
                f"predictor {predictor!r} is not in the results of {method!r} "
                f"(they have {sorted(runs[0]['clean'])})"
            )
        curves = [_robustness_curves(run, predictor) for run in runs]
        corruptions = list(curves[0][1])
        severity_mean, severity_std = _mean_and_spread([c[0] for c in curves])
        bar_mean, bar_std = _mean_and_spread([[c[1][name] for name in corruptions] for c in curves])
        color, label = method_color(method), METHOD_LABELS.get(method, method)
        severities = [0] + list(runs[0]["severities"])
        fig.add_trace(
            go.Scatter(
                x=severities,
                y=severity_mean,
                mode="lines+markers",
                name=label,
                legendgroup=method,
                line=dict(color=color),
                error_y=dict(type="data", array=severity_std, visible=severity_std is not None),
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Bar(
                x=[c.replace("_", " ") for c in corruptions],
                y=bar_mean,
                name=label,
                legendgroup=method,
                showlegend=False,
                marker_color=color,
                error_y=dict(type="data", array=bar_std, visible=bar_std is not None),
            ),
            row=2,
            col=1,
        )
    style(fig, height=height, legend_below=True)
    fig.update_layout(barmode="group", legend=dict(y=-0.22), margin=dict(t=70))
    fig.update_xaxes(title_text="severity (0 = clean)", dtick=1, row=1, col=1)
    fig.update_xaxes(title_text="corruption", tickangle=-30, automargin=True, row=2, col=1)
    fig.update_yaxes(title_text=f"{predictor} accuracy", row=1, col=1)
    fig.update_yaxes(title_text=f"{predictor} accuracy", row=2, col=1)
    return fig


def corruption_grid(corrupted: dict, title: str | None = None, gap: int = 4, height: int = 620):
    """One image under every corruption (rows) and severity (columns), as one mosaic.

    Args:
        corrupted: corruption name -> uint8 tensor (S, 3, H, W): the image at severities 0..S-1.
    """
    import numpy as np
    import plotly.graph_objects as go

    names = list(corrupted)
    first = corrupted[names[0]]
    severities, _, h, w = first.shape
    mosaic = np.full((len(names) * (h + gap) - gap, severities * (w + gap) - gap, 3), 255, dtype=np.uint8)
    for row, name in enumerate(names):
        images = corrupted[name]
        if tuple(images.shape) != tuple(first.shape):
            raise ValueError(
                f"corrupted[{name!r}] has shape {tuple(images.shape)}, expected "
                f"{tuple(first.shape)} like corrupted[{names[0]!r}]"
            )
        for col in range(severities):
            top, left = row * (h + gap), col * (w + gap)
            mosaic[top : top + h, left : left + w] = images[col].permute(1, 2, 0).cpu().numpy()
    fig = go.Figure(go.Image(z=mosaic, hoverinfo="skip"))
    style(fig, height=height, title=title)
    fig.update_xaxes(
        title_text="severity (0 = clean)",
        showgrid=False,
        zeroline=False,
        tickvals=[c * (w + gap) + (w - 1) / 2 for c in range(severities)],
        ticktext=[str(c) for c in range(severities)],
    )
    fig.update_yaxes(
        title_text="corruption",
        showgrid=False,
        zeroline=False,
        tickvals=[r * (h + gap) + (h - 1) / 2 for r in range(len(names))],
        ticktext=[n.replace("_", " ") for n in names],
    )
    return fig


# ----------------------------------------------------------------------------- the toy and the bounds
# What the toy's probes measure (superinfo_lib.toy), how figures name and colour them: the shared
# class in blue, what is shared in 81% of pairs in warm colours (r, useful, orange; q, useless,
# yellow), what is never shared in cool ones (t, useful, green; the nuisance n, useless, purple),
# the useless ones dashed; the downstream label y in black (1 label per class dashed, 5 solid,
# all dotted). "<key>_z" (kNN on a sample z) and "<key>_knn" (kNN on mu) share their key's colour.
_MEASURE_NAMES = {
    "shared": "shared s",
    "r_mostly_shared": "r (81% shared, task)",
    "partly_shared_nuisance": "q (81% shared, useless)",
    "never_shared_task": "t (never shared, task)",
    "nuisance": "n (never shared, useless)",
    "few_label_acc_1": "y, 1 label per class",
    "few_label_acc": "y, few labels",
    "full_label_acc": "y, all labels",
}
_MEASURE_COLORS = {
    "shared": FACTOR_COLORS["shared"],
    "r_mostly_shared": FACTOR_COLORS["specific"],
    "partly_shared_nuisance": "#F0E442",
    "never_shared_task": "#009E73",
    "nuisance": FACTOR_COLORS["nuisance"],
    "few_label_acc_1": "#000000",
    "few_label_acc": "#000000",
    "full_label_acc": "#000000",
}
_SUFFIXES = {"": "", "_z": " · z, kNN", "_knn": " · μ, kNN"}
MEASURE_LABELS = {
    k + suffix: name + tail for k, name in _MEASURE_NAMES.items() for suffix, tail in _SUFFIXES.items()
}
MEASURE_COLORS = {k + suffix: c for k, c in _MEASURE_COLORS.items() for suffix in _SUFFIXES}
_DASHES = {
    "partly_shared_nuisance": "dash",
    "nuisance": "dash",
    "few_label_acc_1": "dash",
    "full_label_acc": "dot",
}
MEASURE_DASH = {k + suffix: dash for k, dash in _DASHES.items() for suffix in _SUFFIXES}
BOUND_COLOR, TRUTH_COLOR = TERM_COLORS["kl_12"], "#000000"


def beta_label(beta: float) -> str:
    """A readable beta: "0", "1e-4", "3e-3", "0.01", "0.3", "-0.1" (no SI prefixes)."""
    if beta == 0:
        return "0"
    if abs(beta) < 0.01:
        mantissa, exponent = f"{beta:.0e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{beta:g}"


def pair_label(beta_12: float, beta_21: float) -> str:
    return f"{beta_label(beta_12)} / {beta_label(beta_21)}"


def seed_summary(rows: list[dict], key: str, pairs: list[tuple[float, float]]) -> tuple[list, list]:
    """(means, sample standard deviations) of rows[key] over seeds, one per (beta_12, beta_21) pair."""
    import statistics

    means, stds = [], []
    for pair in pairs:
        values = [float(r[key]) for r in rows if (r["beta_12"], r["beta_21"]) == pair]
        if not values:
            raise ValueError(f"no rows for beta_12, beta_21 = {pair}")
        means.append(statistics.fmean(values))
        stds.append(statistics.stdev(values) if len(values) > 1 else 0.0)
    return means, stds


def chance_lines(fig, levels: dict[str, float], row=None, col=None):
    """Dashed horizontal chance lines, each labelled in the margin right of its panel (never over data).
    levels: {label: y}; equal y values share one line and one label."""
    merged: dict[float, list[str]] = {}
    for label, y in levels.items():
        merged.setdefault(round(y, 12), []).append(label)
    kwargs = {} if row is None else {"row": row, "col": col}
    for y in merged:
        fig.add_hline(y=y, line=dict(color=CHANCE_COLOR, dash="dash", width=1), **kwargs)
    axis = "x" if row is None else fig.get_subplot(row, col).xaxis.plotly_name.replace("axis", "")
    for y, labels in merged.items():
        fig.add_annotation(
            x=1.0,
            xref=f"{axis} domain",
            xanchor="left",
            y=y,
            yref=axis.replace("x", "y"),
            text=" chance: " + ", ".join(labels),
            showarrow=False,
            font=dict(color=CHANCE_COLOR, size=10),
            align="left",
        )
    return fig


def _mean_trace(fig, x, rows, key, pairs, name, legend, row=None, col=None, mode="lines+markers"):
    means, stds = seed_summary(rows, key, pairs)
    kwargs = {} if row is None else {"row": row, "col": col}
    fig.add_scatter(
        x=x,
        y=means,
        error_y=dict(type="data", array=stds, visible=True),
        mode=mode,
        name=name,
        legend=legend,
        line=dict(color=MEASURE_COLORS.get(key, "#000000"), dash=MEASURE_DASH.get(key)),
        **kwargs,
    )


def toy_sweep_figure(rows: list[dict], betas: list[float], chance: dict[str, float], few_labels: int):
    """(a) what a sample z of view 1 keeps of each kind of information (kNN probes), (b) downstream
    accuracy on y, against a symmetric beta; mean over seeds, error bars one standard deviation.
    One legend per panel."""
    from plotly.subplots import make_subplots

    pairs, x = [(b, b) for b in betas], [beta_label(b) for b in betas]
    seeds = len({r["seed"] for r in rows})
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.2,
        subplot_titles=("(a) what a sample z keeps (kNN probe)", f"(b) downstream label y ({seeds} seeds)"),
    )
    for key in ("shared", "r_mostly_shared", "partly_shared_nuisance", "never_shared_task", "nuisance"):
        _mean_trace(fig, x, rows, key + "_z", pairs, _MEASURE_NAMES[key], "legend", 1, 1)
    for key in ("few_label_acc_1", "few_label_acc", "full_label_acc"):
        name = f"y, {few_labels} labels per class" if key == "few_label_acc" else MEASURE_LABELS[key]
        _mean_trace(fig, x, rows, key, pairs, name, "legend2", 1, 2)
    chance_lines(fig, {"s": chance["shared"], "r, q, t, n": chance["nuisance"]}, 1, 1)
    chance_lines(fig, {"y": chance["few_label_acc"]}, 1, 2)
    fig.update_xaxes(title_text="β = β12 = β21", type="category")
    fig.update_yaxes(title_text="kNN accuracy on a sample z of view 1", range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(title_text="ridge accuracy on y from μ, test rows", range=[0, 1.05], row=1, col=2)
    style(fig, height=460, title="Symmetric β sweep on the toy data (mean ± sd over seeds)")
    fig.update_layout(margin=dict(r=100))
    return legends_under_axis_titles(fig, (("legend", 0.0), ("legend2", 0.6)))


# Longer than most functions here: one figure's traces and layout, formatted one argument per line.
def toy_bounds_figure(rows: list[dict], betas: list[float], batch_size: int):
    """(a) the InfoNCE estimate log(2N−1) − L (linear axis; what is proven for NT-Xent is the
    bound log N − L, in expectation), (b) KL(q1||q2) (log axis), at the end of training."""
    import math

    from plotly.subplots import make_subplots

    pairs, x = [(b, b) for b in betas], [beta_label(b) for b in betas]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.14,
        subplot_titles=("(a) predictive: the InfoNCE estimate", "(b) superfluous: KL upper bound"),
    )
    means, stds = seed_summary(rows, "final_mi_lower_bound", pairs)
    fig.add_scatter(
        x=x,
        y=means,
        error_y=dict(type="data", array=stds),
        name="log(2N−1) − InfoNCE",
        line=dict(color=TERM_COLORS["mi_lower_bound"]),
        showlegend=False,
        row=1,
        col=1,
    )
    ceiling = math.log(2 * batch_size - 1)
    fig.add_hline(y=ceiling, line=dict(color=CHANCE_COLOR, dash="dot", width=1), row=1, col=1)
    fig.add_annotation(
        x=0,
        xref="x domain",
        y=ceiling,
        yref="y",
        yanchor="bottom",
        xanchor="left",
        text="log(2N−1), the estimator's ceiling",
        showarrow=False,
        font=dict(color=CHANCE_COLOR, size=10),
    )
    means, stds = seed_summary(rows, "final_kl_12", pairs)
    fig.add_scatter(
        x=x,
        y=means,
        error_y=dict(type="data", array=stds),
        name="KL(q1‖q2)",
        line=dict(color=TERM_COLORS["kl_12"]),
        showlegend=False,
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text="β = β12 = β21", type="category")
    fig.update_yaxes(title_text="estimate log(2N−1) − InfoNCE  [nats]", row=1, col=1)
    fig.update_yaxes(
        title_text="KL(q1‖q2)  [nats, log scale]", type="log", exponentformat="power", row=1, col=2
    )
    return style(fig, height=360, title="The two bounds at the end of training (mean ± sd over seeds)")


def toy_settings_figure(
    rows: list[dict],
    pairs: list[tuple[float, float]],
    chance: dict[str, float],
    title: str,
    keys=("r_mostly_shared_z", "never_shared_task_z", "nuisance_z", "few_label_acc"),
):
    """Grouped bars: for each (beta_12, beta_21) pair, the mean over seeds of each measure (± sd)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    x = [pair_label(*p) for p in pairs]
    for key in keys:
        means, stds = seed_summary(rows, key, pairs)
        fig.add_bar(
            x=x,
            y=means,
            error_y=dict(type="data", array=stds),
            name=MEASURE_LABELS[key],
            marker_color=MEASURE_COLORS[key],
        )
    short = {
        k: _MEASURE_NAMES[k.removesuffix("_z").removesuffix("_knn")].split(" ")[0].rstrip(",") for k in keys
    }
    chance_lines(fig, {short[k]: chance[k] for k in keys})
    fig.update_layout(
        barmode="group",
        xaxis=dict(title="β12 / β21", type="category"),
        yaxis=dict(title="accuracy, test rows (mean ± sd over seeds)", range=[0, 1.05]),
    )
    style(fig, height=400, title=title)
    fig.update_layout(margin=dict(r=90))
    return legends_under_axis_titles(fig)


def toy_conditions_figure(
    rows: list[dict], conditions: dict[str, str], key: str = "few_label_acc_1", title: str | None = None
):
    """One panel per condition of the toy's data: `key` (mean ± sd over seeds) against training
    steps, one line per symmetric beta. rows: experiments/toy_conditions.py's rows (each with
    "condition", "steps", "beta_12", "seed"); conditions: {condition: panel title}, in order."""
    import statistics

    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1, cols=len(conditions), subplot_titles=list(conditions.values()), shared_yaxes=True
    )
    betas = sorted({r["beta_12"] for r in rows if r["condition"] in conditions})
    for col, condition in enumerate(conditions, 1):
        mine = [r for r in rows if r["condition"] == condition]
        steps = sorted({r["steps"] for r in mine})
        for i, beta in enumerate(betas):
            values = [[r[key] for r in mine if r["steps"] == s and r["beta_12"] == beta] for s in steps]
            fig.add_scatter(
                x=steps,
                y=[statistics.fmean(v) for v in values],
                error_y=dict(type="data", array=[statistics.stdev(v) if len(v) > 1 else 0 for v in values]),
                mode="lines+markers",
                name=f"β = {beta_label(beta)}",
                legendgroup=str(beta),
                showlegend=col == 1,
                line=dict(color=SERIES_COLORS[i % len(SERIES_COLORS)]),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="training steps", type="log", tickvals=steps, row=1, col=col)
    fig.update_yaxes(title_text=f"{MEASURE_LABELS.get(key, key)} (mean ± sd)", row=1, col=1)
    return style(fig, height=380, title=title, legend_below=True)


def kl_bound_figure(points: list[dict]):
    """The Gaussian case: true I(v1; z1 | v2) and MIB's bound E KL(q(z|v1) || q(z|v2)) against the
    encoder's sigma (both axes log). points: dicts with encoder_std, truth, bound, mc_bound, mc_stderr."""
    import plotly.graph_objects as go

    x = [p["encoder_std"] for p in points]
    fig = go.Figure()
    fig.add_scatter(
        x=x,
        y=[p["truth"] for p in points],
        mode="lines+markers",
        name="true I(v1; z1 | v2)",
        line=dict(color=TRUTH_COLOR),
    )
    fig.add_scatter(
        x=x,
        y=[p["bound"] for p in points],
        mode="lines",
        name="bound, closed form",
        line=dict(color=BOUND_COLOR, dash="dash"),
    )
    fig.add_scatter(
        x=x,
        y=[p["mc_bound"] for p in points],
        mode="markers",
        name="bound, Monte Carlo (± 2 s.e.)",
        marker=dict(color=BOUND_COLOR, size=9, symbol="circle-open"),
        error_y=dict(type="data", array=[2 * p["mc_stderr"] for p in points]),
    )
    fig.update_layout(
        xaxis=dict(title="encoder σ  (log scale)", type="log", exponentformat="power"),
        yaxis=dict(title="nats per dimension  (log scale)", type="log", exponentformat="power"),
    )
    style(fig, height=400, title="MIB's KL bound against the true superfluous information")
    return legends_under_axis_titles(fig)


def sigma_kl_figure(rows: list[dict], betas: list[float]):
    """(a) the encoder's sigma = exp(logvar / 2), median over latent dimensions and held-out rows,
    (b) the final KL(q1||q2), against beta; both log axes, mean ± sd over seeds."""
    from plotly.subplots import make_subplots

    pairs, x = [(b, b) for b in betas], [beta_label(b) for b in betas]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.14,
        subplot_titles=("(a) the encoder's σ", "(b) the KL bound it produces"),
    )
    panels = ((1, "sigma_median", TERM_COLORS["loss"]), (2, "final_kl_12", TERM_COLORS["kl_12"]))
    for col, key, color in panels:
        means, stds = seed_summary(rows, key, pairs)
        fig.add_scatter(
            x=x,
            y=means,
            error_y=dict(type="data", array=stds),
            line=dict(color=color),
            showlegend=False,
            row=1,
            col=col,
        )
    fig.update_xaxes(title_text="β = β12 = β21 (toy encoder)", type="category")
    fig.update_yaxes(
        title_text="median σ = exp(logvar / 2)  (log scale)", type="log", exponentformat="power", row=1, col=1
    )
    fig.update_yaxes(
        title_text="KL(q1‖q2)  [nats, log scale]", type="log", exponentformat="power", row=1, col=2
    )
    return style(fig, height=360, title="A growing KL can be a shrinking σ (mean ± sd over seeds)")


# Longer than most functions here: one figure's traces and layout, formatted one argument per line.
def training_bounds_figure(steps: list[dict], batch_size: int):
    """Both bounds per logged step of a training run (metrics.jsonl "step" records): (a) the InfoNCE
    estimate log(2N−1) − L and the bound that is proven for SimCLR's paired negatives, log N − L,
    on a linear axis; (b) the two KL upper bounds."""
    import math

    from plotly.subplots import make_subplots

    x = [r["step"] for r in steps]
    shift = math.log((2 * batch_size - 1) / batch_size)
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.14,
        subplot_titles=(
            "(a) predictive: the bound log N − L on I(z1; z2), and the estimate",
            "(b) superfluous: KL upper bounds",
        ),
    )
    fig.add_scatter(
        x=x,
        y=[r["mi_lower_bound"] for r in steps],
        name="log(2N−1) − L (usual estimate)",
        line=dict(color=TERM_COLORS["mi_lower_bound"]),
        row=1,
        col=1,
    )
    fig.add_scatter(
        x=x,
        y=[r["mi_lower_bound"] - shift for r in steps],
        name="log N − L (proven bound)",
        line=dict(color=TERM_COLORS["mi_lower_bound"], dash="dot"),
        row=1,
        col=1,
    )
    fig.add_scatter(
        x=x,
        y=[r["kl_12"] for r in steps],
        name="KL(q1‖q2) ≥ I(v1; z1 | v2)",
        line=dict(color=TERM_COLORS["kl_12"]),
        row=1,
        col=2,
    )
    fig.add_scatter(
        x=x,
        y=[r["kl_21"] for r in steps],
        name="KL(q2‖q1) ≥ I(v2; z2 | v1)",
        line=dict(color=TERM_COLORS["kl_21"]),
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="nats (linear axis)", type="linear", row=1, col=1)
    fig.update_yaxes(title_text="nats", row=1, col=2)
    style(fig, height=420, title="Training with β = 0: both bounds per logged step")
    return legends_under_axis_titles(fig)


# Looked up in this order, so "trained, the other view (control)" is drawn as the control.
AUG_PROBE_COLORS = {"control": "#000000", "random init": PREVIOUS_COLOR, "trained": METHOD_COLORS["simclr"]}


def aug_probe_figure(scores: dict[str, dict], names: list[str], images: int):
    """Grouped bars of held-out R² per augmentation parameter (and their mean), one bar per
    encoder / control. scores: {label: {parameter: R², "mean_r2": ...}}; a label's colour is
    AUG_PROBE_COLORS of its first matching key."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for label, s in scores.items():
        color = next((c for k, c in AUG_PROBE_COLORS.items() if k in label), "#7F7F7F")
        fig.add_bar(
            x=list(names) + ["mean"], y=[s[n] for n in names] + [s["mean_r2"]], name=label, marker_color=color
        )
    fig.add_hline(y=0, line=dict(color="#000000", width=1))
    fig.update_layout(
        barmode="group",
        xaxis_title="augmentation parameter of the view",
        yaxis_title="held-out R²  (0 = predicting the mean)",
    )
    style(
        fig, height=440, title=f"Reading a view's augmentation parameters from μ(view), {images} test images"
    )
    return legends_under_axis_titles(fig)


def legends_under_axis_titles(fig, legends=(("legend", 0.0),), bottom: int = 130):
    """Put each named legend (name, x in paper units) horizontally under the x-axis title, not on
    it: 75 px below the plot area, whatever the figure's height; widens the bottom margin."""
    layout = fig.layout
    plot_height = (layout.height or 450) - (layout.margin.t or 60) - bottom
    fig.update_layout(margin=dict(b=bottom))
    for name, x in legends:
        fig.update_layout(
            {name: dict(orientation="h", x=x, xanchor="left", y=-75 / plot_height, yanchor="top")}
        )
    return fig


# ------------------------------------------------------------------------ figures of notebooks 01, 02, 05, 06
# Each returns a styled figure; a notebook cell only says what to draw. Legends name every line,
# so no text is written over the data.

# Series that are not methods (batch sizes, ...): the rest of the Okabe-Ito palette, in order.
SERIES_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")


def padded_range(values, pad: float = 0.1, floor: float | None = None) -> list[float]:
    """[low, high] around `values` with `pad` of their span on each side, so that no marker or
    line sits on the plot's edge (reference lines drawn with add_hline do not widen autorange)."""
    low, high = min(values), max(values)
    margin = pad * (high - low) or pad * abs(high) or pad
    return [low - margin if floor is None else max(floor, low - margin), high + margin]


def reference_line(
    fig,
    y: float,
    name: str,
    color: str = CHANCE_COLOR,
    dash: str = "dash",
    row=None,
    col=None,
    legendgroup: str | None = None,
    showlegend: bool = True,
):
    """A horizontal line across a panel, named in the legend instead of labelled on the plot."""
    import plotly.graph_objects as go

    kwargs = {} if row is None else {"row": row, "col": col}
    line = dict(color=color, dash=dash, width=1.5)
    fig.add_hline(y=y, line=line, **kwargs)
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="lines",
            line=line,
            name=name,
            legendgroup=legendgroup,
            showlegend=showlegend,
            hoverinfo="skip",
        ),
        **kwargs,
    )
    return fig


def image_grid(rows: dict, column_titles=None, title: str | None = None, pad: int = 2):
    """Images in a grid drawn as one picture that fits the notebook's width.

    Args:
        rows: row label -> uint8 (N, H, W, 3) images; every row has the same N, H, W.
        column_titles: N labels above the columns (e.g. class names).
    The row labels sit on the left, the column titles on top, nothing outside ~MAX_WIDTH px.
    """
    import numpy as np
    import plotly.graph_objects as go

    labels, stacks = list(rows), [np.asarray(v) for v in rows.values()]
    n, h, w, _ = stacks[0].shape
    if any(s.shape != stacks[0].shape for s in stacks):
        raise ValueError(f"rows: every row needs images of shape {stacks[0].shape}")
    canvas = np.full((len(stacks) * (h + pad) + pad, n * (w + pad) + pad, 3), 255, dtype=np.uint8)
    for r, stack in enumerate(stacks):
        for c in range(n):
            y0, x0 = pad + r * (h + pad), pad + c * (w + pad)
            canvas[y0 : y0 + h, x0 : x0 + w] = stack[c]
    left, right, top, bottom = 80, 10, 60 if title else 30, 10
    scale = (MAX_WIDTH - left - right) / canvas.shape[1]
    fig = go.Figure(go.Image(z=canvas, hoverinfo="skip"))
    fig.update_xaxes(
        tickvals=[pad + c * (w + pad) + w / 2 for c in range(n)],
        side="top",
        showgrid=False,
        ticktext=list(column_titles) if column_titles is not None else [""] * n,
        zeroline=False,
    )
    fig.update_yaxes(
        tickvals=[pad + r * (h + pad) + h / 2 for r in range(len(stacks))],
        ticktext=labels,
        showgrid=False,
        zeroline=False,
    )
    style(fig, height=round(canvas.shape[0] * scale) + top + bottom + 20, title=title)
    fig.update_layout(margin=dict(l=left, r=right, t=top + 20, b=bottom))
    return fig


def bar_chart(
    categories,
    values,
    x_title: str,
    y_title: str,
    title: str | None = None,
    color: str = "#0072B2",
    height: int = 320,
):
    """One bar per category, both axes titled."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=list(categories), y=list(values), marker_color=color, showlegend=False))
    fig.update_xaxes(title_text=x_title).update_yaxes(title_text=y_title)
    return style(fig, height=height, title=title)


def infonce_sweep_figure(sweep: list[dict], title: str | None = None):
    """Notebook 2: the optimal-critic InfoNCE bound against the true mutual information.

    Args:
        sweep: rows {"batch_pairs", "true_mi", "bound", "stderr", "ceiling"}; one curve per batch size,
            error bars = standard error over batches, the ceiling log(2N-1) dotted in the curve's colour.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    truth = sorted({p["true_mi"] for p in sweep})
    fig.add_trace(
        go.Scatter(
            x=truth,
            y=truth,
            mode="lines",
            name="true I(x; y)",
            line=dict(color=TRUTH_COLOR, dash="dash", width=1.5),
        )
    )
    for i, n in enumerate(sorted({p["batch_pairs"] for p in sweep})):
        points = sorted((p for p in sweep if p["batch_pairs"] == n), key=lambda p: p["true_mi"])
        color, group = SERIES_COLORS[i % len(SERIES_COLORS)], f"N{n}"
        fig.add_trace(
            go.Scatter(
                x=[p["true_mi"] for p in points],
                y=[p["bound"] for p in points],
                error_y=dict(array=[p["stderr"] for p in points], thickness=1, width=2),
                mode="lines+markers",
                name=f"N = {n} pairs (ceiling dotted)",
                legendgroup=group,
                line=dict(color=color),
                marker=dict(size=5),
            )
        )
        reference_line(
            fig,
            points[0]["ceiling"],
            f"log(2·{n}−1)",
            color=color,
            dash="dot",
            legendgroup=group,
            showlegend=False,
        )
    fig.update_xaxes(title_text="true I(x; y)  [nats]", rangemode="tozero")
    fig.update_yaxes(title_text="estimate log(2N−1) − L  [nats]", rangemode="tozero")
    return style(fig, height=440, title=title)


def learned_critic_figure(curve, true_mi: float, optimal_bound: float, title: str | None = None):
    """Notebook 2: the bound of a learned critic while it trains, against the truth and the optimal critic.

    Args:
        curve: (step, bound) pairs.
    """
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Scatter(
            x=[c[0] for c in curve],
            y=[c[1] for c in curve],
            mode="lines+markers",
            name="learned critic",
            line=dict(color=SERIES_COLORS[0]),
            marker=dict(size=5),
        )
    )
    reference_line(fig, true_mi, f"true I(x; y) = {true_mi:.2f} nats", color=TRUTH_COLOR, dash="dash")
    reference_line(
        fig, optimal_bound, f"optimal critic: {optimal_bound:.2f} nats", color=SERIES_COLORS[1], dash="dot"
    )
    fig.update_xaxes(title_text="training step").update_yaxes(title_text="estimate log(2N−1) − L  [nats]")
    fig.update_yaxes(range=padded_range([c[1] for c in curve] + [true_mi, optimal_bound]))
    return style(fig, height=360, title=title)


def spans_decades(values, decades: float = 2.0) -> bool:
    """True when the positive values span more than `decades` powers of ten (then a log axis helps)."""
    positive = [v for v in values if v is not None and v > 0]
    return bool(positive) and max(positive) / min(positive) > 10**decades and min(values) > 0


def log_axis_if_wide(fig, values, row=None, col=None):
    """A log y axis labelled only at powers of ten (10⁰, 10¹, ...) when the data span decades, else linear."""
    kwargs = {} if row is None else {"row": row, "col": col}
    if spans_decades(values):
        fig.update_yaxes(type="log", dtick=1, exponentformat="power", minor=dict(showgrid=False), **kwargs)
    return fig


# (key in a metrics.jsonl step record, panel title, y-axis title)
TRAINING_PANELS = (
    ("loss", "total loss", "loss [nats]"),
    ("nce", "InfoNCE loss", "loss [nats]"),
    ("mi_lower_bound", "InfoNCE estimate log(2N−1) − L", "estimate [nats]"),
    ("kl_12", "KL(q1‖q2)", "KL [nats]"),
    ("kl_21", "KL(q2‖q1)", "KL [nats]"),
    ("beta_12", "beta_12 (its schedule)", "coefficient"),
)


def training_curves_figure(steps: dict, title: str | None = None):
    """Notebook 5: every loss term per training step, one colour per method.

    Args:
        steps: method -> its metrics.jsonl "step" records (dicts with the TRAINING_PANELS keys and "step").
    A panel gets a log axis only where its values span decades.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=2,
        cols=3,
        subplot_titles=[p[1] for p in TRAINING_PANELS],
        horizontal_spacing=0.09,
        vertical_spacing=0.2,
    )
    for i, (key, _, y_title) in enumerate(TRAINING_PANELS):
        row, col = i // 3 + 1, i % 3 + 1
        values = []
        for method, records in steps.items():
            y = [r[key] for r in records]
            values += y
            fig.add_trace(
                go.Scatter(
                    x=[r["step"] for r in records],
                    y=y,
                    mode="lines+markers" if len(y) < 20 else "lines",
                    name=METHOD_LABELS.get(method, method),
                    legendgroup=method,
                    showlegend=i == 0,
                    line=dict(color=method_color(method)),
                    marker=dict(size=4),
                ),
                row=row,
                col=col,
            )
        log_axis_if_wide(fig, values, row=row, col=col)
        fig.update_yaxes(title_text=y_title, row=row, col=col)
        fig.update_xaxes(title_text="training step", row=row, col=col)
    return style(fig, height=560, title=title)


def knn_monitor_figure(knn: dict, chance: float, title: str | None = None):
    """Notebook 5: the kNN monitor per method.

    Args:
        knn: method -> list of (epoch, top-1 accuracy). With fewer than 3 epochs per method the
            figure shows the last value as one bar per method (a curve of one point says nothing).
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    if max((len(v) for v in knn.values()), default=0) < 3:
        for method, points in knn.items():
            label, last, color = METHOD_LABELS.get(method, method), points[-1][1], method_color(method)
            fig.add_trace(
                go.Bar(
                    x=[label],
                    y=[last],
                    name=label,
                    marker_color=color,
                    width=0.5,
                    text=[f"{last:.1%}"],
                    textposition="inside",
                    insidetextanchor="end",
                )
            )
        fig.update_xaxes(title_text=f"method (after epoch {max(p[-1][0] for p in knn.values())})")
    else:
        for method, points in knn.items():
            fig.add_trace(
                go.Scatter(
                    x=[p[0] for p in points],
                    y=[p[1] for p in points],
                    mode="lines+markers",
                    name=METHOD_LABELS.get(method, method),
                    line=dict(color=method_color(method)),
                )
            )
        fig.update_xaxes(title_text="epoch")
    reference_line(fig, chance, f"chance ({chance:.0%})")
    values = [p[1] for points in knn.values() for p in points] + [chance]
    fig.update_yaxes(title_text="kNN top-1 accuracy", tickformat=".0%", range=padded_range(values, floor=0))
    return style(fig, height=340, title=title)


# Longer than most functions here: one figure's traces and layout, formatted one argument per line.
def evaluation_figure(evaluated: dict, metrics, chance: float, title: str | None = None):
    """Notebook 6: class accuracy per method and probe (bars), and superfluous information against
    accuracy (one marker per method). Colours are the methods'; the chance line is in the legend.

    Args:
        evaluated: method -> {"linear_top1", "aug_probe_mu_mean_r2", ...}.
        metrics: (label, method dict -> accuracy) pairs, one bar group each.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.58, 0.42],
        horizontal_spacing=0.12,
        subplot_titles=["class accuracy of the frozen backbone", "superfluous information vs accuracy"],
    )
    for method, e in evaluated.items():
        label, color = METHOD_LABELS.get(method, method), method_color(method)
        fig.add_trace(
            go.Bar(
                x=[m[0] for m in metrics],
                y=[m[1](e) for m in metrics],
                name=label,
                legendgroup=method,
                marker_color=color,
            ),
            row=1,
            col=1,
        )
        hover = f"{label}<br>R² %{{x:.3f}}<br>linear %{{y:.1%}}<extra></extra>"
        fig.add_trace(
            go.Scatter(
                x=[e["aug_probe_mu_mean_r2"]],
                y=[e["linear_top1"]],
                mode="markers",
                name=label,
                legendgroup=method,
                showlegend=False,
                hovertemplate=hover,
                marker=dict(size=13, color=color),
            ),
            row=1,
            col=2,
        )
    reference_line(fig, chance, f"chance ({chance:.0%})", row=1, col=1)
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="probe", row=1, col=1)
    fig.update_yaxes(title_text="top-1 accuracy", tickformat=".0%", rangemode="tozero", row=1, col=1)
    fig.update_xaxes(title_text="augmentation-probe R² of mu (lower: less superfluous)", row=1, col=2)
    fig.update_yaxes(
        title_text="linear-probe top-1 accuracy",
        tickformat=".0%",
        row=1,
        col=2,
        range=padded_range([e["linear_top1"] for e in evaluated.values()], pad=0.2),
    )
    fig.update_xaxes(
        range=padded_range([e["aug_probe_mu_mean_r2"] for e in evaluated.values()], pad=0.2), row=1, col=2
    )
    return style(fig, height=420, title=title)


def display_images(x):
    """Normalised float (B, 3, H, W) views -> uint8 (B, H, W, 3) pictures (CIFAR-10 mean / std undone)."""
    import torch

    from .data import MEAN, STD

    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    return ((x * std + mean).clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def augmentation_rows(params: dict, labels) -> list[dict]:
    """Table rows (for results.markdown_table) of the augmentation each view drew.

    Args:
        params: view name -> (N, len(AUG_PARAM_NAMES)) parameters as `augment` returns them.
        labels: N image labels; one row per image and view.
    """
    from .data import AUG_PARAM_NAMES

    rows = []
    for i, label in enumerate(labels):
        for view, p in params.items():
            v = dict(zip(AUG_PARAM_NAMES, p[i].tolist()))
            jitter = (
                (
                    f"b {v['brightness']:.2f}, c {v['contrast']:.2f}, s {v['saturation']:.2f}, "
                    f"h {v['hue']:+.2f}"
                )
                if v["jitter_applied"]
                else "none"
            )
            rows.append(
                {
                    "image": label if view == next(iter(params)) else "",
                    "view": view,
                    "crop w x h at centre": f"{v['crop_w']:.2f} x {v['crop_h']:.2f} at "
                    f"({v['crop_cx']:.2f}, {v['crop_cy']:.2f})",
                    "flip": "yes" if v["flip"] else "no",
                    "colour jitter": jitter,
                    "gray": "yes" if v["grayscale"] else "no",
                }
            )
    return rows


# ----------------------------------------------------------------------------- multi-seed studies


def _by_epoch(runs: list[dict], key: str) -> tuple[list[int], list[float], list[float] | None]:
    """Epochs where every run has `key`, the mean over runs and their sd (None for one run)."""
    tables = [
        {row["epoch"]: row[key] for row in run["per_epoch"] if row.get(key) is not None} for run in runs
    ]
    epochs = sorted(set.intersection(*(set(t) for t in tables))) if tables else []
    mean, sd = _mean_and_spread([[t[e] for e in epochs] for t in tables]) if epochs else ([], None)
    return epochs, mean, sd


STUDY_PANELS = (
    ("nce", "InfoNCE loss", "loss [nats]"),
    ("kl_12", "KL(q1‖q2)", "KL [nats]"),
    ("loss", "total loss", "loss [nats]"),
    ("knn_top1", "kNN monitor (test images)", "top-1 accuracy"),
)


def study_curves_figure(runs_by_method: dict[str, list[dict]], title: str | None = None):
    """Per-epoch curves of a multi-seed study: the mean over seeds of each method, its sd as
    error bars.

    Args:
        runs_by_method: method -> its runs (result records with "per_epoch" rows, as
            `metrics.epoch_history` writes them: "epoch", the loss terms, "knn_top1" where measured).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1, cols=len(STUDY_PANELS), subplot_titles=[p[1] for p in STUDY_PANELS], horizontal_spacing=0.07
    )
    for col, (key, _, y_title) in enumerate(STUDY_PANELS, start=1):
        values = []
        for method, runs in runs_by_method.items():
            epochs, mean, sd = _by_epoch(runs, key)
            values += mean
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=mean,
                    mode="lines+markers",
                    name=f"{METHOD_LABELS.get(method, method)} ({len(runs)} seeds)",
                    legendgroup=method,
                    showlegend=col == 1,
                    line=dict(color=method_color(method)),
                    marker=dict(size=5),
                    error_y=dict(type="data", array=sd, visible=sd is not None),
                ),
                row=1,
                col=col,
            )
        if key != "knn_top1":
            log_axis_if_wide(fig, values, row=1, col=col)
        fig.update_yaxes(title_text=y_title, row=1, col=col)
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    return style(fig, height=380, title=title, legend_below=True)


def study_comparison_figure(
    runs_by_method: dict[str, list[dict]], accuracy_metrics, probe_metrics, title=None
):
    """A multi-seed comparison: class accuracy per probe (left) and the augmentation probe's R² on
    h, mu and a sample z (right); bars are means over seeds, error bars their sd.

    Args:
        runs_by_method: method -> its runs (result records).
        accuracy_metrics, probe_metrics: (label, run record -> value) pairs, one bar group each.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.6, 0.4],
        horizontal_spacing=0.1,
        subplot_titles=["class accuracy", "augmentation probe R² (lower: less superfluous)"],
    )
    for method, runs in runs_by_method.items():
        label, color = METHOD_LABELS.get(method, method), method_color(method)
        for col, metrics in ((1, accuracy_metrics), (2, probe_metrics)):
            mean, sd = _mean_and_spread([[get(run) for _, get in metrics] for run in runs])
            fig.add_trace(
                go.Bar(
                    x=[m[0] for m in metrics],
                    y=mean,
                    name=f"{label} ({len(runs)} seeds)",
                    legendgroup=method,
                    showlegend=col == 1,
                    marker_color=color,
                    error_y=dict(type="data", array=sd, visible=sd is not None),
                ),
                row=1,
                col=col,
            )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="top-1 accuracy", tickformat=".0%", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="held-out R²", row=1, col=2)
    return style(fig, height=420, title=title, legend_below=True)
