"""The coefficient explorer without a browser: widgets set from Python, figures checked
against a direct call of the training function."""

import json
import os
import re
import sys

import ipywidgets as W
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from superinfo_lib import explorer_cifar, plots, widgets
from superinfo_lib.toy import CHANCE, train_toy
from superinfo_lib.toy import LESSON_MEASURES as MEASURES
from superinfo_lib.widgets import BETA_GRID, beta_options, build_explorer

STEPS = 30  # a short run keeps each recomputation ~0.2 s; the explorer's default is LIVE_STEPS


def trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def direct_run(explorer, **overrides):
    """train_toy called directly (its own default data) with the explorer's settings."""
    return train_toy(**{**explorer.settings(), **overrides}, num_threads=explorer.num_threads)


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    return build_explorer(results_dir=tmp_path_factory.mktemp("no_results"), steps=STEPS)


def test_sliders_do_not_update_continuously_and_beta_has_zero_and_log_steps(explorer):
    for name in ("lambda_pred", "beta_12", "beta_21", "temperature", "latent_dim"):
        assert explorer.controls[name].continuous_update is False, name
    values = [v for _, v in explorer.controls["beta_12"].options]
    assert values[0] == 0 and min(values) >= 0  # no negative without the checkbox
    ratios = [b / a for a, b in zip(values[1:], values[2:])]
    assert all(2.9 < r < 3.4 for r in ratios)  # log-spaced (1, 3, 10, ...)


def test_slider_change_recomputes_once_and_matches_direct_training(explorer, monkeypatch):
    calls = []
    real = widgets.train_toy
    monkeypatch.setattr(widgets, "train_toy", lambda **kw: calls.append(kw) or real(**kw))
    before_total = list(trace(explorer.figures["loss"], "total loss").y)
    before_probes = list(trace(explorer.figures["probes"], "current setting").y)
    old = explorer.result

    explorer.controls["beta_12"].value = 1e-2
    explorer.controls["temperature"].value = 0.3
    assert len(calls) == 2  # one recomputation per change

    direct = direct_run(explorer)
    total = list(trace(explorer.figures["loss"], "total loss").y)
    assert total != before_total
    assert total == direct.history["loss"]
    weighted_kl = list(trace(explorer.figures["loss"], "β12·KL(q1‖q2)").y)
    assert weighted_kl == pytest.approx([1e-2 * v for v in direct.history["kl_12"]], rel=1e-12)
    assert (
        list(trace(explorer.figures["bounds"], "log(2N−1) − InfoNCE").y) == direct.history["mi_lower_bound"]
    )
    assert list(trace(explorer.figures["bounds"], "KL(q2‖q1) ≥ I(v2;z2|v1)").y) == direct.history["kl_21"]
    probes = list(trace(explorer.figures["probes"], "current setting").y)
    assert probes == [direct.probes[k] for k in MEASURES] and probes != before_probes
    # the run before stays on screen, faint, for comparison
    assert explorer.previous is not old and explorer.previous.settings["temperature"] == 0.2
    assert (
        list(trace(explorer.figures["loss"], "total loss (previous)").y) == explorer.previous.history["loss"]
    )
    assert "steps in" in explorer.status.value and explorer.progress.value == STEPS
    for k in MEASURES:  # the status line gives the numbers the probe figure shows
        assert f"{direct.probes[k]:.2f} (chance {CHANCE[k]:.2g})" in explorer.status.value, k


def test_latent_size_and_lambda_reach_the_training(explorer):
    explorer.controls["latent_dim"].value = 4
    explorer.controls["lambda_pred"].value = 0.5
    assert explorer.result.settings["latent_dim"] == 4 and explorer.result.settings["lambda_pred"] == 0.5
    direct = direct_run(explorer)
    assert list(trace(explorer.figures["loss"], "λ·InfoNCE").y) == pytest.approx(
        [0.5 * v for v in direct.history["nce"]], rel=1e-12
    )


def test_negative_beta_needs_the_checkbox_and_shows_the_blow_up(tmp_path):
    ex = build_explorer(results_dir=tmp_path, steps=STEPS)
    with pytest.raises(Exception):  # noqa: B017 - traitlets raises its own error type for a bad value
        ex.controls["beta_12"].value = -0.1
    ex.controls["allow_negative"].value = True
    assert [v for _, v in ex.controls["beta_12"].options] == [v for _, v in beta_options(True)]
    assert min(v for _, v in beta_options(True)) == -max(BETA_GRID)
    ex.controls["beta_12"].value = -0.1
    result = ex.result
    assert result.settings["beta_12"] == -0.1
    # the KL term is rewarded: it grows by orders of magnitude instead of raising an error
    assert result.final("kl_12") > 1e3 * direct_run(ex, beta_12=0.0).final("kl_12")
    assert "rewards the KL upper bound" in ex.status.value and ex.progress.bar_style == "warning"
    # what the status says about the probes is what the probes read
    for key, name in (("shared_z", "the shared class s"), ("nuisance_z", "the nuisance n")):
        kept = result.probes[key] > CHANCE[key] + 0.15
        assert (
            f"{name} is {'still readable' if kept else 'at or near chance'} ({result.probes[key]:.2f}"
            in ex.status.value
        ), key
    # unticking brings the negative beta back to 0, with one recomputation
    ex.controls["allow_negative"].value = False
    assert ex.controls["beta_12"].value == 0.0 and ex.result.settings["beta_12"] == 0.0
    assert "rewards" not in ex.status.value


def test_cifar_mode_says_clearly_when_nothing_is_stored(tmp_path):
    ex = build_explorer(results_dir=tmp_path / "missing", run=False)
    ex.controls["mode"].value = "cifar"
    assert "No stored CIFAR-10 results" in ex.cifar_message.value
    assert ex.cifar_box.layout.display is None and ex.live_box.layout.display == "none"
    assert all(len(t.x or ()) == 0 for t in ex.figures["cifar"].data)
    assert ex._cifar_view.layout.display == "none"  # the message alone, no empty axes


def write_result(folder, name, record):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(
        json.dumps(
            {
                "format": 1,
                "device": "NVIDIA H100",
                "device_type": "cuda",
                "timestamp": "2026-11-27T00:00:00+00:00",
                **record,
            }
        )
    )


def test_cifar_mode_plots_the_stored_sweep_and_highlights_the_setting(tmp_path):
    rows = [
        {
            "beta_12": b,
            "beta_21": b,
            "knn_top1": 0.80 + b,
            "linear_top1": 0.85 + b,
            "aug_probe_mean_r2": 0.5 - b,
        }
        for b in (0.0, 1e-3, 1e-2)
    ]
    write_result(tmp_path, "sweep-a.json", {"kind": "sweep", "epochs": 100, "rows": rows})
    write_result(
        tmp_path,
        "run-b.json",
        {
            "kind": "run",
            "method": "superinfo",
            "beta_12": 3e-3,
            "beta_21": 3e-3,
            "knn_top1": 0.9,
            "linear_top1": 0.91,
            "aug_probe_mean_r2": 0.2,
        },
    )
    write_result(
        tmp_path,
        "run-cpu.json",
        {
            "kind": "run",
            "device": "cpu",
            "device_type": "cpu",
            "beta_12": 0.1,
            "beta_21": 0.1,
            "knn_top1": 0.1,
        },
    )
    ex = build_explorer(results_dir=tmp_path, run=False)
    ex.controls["mode"].value = "cifar"
    assert ex._cifar_view.layout.display is None
    fig = ex.figures["cifar"]
    assert list(trace(fig, "kNN (k=200)").x) == ["0", "0.001", "0.003", "0.01"]  # CPU file left out
    assert list(trace(fig, "kNN (k=200)").y) == [0.8, 0.801, 0.9, 0.81]
    assert list(trace(fig, "aug-param probe R²").y) == [0.5, 0.499, 0.2, 0.49]
    assert "4 beta settings from 2 GPU result file(s)" in ex.cifar_message.value
    assert "1 CPU smoke-test file(s) ignored" in ex.cifar_message.value
    assert list(trace(fig, "your setting").x) == ["0"]  # sliders at 0
    ex.controls["beta_12"].value = 3e-3
    ex.controls["beta_21"].value = 3e-3
    assert list(trace(fig, "your setting").x) == ["0.003"] and list(trace(fig, "your setting").y) == [0.9]
    # Nearest, not exact: (3e-3, 3e-2) is 1.63 from (1e-2, 1e-2) and 2.30 from (3e-3, 3e-3) in
    # explorer_cifar.beta_distance, 3.57 and 7.60 from the others.
    ex.controls["beta_21"].value = 3e-2  # "your setting " marks the probe panel: R² 0.5 - 0.01
    assert list(trace(fig, "your setting ").x) == ["0.01"] and list(trace(fig, "your setting ").y) == [0.49]
    assert ex.result is None  # moving betas in CIFAR-10 mode trains nothing
    ex.controls["mode"].value = "live"  # back to live: trains the current setting
    assert ex.result.settings["beta_21"] == 3e-2


def test_cifar_mode_falls_back_to_the_cpu_study_sweep_and_never_mixes_it_in(tmp_path):
    rows = [
        {"beta_12": b12, "beta_21": b21, "knn_top1": 0.5 + b12, "linear_top1": 0.55, "aug_probe_mean_r2": 0.3}
        for b12, b21 in ((1e-2, 1e-2), (0.0, 0.0), (2e-2, 0.0))
    ]
    cpu_sweep = {
        "kind": "sweep",
        "device": "cpu",
        "device_type": "cpu",
        "cpu_model": "Some CPU",
        "smoke": False,
    }
    cpu_sweep |= {"complete": True, "arch": "small", "epochs": 8, "n_validation": 5000, "rows": rows}
    write_result(tmp_path / "cpu", "sweep-cpu.json", cpu_sweep)
    write_result(tmp_path / "cpu", "sweep-smoke.json", cpu_sweep | {"smoke": True, "rows": rows[:1]})
    ex = build_explorer(results_dir=tmp_path, run=False)
    ex.controls["mode"].value = "cifar"
    fig = ex.figures["cifar"]
    assert list(trace(fig, "kNN (k=200)").x) == ["0 / 0", "0.01 / 0.01", "0.02 / 0"]  # by beta_12 + beta_21
    assert "CPU study" in fig.layout.title.text and "held-out training images" in ex.cifar_message.value
    assert "Some CPU" in ex.cifar_message.value
    # A GPU sweep, once stored, replaces the CPU study's rows entirely.
    gpu_rows = [
        {"beta_12": 1e-3, "beta_21": 1e-3, "knn_top1": 0.9, "linear_top1": 0.9, "aug_probe_mean_r2": 0.1}
    ]
    write_result(tmp_path, "sweep-gpu.json", {"kind": "sweep", "epochs": 30, "rows": gpu_rows})
    ex = build_explorer(results_dir=tmp_path, run=False)
    ex.controls["mode"].value = "cifar"
    assert list(trace(ex.figures["cifar"], "kNN (k=200)").x) == ["0.001"]
    assert "GPU" in ex.figures["cifar"].layout.title.text


def test_unreadable_results_file_is_reported_not_raised(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    ex = build_explorer(results_dir=tmp_path, run=False)
    assert (
        "Cannot read the stored results" in ex.cifar_message.value and "broken.json" in ex.cifar_message.value
    )


def test_static_fallback_carries_the_same_figures(explorer):
    static = explorer.static_figures()
    assert all(type(f) is go.Figure for f in static.values())
    assert list(trace(static["loss"], "total loss").y) == explorer.result.history["loss"]
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    html = bundle["text/html"]
    assert html.count("Plotly.newPlot") == 3 and "total loss" in html


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A real IPython shell, so that display() publishes outputs (and their updates) to capture."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    shell = InteractiveShell.instance()
    yield shell
    InteractiveShell.clear_instance()


def simulate(monkeypatch, env: dict, modules: tuple = (), anywidget: bool = True):
    """This process as a kernel of that front end sees it: its environment variables, its
    imported modules, and whether anywidget is installed."""
    import importlib.util
    import sys
    import types

    for name in ("COLAB_NOTEBOOK_ID", "COLAB_RELEASE_TAG", "VSCODE_PID", "VSCODE_CWD", "PLOTLY_RENDERER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in modules:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    if not anywidget:
        real = importlib.util.find_spec
        monkeypatch.setattr(
            importlib.util, "find_spec", lambda n, *a: None if n == "anywidget" else real(n, *a)
        )


def widget_tree(widget) -> list:
    found, todo = [], [widget]
    while todo:
        w = todo.pop()
        found.append(w)
        todo.extend(getattr(w, "children", ()))
    return found


def check_static_display(ex, outputs) -> dict[str, str]:
    """The explorer shown as its widgets, then one output per figure (never in an Output widget);
    returns figure name -> its display id."""
    widget_view, *figures = outputs
    assert widget_view.data["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    assert "Plotly.newPlot" not in widget_view.data["text/html"]  # the figures are not repeated
    assert not any(isinstance(w, (W.Output, go.FigureWidget)) for w in widget_tree(ex.widget))
    assert len(figures) == len(ex.figures) and not any(o.update for o in figures)
    ids = {}
    for name, out in zip(ex.figures, figures):
        ids[name] = out.transient["display_id"]
        if name == "cifar":  # nothing stored: the CIFAR-10 figure stays hidden
            assert out.data == {"text/plain": ""}
            continue
        shown = out.data["application/vnd.plotly.v1+json"]
        assert shown["layout"]["title"]["text"] == ex.figures[name].layout.title.text
        # HTML as plotly's own Colab renderer writes it: plotly.js from its CDN, then the figure.
        colab = pio.renderers["colab"].to_mimebundle(ex.figures[name].to_dict())["text/html"]
        script = re.search(r"<script[^>]*cdn\.plot\.ly[^>]*></script>", colab).group(0)
        assert script in out.data["text/html"] and "Plotly.newPlot" in out.data["text/html"]
    return ids


def test_static_explorer_in_colab_shows_each_figure_as_its_own_output(tmp_path, monkeypatch, shell):
    """Colab's web app without anywidget: show_explorer picks the static explorer, which displays
    its figures directly and redraws them in place, never inside an ipywidgets Output."""
    from IPython.utils.capture import capture_output

    from superinfo_lib.course import choose_renderer

    simulate(monkeypatch, {"COLAB_NOTEBOOK_ID": "1aBcD"}, ("google.colab",), anywidget=False)
    assert choose_renderer(os.environ, sys.modules) == "colab"
    with capture_output() as shown:
        ex = widgets.show_explorer(results_dir=tmp_path, steps=STEPS)
    assert ex.static and type(ex.figures["loss"]) is go.Figure
    ids = check_static_display(ex, shown.outputs)
    data = shown.outputs[1].data["application/vnd.plotly.v1+json"]["data"]
    assert next(t for t in data if t["name"] == "total loss")["y"] == ex.result.history["loss"]

    with capture_output() as moved:
        ex.controls["beta_21"].value = 1e-3
    updates = {o.transient["display_id"]: o for o in moved.outputs}
    assert all(o.update for o in moved.outputs) and set(updates) == set(ids.values())
    loss = updates[ids["loss"]].data["application/vnd.plotly.v1+json"]["data"]
    assert next(t for t in loss if t["name"] == "total loss")["y"] == direct_run(ex).history["loss"]
    assert ex.result.settings["beta_21"] == 1e-3

    with capture_output() as switched:  # CIFAR-10 mode: the live figures step aside
        ex.controls["mode"].value = "cifar"
    last = {o.transient["display_id"]: o.data for o in switched.outputs}
    assert all(last[ids[name]] == {"text/plain": ""} for name in ("loss", "probes", "bounds", "cifar"))


def test_static_explorer_in_vscode_on_request(tmp_path, monkeypatch, shell):
    """VS Code (here with the Colab extension: a Colab machine, VS Code the front end), anywidget
    installed: FigureWidgets unless static=True asks for plain figures, shown directly."""
    from IPython.utils.capture import capture_output

    from superinfo_lib.course import choose_renderer

    simulate(monkeypatch, {"COLAB_RELEASE_TAG": "release-colab-external"}, ("google.colab",))
    assert choose_renderer(os.environ, sys.modules) == "plotly_mimetype"
    with capture_output() as shown:
        live = widgets.show_explorer(results_dir=tmp_path, steps=STEPS)
    assert not live.static and isinstance(live.figures["loss"], go.FigureWidget)
    assert len(shown.outputs) == 1  # the widgets alone: the figures are widgets inside them
    with capture_output() as shown:
        ex = widgets.show_explorer(static=True, results_dir=tmp_path, steps=STEPS)
    check_static_display(ex, shown.outputs)


def test_bad_arguments_name_themselves(tmp_path):
    with pytest.raises(ValueError, match="steps"):
        build_explorer(results_dir=tmp_path, steps=0)
    with pytest.raises(ValueError, match="num_threads"):
        build_explorer(results_dir=tmp_path, num_threads=0)


def test_a_static_viewer_without_widget_state_shows_the_static_figures(explorer):
    """nbconvert (as nbviewer and GitHub-like renderers do) drops a widget view whose state
    was not saved and falls back to the bundle's next representation: the plotly HTML."""
    nbformat = pytest.importorskip("nbformat")
    HTMLExporter = pytest.importorskip("nbconvert").HTMLExporter
    bundle = explorer._repr_mimebundle_()
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "explorer = show_explorer()", outputs=[nbformat.v4.new_output("display_data", data=bundle)]
            )
        ]
    )
    body, _ = HTMLExporter().from_notebook_node(nb)
    assert "Static copy of the coefficient explorer" in body and body.count("Plotly.newPlot") == 3


def test_figures_fit_the_page_and_title_every_axis(explorer):
    for name, fig in explorer.figures.items():
        assert fig.layout.autosize and (fig.layout.width is None or fig.layout.width <= plots.MAX_WIDTH), name
        axes = [k for k in fig.layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))]
        assert axes, name
        for axis in axes:
            assert fig.layout[axis].title.text, (name, axis)
    assert "⏳" not in explorer.status.value  # plain text: no emoji font needed


# ----------------------------------------------------------------------------- CIFAR-10 mode, live


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """A published stand-in sweep (random-init small encoders) and a synthetic image subset."""
    from test_explorer_cifar import publish_sweep, stand_in_data

    folder = tmp_path_factory.mktemp("encoders")
    publish_sweep(folder)
    return folder, stand_in_data()


def test_cifar_mode_says_when_the_encoders_are_not_here(tmp_path):
    ex = build_explorer(results_dir=tmp_path, run=False)
    ex.controls["mode"].value = "cifar"
    assert ex.sweep is None and "cifar_beta" not in ex.controls
    assert explorer_cifar.NOT_HERE in ex.cifar_status.value
    assert str(tmp_path / "cpu" / "encoders" / "manifest.json") in ex.cifar_status.value


def test_cifar_mode_recomputes_from_the_stored_encoders(stand_in, tmp_path, monkeypatch):
    from test_explorer_cifar import LABELS, SWEEP, sweep_name

    folder, live = stand_in
    ex = build_explorer(results_dir=tmp_path, run=False, encoders=folder, cifar_data=live)
    slider = ex.controls["cifar_beta"]
    assert [label for label, _ in slider.options] == LABELS
    calls = []
    real = explorer_cifar.recompute
    monkeypatch.setattr(
        explorer_cifar, "recompute", lambda beta, *a, **kw: calls.append(beta) or real(beta, *a, **kw)
    )

    ex.controls["mode"].value = "cifar"  # the first visit starts at the β sliders' setting (0, 0)
    assert calls == [(0.0, 0.0)] and ex.cifar_result["name"] == sweep_name(0, 0)
    ex.controls["beta_12"].value = 1e-2  # (1e-2, 0) snaps to the stored (2e-2, 0)
    assert slider.value == sweep_name(2e-2, 0) and ex.cifar_result["name"] == sweep_name(2e-2, 0)
    ex.controls["beta_21"].value = 1e-2
    assert slider.value == sweep_name(1e-2, 1e-2) and len(calls) == 3
    ex.controls["beta_21"].value = 3e-3  # still nearest to (1e-2, 1e-2): nothing to recompute
    assert slider.value == sweep_name(1e-2, 1e-2) and len(calls) == 3
    slider.value = sweep_name(3e-2, 3e-2)  # the stored-β slider itself
    assert calls[-1] == (3e-2, 3e-2) and len(calls) == 4
    assert ex.result is None  # CIFAR-10 mode trains nothing

    result = ex.cifar_result
    shown = ex.figures["cifar_retrieval"]
    assert isinstance(shown, go.FigureWidget)
    assert shown.data[0].source == result["figures"]["retrieval"].data[0].source
    assert shown.layout.title.text == result["figures"]["retrieval"].layout.title.text
    assert list(shown.layout.yaxis.ticktext) == [live.classes[c] for c in result["retrieval"]["query_labels"]]
    knn = ex.figures["cifar_scores"].data[0]  # every setting computed so far, in slider order
    want = [
        ex.cifar_results[sweep_name(*p)]["knn_top1"] if sweep_name(*p) in ex.cifar_results else None
        for p in SWEEP
    ]
    assert list(knn.y) == want and sum(v is not None for v in want) == 4
    assert list(ex.figures["cifar_scores"].data[2].x) == ["0.03"]
    assert f"kNN top-1 {result['knn_top1']:.3f}" in ex.cifar_status.value
    assert ex.last_cifar_seconds >= result["seconds"]

    ex.controls["mode"].value = "live"  # back and forth: the stored-β slider keeps its setting
    ex.controls["mode"].value = "cifar"
    assert slider.value == sweep_name(3e-2, 3e-2) and len(calls) == 4


def test_static_cifar_figures_show_only_in_cifar_mode_once_computed(stand_in, tmp_path):
    folder, live = stand_in
    ex = build_explorer(results_dir=tmp_path, steps=STEPS, static=True, encoders=folder, cifar_data=live)
    assert type(ex.figures["cifar_retrieval"]) is go.Figure
    assert ex._static_output("cifar_scores") == {"text/plain": ""}  # live mode
    ex.controls["mode"].value = "cifar"
    shown = ex._static_output("cifar_retrieval")["application/vnd.plotly.v1+json"]
    assert shown["data"][0]["source"] == ex.cifar_result["figures"]["retrieval"].data[0].source
    assert ex._static_output("loss") == {"text/plain": ""}
    ex.controls["mode"].value = "live"
    assert ex._static_output("cifar_retrieval") == {"text/plain": ""}


def test_cifar_figures_fit_the_page_and_title_every_axis(stand_in, tmp_path):
    folder, live = stand_in
    ex = build_explorer(results_dir=tmp_path, run=False, encoders=folder, cifar_data=live)
    ex.controls["mode"].value = "cifar"
    for name in ("cifar_scores", "cifar_retrieval"):
        fig = ex.figures[name]
        assert fig.layout.autosize and (fig.layout.width is None or fig.layout.width <= plots.MAX_WIDTH)
        axes = [k for k in fig.layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))]
        assert axes and all(fig.layout[axis].title.text for axis in axes), name
