"""Retrieval pictures: each query image followed by its nearest neighbours, one row per query.

    retrieval_figure(queries, neighbours, query_labels, neighbour_labels, classes, title)

The explorer's CIFAR-10 mode and the evaluation notebook draw it for an encoder's nearest
neighbours; it knows nothing of encoders: it draws the images and labels it is given.
"""

from __future__ import annotations

from .theme import MAX_WIDTH, SERIES_COLORS, TERM_COLORS, style

# Frame and label colours (Okabe-Ito blue / orange: told apart with any colour vision).
SAME_CLASS_COLOR, OTHER_CLASS_COLOR = SERIES_COLORS[0], SERIES_COLORS[1]
QUERY_COLOR = TERM_COLORS["loss"]  # near-black
_FRAME, _PAD, _GAP, _LABEL = 2, 3, 10, 13  # canvas pixels: frame, padding, query gap, label room
_MAX_SCALE = 2.2  # screen pixels per image pixel: 32 px images drawn ~70 px


def _hex_rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def _png_source(canvas) -> str:
    """uint8 (H, W, 3) -> a PNG data URI: a few kB in the figure's JSON, where the pixel values
    themselves would be about a megabyte."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def retrieval_figure(
    query_images,
    neighbour_images,
    query_labels,
    neighbour_labels,
    classes,
    title: str | None = None,
    neighbour_scores=None,
):
    """One row per query: the query, then its K neighbours, most similar first.

    Args:
        query_images: uint8 (Q, 3, H, W) (tensor or array).
        neighbour_images: uint8 (Q, K, 3, H, W): row q holds the neighbours of query q.
        query_labels: (Q,) class indices; neighbour_labels: (Q, K) class indices.
        classes: class names, indexed by the labels.
        neighbour_scores: optional (Q, K) numbers (e.g. cosine similarity) shown after each label.
    A neighbour of the query's class has a blue frame and label, another class an orange one;
    the legend says so. Row labels name each query's class.
    """
    import numpy as np
    import plotly.graph_objects as go

    queries, neighbours = np.asarray(query_images), np.asarray(neighbour_images)
    q_labels, n_labels = np.asarray(query_labels), np.asarray(neighbour_labels)
    if queries.ndim != 4 or queries.shape[1] != 3:
        raise ValueError(f"query_images: expected (Q, 3, H, W), got shape {queries.shape}")
    n_q, _, h, w = queries.shape
    if neighbours.ndim != 5 or neighbours.shape[0] != n_q or neighbours.shape[2:] != (3, h, w):
        raise ValueError(f"neighbour_images: expected ({n_q}, K, 3, {h}, {w}), got shape {neighbours.shape}")
    k = neighbours.shape[1]
    if q_labels.shape != (n_q,):
        raise ValueError(f"query_labels: expected shape ({n_q},), got {q_labels.shape}")
    if n_labels.shape != (n_q, k):
        raise ValueError(f"neighbour_labels: expected shape ({n_q}, {k}), got {n_labels.shape}")
    scores = None if neighbour_scores is None else np.asarray(neighbour_scores, dtype=float)
    if scores is not None and scores.shape != (n_q, k):
        raise ValueError(f"neighbour_scores: expected shape ({n_q}, {k}), got {scores.shape}")

    cell_w, cell_h = w + 2 * _FRAME + _PAD, h + 2 * _FRAME + _LABEL
    col_x = [_PAD + c * cell_w + (_GAP if c > 0 else 0) for c in range(k + 1)]  # a cell's left edge
    canvas = np.full((n_q * cell_h + _PAD, col_x[-1] + cell_w, 3), 255, dtype=np.uint8)
    annotations = []
    for r in range(n_q):
        y0 = _PAD + r * cell_h
        for c in range(k + 1):
            image = queries[r] if c == 0 else neighbours[r, c - 1]
            if c == 0:
                color, text = QUERY_COLOR, "query"
            else:
                same = n_labels[r, c - 1] == q_labels[r]
                color = SAME_CLASS_COLOR if same else OTHER_CLASS_COLOR
                text = str(classes[int(n_labels[r, c - 1])])
                if scores is not None:
                    text += f" {scores[r, c - 1]:.2f}"
            x0 = col_x[c]
            canvas[y0 : y0 + h + 2 * _FRAME, x0 : x0 + w + 2 * _FRAME] = _hex_rgb(color)
            canvas[y0 + _FRAME : y0 + _FRAME + h, x0 + _FRAME : x0 + _FRAME + w] = image.transpose(1, 2, 0)
            annotations.append(
                dict(
                    x=x0 + _FRAME + w / 2,
                    y=y0 + h + 2 * _FRAME + 1,
                    text=text,
                    showarrow=False,
                    yanchor="top",
                    font=dict(size=10, color=color),
                    xref="x",
                    yref="y",
                )
            )
    left, right, top, bottom = 90, 10, 100 if title else 70, 40  # top: title, then column titles
    scale = min(_MAX_SCALE, (MAX_WIDTH - left - right) / canvas.shape[1])
    fig = go.Figure(go.Image(source=_png_source(canvas), hoverinfo="skip", name="images"))
    for name, color in (
        ("neighbour of the query's class", SAME_CLASS_COLOR),
        ("neighbour of another class", OTHER_CLASS_COLOR),
    ):  # legend entries only: the frames are drawn into the picture
        fig.add_scatter(
            x=[None], y=[None], mode="markers", name=name, marker=dict(symbol="square", size=12, color=color)
        )
    fig.update_xaxes(
        tickvals=[x + _FRAME + w / 2 for x in col_x],
        ticktext=["query"] + [f"#{i + 1}" for i in range(k)],
        side="top",
        showgrid=False,
        zeroline=False,
        title_text="the query, then its nearest neighbours (most similar first)",
    )
    fig.update_yaxes(
        tickvals=[_PAD + r * cell_h + _FRAME + h / 2 for r in range(n_q)],
        ticktext=[str(classes[int(label)]) for label in q_labels],
        showgrid=False,
        zeroline=False,
        title_text="query's class",
    )
    style(fig, height=round(canvas.shape[0] * scale) + top + bottom, title=title)
    fig.update_layout(
        annotations=annotations,
        margin=dict(l=left, r=right, t=top, b=bottom),
        legend=dict(orientation="h", yanchor="top", y=-0.02, x=0),
    )
    return fig
