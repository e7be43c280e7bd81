"""Figures of one training run per logged step or epoch (notebooks 3 and 5): every loss term per
method, the kNN monitor, and the InfoNCE / KL bounds of a run.
"""

from __future__ import annotations

from .theme import (
    METHOD_LABELS,
    TERM_COLORS,
    legends_under_axis_titles,
    log_axis_if_wide,
    method_color,
    padded_range,
    reference_line,
    style,
)

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
