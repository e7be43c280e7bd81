"""The coefficient explorer: sliders for SuperInfo's coefficients and live plotly figures.

    explorer = show_explorer()          # in a notebook (notebooks/07_coefficient_explorer.ipynb)
    explorer = build_explorer()         # the same object without displaying it (tests, bench/)
    explorer.controls["beta_12"].value = 1e-3   # retrains once; explorer.figures update in place

Two modes:
- live: every change retrains the toy encoder of `toy.py` (synthetic views of a shared class s,
  attributes r and q that each view shows 90% of the time, an attribute t that exactly one view
  shows, and a nuisance drawn afresh per view; about a second on a CPU) and redraws (a) every
  weighted loss term over training,
  (b) what a sample z of view 1 keeps (kNN probes): s, the attributes shared in 81% of pairs
  (r, useful; q, useless), those never shared (t, useful; the nuisance n, useless), and the
  downstream label y with 1, few and all labels, each against its chance level, (c) the InfoNCE
  estimate log(2N-1) - L and the KL upper bounds. The previous run stays on
  screen, faint, for comparison; the status line gives the numbers.
- CIFAR-10: with the CPU study's published sweep encoders (superinfo_lib.explorer_cifar), a
  "stored β" slider whose positions are the sweep's settings (the β12 / β21 sliders snap to
  the nearest); each position loads its encoder once and recomputes, in about a second, kNN
  accuracy, the median sigma, the augmentation probe on z and the nearest training images of
  fixed query images. Below, the beta sweep that GPU runs stored under results/ (format:
  superinfo_lib/results.py; else the CPU study's) as kNN / linear accuracy and the
  augmentation-probe R^2 against beta, the setting highlighted. What is missing, it says.

A negative beta rewards the KL *upper* bound, which is unbounded; the beta sliders reach
negative values only after ticking "allow negative", and the figures then show the KL
exploding instead of an error.
"""

from __future__ import annotations

import html
import importlib.util
import json
import math
import time
from pathlib import Path

import ipywidgets as W
import plotly.graph_objects as go
import plotly.io as pio
from IPython.display import display
from plotly.subplots import make_subplots

from . import explorer_cifar, plots
from . import results as results_io
from .download import VerificationError, is_url
from .toy import CHANCE, FEW_LABELS, LESSON_MEASURES, ToyResult, make_multiview, train_toy

BETA_GRID = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)  # "log scale, with a zero"
LATENT_SIZES = (2, 4, 8, 16, 32, 64)
# 150 steps keep one recomputation near a second on one CPU thread (bench/bench_explorer.py)
# and still show the toy's lesson (notebook 4 measures it over seeds).
LIVE_STEPS = 150
MEASURE_LABELS = {**plots.MEASURE_LABELS, "few_label_acc": f"y, {FEW_LABELS} labels/class"}
# What the probe figure shows: kNN probes on a sample z of view 1 (the KL bounds the information
# in z) for s, r, q, t and the nuisance; ridge on mu for the downstream label y.
MEASURES = LESSON_MEASURES
# (history key, label, coefficient that weights it in the loss)
LOSS_TERMS = (
    ("loss", "total loss", None),
    ("nce", "λ·InfoNCE", "lambda_pred"),
    ("kl_12", "β12·KL(q1‖q2)", "beta_12"),
    ("kl_21", "β21·KL(q2‖q1)", "beta_21"),
)
COLORS = plots.TERM_COLORS
STATIC_NOTE = (
    "<p><i>Static copy of the coefficient explorer (default settings). Run the notebook in "
    "JupyterLab, or on Colab with its custom widget manager, to move the sliders.</i></p>"
)
PREVIOUS = dict(opacity=0.3, showlegend=False, hoverinfo="skip")


def beta_options(allow_negative: bool) -> list[tuple[str, float]]:
    """(label, value) pairs of the beta sliders; mirrored negative values only when allowed."""
    positive = [(f"{b:g}", b) for b in BETA_GRID]  # the browser test reads these labels
    if not allow_negative:
        return positive
    return [(f"{-b:g}", -b) for b in reversed(BETA_GRID[1:])] + positive


def _fmt(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else str(x)


# ----------------------------------------------------------------------------- figures


def _loss_figure() -> go.Figure:
    loss = go.Figure(layout=dict(xaxis_title="training step", yaxis_title="weighted term  [nats]"))
    for key, label, _ in LOSS_TERMS:
        loss.add_scatter(
            name=f"{label} (previous)", mode="lines", line=dict(color=COLORS[key], dash="dot"), **PREVIOUS
        )
    for key, label, _ in LOSS_TERMS:  # the total drawn wide beneath: at beta = 0 it equals λ·InfoNCE
        loss.add_scatter(
            name=label, mode="lines", line=dict(color=COLORS[key], width=5 if key == "loss" else 2)
        )
    return plots.style(loss, height=300, title="(a) loss terms over training, as weighted in the loss")


def _probes_figure() -> go.Figure:
    labels = [MEASURE_LABELS[k] for k in MEASURES]
    probes = go.Figure(
        layout=dict(
            barmode="group",
            xaxis_title="what the probe reads: s, r, q, t, n from a sample z (kNN); y from μ (ridge)",
            yaxis=dict(title="accuracy on held-out rows", range=[0, 1.05]),
        )
    )
    probes.add_bar(name="previous setting", x=labels, marker_color=plots.PREVIOUS_COLOR)
    probes.add_bar(name="current setting", x=labels, marker_color=[plots.MEASURE_COLORS[k] for k in MEASURES])
    probes.add_scatter(
        name="chance",
        x=labels,
        y=[CHANCE[k] for k in MEASURES],
        mode="markers",
        marker=dict(symbol="line-ew-open", size=44, color=plots.CHANCE_COLOR, line=dict(width=2)),
    )
    return plots.style(probes, height=320, title="(b) what z keeps: probe accuracy (view 1, held-out rows)")


def _bounds_figure() -> go.Figure:
    bounds = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.14,
        subplot_titles=("InfoNCE estimate of I(z1; z2)", "upper bounds on I(v1; z1 | v2), I(v2; z2 | v1)"),
    )
    for prefix, extra in (("", {}), (" (previous)", PREVIOUS)):
        dash = "dot" if prefix else None
        bounds.add_scatter(
            name="log(2N−1) − InfoNCE" + prefix,
            mode="lines",
            line=dict(color=COLORS["mi_lower_bound"], dash=dash),
            row=1,
            col=1,
            **extra,
        )
        bounds.add_scatter(
            name="KL(q1‖q2) ≥ I(v1;z1|v2)" + prefix,
            mode="lines",
            line=dict(color=COLORS["kl_12"], dash=dash),
            row=1,
            col=2,
            **extra,
        )
        bounds.add_scatter(
            name="KL(q2‖q1) ≥ I(v2;z2|v1)" + prefix,
            mode="lines",
            line=dict(color=COLORS["kl_21"], dash=dash),
            row=1,
            col=2,
            **extra,
        )
    bounds.add_scatter(
        name="log(2N−1): the most InfoNCE can show",
        mode="lines",
        line=dict(color=plots.CHANCE_COLOR, dash="dash"),
        row=1,
        col=1,
    )
    bounds.update_xaxes(title_text="training step")
    bounds.update_yaxes(title_text="nats", row=1, col=1)
    bounds.update_yaxes(title_text="nats (log scale)", type="log", exponentformat="power", row=1, col=2)
    plots.style(bounds, height=380, title="(c) the bounds over training; dotted: previous setting")
    return plots.legends_under_axis_titles(bounds)


def empty_live_figures() -> dict[str, go.Figure]:
    """The three live figures with every trace in place (previous run first, drawn beneath),
    so an update only replaces data: "loss", "probes", "bounds"."""
    return {"loss": _loss_figure(), "probes": _probes_figure(), "bounds": _bounds_figure()}


def figure_bundle(fig: go.Figure) -> dict:
    """Static output of one figure: plotly's JSON mimetype (JupyterLab, VS Code) and HTML with
    plotly.js from its CDN (Colab, static viewers). Built here rather than by plotly's renderers,
    whose default depends on where Python runs (it is empty outside a kernel)."""
    return {
        "application/vnd.plotly.v1+json": json.loads(pio.to_json(fig, validate=False)),
        "text/html": fig.to_html(full_html=False, include_plotlyjs="cdn"),
        "text/plain": f"<plotly figure: {fig.layout.title.text}>",
    }


def _trace(fig: go.Figure, name: str):
    for trace in fig.data:
        if trace.name == name:
            return trace
    raise KeyError(f"figure has no trace named {name!r}")


def weighted_term(result: ToyResult, key: str, coefficient: str | None) -> list[float]:
    """The history of one loss term times its coefficient, as it enters the total loss."""
    weight = 1.0 if coefficient is None else result.settings[coefficient]
    return [weight * v for v in result.history[key]]


def fill_live_figures(figures: dict[str, go.Figure], current: ToyResult, previous: ToyResult | None) -> None:
    """Write `current` (and `previous`, faint) into the figures of `empty_live_figures`, in place."""
    for suffix, result in (("", current), (" (previous)", previous)):
        steps = list(range(1, len(result.history["loss"]) + 1)) if result else []

        def series(key, coefficient=None, _r=result):
            return weighted_term(_r, key, coefficient) if _r else []

        with figures["loss"].batch_update():
            for key, label, coefficient in LOSS_TERMS:
                _trace(figures["loss"], label + suffix).update(x=steps, y=series(key, coefficient))
        with figures["bounds"].batch_update():
            _trace(figures["bounds"], "log(2N−1) − InfoNCE" + suffix).update(
                x=steps, y=series("mi_lower_bound")
            )
            _trace(figures["bounds"], "KL(q1‖q2) ≥ I(v1;z1|v2)" + suffix).update(x=steps, y=series("kl_12"))
            _trace(figures["bounds"], "KL(q2‖q1) ≥ I(v2;z2|v1)" + suffix).update(x=steps, y=series("kl_21"))
    s = current.settings
    ceiling = math.log(2 * s["batch_size"] - 1)
    with figures["bounds"].batch_update():
        _trace(figures["bounds"], "log(2N−1): the most InfoNCE can show").update(
            x=[1, max(len(current.history["loss"]), 1)], y=[ceiling, ceiling]
        )
    with figures["loss"].batch_update():
        figures["loss"].layout.title.text = (
            f"(a) loss terms over training, as weighted: λ={s['lambda_pred']:g}, β12={s['beta_12']:g}, "
            f"β21={s['beta_21']:g}, τ={s['temperature']:g}, K={s['latent_dim']}"
        )
    with figures["probes"].batch_update():
        _trace(figures["probes"], "current setting").y = [current.probes.get(k, math.nan) for k in MEASURES]
        _trace(figures["probes"], "previous setting").y = (
            [previous.probes.get(k, math.nan) for k in MEASURES] if previous else []
        )


def sweep_rows(results_dir: str | Path) -> tuple[list[dict], str]:
    """(rows, message): one row per (beta_12, beta_21) stored by GPU runs in results_dir,
    from "sweep" files (their rows) and "run" files; a later file wins a tie. Without GPU rows,
    the CPU study's sweep in <results_dir>/cpu/ (never mixed with GPU rows). Every row carries
    "_source" ("GPU" or "CPU study"). The message says what was found, or clearly that nothing
    was (or which file is unreadable)."""
    try:
        records = results_io.load_results(results_dir, include_cpu=False)
        cpu = [r for r in results_io.load_results(results_dir, include_cpu=True) if r["cpu"]]
    except ValueError as err:
        return [], f"Cannot read the stored results: {err}"
    by_beta = {}
    for record in records:
        for row in (
            record.get("rows", [])
            if record["kind"] == "sweep"
            else [record]
            if record["kind"] == "run"
            else []
        ):
            if isinstance(row.get("beta_12"), (int, float)) and isinstance(row.get("beta_21"), (int, float)):
                by_beta[(float(row["beta_12"]), float(row["beta_21"]))] = {
                    **row,
                    "_path": record["_path"],
                    "_source": "GPU",
                }
    rows = [by_beta[k] for k in sorted(by_beta)]
    note = f" ({len(cpu)} CPU smoke-test file(s) ignored: they are not results.)" if cpu else ""
    if not rows:
        cpu_rows, cpu_message = cpu_study_sweep_rows(Path(results_dir) / "cpu")
        if cpu_rows:
            return cpu_rows, cpu_message
        return [], (
            f"No stored CIFAR-10 results: {results_dir} holds no GPU sweep or run with beta values yet, "
            f"nor a CPU-study sweep.{note} GPU runs make them (see bench/README.md), and "
            "experiments/cpu_study.py on a CPU; the live mode works without them."
        )
    files = len({r["_path"] for r in rows})
    return rows, f"{len(rows)} beta settings from {files} GPU result file(s) in {results_dir}.{note}"


def cpu_study_sweep_rows(cpu_dir: Path) -> tuple[list[dict], str]:
    """The rows of the latest complete CPU-study sweep (not a smoke test) in cpu_dir, sorted by beta."""
    try:
        sweeps = [
            s
            for s in results_io.load_results(cpu_dir, kind="sweep")
            if not s.get("smoke") and s.get("complete") and s.get("rows")
        ]
    except ValueError as err:
        return [], f"Cannot read the stored CPU results: {err}"
    if not sweeps:
        return [], ""
    sweep = sweeps[-1]
    rows = sorted(
        ({**row, "_path": sweep["_path"], "_source": "CPU study"} for row in sweep["rows"]),
        key=lambda r: (r["beta_12"] + r["beta_21"], r["beta_12"]),
    )
    n = sweep.get("n_validation")
    return rows, (
        f"No GPU sweep stored yet: {len(rows)} beta settings of the CPU study's sweep "
        f"({Path(sweep['_path']).name}: {sweep.get('arch')} convnet, {sweep.get('epochs')} epochs, "
        f"CPU {sweep.get('cpu_model')}; accuracy = kNN / linear on {n or '?'} held-out training images, "
        "not the test set). A GPU sweep in results/ replaces it."
    )


def nearest_row(rows: list[dict], beta_12: float, beta_21: float) -> int | None:
    """Index of the stored row closest to the sliders' betas on a log-like scale (None if no rows)."""
    if not rows:
        return None
    return min(
        range(len(rows)),
        key=lambda i: explorer_cifar.beta_distance(
            (rows[i]["beta_12"], rows[i]["beta_21"]), (beta_12, beta_21)
        ),
    )


def empty_cifar_figure() -> go.Figure:
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("CIFAR-10 top-1 accuracy", "augmentation probe R² (superfluous information)"),
    )
    plots.style(fig, height=380, title="CIFAR-10 beta sweep (stored GPU results)")
    plots.legends_under_axis_titles(fig)
    fig.update_yaxes(title_text="top-1 accuracy", row=1, col=1)
    fig.update_yaxes(title_text="held-out R²", row=1, col=2)
    for key, label, col in (
        ("knn_top1", "kNN (k=200)", 1),
        ("linear_top1", "linear probe", 1),
        ("aug_probe_mean_r2", "aug-param probe R²", 2),
    ):
        fig.add_scatter(name=label, mode="lines+markers", line=dict(color=COLORS[key]), row=1, col=col)
    for col in (1, 2):
        fig.add_scatter(
            name="your setting" if col == 1 else "your setting ",
            mode="markers",
            marker=dict(size=18, symbol="circle-open", color="black", line=dict(width=3)),
            showlegend=col == 1,
            row=1,
            col=col,
        )
    fig.update_xaxes(type="category", title_text="β")
    return fig


def fill_cifar_figure(fig: go.Figure, rows: list[dict], selected: int | None) -> None:
    """Plot the stored rows against beta (a category axis: it holds 0 and log-spaced values)."""
    symmetric = all(r["beta_12"] == r["beta_21"] for r in rows)
    x = [f"{r['beta_12']:g}" if symmetric else f"{r['beta_12']:g} / {r['beta_21']:g}" for r in rows]
    with fig.batch_update():
        for key, name in (
            ("knn_top1", "kNN (k=200)"),
            ("linear_top1", "linear probe"),
            ("aug_probe_mean_r2", "aug-param probe R²"),
        ):
            _trace(fig, name).update(x=x, y=[r.get(key) for r in rows])
        for key, name in (("knn_top1", "your setting"), ("aug_probe_mean_r2", "your setting ")):
            pick = [] if selected is None else [selected]
            _trace(fig, name).update(x=[x[i] for i in pick], y=[rows[i].get(key) for i in pick])
        fig.update_xaxes(title_text="β = β12 = β21" if symmetric else "β12 / β21")


def find_sweep(encoders, manifest, results_dir: Path) -> tuple[explorer_cifar.Sweep | None, str]:
    """(sweep, message) for CIFAR-10 mode: `encoders` as given (a Sweep, or a folder / URL of
    published encoders), else <results_dir>/cpu/encoders/; `manifest` defaults to the folder's."""
    if isinstance(encoders, explorer_cifar.Sweep):
        return encoders, ""
    source = encoders if encoders is not None else Path(results_dir) / "cpu" / "encoders"
    if manifest is None and not is_url(source):
        manifest = Path(source) / "manifest.json"
    try:
        return explorer_cifar.load_sweep(source, manifest), ""
    except (FileNotFoundError, KeyError, ValueError) as err:  # missing, or a malformed manifest
        return None, str(err)


def _changed(old: dict, new: dict) -> dict:
    """The top-level keys of `new` whose values differ from `old`'s."""

    def same(a, b) -> bool:
        try:
            return bool(a == b)
        except ValueError:  # arrays compare element-wise: count them as changed
            return False

    return {k: v for k, v in new.items() if k not in ("type", "uid") and not same(old.get(k), v)}


def replace_figure(target: go.Figure, source: go.Figure) -> None:
    """Give `target` (a Figure or FigureWidget with the same traces, in the same order) the data
    and layout of `source`, in place, so a FigureWidget on screen redraws. Only what changed is
    sent: resending the unchanged layout (its template above all) took most of a second."""
    with target.batch_update():
        for mine, theirs in zip(target.data, source.data, strict=True):
            changed = _changed(mine.to_plotly_json(), theirs.to_plotly_json())
            if changed:
                mine.update(changed, overwrite=True)
        changed = _changed(target.layout.to_plotly_json(), source.layout.to_plotly_json())
        if changed:
            target.layout.update(changed, overwrite=True)


def empty_retrieval_figure(neighbours: int = explorer_cifar.LIVE_SIZES["neighbours"]) -> go.Figure:
    """The retrieval picture's traces with no image yet (redrawn by `replace_figure`)."""
    import numpy as np

    none = np.zeros((0, 3, 32, 32), dtype=np.uint8)
    return plots.retrieval_figure(
        none, np.zeros((0, neighbours, 3, 32, 32), dtype=np.uint8), [], np.zeros((0, neighbours)), ()
    )


def _negative_reading(probes: dict[str, float]) -> str:
    """What the probes of a negative-beta run show, read from their values: for each of the
    shared class and the nuisance, whether it is still readable (more than 0.15 above chance)."""
    if not all(math.isfinite(probes[k]) for k in ("shared_z", "nuisance_z")):
        return "The representation is no longer finite, so nothing can be read from it."
    parts = []
    for key, name in (("shared_z", "the shared class s"), ("nuisance_z", "the nuisance n")):
        kept = probes[key] > CHANCE[key] + 0.15
        parts.append(
            f"{name} is {'still readable' if kept else 'at or near chance'} "
            f"({probes[key]:.2f}, chance {CHANCE[key]:.2g})"
        )
    return "In the probes, " + "; ".join(parts) + "."


# ----------------------------------------------------------------------------- the explorer


class Explorer:
    """The widgets, figures and state of one explorer. Build it with `build_explorer`.

    controls: the input widgets by name; figures: "loss", "probes", "bounds" (live) and
    "cifar"; result / previous: the latest two ToyResults; last_seconds: the wall time of
    the latest recomputation (training, probes and figure update).

    CIFAR-10 mode, when the sweep's encoders are published (sweep: an explorer_cifar.Sweep,
    else None): controls["cifar_beta"], figures "cifar_scores" and "cifar_retrieval";
    cifar_result: the latest explorer_cifar.recompute result, cifar_results: every one by
    encoder name; last_cifar_seconds: the wall time of the latest (figures included).
    """

    def __init__(
        self,
        results_dir: str | Path = results_io.RESULTS_DIR,
        seed: int = 0,
        steps: int = LIVE_STEPS,
        batch_size: int = 256,
        num_threads: int = 1,
        static: bool = False,
        encoders=None,
        encoder_manifest: str | Path | None = None,
        cifar_data=None,
    ):
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        self.results_dir, self.seed, self.steps, self.batch_size = Path(results_dir), seed, steps, batch_size
        self.num_threads, self.static = num_threads, static
        self.data = make_multiview(seed=1000 + seed)  # train_toy's default data for this seed
        self.result: ToyResult | None = None
        self.previous: ToyResult | None = None
        self.last_seconds = float("nan")
        self._trained_settings: dict | None = None  # what self.result was trained with
        self._suspended = False
        self.controls = self._make_controls()
        self.progress = W.IntProgress(
            value=0, min=0, max=steps, description="training", layout=W.Layout(width="330px")
        )
        self.status = W.HTML()
        self.cifar_message = W.HTML()
        self.sweep, sweep_message = find_sweep(encoders, encoder_manifest, self.results_dir)
        # cifar_data: an explorer_cifar.LiveData, or what load_live_data reads (loaded on first use)
        self._cifar_data = cifar_data
        self.cifar_live = cifar_data if isinstance(cifar_data, explorer_cifar.LiveData) else None
        self.cifar_results: dict[str, dict] = {}
        self.cifar_result: dict | None = None
        self.last_cifar_seconds = float("nan")
        self.cifar_status = W.HTML(f"<b>{html.escape(sweep_message)}</b>" if sweep_message else "")
        if self.sweep is not None:
            self.controls["cifar_beta"] = self._make_cifar_slider(self.sweep)
        views = self._make_figures()
        self.widget = self._make_layout(views)
        self._connect()
        self._update_cifar()

    # Longer than most functions here: one slider per coefficient, one argument per line.
    @staticmethod
    def _make_controls() -> dict[str, W.Widget]:
        slider = dict(
            continuous_update=False, style={"description_width": "100px"}, layout=W.Layout(width="320px")
        )
        controls = {
            "mode": W.ToggleButtons(
                options=[("Live: toy data", "live"), ("CIFAR-10: stored sweep", "cifar")],
                value="live",
                style={"button_width": "190px"},
            ),
            "lambda_pred": W.FloatSlider(
                value=1.0,
                min=0.0,
                max=2.0,
                step=0.1,
                description="λ InfoNCE",
                tooltip="lambda_pred: weight of InfoNCE",
                readout_format=".1f",
                **slider,
            ),
            "beta_12": W.SelectionSlider(
                options=beta_options(False),
                value=0.0,
                description="β12 KL(1‖2)",
                tooltip="beta_12: weight of KL(q1||q2)",
                **slider,
            ),
            "beta_21": W.SelectionSlider(
                options=beta_options(False),
                value=0.0,
                description="β21 KL(2‖1)",
                tooltip="beta_21: weight of KL(q2||q1)",
                **slider,
            ),
            "temperature": W.FloatSlider(
                value=0.2,
                min=0.05,
                max=1.0,
                step=0.05,
                description="τ temperature",
                readout_format=".2f",
                **slider,
            ),
            "latent_dim": W.SelectionSlider(
                options=list(LATENT_SIZES), value=16, description="latent size K", **slider
            ),
            "allow_negative": W.Checkbox(
                value=False,
                description="allow negative β",
                indent=False,
                tooltip="a negative beta rewards the KL upper bound, which is unbounded",
            ),
        }
        for name, control in controls.items():
            control.add_class(f"explorer-{name}")  # stable hooks for the browser test
        return controls

    @staticmethod
    def _make_cifar_slider(sweep: explorer_cifar.Sweep) -> W.SelectionSlider:
        """One position per stored setting, ordered by beta_12 + beta_21: the asymmetric pair
        sits beside the symmetric setting of the same total KL weight."""
        slider = W.SelectionSlider(
            options=list(zip(sweep.labels, (e["name"] for e in sweep.settings))),
            value=sweep.settings[0]["name"],
            description="stored β",
            tooltip="the sweep's settings: β12 = β21, or β12 / β21 where they differ",
            continuous_update=False,
            style={"description_width": "100px"},
            layout=W.Layout(width="420px"),
        )
        slider.add_class("explorer-cifar_beta")
        return slider

    def _make_figures(self) -> dict[str, W.Widget]:
        """Fill self.figures (FigureWidgets, or plain figures when static) and return the widget
        that shows each one: none when static, where `show` displays each figure as an output of
        its own."""
        make = (lambda f: f) if self.static else go.FigureWidget
        self.figures = {name: make(fig) for name, fig in empty_live_figures().items()}
        self.figures["cifar"] = make(empty_cifar_figure())
        if self.sweep is not None:
            self.figures["cifar_scores"] = make(explorer_cifar.scores_figure(self.sweep, {}))
            self.figures["cifar_retrieval"] = make(empty_retrieval_figure())
        self.rows, message = sweep_rows(self.results_dir)
        self.cifar_message.value = f"<b>{html.escape(message)}</b>"
        self._handles = {}  # static: figure name -> the DisplayHandle that redraws it
        return {} if self.static else dict(self.figures)

    def _make_layout(self, views: dict[str, W.Widget]) -> W.VBox:
        header = W.HTML(
            "<b>SuperInfo coefficient explorer.</b> Each change retrains a small encoder on "
            "synthetic views (a shared class s; attributes r and q that each view shows 90% "
            "of the time; an attribute t that exactly one view shows; a nuisance n drawn afresh "
            "per view; the label y = (s, r, t)) in about a second. Faint curves and grey bars "
            "are the previous setting."
        )
        c = self.controls
        controls = W.VBox(
            [
                c["mode"],
                W.HBox([c["lambda_pred"], c["beta_12"], c["beta_21"]]),
                W.HBox([c["temperature"], c["latent_dim"], c["allow_negative"]]),
                W.HBox([self.progress, self.status]),
            ]
        )
        self.live_box = W.VBox([views[name] for name in ("loss", "probes", "bounds") if name in views])
        # Without stored results the CIFAR-10 figure would be empty axes: show only the message.
        self._cifar_view = W.Box([views["cifar"]] if "cifar" in views else [])
        self._cifar_view.layout.display = None if self.rows else "none"
        live = [self.cifar_status]
        if self.sweep is not None:
            intro = W.HTML(
                "<b>CIFAR-10, the stored sweep's encoders.</b> Each position of <i>stored β</i> is an "
                "encoder the CPU study trained (the β12 and β21 sliders snap to the nearest); choosing one "
                "loads it once and recomputes, in about a second, kNN accuracy, the median σ and the "
                "augmentation probe on z on fixed held-out images, and the nearest training images of "
                "fixed queries. Grey diamonds: the study's own evaluation."
            )
            live = [intro, W.HBox([self.controls["cifar_beta"]]), self.cifar_status]
            live += [views[n] for n in ("cifar_scores", "cifar_retrieval") if n in views]
        self.cifar_box = W.VBox(
            [*live, self.cifar_message, self._cifar_view], layout=W.Layout(display="none")
        )
        widget = W.VBox([header, controls, self.live_box, self.cifar_box])
        widget.add_class("superinfo-explorer")
        return widget

    def _connect(self) -> None:
        for name in ("lambda_pred", "beta_12", "beta_21", "temperature", "latent_dim"):
            self.controls[name].observe(self._on_change, names="value")
        self.controls["allow_negative"].observe(self._on_allow_negative, names="value")
        self.controls["mode"].observe(self._on_mode, names="value")
        if "cifar_beta" in self.controls:
            self.controls["cifar_beta"].observe(lambda change: self.recompute_cifar(), names="value")

    # --- settings and recomputation

    def settings(self) -> dict:
        """The keyword arguments of `train_toy` that the current widget values stand for."""
        c = self.controls
        return dict(
            lambda_pred=float(c["lambda_pred"].value),
            beta_12=float(c["beta_12"].value),
            beta_21=float(c["beta_21"].value),
            temperature=float(c["temperature"].value),
            latent_dim=int(c["latent_dim"].value),
            steps=self.steps,
            batch_size=self.batch_size,
            seed=self.seed,
            allow_negative_beta=bool(c["allow_negative"].value),
        )

    def recompute(self) -> ToyResult:
        """Retrain with the current settings and redraw the live figures in place. The old
        figures stay on screen while it runs; the progress bar follows the steps."""
        start = time.perf_counter()
        settings = self.settings()
        self.progress.value, self.progress.bar_style = 0, "info"
        self.status.value = "training…"

        def on_step(done: int, total: int) -> None:
            if done % 10 == 0 or done == total:  # a few widget messages, not one per step
                self.progress.value = done

        try:
            result = train_toy(**settings, data=self.data, callback=on_step, num_threads=self.num_threads)
        except ValueError as err:  # bad settings: say so, keep the old figures
            self.progress.bar_style = "danger"
            self.status.value = f"<span style='color:#c00'>{html.escape(str(err))}</span>"
            raise
        self.previous, self.result, self._trained_settings = self.result, result, settings
        fill_live_figures(self.figures, result, self.previous)
        self.last_seconds = time.perf_counter() - start
        self.progress.value = len(result.history["loss"])
        self.progress.bar_style = "warning" if self._blew_up(result) else "success"
        self.status.value = self._summary(result)
        self._refresh_static()
        return result

    @staticmethod
    def _blew_up(result: ToyResult) -> bool:
        """A warning colour for the progress bar: a negative beta, a diverged or non-finite run."""
        s = result.settings
        return (
            min(s["beta_12"], s["beta_21"]) < 0
            or result.diverged_at is not None
            or not all(math.isfinite(v) for v in result.probes.values())
        )

    def _summary(self, result: ToyResult) -> str:
        """The numbers the probe figure shows, each with its chance level, and for a negative
        beta what those same numbers say happened."""
        p = {k: result.probes.get(k, float("nan")) for k in MEASURES}
        read = " · ".join(f"{MEASURE_LABELS[k]} {p[k]:.2f} (chance {CHANCE[k]:.2g})" for k in MEASURES)
        text = f"{len(result.history['loss'])} steps in {self.last_seconds:.2f} s. Probe accuracy: {read}"
        s = result.settings
        if min(s["beta_12"], s["beta_21"]) < 0:
            text += (
                "<br><span style='color:#c00'>β &lt; 0 rewards the KL upper bound, which has no limit: "
                f"final KL(q1‖q2) = {_fmt(result.final('kl_12'))} nats. " + _negative_reading(p)
            )
            if result.diverged_at is not None:
                text += f" The loss became non-finite at step {result.diverged_at}."
            text += "</span>"
        elif result.diverged_at is not None:
            step = result.diverged_at
            text += f"<br><span style='color:#c00'>the loss became non-finite at step {step}.</span>"
        return text

    def _static_output(self, name: str) -> dict:
        """What the static output of figure `name` shows now: the figure (figure_bundle), or
        nothing while the mode hides it (or, for CIFAR-10, while nothing is stored)."""
        live = self.controls["mode"].value == "live"
        cifar = name.startswith("cifar")
        has_data = bool(self.rows) if name == "cifar" else bool(self.cifar_results) if cifar else True
        shown = cifar != live and has_data
        return figure_bundle(self.figures[name]) if shown else {"text/plain": ""}

    def _refresh_static(self) -> None:
        for name, handle in self._handles.items():  # replaced in place: one output per figure
            handle.update(self._static_output(name), raw=True)

    # --- callbacks

    def _on_change(self, change) -> None:
        if self._suspended:
            return
        if self.controls["mode"].value == "live":
            self.recompute()
        else:
            self._update_cifar(snap=True)

    def _on_allow_negative(self, change) -> None:
        """Swap the beta sliders' options; a negative beta falls back to 0, recomputing once."""
        moved = False
        self._suspended = True
        try:
            for name in ("beta_12", "beta_21"):
                slider, value = self.controls[name], self.controls[name].value
                new_value = value if change["new"] or value >= 0 else 0.0
                slider.options = beta_options(change["new"])
                slider.value = new_value
                moved |= new_value != value
        finally:
            self._suspended = False
        if moved:
            self._on_change(None)

    def _on_mode(self, change) -> None:
        live = change["new"] == "live"
        self.live_box.layout.display = None if live else "none"
        self.cifar_box.layout.display = "none" if live else None
        for name in ("lambda_pred", "temperature", "latent_dim", "allow_negative"):
            self.controls[name].disabled = not live  # the stored sweep varies beta only
        if live and self.settings() != self._trained_settings:
            self.recompute()  # betas moved while in CIFAR-10 mode
        elif not live:
            self._update_cifar(snap=self.cifar_result is None)  # the first visit starts at the β sliders
        self._refresh_static()  # static figures: show the mode's own, hide the others

    def _update_cifar(self, snap: bool = False) -> None:
        """Redraw CIFAR-10 mode. With the sweep's encoders and `snap`, the β sliders select the
        nearest stored setting (recomputing when it changes); the table below highlights the
        setting shown: the stored-β slider's, else the β sliders'."""
        s = self.settings()
        beta = (s["beta_12"], s["beta_21"])
        if self.sweep is not None and self.controls["mode"].value == "cifar":
            slider = self.controls["cifar_beta"]
            if snap and slider.value != self.sweep.snap(beta)["name"]:
                slider.value = self.sweep.snap(beta)["name"]  # its observer recomputes
                return
            if self.cifar_result is None or self.cifar_result["name"] != slider.value:
                self.recompute_cifar()
                return
        if self.cifar_result is not None:
            beta = (self.cifar_result["beta_12"], self.cifar_result["beta_21"])
        self._cifar_view.layout.display = None if self.rows else "none"
        selected = nearest_row(self.rows, *beta)
        fill_cifar_figure(self.figures["cifar"], self.rows, selected)
        if selected is not None:
            row = self.rows[selected]
            source = (
                "stored GPU results"
                if row["_source"] == "GPU"
                else "the CPU study: small convnet, held-out training images"
            )
            self.figures["cifar"].layout.title.text = (
                f"CIFAR-10 beta sweep ({source}); your setting β12={beta[0]:g}, "
                f"β21={beta[1]:g} → nearest stored β12={row['beta_12']:g}, β21={row['beta_21']:g}"
            )
        self._refresh_static()

    def load_cifar(self) -> explorer_cifar.LiveData:
        """CIFAR-10 mode's fixed image subset, loaded on first use (explorer_cifar.load_live_data:
        decodes the training images once, downloading CIFAR-10 if it is nowhere to be found)."""
        if self.cifar_live is None:
            self.cifar_live = explorer_cifar.load_live_data(self._cifar_data, download=True)
        return self.cifar_live

    def recompute_cifar(self) -> dict | None:
        """Evaluate the stored-β slider's encoder on the fixed subset (explorer_cifar.recompute)
        and redraw the CIFAR-10 figures; a failure (no data, an altered file) goes to the status
        line and returns None."""
        if self.sweep is None:
            raise RuntimeError(f"no sweep encoders to recompute: {self.cifar_status.value}")
        start = time.perf_counter()
        entry = next(e for e in self.sweep.settings if e["name"] == self.controls["cifar_beta"].value)
        if self.cifar_live is None:
            self.cifar_status.value = "loading the CIFAR-10 images (once, about ten seconds)…"
        else:
            self.cifar_status.value = "recomputing…"
        try:
            result = explorer_cifar.recompute(
                (entry["beta_12"], entry["beta_21"]),
                self.sweep,
                self.load_cifar(),
                num_threads=self.num_threads,
            )
        except (OSError, ValueError, KeyError, VerificationError) as err:
            self.cifar_status.value = f"<span style='color:#c00'>{html.escape(str(err))}</span>"
            return None
        self.cifar_result = self.cifar_results[entry["name"]] = result
        explorer_cifar.fill_scores_figure(
            self.figures["cifar_scores"], self.sweep, self.cifar_results, entry["name"]
        )
        replace_figure(self.figures["cifar_retrieval"], result["figures"]["retrieval"])
        self._update_cifar()  # the stored table's highlight, and the static outputs
        self.last_cifar_seconds = time.perf_counter() - start
        self.cifar_status.value = (
            html.escape(explorer_cifar.summary_text(result)) + f"; {self.last_cifar_seconds:.2f} s"
        )
        return result

    # --- output

    def static_figures(self) -> dict[str, go.Figure]:
        """Plain plotly figures (copies) of what the explorer shows: for static output."""
        return {name: go.Figure(fig) for name, fig in self.figures.items()}

    def static_html(self) -> str:
        """The figures as HTML (plotly.js from its CDN), for viewers that cannot run widgets."""
        names = ["loss", "probes", "bounds"] + (["cifar"] if self.rows else [])
        parts = [
            fig.to_html(full_html=False, include_plotlyjs="cdn" if i == 0 else False)
            for i, fig in enumerate(self.static_figures()[n] for n in names)
        ]
        return STATIC_NOTE + "\n".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None):
        # One output, two representations: a frontend that runs widgets (JupyterLab, Notebook 7,
        # VS Code, Colab with its custom widget manager) ranks the widget view first; a static
        # viewer (nbconvert, nbviewer, GitHub) has no widget state and falls back to the plain
        # plotly HTML. Simpler than sniffing the frontend, which the kernel cannot see. A static
        # explorer's figures are outputs of their own (`show`): not repeated here.
        bundle = self.widget._repr_mimebundle_() or {}
        bundle["text/html"] = STATIC_NOTE if self.static else self.static_html()
        bundle["text/plain"] = f"SuperInfo coefficient explorer (settings: {self.settings()})"
        return bundle

    def show(self) -> None:
        """Display the explorer. Static: the widgets, then each figure as an output of its own
        (IPython's display, redrawn in place through its display handle) rather than inside an
        ipywidgets Output, in which Colab draws no plotly figure ("Plotly is not defined")."""
        display(self)
        if self.static:
            self._handles = {
                name: display(self._static_output(name), raw=True, display_id=True) for name in self.figures
            }


def build_explorer(
    results_dir: str | Path = results_io.RESULTS_DIR,
    seed: int = 0,
    steps: int = LIVE_STEPS,
    batch_size: int = 256,
    num_threads: int = 1,
    static: bool = False,
    run: bool = True,
    encoders=None,
    encoder_manifest: str | Path | None = None,
    cifar_data=None,
) -> Explorer:
    """An Explorer with the default settings, trained once unless run=False.

    results_dir: where CIFAR-10 mode looks for stored sweeps; num_threads: torch threads for
    the live training and CIFAR-10 recomputations; static: plain figures (shown by
    `Explorer.show`) instead of FigureWidgets. CIFAR-10 mode: encoders (an explorer_cifar.Sweep,
    or the folder / URL of published encoders; default <results_dir>/cpu/encoders/) with
    encoder_manifest (default: the folder's manifest.json); cifar_data (an explorer_cifar.LiveData,
    an ImageData or a CIFAR-10 path; default: the first place found), loaded on first use.
    """
    explorer = Explorer(
        results_dir,
        seed=seed,
        steps=steps,
        batch_size=batch_size,
        num_threads=num_threads,
        static=static,
        encoders=encoders,
        encoder_manifest=encoder_manifest,
        cifar_data=cifar_data,
    )
    if run:
        explorer.recompute()
    return explorer


def show_explorer(static: bool | None = None, **kwargs) -> Explorer:
    """Build the explorer, display it and return it (assign it: `explorer = show_explorer()`).

    static=None uses FigureWidgets whenever anywidget is installed (plotly builds FigureWidget
    on it, and importing it on Colab turns on Colab's custom widget manager); otherwise plain
    figures, each displayed as an output of its own under the sliders and redrawn in place,
    which any front end that draws plotly figures shows. static=True asks for those where
    FigureWidgets stay blank.
    """
    if static is None:
        static = importlib.util.find_spec("anywidget") is None
    explorer = build_explorer(static=static, **kwargs)
    explorer.show()
    return explorer
