"""Figures of a trained encoder's evaluation (notebooks 3 and 6): class accuracy per probe and method
against superfluous information, the augmentation probe's R² per parameter, and accuracy under
corruption.
"""

from __future__ import annotations

from .theme import (
    METHOD_COLORS,
    METHOD_LABELS,
    PREVIOUS_COLOR,
    _mean_and_spread,
    legends_under_axis_titles,
    method_color,
    padded_range,
    reference_line,
    style,
)


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


def sigma_figure(sigma_by_method: dict, title: str | None = None):
    """How wide each encoder's posterior is: the distribution over test images of each image's
    median sigma (over its latent dimensions), one histogram per method on a log axis.

    Args:
        sigma_by_method: method -> (N, K) sigma of N images.
    """
    import math

    import plotly.graph_objects as go

    fig = go.Figure()
    for method, sigma in sigma_by_method.items():
        per_image = sigma.float().median(dim=1).values.log10()
        fig.add_trace(
            go.Histogram(
                x=per_image.tolist(),
                name=METHOD_LABELS.get(method, method),
                marker_color=method_color(method),
                opacity=0.65,
                nbinsx=60,
            )
        )
    ticks = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    fig.update_xaxes(
        title_text="median sigma of an image's latent dimensions (log scale)",
        tickvals=[math.log10(v) for v in ticks],
        ticktext=[f"{v:g}" for v in ticks],
    )
    fig.update_yaxes(title_text="test images")
    fig.update_layout(barmode="overlay")
    return style(fig, height=340, title=title, legend_below=True)
