"""Figures of the toy data (notebook 4, and the toy encoder's sigma in notebook 3): what a sample z
keeps of each kind of information, the two bounds, asymmetric (beta_12, beta_21) settings and data
conditions, each against beta as the mean ± sd over seeds; with the toy's measure names and colours
and the beta labels they use.
"""

from __future__ import annotations

from .theme import (
    CHANCE_COLOR,
    FACTOR_COLORS,
    SERIES_COLORS,
    TERM_COLORS,
    chance_lines,
    legends_under_axis_titles,
    style,
)

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
