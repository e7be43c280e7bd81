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


# ------------------------------------------------------------------------ figures of notebooks 01, 02, 05, 06
# Each returns a styled figure; a notebook cell only says what to draw. Legends name every line,
# so no text is written over the data.

# Series that are not methods (batch sizes, ...): the rest of the Okabe-Ito palette, in order.
SERIES_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
TRUTH_COLOR = "#222222"


def padded_range(values, pad: float = 0.1, floor: float | None = None) -> list[float]:
    """[low, high] around `values` with `pad` of their span on each side, so that no marker or
    line sits on the plot's edge (reference lines drawn with add_hline do not widen autorange)."""
    low, high = min(values), max(values)
    margin = pad * (high - low) or pad * abs(high) or pad
    return [low - margin if floor is None else max(floor, low - margin), high + margin]


def reference_line(fig, y: float, name: str, color: str = CHANCE_COLOR, dash: str = "dash", row=None,
                   col=None, legendgroup: str | None = None, showlegend: bool = True):
    """A horizontal line across a panel, named in the legend instead of labelled on the plot."""
    import plotly.graph_objects as go

    kwargs = {} if row is None else {"row": row, "col": col}
    line = dict(color=color, dash=dash, width=1.5)
    fig.add_hline(y=y, line=line, **kwargs)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=line, name=name, legendgroup=legendgroup,
                             showlegend=showlegend, hoverinfo="skip"), **kwargs)
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
            canvas[y0:y0 + h, x0:x0 + w] = stack[c]
    left, right, top, bottom = 80, 10, 60 if title else 30, 10
    scale = (MAX_WIDTH - left - right) / canvas.shape[1]
    fig = go.Figure(go.Image(z=canvas, hoverinfo="skip"))
    fig.update_xaxes(tickvals=[pad + c * (w + pad) + w / 2 for c in range(n)], side="top", showgrid=False,
                     ticktext=list(column_titles) if column_titles is not None else [""] * n, zeroline=False)
    fig.update_yaxes(tickvals=[pad + r * (h + pad) + h / 2 for r in range(len(stacks))], ticktext=labels,
                     showgrid=False, zeroline=False)
    style(fig, height=round(canvas.shape[0] * scale) + top + bottom + 20, title=title)
    fig.update_layout(margin=dict(l=left, r=right, t=top + 20, b=bottom))
    return fig


def bar_chart(categories, values, x_title: str, y_title: str, title: str | None = None,
              color: str = "#0072B2", height: int = 320):
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
    fig.add_trace(go.Scatter(x=truth, y=truth, mode="lines", name="true I(x; y)",
                             line=dict(color=TRUTH_COLOR, dash="dash", width=1.5)))
    for i, n in enumerate(sorted({p["batch_pairs"] for p in sweep})):
        points = sorted((p for p in sweep if p["batch_pairs"] == n), key=lambda p: p["true_mi"])
        color, group = SERIES_COLORS[i % len(SERIES_COLORS)], f"N{n}"
        fig.add_trace(go.Scatter(x=[p["true_mi"] for p in points], y=[p["bound"] for p in points],
                                 error_y=dict(array=[p["stderr"] for p in points], thickness=1, width=2),
                                 mode="lines+markers", name=f"N = {n} pairs (ceiling dotted)",
                                 legendgroup=group, line=dict(color=color), marker=dict(size=5)))
        reference_line(fig, points[0]["ceiling"], f"log(2·{n}−1)", color=color, dash="dot", legendgroup=group,
                       showlegend=False)
    fig.update_xaxes(title_text="true I(x; y)  [nats]", rangemode="tozero")
    fig.update_yaxes(title_text="bound log(2N−1) − L  [nats]", rangemode="tozero")
    return style(fig, height=440, title=title)


def learned_critic_figure(curve, true_mi: float, optimal_bound: float, title: str | None = None):
    """Notebook 2: the bound of a learned critic while it trains, against the truth and the optimal critic.

    Args:
        curve: (step, bound) pairs.
    """
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=[c[0] for c in curve], y=[c[1] for c in curve], mode="lines+markers",
                               name="learned critic", line=dict(color=SERIES_COLORS[0]), marker=dict(size=5)))
    reference_line(fig, true_mi, f"true I(x; y) = {true_mi:.2f} nats", color=TRUTH_COLOR, dash="dash")
    reference_line(fig, optimal_bound, f"optimal critic: {optimal_bound:.2f} nats", color=SERIES_COLORS[1],
                   dash="dot")
    fig.update_xaxes(title_text="training step").update_yaxes(title_text="bound log(2N−1) − L  [nats]")
    fig.update_yaxes(range=padded_range([c[1] for c in curve] + [true_mi, optimal_bound]))
    return style(fig, height=360, title=title)


def spans_decades(values, decades: float = 2.0) -> bool:
    """True when the positive values span more than `decades` powers of ten (then a log axis helps)."""
    positive = [v for v in values if v is not None and v > 0]
    return bool(positive) and max(positive) / min(positive) > 10 ** decades and min(values) > 0


def log_axis_if_wide(fig, values, row=None, col=None):
    """A log y axis labelled only at powers of ten (10⁰, 10¹, ...) when the data span decades, else linear."""
    kwargs = {} if row is None else {"row": row, "col": col}
    if spans_decades(values):
        fig.update_yaxes(type="log", dtick=1, exponentformat="power", minor=dict(showgrid=False), **kwargs)
    return fig


# (key in a metrics.jsonl step record, panel title, y-axis title)
TRAINING_PANELS = (("loss", "total loss", "loss [nats]"), ("nce", "InfoNCE loss", "loss [nats]"),
                   ("mi_lower_bound", "InfoNCE bound log(2N−1) − L", "bound [nats]"),
                   ("kl_12", "KL(q1‖q2)", "KL [nats]"), ("kl_21", "KL(q2‖q1)", "KL [nats]"),
                   ("beta_12", "beta_12 (its schedule)", "coefficient"))


def training_curves_figure(steps: dict, title: str | None = None):
    """Notebook 5: every loss term per training step, one colour per method.

    Args:
        steps: method -> its metrics.jsonl "step" records (dicts with the TRAINING_PANELS keys and "step").
    A panel gets a log axis only where its values span decades.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=3, subplot_titles=[p[1] for p in TRAINING_PANELS],
                        horizontal_spacing=0.09, vertical_spacing=0.2)
    for i, (key, _, y_title) in enumerate(TRAINING_PANELS):
        row, col = i // 3 + 1, i % 3 + 1
        values = []
        for method, records in steps.items():
            y = [r[key] for r in records]
            values += y
            fig.add_trace(go.Scatter(x=[r["step"] for r in records], y=y, mode="lines+markers" if len(y) < 20
                                     else "lines", name=METHOD_LABELS.get(method, method), legendgroup=method,
                                     showlegend=i == 0, line=dict(color=method_color(method)),
                                     marker=dict(size=4)), row=row, col=col)
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
            fig.add_trace(go.Bar(x=[label], y=[last], name=label, marker_color=color, width=0.5,
                                 text=[f"{last:.1%}"], textposition="inside", insidetextanchor="end"))
        fig.update_xaxes(title_text=f"method (after epoch {max(p[-1][0] for p in knn.values())})")
    else:
        for method, points in knn.items():
            fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                                     name=METHOD_LABELS.get(method, method),
                                     line=dict(color=method_color(method))))
        fig.update_xaxes(title_text="epoch")
    reference_line(fig, chance, f"chance ({chance:.0%})")
    values = [p[1] for points in knn.values() for p in points] + [chance]
    fig.update_yaxes(title_text="kNN top-1 accuracy", tickformat=".0%", range=padded_range(values, floor=0))
    return style(fig, height=340, title=title)


def evaluation_figure(evaluated: dict, metrics, chance: float, title: str | None = None):
    """Notebook 6: class accuracy per method and probe (bars), and superfluous information against
    accuracy (one marker per method). Colours are the methods'; the chance line is in the legend.

    Args:
        evaluated: method -> {"linear_top1", "aug_probe_mu_mean_r2", ...}.
        metrics: (label, method dict -> accuracy) pairs, one bar group each.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, column_widths=[0.58, 0.42], horizontal_spacing=0.12,
                        subplot_titles=["class accuracy of the frozen backbone",
                                        "superfluous information vs accuracy"])
    for method, e in evaluated.items():
        label, color = METHOD_LABELS.get(method, method), method_color(method)
        fig.add_trace(go.Bar(x=[m[0] for m in metrics], y=[m[1](e) for m in metrics], name=label,
                             legendgroup=method, marker_color=color), row=1, col=1)
        hover = f"{label}<br>R² %{{x:.3f}}<br>linear %{{y:.1%}}<extra></extra>"
        fig.add_trace(go.Scatter(x=[e["aug_probe_mu_mean_r2"]], y=[e["linear_top1"]], mode="markers",
                                 name=label, legendgroup=method, showlegend=False, hovertemplate=hover,
                                 marker=dict(size=13, color=color)), row=1, col=2)
    reference_line(fig, chance, f"chance ({chance:.0%})", row=1, col=1)
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="probe", row=1, col=1)
    fig.update_yaxes(title_text="top-1 accuracy", tickformat=".0%", rangemode="tozero", row=1, col=1)
    fig.update_xaxes(title_text="augmentation-probe R² of mu (lower: less superfluous)", row=1, col=2)
    fig.update_yaxes(title_text="linear-probe top-1 accuracy", tickformat=".0%", row=1, col=2,
                     range=padded_range([e["linear_top1"] for e in evaluated.values()], pad=0.2))
    fig.update_xaxes(range=padded_range([e["aug_probe_mu_mean_r2"] for e in evaluated.values()], pad=0.2),
                     row=1, col=2)
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
            jitter = (f"b {v['brightness']:.2f}, c {v['contrast']:.2f}, s {v['saturation']:.2f}, "
                      f"h {v['hue']:+.2f}") if v["jitter_applied"] else "none"
            rows.append({"image": label if view == next(iter(params)) else "", "view": view,
                         "crop w x h at centre": f"{v['crop_w']:.2f} x {v['crop_h']:.2f} at "
                                                 f"({v['crop_cx']:.2f}, {v['crop_cy']:.2f})",
                         "flip": "yes" if v["flip"] else "no", "colour jitter": jitter,
                         "gray": "yes" if v["grayscale"] else "no"})
    return rows
