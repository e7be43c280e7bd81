"""What every course notebook does first, after the package is importable."""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Mapping
from pathlib import Path

# The repository this package was installed from (editable install: its checkout).
REPO_ROOT = Path(__file__).resolve().parent.parent


def choose_renderer(env: Mapping[str, str], modules: Collection[str]) -> str:
    """plotly's renderer for the front end that shows this kernel's outputs.

    env: the kernel's environment variables (os.environ); modules: the names of the imported
    modules (sys.modules). What the kernel can see decides, in this order:

    - PLOTLY_RENDERER set: the learner's own choice, as plotly itself honours it.
    - Colab's web app: "colab", which writes each figure as HTML that loads plotly.js, since
      Colab's output frames do not draw plotly's JSON. Known by COLAB_NOTEBOOK_ID, which the
      web app sets when it starts a kernel, in a kernel that Colab's own package runs
      (google.colab imported). Not by google.colab alone: it is importable on every Colab
      machine, also when VS Code's Colab extension runs the kernel and VS Code is the front end
      (where the "colab" renderer draws nothing), and pip installs it anywhere.
    - everything else: "plotly_mimetype", the figure as JSON, drawn by the front end's own
      plotly.js: JupyterLab, Notebook 7, VS Code (VSCODE_PID / VSCODE_CWD: a local kernel, or a
      Colab machine through the extension), and papermill or nbconvert runs with no front end,
      which keep the JSON in the notebook (the course website renders it).

    Pure: the tests simulate every environment.
    """
    if env.get("PLOTLY_RENDERER"):
        return env["PLOTLY_RENDERER"]
    in_vscode = "VSCODE_PID" in env or "VSCODE_CWD" in env
    colab_web = "COLAB_NOTEBOOK_ID" in env and "google.colab" in modules
    return "colab" if colab_web and not in_vscode else "plotly_mimetype"


def setup_notebook() -> Path:
    """Choose plotly's renderer for the front end (`choose_renderer`) and return the
    repository's root folder."""
    import plotly.io as pio

    pio.renderers.default = choose_renderer(os.environ, sys.modules)
    return REPO_ROOT


def resolve_profile(
    profile: str, profiles: dict[str, dict], device: str | None = None, cpu_auto: str = "smoke"
) -> tuple[str, dict]:
    """The profile a notebook runs: `profiles` maps names ("smoke", "cpu", "gpu", "full") to settings.

    "auto" is `cpu_auto` on a CPU ("smoke" unless the notebook names another that stays within
    the time it states: notebook 6 reads stored encoders there), and "gpu" (sized for a free
    Colab T4 session) on a GPU, or "full" where a notebook has no "gpu" size. The other profiles
    are one parameter away.
    """
    if profile == "auto":
        import torch

        on_gpu = (device or ("cuda" if torch.cuda.is_available() else "cpu")) != "cpu"
        profile = ("gpu" if "gpu" in profiles else "full") if on_gpu else cpu_auto
    if profile not in profiles:
        raise ValueError(f"profile must be one of {sorted(profiles)} or 'auto', got {profile!r}")
    return profile, profiles[profile]
