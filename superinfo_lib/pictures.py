"""What an encoder learned, in pictures: its nearest neighbours, a 2-D map, its sigma.

Notebook 6 and the explorer show trained encoders this way; every picture comes with the numbers
its sentences are checked against (how many neighbours share the query's class, how well classes
separate in the map, the median sigma).

    from superinfo_lib.pictures import encode, nearest, map_2d, map_separation
    codes = encode(encoder, data.test_x)                 # {"h", "mu", "sigma"}
    sim, idx = nearest(train_codes["h"], codes["h"][:6], k=8)  # (6, 8) similarities, indices
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import normalize
from .step import autocast, choose_precision


@torch.no_grad()
def encode(encoder, images: torch.Tensor, batch_size: int = 256, precision: str | None = None) -> dict:
    """One pass of a trained encoder (an `Encoder` or `SuperInfoModel`, eval mode) over uint8
    images (N, 3, H, W): {"h": (N, F), "mu": (N, K), "sigma": (N, K)}, float32 on the CPU."""
    device = next(encoder.parameters()).device
    precision = precision or choose_precision(device)
    out = {}
    for start in range(0, len(images), batch_size):
        x = normalize(images[start : start + batch_size].to(device)).contiguous(
            memory_format=torch.channels_last
        )
        with autocast(device, precision):
            h = encoder.backbone(x)
            mu, logvar = encoder.head(h)
        batch = {"h": h.float(), "mu": mu.float(), "sigma": torch.exp(0.5 * logvar.float())}
        for key, value in batch.items():
            if key not in out:  # filled in place: no list of batches to concatenate at the end
                out[key] = torch.empty(len(images), value.shape[1])
            out[key][start : start + len(value)] = value.cpu()
    return out


def nearest(database: torch.Tensor, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each query's k most cosine-similar rows of `database` (N, F), most similar first: what
    the kNN classifier votes with. Returns (similarity (Q, k), index (Q, k)).

    The similarities are the ones the ranking used: recomputing them another way (say with
    F.cosine_similarity) rounds differently and can put two near-ties out of order.
    """
    sim = F.normalize(queries.float(), dim=1) @ F.normalize(database.float(), dim=1).T
    top = sim.topk(min(k, len(database)), dim=1)
    return top.values, top.indices


def map_2d(features: torch.Tensor, seed: int = 0, perplexity: float = 30.0) -> torch.Tensor:
    """A 2-D t-SNE map (scikit-learn) of features (N, F) on the unit sphere (cosine geometry, as
    the kNN probe sees them): (N, 2). The map keeps who is near whom, not distances between
    clusters; its axes mean nothing."""
    from sklearn.manifold import TSNE

    x = F.normalize(features.float(), dim=1).numpy()
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, max_iter=750)
    return torch.from_numpy(tsne.fit_transform(x)).float()


def map_separation(points: torch.Tensor, labels: torch.Tensor, k: int = 10) -> float:
    """How well classes separate in a map: the fraction of points whose k nearest other points
    (Euclidean, in the map) mostly share their label (leave-one-out kNN accuracy, plain votes)."""
    d = torch.cdist(points.float(), points.float())
    d.fill_diagonal_(float("inf"))
    neighbours = labels[d.topk(k, largest=False).indices]  # (N, k)
    votes = F.one_hot(neighbours, int(labels.max()) + 1).sum(1)
    return (votes.argmax(1) == labels).float().mean().item()
