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
    return fig
