"""Maps of a representation: a few thousand images placed in 2-D (t-SNE) so that neighbours in the
encoder's feature space stay neighbours, coloured by class, one panel per encoder.
"""

from __future__ import annotations

from .theme import METHOD_LABELS, style

# Ten distinguishable class colours (plotly's D3 palette): a class keeps its colour in every panel.
CLASS_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def map_figure(points_by_method: dict, labels, classes, scores: dict | None = None, title: str | None = None):
    """One 2-D map per method, side by side, each point an image coloured by its class.

    Args:
        points_by_method: method -> (N, 2) map coordinates of the same N images.
        labels: (N,) class indices; classes: class names.
        scores: optional method -> a number shown in the panel's title (e.g. class separation).
    The maps' axes carry no meaning (t-SNE keeps who is near whom), so they are hidden.
    """
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    methods = list(points_by_method)
    labels = np.asarray(labels)
    titles = [
        METHOD_LABELS.get(m, m) + (f" · {scores[m]:.0%} of points among their class" if scores else "")
        for m in methods
    ]
    fig = make_subplots(rows=1, cols=len(methods), subplot_titles=titles, horizontal_spacing=0.03)
    for col, method in enumerate(methods, start=1):
        points = np.asarray(points_by_method[method])
        for c, name in enumerate(classes):
            mine = points[labels == c]
            fig.add_trace(
                go.Scattergl(
                    x=mine[:, 0],
                    y=mine[:, 1],
                    mode="markers",
                    marker=dict(size=3, color=CLASS_COLORS[c % len(CLASS_COLORS)], opacity=0.8),
                    name=str(name),
                    legendgroup=str(name),
                    showlegend=col == 1,
                    hovertemplate=f"{name}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(visible=False, row=1, col=col)
        fig.update_yaxes(visible=False, row=1, col=col)
    fig = style(fig, height=400, title=title, legend_below=True)
    return fig.update_layout(legend=dict(itemsizing="constant"))
