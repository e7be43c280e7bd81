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
        for s in severities]
    by_corruption = {c: sum(result["accuracy"][c][s][predictor] for s in severities) / len(severities)
                     for c in result["corruptions"]}
    return by_severity, by_corruption


def _mean_and_spread(values: list[list[float]]) -> tuple[list[float], list[float] | None]:
    """Mean over seeds (the outer list) and their standard deviation (None for one seed)."""
    import statistics
    columns = list(zip(*values, strict=True))
    std = [statistics.stdev(c) for c in columns] if len(values) > 1 else None
    return [statistics.fmean(c) for c in columns], std


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

    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.2,
                        subplot_titles=("Accuracy against severity (mean over corruptions)",
                                        "Accuracy per corruption (mean over severities)"))
    for method, results in results_by_method.items():
        runs = results if isinstance(results, list) else [results]
        if not runs:
            raise ValueError(f"results_by_method[{method!r}] is an empty list")
        if any(predictor not in run["clean"] for run in runs):
            raise ValueError(f"predictor {predictor!r} is not in the results of {method!r} "
                             f"(they have {sorted(runs[0]['clean'])})")
        curves = [_robustness_curves(run, predictor) for run in runs]
        corruptions = list(curves[0][1])
        severity_mean, severity_std = _mean_and_spread([c[0] for c in curves])
        bar_mean, bar_std = _mean_and_spread([[c[1][name] for name in corruptions] for c in curves])
        color, label = method_color(method), METHOD_LABELS.get(method, method)
        severities = [0] + list(runs[0]["severities"])
        fig.add_trace(go.Scatter(
            x=severities, y=severity_mean, mode="lines+markers", name=label, legendgroup=method,
            line=dict(color=color),
            error_y=dict(type="data", array=severity_std, visible=severity_std is not None)), row=1, col=1)
        fig.add_trace(go.Bar(
            x=[c.replace("_", " ") for c in corruptions], y=bar_mean, name=label, legendgroup=method,
            showlegend=False, marker_color=color,
            error_y=dict(type="data", array=bar_std, visible=bar_std is not None)), row=2, col=1)
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
            raise ValueError(f"corrupted[{name!r}] has shape {tuple(images.shape)}, expected "
                             f"{tuple(first.shape)} like corrupted[{names[0]!r}]")
        for col in range(severities):
            top, left = row * (h + gap), col * (w + gap)
            mosaic[top:top + h, left:left + w] = images[col].permute(1, 2, 0).cpu().numpy()
    fig = go.Figure(go.Image(z=mosaic, hoverinfo="skip"))
    style(fig, height=height, title=title)
    fig.update_xaxes(title_text="severity (0 = clean)", showgrid=False, zeroline=False,
                     tickvals=[c * (w + gap) + (w - 1) / 2 for c in range(severities)],
                     ticktext=[str(c) for c in range(severities)])
    fig.update_yaxes(title_text="corruption", showgrid=False, zeroline=False,
                     tickvals=[r * (h + gap) + (h - 1) / 2 for r in range(len(names))],
                     ticktext=[n.replace("_", " ") for n in names])
# ----------------------------------------------------------------------------- the toy and the bounds
# What the toy's probes measure (superinfo_lib.toy.MEASURES), how figures name and colour them:
# the three kinds of information in FACTOR_COLORS, the downstream label y in black (few labels
# solid, all labels dotted).
MEASURE_LABELS = {"shared": "shared s", "specific_beyond_shared": "r where view 2 hides it",
                  "nuisance": "nuisance n", "few_label_acc": "y, few labels",
                  "full_label_acc": "y, all labels"}
MEASURE_COLORS = {"shared": FACTOR_COLORS["shared"], "specific_beyond_shared": FACTOR_COLORS["specific"],
                  "nuisance": FACTOR_COLORS["nuisance"], "few_label_acc": "#000000",
                  "full_label_acc": "#000000"}
MEASURE_DASH = {"full_label_acc": "dot"}
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
    for y, labels in merged.items():
        fig.add_hline(y=y, line=dict(color=CHANCE_COLOR, dash="dash", width=1), **kwargs)
    axis = "x" if row is None else fig.get_subplot(row, col).xaxis.plotly_name.replace("axis", "")
    for y, labels in merged.items():
        fig.add_annotation(x=1.0, xref=f"{axis} domain", xanchor="left", y=y, yref=axis.replace("x", "y"),
                           text=" chance: " + ", ".join(labels), showarrow=False,
                           font=dict(color=CHANCE_COLOR, size=10), align="left")
    return fig


def _mean_trace(fig, x, rows, key, pairs, name, legend, row=None, col=None, mode="lines+markers"):
    means, stds = seed_summary(rows, key, pairs)
    kwargs = {} if row is None else {"row": row, "col": col}
    fig.add_scatter(x=x, y=means, error_y=dict(type="data", array=stds, visible=True), mode=mode, name=name,
                    legend=legend, line=dict(color=MEASURE_COLORS.get(key, "#000000"),
                                             dash=MEASURE_DASH.get(key)), **kwargs)


def toy_sweep_figure(rows: list[dict], betas: list[float], chance: dict[str, float], few_labels: int):
    """(a) what mu(v1) keeps of each kind of information, (b) downstream accuracy on y, against a
    symmetric beta; mean over seeds, error bars one standard deviation. One legend per panel."""
    from plotly.subplots import make_subplots

    pairs, x = [(b, b) for b in betas], [beta_label(b) for b in betas]
    seeds = len({r["seed"] for r in rows})
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.2, subplot_titles=(
        "(a) what the representation keeps", f"(b) downstream label y ({seeds} seeds)"))
    for key in ("shared", "specific_beyond_shared", "nuisance"):
        _mean_trace(fig, x, rows, key, pairs, MEASURE_LABELS[key], "legend", 1, 1)
    for key in ("few_label_acc", "full_label_acc"):
        name = f"y, {few_labels} labels per class" if key == "few_label_acc" else MEASURE_LABELS[key]
        _mean_trace(fig, x, rows, key, pairs, name, "legend2", 1, 2)
    chance_lines(fig, {"s": chance["shared"], "r, n": chance["nuisance"]}, 1, 1)
    chance_lines(fig, {"y": chance["few_label_acc"]}, 1, 2)
    fig.update_xaxes(title_text="β = β12 = β21", type="category")
    fig.update_yaxes(title_text="probe accuracy on μ(v1), test rows", range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(title_text="accuracy on y, test rows", range=[0, 1.05], row=1, col=2)
    style(fig, height=440, title="Symmetric β sweep on the toy data (mean ± sd over seeds)")
    fig.update_layout(margin=dict(r=80))
    return legends_under_axis_titles(fig, (("legend", 0.0), ("legend2", 0.6)))


def toy_bounds_figure(rows: list[dict], betas: list[float], batch_size: int):
    """(a) the InfoNCE bound (linear axis), (b) KL(q1||q2) (log axis), at the end of training."""
    import math

    from plotly.subplots import make_subplots

    pairs, x = [(b, b) for b in betas], [beta_label(b) for b in betas]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14, subplot_titles=(
        "(a) predictive: InfoNCE lower bound", "(b) superfluous: KL upper bound"))
    means, stds = seed_summary(rows, "final_mi_lower_bound", pairs)
    fig.add_scatter(x=x, y=means, error_y=dict(type="data", array=stds), name="log(2N−1) − InfoNCE",
                    line=dict(color=TERM_COLORS["mi_lower_bound"]), showlegend=False, row=1, col=1)
    ceiling = math.log(2 * batch_size - 1)
    fig.add_hline(y=ceiling, line=dict(color=CHANCE_COLOR, dash="dot", width=1), row=1, col=1)
    fig.add_annotation(x=0, xref="x domain", y=ceiling, yref="y", yanchor="bottom",
                       xanchor="left", text="log(2N−1), the estimator's ceiling", showarrow=False,
                       font=dict(color=CHANCE_COLOR, size=10))
    means, stds = seed_summary(rows, "final_kl_12", pairs)
    fig.add_scatter(x=x, y=means, error_y=dict(type="data", array=stds), name="KL(q1‖q2)",
                    line=dict(color=TERM_COLORS["kl_12"]), showlegend=False, row=1, col=2)
    fig.update_xaxes(title_text="β = β12 = β21", type="category")
    fig.update_yaxes(title_text="log(2N−1) − InfoNCE  [nats]", row=1, col=1)
    fig.update_yaxes(title_text="KL(q1‖q2)  [nats, log scale]", type="log", exponentformat="power",
                     row=1, col=2)
    return style(fig, height=360, title="The two bounds at the end of training (mean ± sd over seeds)")


def toy_settings_figure(rows: list[dict], pairs: list[tuple[float, float]], chance: dict[str, float],
                        title: str, keys=("specific_beyond_shared", "nuisance", "few_label_acc")):
    """Grouped bars: for each (beta_12, beta_21) pair, the mean over seeds of each measure (± sd)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    x = [pair_label(*p) for p in pairs]
    for key in keys:
        means, stds = seed_summary(rows, key, pairs)
        fig.add_bar(x=x, y=means, error_y=dict(type="data", array=stds), name=MEASURE_LABELS[key],
                    marker_color=MEASURE_COLORS[key])
    chance_lines(fig, {MEASURE_LABELS[k].split(" ")[0].rstrip(","): chance[k] for k in keys})
    fig.update_layout(barmode="group", xaxis=dict(title="β12 / β21", type="category"),
                      yaxis=dict(title="accuracy, test rows (mean ± sd over seeds)", range=[0, 1.05]))
    style(fig, height=400, title=title)
    fig.update_layout(margin=dict(r=90))
    return legends_under_axis_titles(fig)


def kl_bound_figure(points: list[dict]):
    """The Gaussian case: true I(v1; z1 | v2) and MIB's bound E KL(q(z|v1) || q(z|v2)) against the
    encoder's sigma (both axes log). points: dicts with encoder_std, truth, bound, mc_bound, mc_stderr."""
    import plotly.graph_objects as go

    x = [p["encoder_std"] for p in points]
    fig = go.Figure()
    fig.add_scatter(x=x, y=[p["truth"] for p in points], mode="lines+markers", name="true I(v1; z1 | v2)",
                    line=dict(color=TRUTH_COLOR))
    fig.add_scatter(x=x, y=[p["bound"] for p in points], mode="lines", name="bound, closed form",
                    line=dict(color=BOUND_COLOR, dash="dash"))
    fig.add_scatter(x=x, y=[p["mc_bound"] for p in points], mode="markers",
                    name="bound, Monte Carlo (± 2 s.e.)",
                    marker=dict(color=BOUND_COLOR, size=9, symbol="circle-open"),
                    error_y=dict(type="data", array=[2 * p["mc_stderr"] for p in points]))
    fig.update_layout(xaxis=dict(title="encoder σ  (log scale)", type="log", exponentformat="power"),
                      yaxis=dict(title="nats per dimension  (log scale)", type="log", exponentformat="power"))
    style(fig, height=400, title="MIB's KL bound against the true superfluous information")
    return legends_under_axis_titles(fig)


def sigma_kl_figure(rows: list[dict], betas: list[float]):
    """(a) the encoder's sigma = exp(logvar / 2), median over latent dimensions and held-out rows,
    (b) the final KL(q1||q2), against beta; both log axes, mean ± sd over seeds."""
    from plotly.subplots import make_subplots

    pairs, x = [(b, b) for b in betas], [beta_label(b) for b in betas]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14,
                        subplot_titles=("(a) the encoder's σ", "(b) the KL bound it produces"))
    panels = ((1, "sigma_median", TERM_COLORS["loss"]), (2, "final_kl_12", TERM_COLORS["kl_12"]))
    for col, key, color in panels:
        means, stds = seed_summary(rows, key, pairs)
        fig.add_scatter(x=x, y=means, error_y=dict(type="data", array=stds), line=dict(color=color),
                        showlegend=False, row=1, col=col)
    fig.update_xaxes(title_text="β = β12 = β21 (toy encoder)", type="category")
    fig.update_yaxes(title_text="median σ = exp(logvar / 2)  (log scale)", type="log", exponentformat="power",
                     row=1, col=1)
    fig.update_yaxes(title_text="KL(q1‖q2)  [nats, log scale]", type="log", exponentformat="power",
                     row=1, col=2)
    return style(fig, height=360, title="A growing KL can be a shrinking σ (mean ± sd over seeds)")


def training_bounds_figure(steps: list[dict], batch_size: int):
    """Both bounds per logged step of a training run (metrics.jsonl "step" records): (a) the InfoNCE
    estimate log(2N−1) − L and the bound that is proven for SimCLR's paired negatives, log N − L,
    on a linear axis; (b) the two KL upper bounds."""
    import math

    from plotly.subplots import make_subplots

    x = [r["step"] for r in steps]
    shift = math.log((2 * batch_size - 1) / batch_size)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14, subplot_titles=(
        "(a) predictive: InfoNCE lower bound on I(z1; z2)", "(b) superfluous: KL upper bounds"))
    fig.add_scatter(x=x, y=[r["mi_lower_bound"] for r in steps], name="log(2N−1) − L (usual estimate)",
                    line=dict(color=TERM_COLORS["mi_lower_bound"]), row=1, col=1)
    fig.add_scatter(x=x, y=[r["mi_lower_bound"] - shift for r in steps], name="log N − L (proven bound)",
                    line=dict(color=TERM_COLORS["mi_lower_bound"], dash="dot"), row=1, col=1)
    fig.add_scatter(x=x, y=[r["kl_12"] for r in steps], name="KL(q1‖q2) ≥ I(v1; z1 | v2)",
                    line=dict(color=TERM_COLORS["kl_12"]), row=1, col=2)
    fig.add_scatter(x=x, y=[r["kl_21"] for r in steps], name="KL(q2‖q1) ≥ I(v2; z2 | v1)",
                    line=dict(color=TERM_COLORS["kl_21"]), row=1, col=2)
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="nats (linear axis)", type="linear", row=1, col=1)
    fig.update_yaxes(title_text="nats", row=1, col=2)
    style(fig, height=420, title="Training with β = 0: both bounds per logged step")
    return legends_under_axis_titles(fig)


AUG_PROBE_COLORS = {"trained": METHOD_COLORS["simclr"], "random init": PREVIOUS_COLOR, "control": "#000000"}


def aug_probe_figure(scores: dict[str, dict], names: list[str], images: int):
    """Grouped bars of held-out R² per augmentation parameter (and their mean), one bar per
    encoder / control. scores: {label: {parameter: R², "mean_r2": ...}}; a label's colour is
    AUG_PROBE_COLORS of its first matching key."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for label, s in scores.items():
        color = next((c for k, c in AUG_PROBE_COLORS.items() if k in label), "#7F7F7F")
        fig.add_bar(x=list(names) + ["mean"], y=[s[n] for n in names] + [s["mean_r2"]], name=label,
                    marker_color=color)
    fig.add_hline(y=0, line=dict(color="#000000", width=1))
    fig.update_layout(barmode="group", xaxis_title="augmentation parameter of the view",
                      yaxis_title="held-out R²  (0 = predicting the mean)")
    style(fig, height=440, title=f"Reading a view's augmentation parameters from μ(view), {images} test images")
    return legends_under_axis_titles(fig)


def legends_under_axis_titles(fig, legends=(("legend", 0.0),), bottom: int = 130):
    """Put each named legend (name, x in paper units) horizontally under the x-axis title, not on
    it: 75 px below the plot area, whatever the figure's height; widens the bottom margin."""
    layout = fig.layout
    plot_height = (layout.height or 450) - (layout.margin.t or 60) - bottom
    fig.update_layout(margin=dict(b=bottom))
    for name, x in legends:
        fig.update_layout({name: dict(orientation="h", x=x, xanchor="left", y=-75 / plot_height, yanchor="top")})
    return fig
