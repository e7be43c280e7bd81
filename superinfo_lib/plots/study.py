"""Figures of a multi-seed study (the CPU studies): per-epoch curves and the final comparison of
methods, each the mean over seeds with their sd as error bars.
"""

from __future__ import annotations

from .theme import METHOD_LABELS, _mean_and_spread, log_axis_if_wide, method_color, style


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
