"""Figures of mutual information and its bounds on known distributions (notebooks 2 and 3): the
optimal-critic InfoNCE bound against the true I(x; y), a learned critic while it trains, and MIB's
KL bound against the true superfluous information of the Gaussian case.
"""

from __future__ import annotations

from .theme import (
    BOUND_COLOR,
    SERIES_COLORS,
    TRUTH_COLOR,
    legends_under_axis_titles,
    padded_range,
    reference_line,
    style,
)


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
