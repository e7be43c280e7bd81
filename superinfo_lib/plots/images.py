"""Pictures (notebook 1 and the corruption study): a grid of images that fits the notebook, one image
under every corruption and severity, normalised views turned back into pictures, and the table of
the augmentation each view drew.
"""

from __future__ import annotations

from .theme import MAX_WIDTH, style


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
            canvas[y0 : y0 + h, x0 : x0 + w] = stack[c]
    left, right, top, bottom = 80, 10, 60 if title else 30, 10
    scale = (MAX_WIDTH - left - right) / canvas.shape[1]
    fig = go.Figure(go.Image(z=canvas, hoverinfo="skip"))
    fig.update_xaxes(
        tickvals=[pad + c * (w + pad) + w / 2 for c in range(n)],
        side="top",
        showgrid=False,
        ticktext=list(column_titles) if column_titles is not None else [""] * n,
        zeroline=False,
    )
    fig.update_yaxes(
        tickvals=[pad + r * (h + pad) + h / 2 for r in range(len(stacks))],
        ticktext=labels,
        showgrid=False,
        zeroline=False,
    )
    style(fig, height=round(canvas.shape[0] * scale) + top + bottom + 20, title=title)
    fig.update_layout(margin=dict(l=left, r=right, t=top + 20, b=bottom))
    return fig


def display_images(x):
    """Normalised float (B, 3, H, W) views -> uint8 (B, H, W, 3) pictures (CIFAR-10 mean / std undone)."""
    import torch

    from ..data import MEAN, STD

    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    return ((x * std + mean).clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def augmentation_rows(params: dict, labels) -> list[dict]:
    """Table rows (for results.markdown_table) of the augmentation each view drew.

    Args:
        params: view name -> (N, len(AUG_PARAM_NAMES)) parameters as `augment` returns them.
        labels: N image labels; one row per image and view.
    """
    from ..data import AUG_PARAM_NAMES

    rows = []
    for i, label in enumerate(labels):
        for view, p in params.items():
            v = dict(zip(AUG_PARAM_NAMES, p[i].tolist()))
            jitter = (
                (
                    f"b {v['brightness']:.2f}, c {v['contrast']:.2f}, s {v['saturation']:.2f}, "
                    f"h {v['hue']:+.2f}"
                )
                if v["jitter_applied"]
                else "none"
            )
            rows.append(
                {
                    "image": label if view == next(iter(params)) else "",
                    "view": view,
                    "crop w x h at centre": f"{v['crop_w']:.2f} x {v['crop_h']:.2f} at "
                    f"({v['crop_cx']:.2f}, {v['crop_cy']:.2f})",
                    "flip": "yes" if v["flip"] else "no",
                    "colour jitter": jitter,
                    "gray": "yes" if v["grayscale"] else "no",
                }
            )
    return rows


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
            raise ValueError(
                f"corrupted[{name!r}] has shape {tuple(images.shape)}, expected "
                f"{tuple(first.shape)} like corrupted[{names[0]!r}]"
            )
        for col in range(severities):
            top, left = row * (h + gap), col * (w + gap)
            mosaic[top : top + h, left : left + w] = images[col].permute(1, 2, 0).cpu().numpy()
    fig = go.Figure(go.Image(z=mosaic, hoverinfo="skip"))
    style(fig, height=height, title=title)
    fig.update_xaxes(
        title_text="severity (0 = clean)",
        showgrid=False,
        zeroline=False,
        tickvals=[c * (w + gap) + (w - 1) / 2 for c in range(severities)],
        ticktext=[str(c) for c in range(severities)],
    )
    fig.update_yaxes(
        title_text="corruption",
        showgrid=False,
        zeroline=False,
        tickvals=[r * (h + gap) + (h - 1) / 2 for r in range(len(names))],
        ticktext=[n.replace("_", " ") for n in names],
    )
    return fig
