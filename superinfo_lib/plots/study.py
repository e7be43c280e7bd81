"""Figures of a multi-seed study (the CPU studies): per-epoch curves and the final comparison of
methods, each the mean over seeds with their sd as error bars.
"""

from __future__ import annotations

from .theme import (
    METHOD_LABELS,
    SERIES_COLORS,
    _mean_and_spread,
    log_axis_if_wide,
    method_color,
    reference_line,
    style,
)


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


def forest_figure(
    rows: list[dict], title: str | None = None, height_per_row: int = 34, baseline: str = "SimCLR"
):
    """Paired differences as a forest plot: one row per metric, each method's mean difference a
    dot and its 95 % interval a bar, a line at 0, and the reading beside each row. Accuracies
    (percentage points) and augmentation-probe R² get a panel each, as their units differ.

    Args:
        rows: `superinfo_lib.study.difference_rows(...)` (each with "_key", "_method", "_diff"
            {"mean", "low", "high"}, "metric" and "reading"), or `claim.forest_rows(...)`.
        baseline: what every row's difference is taken from, as the titles name it.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    panels = [
        (
            f"class accuracy: method − {baseline} [percentage points]",
            [r for r in rows if "points" in r["metric"]],
            100,
        ),
        (f"augmentation probe R²: method − {baseline}", [r for r in rows if "R²" in r["metric"]], 1),
    ]
    panels = [p for p in panels if p[1]]
    metrics = [list(dict.fromkeys(r["metric"] for r in panel_rows)) for _, panel_rows, _ in panels]
    fig = make_subplots(
        rows=len(panels),
        cols=1,
        row_heights=[len(m) for m in metrics],
        vertical_spacing=0.14,
        subplot_titles=[p[0] for p in panels],
    )
    methods = list(dict.fromkeys(r["_method"] for r in rows))
    offset = {m: 0.15 * (i - (len(methods) - 1) / 2) for i, m in enumerate(methods)}
    # A method's own colour; rows that are not methods (the claim study's betas) take the series colours.
    colors = {m: method_color(m, default=None) or SERIES_COLORS[i] for i, m in enumerate(methods)}
    for row, ((_, panel_rows, scale), names) in enumerate(zip(panels, metrics), start=1):
        position = {name: len(names) - 1 - i for i, name in enumerate(names)}  # the first metric on top
        for method in methods:
            mine = [r for r in panel_rows if r["_method"] == method]
            d = [r["_diff"] for r in mine]
            fig.add_trace(
                go.Scatter(
                    x=[scale * x["mean"] for x in d],
                    y=[position[r["metric"]] + offset[method] for r in mine],
                    mode="markers",
                    marker=dict(color=colors[method], size=9),
                    error_x=dict(
                        type="data",
                        symmetric=False,
                        array=[scale * (x["high"] - x["mean"]) for x in d],
                        arrayminus=[scale * (x["mean"] - x["low"]) for x in d],
                        thickness=2,
                        width=0,
                    ),
                    name=f"{METHOD_LABELS.get(method, method)} − {baseline}",
                    legendgroup=method,
                    showlegend=row == 1,
                    customdata=[r["reading"] for r in mine],
                    hovertemplate="%{x:.3g} (%{customdata})<extra></extra>",
                ),
                row=row,
                col=1,
            )
        readings = {
            name: " · ".join(
                f"{METHOD_LABELS.get(r['_method'], r['_method'])}: {_short_reading(r['reading'])}"
                for r in panel_rows
                if r["metric"] == name
            )
            for name in names
        }
        fig.update_yaxes(
            tickvals=[position[n] for n in names],
            ticktext=[f"{_short_metric(n)}<br><sub>{readings[n]}</sub>" for n in names],
            range=[-0.6, len(names) - 0.4],
            row=row,
            col=1,
        )
        fig.add_vline(x=0, line=dict(color="#444444", width=1), row=row, col=1)
    fig.update_layout(margin=dict(l=260))
    # Two lines of label per metric (its name, then the readings) need two rows' height.
    height = 140 + height_per_row * sum(len(m) for m in metrics) * max(2, len(methods))
    return style(fig, height=height, title=title, legend_below=True).update_layout(margin=dict(l=260))


def gain_by_epoch_figure(growth: dict[str, dict[str, dict | None]], title: str | None = None):
    """A paired gain against training length: for each beta, beta - 0 after each epoch (the mean
    over seeds a dot, its 95 % interval a bar), in percentage points, with a line at 0.

    Args:
        growth: {beta label: {epoch: paired difference {"mean", "low", "high"} or None}}, as
            `superinfo_lib.claim.analyse(...)["growth"]` gives it (accuracy fractions); epochs
            without a difference are left out.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, (beta, by_epoch) in enumerate(growth.items()):
        shown = [(int(e), d) for e, d in by_epoch.items() if d is not None]
        fig.add_trace(
            go.Scatter(
                x=[e for e, _ in shown],
                y=[100 * d["mean"] for _, d in shown],
                mode="lines+markers",
                marker=dict(color=SERIES_COLORS[i % len(SERIES_COLORS)], size=9),
                line=dict(color=SERIES_COLORS[i % len(SERIES_COLORS)], width=1.5),
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=[100 * (d["high"] - d["mean"]) for _, d in shown],
                    arrayminus=[100 * (d["mean"] - d["low"]) for _, d in shown],
                    thickness=2,
                ),
                name=f"beta = {beta} − beta = 0",
                hovertemplate="epoch %{x}: %{y:.2f} points<extra></extra>",
            )
        )
    reference_line(fig, 0, "no difference", color="#444444", dash="solid")
    epochs = sorted({int(e) for by_epoch in growth.values() for e in by_epoch})
    fig.update_xaxes(title_text="epochs of training", tickvals=epochs)
    fig.update_yaxes(title_text="gain [percentage points]")
    return style(fig, height=340, title=title, legend_below=True)


def _short_metric(label: str) -> str:
    return label.replace(" (points)", "").replace("augmentation probe R² on ", "R² on ")


def _short_reading(reading: str) -> str:
    return "not detected" if reading.startswith("no measurable") else reading
