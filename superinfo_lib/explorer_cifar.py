"""The coefficient explorer's CIFAR-10 mode: the CPU study's stored sweep encoders, evaluated live.

The CPU study trained one SuperInfo encoder per beta setting of its sweep and published each
(superinfo_lib.pretrained: names `sweep-superinfo-b<beta_12>-<beta_21>`). Choosing a setting
loads its encoder (once) and recomputes, on a fixed CIFAR-10 subset loaded once:

- kNN top-1 of the backbone features h (k=200, t=0.1, the sweep's protocol) on held-out images
  (the first of the sweep's validation split, the last 5,000 training images, which no encoder
  trained on) against the first training images;
- the median posterior standard deviation sigma over those held-out images and every latent dimension;
- the augmentation probe on a sample z = mu + sigma * eps (the KL term bounds what z carries);
- the nearest training images of a few fixed held-out query images, by cosine similarity of h.

    sweep = load_sweep()                        # the manifest's sweep entries; encoders load on use
    live = load_live_data(download=True)        # the fixed subset (decodes the training images once)
    result = recompute(1e-3, sweep, live)       # snaps to the stored (1e-3, 1e-3); figures + numbers
    result = recompute((0.02, 0.0), sweep, live)

On one CPU thread a recomputation takes about a second (bench/bench_explorer.py measures it);
the numbers are live estimates on LIVE_SIZES images, not the study's figures (5,000 held-out
images against 45,000), which `stored_figures` reads from each run's result file.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import pretrained
from .data import ImageData, load_cifar10, validation_split
from .download import is_url
from .eval import knn_accuracy
from .features import SampleEncoder
from .models import Encoder
from .pictures import encode, nearest
from .plots.retrieval import retrieval_figure
from .plots.theme import CHANCE_COLOR, TERM_COLORS, style
from .probes import augmentation_probe
from .toy import torch_threads

SWEEP_PREFIX = "sweep-"
HOLDOUT = 5000  # the sweep's validation split: the last 5,000 training images
KNN = dict(k=200, temperature=0.1)  # the sweep's kNN protocol (superinfo_lib.eval)
# How many images each live recomputation reads. Each image costs one pass of the small convnet
# (~0.25 ms in bf16 on one CPU thread), so these sizes keep a recomputation near a second.
LIVE_SIZES = dict(reference=2000, heldout=1000, probe=300, queries=6, neighbours=5)
NOT_HERE = "The stored encoders are not in this checkout"
# (result key, panel title, y-axis title, colour) of the scores figure.
PANELS = (
    ("knn_top1", "kNN top-1 (h)", "top-1 accuracy", TERM_COLORS["knn_top1"]),
    ("sigma_median", "median posterior σ", "σ", TERM_COLORS["kl_12"]),
    (
        "aug_probe_z_mean_r2",
        "augmentation probe on z",
        "held-out R² (mean)",
        TERM_COLORS["aug_probe_mean_r2"],
    ),
)


# ----------------------------------------------------------------------------- the sweep


def setting_label(entry: dict) -> str:
    """The slider's label of a stored setting: "0.001" when beta_12 = beta_21, else "0.02 / 0"."""
    b12, b21 = entry["beta_12"], entry["beta_21"]
    return f"{b12:g}" if b12 == b21 else f"{b12:g} / {b21:g}"


def beta_distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Euclidean distance of two (beta_12, beta_21) pairs on a log-like scale that holds 0,
    asinh(beta / 1e-4). (Summed absolute differences put (1e-3, 0) at about the same distance,
    3.0, from four of the stored settings: (0, 0), (1e-4, 1e-4), (1e-3, 1e-3) and (2e-2, 0).)"""
    return math.hypot(*(math.asinh(x / 1e-4) - math.asinh(y / 1e-4) for x, y in zip(a, b)))


def as_pair(beta) -> tuple[float, float]:
    """A beta (both directions) or a (beta_12, beta_21) pair, as a pair of floats."""
    if isinstance(beta, (int, float)):
        return float(beta), float(beta)
    try:
        b12, b21 = beta
        return float(b12), float(b21)
    except (TypeError, ValueError) as err:
        raise ValueError(f"beta must be a number or a (beta_12, beta_21) pair, got {beta!r}") from err


@dataclass
class Sweep:
    """The stored sweep: manifest entries in slider order, and the encoders loaded so far.

    settings: the sweep's manifest entries sorted by the total KL weight beta_12 + beta_21, then
    beta_12, so an asymmetric pair sits beside the symmetric setting of the same total.
    """

    settings: list[dict]
    source: str | Path | None = None
    manifest: str | Path | None = None
    note: str = ""
    _encoders: dict[str, Encoder] = field(default_factory=dict, repr=False)

    @property
    def labels(self) -> list[str]:
        return [setting_label(e) for e in self.settings]

    def snap(self, beta) -> dict:
        """The stored setting nearest to `beta` (a number: both directions; or a pair)."""
        pair = as_pair(beta)
        return min(self.settings, key=lambda e: beta_distance((e["beta_12"], e["beta_21"]), pair))

    def encoder(self, name: str) -> Encoder:
        """The encoder `name`, loaded and verified once, then kept (eval mode, CPU)."""
        if name not in self._encoders:
            self._encoders[name] = pretrained.load_encoder(
                name, source=self.source, manifest=self.manifest, progress=False
            )
        return self._encoders[name]


def load_sweep(source: str | Path | None = None, manifest: str | Path | None = None) -> Sweep:
    """The sweep's encoders as published (see superinfo_lib.pretrained; source / manifest default
    to results/cpu/encoders/). No encoder is read yet: `Sweep.encoder` loads each on first use.

    From a folder, entries whose file is missing are left out (the note says which). Raises
    FileNotFoundError, starting with NOT_HERE, when there is no manifest or no sweep encoder.
    """
    manifest_path = (
        Path(manifest) if manifest is not None else pretrained.ENCODERS_DIR / pretrained.MANIFEST_NAME
    )
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{NOT_HERE}: no manifest at {manifest_path}.")
    entries = [e for e in pretrained.list_encoders(manifest_path) if e["name"].startswith(SWEEP_PREFIX)]
    note = ""
    if source is None or not is_url(source):
        folder = Path(source) if source is not None else pretrained.ENCODERS_DIR
        missing = [e["name"] for e in entries if not (folder / e["file"]).is_file()]
        entries = [e for e in entries if e["name"] not in missing]
        if missing:
            note = f"{len(missing)} sweep encoder file(s) missing from {folder}: {', '.join(missing)}."
    if not entries:
        raise FileNotFoundError(f"{NOT_HERE}: {manifest_path} lists no sweep encoder that is here. {note}")
    entries.sort(key=lambda e: (e["beta_12"] + e["beta_21"], e["beta_12"]))
    return Sweep(entries, source=source, manifest=manifest_path, note=note)


def stored_figures(entry: dict) -> dict | None:
    """The study's own figures of this encoder, read from its run file (5,000 held-out images
    against 45,000 training images): knn_top1, sigma_median, aug_probe_z_mean_r2, n_train,
    n_test, probe_images. None when the entry names no readable run file."""
    run_file = entry.get("run_file")
    if not run_file:
        return None
    path = Path(run_file) if Path(run_file).is_absolute() else pretrained.REPO_ROOT / run_file
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    out = {k: record.get(k) for k in ("knn_top1", "sigma_median", "aug_probe_z_mean_r2", "n_train", "n_test")}
    out["probe_images"] = (record.get("aug_probe") or {}).get("images")
    out["file"] = str(run_file)
    return out


# ----------------------------------------------------------------------------- the data subset


@dataclass
class LiveData:
    """The fixed images every recomputation reads (uint8 (N, 3, H, W), labels int64 (N,)).

    reference: the first training images (kNN's labelled set, where neighbours are looked up);
    heldout: the first images of the validation split; probe: the first of those; query_index:
    positions in heldout of the query images (one per class, classes spread over the range).
    """

    reference_x: torch.Tensor
    reference_y: torch.Tensor
    heldout_x: torch.Tensor
    heldout_y: torch.Tensor
    probe_x: torch.Tensor
    query_index: torch.Tensor
    classes: tuple[str, ...]
    source: str

    def sizes(self) -> dict[str, int]:
        return {
            "reference": len(self.reference_x),
            "heldout": len(self.heldout_x),
            "probe": len(self.probe_x),
            "queries": len(self.query_index),
        }


def pick_queries(labels: torch.Tensor, n: int, num_classes: int) -> torch.Tensor:
    """(n,) positions of the first image of each of n classes spread evenly over 0..num_classes-1
    (fewer when the labels lack some of them)."""
    wanted = torch.linspace(0, num_classes - 1, n).round().long().unique().tolist()
    picks = [int((labels == c).nonzero()[0]) for c in wanted if (labels == c).any()]
    return torch.tensor(picks, dtype=torch.long)


def load_live_data(
    data: ImageData | str | Path | None = None,
    *,
    holdout: int = HOLDOUT,
    reference: int = LIVE_SIZES["reference"],
    heldout: int = LIVE_SIZES["heldout"],
    probe: int = LIVE_SIZES["probe"],
    queries: int = LIVE_SIZES["queries"],
    download: bool = False,
) -> LiveData:
    """The fixed subset: `data` (an ImageData, or a CIFAR-10 path for load_cifar10; None: the
    first place found, downloading when `download`) split as the sweep was (the last `holdout`
    training images held out). Decoding the 50,000 training JPEGs takes ~7 CPU-seconds, once;
    only the subset is kept."""
    if not isinstance(data, ImageData):
        data = load_cifar10(data, download=download, test_limit=0)  # the test set is never read
    split = validation_split(data, holdout)
    for name, n, have in (
        ("reference", reference, len(split.train_x)),
        ("heldout", heldout, len(split.test_x)),
        ("probe", probe, heldout),
    ):
        if not 1 <= n <= have:
            raise ValueError(f"{name} must be in 1..{have}, got {n}")
    if queries < 1:
        raise ValueError(f"queries must be >= 1, got {queries}")
    held_x, held_y = split.test_x[:heldout].clone(), split.test_y[:heldout].clone()
    query_index = pick_queries(held_y, queries, len(data.classes))
    return LiveData(
        reference_x=split.train_x[:reference].clone(),  # clones: the decoded set can be freed
        reference_y=split.train_y[:reference].clone(),
        heldout_x=held_x,
        heldout_y=held_y,
        probe_x=held_x[:probe],
        query_index=query_index,
        classes=tuple(data.classes),
        source=split.source,
    )


# ----------------------------------------------------------------------------- one recomputation


def recompute(
    beta,
    sweep: Sweep,
    live: LiveData,
    *,
    neighbours: int = LIVE_SIZES["neighbours"],
    seed: int = 0,
    num_threads: int = 1,
    precision: str | None = None,
) -> dict:
    """Evaluate the stored encoder nearest to `beta` on the fixed subset.

    Returns the figures' data (JSON-ready) and the figure: name, beta_12, beta_21, label,
    knn_top1, sigma_median, aug_probe_z ({param: R^2, "mean_r2"}), aug_probe_z_mean_r2,
    sizes, retrieval {query_index (Q,), query_labels (Q,), neighbour_index (Q, K) into the
    reference images, neighbour_labels (Q, K), similarity (Q, K)}, stored (stored_figures),
    seconds, figures {"retrieval": plotly Figure}. Features and neighbours come from
    superinfo_lib.pictures (as notebook 6 draws them); `precision` defaults to the CPU's
    (superinfo_lib.step: bf16 where native, as the study evaluated).
    """
    start = time.perf_counter()
    entry = sweep.snap(beta)
    encoder = sweep.encoder(entry["name"])
    num_classes = len(live.classes)
    with torch_threads(num_threads):
        ref_h = encode(encoder, live.reference_x, precision=precision)["h"]
        held = encode(encoder, live.heldout_x, precision=precision)
        knn = knn_accuracy(ref_h, live.reference_y, held["h"], live.heldout_y, num_classes, **KNN)
        probe = augmentation_probe(SampleEncoder(encoder, seed=seed), live.probe_x, seed=seed)
        query_h = held["h"][live.query_index]
        similarity, index = nearest(ref_h, query_h, neighbours)  # (Q, K), most similar first
    query_labels = live.heldout_y[live.query_index]
    neighbour_labels = live.reference_y[index]
    title = (
        f"Nearest training images by cosine similarity of h: β12={entry['beta_12']:g}, "
        f"β21={entry['beta_21']:g}"
    )
    figure = retrieval_figure(
        live.heldout_x[live.query_index],
        live.reference_x[index],
        query_labels,
        neighbour_labels,
        live.classes,
        title=title,
        neighbour_scores=similarity,
    )
    return {
        "name": entry["name"],
        "beta_12": entry["beta_12"],
        "beta_21": entry["beta_21"],
        "label": setting_label(entry),
        "knn_top1": knn,
        "sigma_median": held["sigma"].median().item(),
        "aug_probe_z": probe,
        "aug_probe_z_mean_r2": probe["mean_r2"],
        "sizes": {**live.sizes(), "neighbours": neighbours},
        "retrieval": {
            "query_index": live.query_index.tolist(),
            "query_labels": query_labels.tolist(),
            "neighbour_index": index.tolist(),
            "neighbour_labels": neighbour_labels.tolist(),
            "similarity": similarity.tolist(),
        },
        "stored": stored_figures(entry),
        "seconds": time.perf_counter() - start,
        "figures": {"retrieval": figure},
    }


# ----------------------------------------------------------------------------- figures and text


def scores_figure(
    sweep: Sweep, results: dict[str, dict] | None = None, current: str | None = None, title: str | None = None
):
    """The live numbers of every setting computed so far (`results`: name -> recompute's result),
    the study's stored figures of each setting beside them (read once, here), the `current` one
    circled. One panel per PANELS entry, three traces each (live, stored, current); x: the stored
    settings in slider order (a category axis). `fill_scores_figure` redraws it in place.
    """
    from plotly.subplots import make_subplots

    labels = sweep.labels
    fig = make_subplots(
        rows=1, cols=len(PANELS), subplot_titles=[p[1] for p in PANELS], horizontal_spacing=0.1
    )
    stored = [stored_figures(e) for e in sweep.settings]
    for col, (key, _, y_title, color) in enumerate(PANELS, start=1):
        legend = dict(showlegend=col == 1, row=1, col=col)
        fig.add_scatter(
            name="live (this session's subset)",
            mode="lines+markers",
            connectgaps=True,
            line=dict(color=color),
            legendgroup="live",
            **legend,
        )
        fig.add_scatter(
            x=labels,
            y=[s.get(key) if s else None for s in stored],
            name="stored (the study's evaluation)",
            mode="markers",
            marker=dict(symbol="diamond-open", size=10, color=CHANCE_COLOR),
            legendgroup="stored",
            **legend,
        )
        fig.add_scatter(
            name="current setting",
            mode="markers",
            marker=dict(size=18, symbol="circle-open", color="black", line=dict(width=3)),
            legendgroup="current",
            **legend,
        )
        fig.update_yaxes(title_text=y_title, row=1, col=col)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=labels, title_text="stored β")
    title = title or "CIFAR-10: the stored sweep's encoders, evaluated live"
    style(fig, height=340, title=title, legend_below=True)
    fig.update_layout(margin=dict(b=110), legend=dict(y=-0.3))
    fill_scores_figure(fig, sweep, results or {}, current)
    return fig


def fill_scores_figure(fig, sweep: Sweep, results: dict[str, dict], current: str | None) -> None:
    """Write the live numbers of `results` and the `current` setting into a `scores_figure`, in
    place (a FigureWidget redraws; the figure's layout is not rebuilt)."""
    labels = sweep.labels
    with fig.batch_update():
        for col, (key, *_) in enumerate(PANELS):
            live, _, chosen = fig.data[3 * col : 3 * col + 3]
            values = [results[e["name"]][key] if e["name"] in results else None for e in sweep.settings]
            live.update(x=labels, y=values)
            pick = [i for i, e in enumerate(sweep.settings) if e["name"] == current and e["name"] in results]
            chosen.update(x=[labels[i] for i in pick], y=[values[i] for i in pick])


def summary_text(result: dict) -> str:
    """One line with the numbers of a recomputation and the sizes they were measured on."""
    s = result["sizes"]
    return (
        f"β12={result['beta_12']:g}, β21={result['beta_21']:g} ({result['name']}): kNN top-1 "
        f"{result['knn_top1']:.3f} on {s['heldout']:,} held-out images against {s['reference']:,} "
        f"training images; median σ {result['sigma_median']:.3g}; augmentation probe on z, mean R² "
        f"{result['aug_probe_z_mean_r2']:.3f} ({s['probe']:,} images)"
    )
