"""superinfo_lib.course: what "auto" means, a clear error for a profile that does not exist, and
plotly's renderer in every front end the course meets (each environment simulated)."""

import sys
import types

import pytest

from superinfo_lib.course import REPO_ROOT, choose_renderer, resolve_profile, setup_notebook

PROFILES = {"smoke": {"n": 1}, "gpu": {"n": 2}, "full": {"n": 3}}


def test_auto_is_smoke_on_a_cpu_and_the_gpu_size_on_a_gpu():
    assert resolve_profile("auto", PROFILES, device="cpu") == ("smoke", {"n": 1})
    assert resolve_profile("auto", PROFILES, device="cuda") == ("gpu", {"n": 2})
    without_gpu_size = {k: v for k, v in PROFILES.items() if k != "gpu"}
    assert resolve_profile("auto", without_gpu_size, device="cuda") == ("full", {"n": 3})


def test_a_named_profile_is_taken_as_it_is():
    for name in PROFILES:
        assert resolve_profile(name, PROFILES, device="cpu") == (name, PROFILES[name])


def test_an_unknown_profile_is_refused_with_the_choices():
    expected = r"profile must be one of \['full', 'gpu', 'smoke'\] or 'auto', got 'fast'"
    with pytest.raises(ValueError, match=expected):
        resolve_profile("fast", PROFILES)


# ----------------------------------------------------------------------------- plotly's renderer

KERNEL = {"ipykernel", "IPython", "plotly"}  # modules every Jupyter kernel here has imported
JUPYTER_SERVER = {"JPY_PARENT_PID": "4100", "JPY_SESSION_NAME": "/home/learner/course/01.ipynb"}
COLAB_MACHINE = {"COLAB_RELEASE_TAG": "release-colab-external_20260301", "COLAB_GPU": "1"}
VSCODE = {"VSCODE_PID": "3120", "VSCODE_CWD": "/home/learner/course"}
# Each environment as the kernel sees it: (env, modules, renderer that draws there).
ENVIRONMENTS = {
    "JupyterLab": (JUPYTER_SERVER, KERNEL, "plotly_mimetype"),
    "classic Jupyter (Notebook 7)": (JUPYTER_SERVER, KERNEL, "plotly_mimetype"),
    "Colab, the web app": (
        {**COLAB_MACHINE, "COLAB_NOTEBOOK_ID": "1aBcD", "JPY_PARENT_PID": "80"},
        KERNEL | {"google.colab", "google.colab._kernel"},
        "colab",
    ),
    "VS Code, local kernel": ({**VSCODE, "JPY_PARENT_PID": "3200"}, KERNEL, "plotly_mimetype"),
    "VS Code, local kernel with google-colab installed": (
        VSCODE,
        KERNEL | {"google.colab"},
        "plotly_mimetype",
    ),
    "VS Code with the Colab extension (kernel on a Colab machine)": (
        {**COLAB_MACHINE, "JPY_PARENT_PID": "80"},
        KERNEL | {"google.colab", "google.colab._kernel"},
        "plotly_mimetype",
    ),
    "papermill, no front end": ({}, KERNEL | {"papermill"}, "plotly_mimetype"),
    "papermill started from a Colab cell": (
        {**COLAB_MACHINE, "COLAB_NOTEBOOK_ID": "1aBcD"},
        KERNEL,
        "plotly_mimetype",
    ),
}


@pytest.mark.parametrize("where", ENVIRONMENTS)
def test_the_renderer_suits_the_front_end(where):
    env, modules, expected = ENVIRONMENTS[where]
    assert choose_renderer(env, modules) == expected, where


def test_plotly_renderer_in_the_environment_wins():
    env, modules, _ = ENVIRONMENTS["Colab, the web app"]
    assert choose_renderer({**env, "PLOTLY_RENDERER": "notebook_connected"}, modules) == "notebook_connected"
    assert choose_renderer({"PLOTLY_RENDERER": "png"}, KERNEL) == "png"
    assert choose_renderer({"PLOTLY_RENDERER": ""}, KERNEL) == "plotly_mimetype"  # empty: not set


def test_setup_notebook_reads_this_process(monkeypatch):
    import plotly.io as pio

    monkeypatch.setattr(pio.renderers, "default", pio.renderers.default)  # restored afterwards
    for name in ("PLOTLY_RENDERER", "COLAB_NOTEBOOK_ID", "VSCODE_PID", "VSCODE_CWD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLAB_NOTEBOOK_ID", "1aBcD")
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert setup_notebook() == REPO_ROOT and (REPO_ROOT / "superinfo_lib").is_dir()
    assert pio.renderers.default == "colab"
    monkeypatch.setenv("VSCODE_PID", "3120")
    setup_notebook()
    assert pio.renderers.default == "plotly_mimetype"
