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
