"""The course's one visual language, shared by every figure module: fixed colours per method, factor,
loss term and series; `style` (a figure that fits a notebook's width, titled, white); labels that do
not sit on the data (`reference_line`, `chance_line(s)`, `legends_under_axis_titles`); axis helpers
(`padded_range`, `log_axis_if_wide`); and `bar_chart`, the plainest figure.

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
# A bound in the KL term's colour, the truth it bounds in black.
BOUND_COLOR, TRUTH_COLOR = TERM_COLORS["kl_12"], "#000000"

# Series that are not methods (batch sizes, ...): the rest of the Okabe-Ito palette, in order.
SERIES_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")

# A JupyterLab output area is about 970 px wide; leave room for its scroll bar.
MAX_WIDTH = 940


def method_color(name: str, default: str | None = "#7F7F7F") -> str | None:
    """Colour of a method; unknown names (e.g. "superinfo (beta 1e-3)") match by prefix.
    A name that is no method gets `default` (grey unless given)."""
    for key, color in METHOD_COLORS.items():
        if name.lower().startswith(key):
            return color
    return default


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


def _mean_and_spread(values: list[list[float]]) -> tuple[list[float], list[float] | None]:
    """Mean over seeds (the outer list) and their standard deviation (None for one seed)."""
    import statistics

    columns = list(zip(*values, strict=True))
    std = [statistics.stdev(c) for c in columns] if len(values) > 1 else None
    return [statistics.fmean(c) for c in columns], std


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
