"""What every course notebook does first, after the package is importable."""

from __future__ import annotations

import sys
from pathlib import Path

# The repository this package was installed from (editable install: its checkout).
REPO_ROOT = Path(__file__).resolve().parent.parent


def setup_notebook() -> Path:
    """Choose plotly's renderer for the front end and return the repository's root folder.

    Figures travel as JSON (JupyterLab, Notebook 7 and VS Code draw them), not with a copy of
    plotly.js each; Colab needs its own renderer.
    """
    import plotly.io as pio

    pio.renderers.default = "colab" if "google.colab" in sys.modules else "plotly_mimetype"
    return REPO_ROOT


def resolve_profile(profile: str, profiles: dict[str, dict], device: str | None = None) -> tuple[str, dict]:
    """The profile a notebook runs: `profiles` maps names ("smoke", "gpu", "full") to settings.

    "auto" is "smoke" on a CPU, so Run All stays within the time the notebook states, and "gpu"
    (sized for a free Colab T4 session) on a GPU, or "full" where a notebook has no "gpu" size.
    The other profiles are one parameter away.
    """
    if profile == "auto":
        import torch

        on_gpu = (device or ("cuda" if torch.cuda.is_available() else "cpu")) != "cpu"
        profile = ("gpu" if "gpu" in profiles else "full") if on_gpu else "smoke"
    if profile not in profiles:
        raise ValueError(f"profile must be one of {sorted(profiles)} or 'auto', got {profile!r}")
    return profile, profiles[profile]
