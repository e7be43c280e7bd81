"""Binder's configuration matches requirements.txt; every Colab or Binder badge opens a notebook."""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SLUG = "superinfo-course/superinfo"
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s;#]+)")
COLAB = re.compile(
    r"https://colab\.research\.google\.com/github/([\w.\-]+/[\w.\-]+)/blob/([\w.\-]+)/([^)\s\"']+\.ipynb)"
)
BINDER = re.compile(
    r"https://mybinder\.org/v2/gh/([\w.\-]+/[\w.\-]+)/([\w.\-]+)\?urlpath=lab/tree/([^)\s\"']+\.ipynb)"
)
# A markdown badge: [![alt](image)](link)
BADGE = re.compile(r"\[!\[[^\]]*\]\(([^)]+)\)\]\(([^)]+)\)")


def runtime_pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line before the `# tests only` comment."""
    pins = {}
    for line in path.read_text().splitlines():
        if line.strip().lower().startswith("# tests only"):
            break
        match = PIN.match(line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def all_pins(path: Path) -> dict[str, str]:
    return {
        m.group(1).lower(): m.group(2)
        for m in map(PIN.match, map(str.strip, path.read_text().splitlines()))
        if m
    }


def test_binder_requirements_match_top_level():
    top = runtime_pins(ROOT / "requirements.txt")
    assert "torch" in top and "plotly" in top, "requirements.txt has no runtime pins to compare"
    binder = all_pins(ROOT / "binder" / "requirements.txt")
    missing = sorted(set(top) - set(binder))
    assert not missing, f"binder/requirements.txt lacks {missing}"
    different = {name: (top[name], binder[name]) for name in top if binder[name] != top[name]}
    assert not different, f"pins differ (requirements.txt, binder): {different}"
    extra = sorted(set(binder) - set(all_pins(ROOT / "requirements.txt")))
    assert not extra, f"binder/requirements.txt pins packages requirements.txt does not: {extra}"


def test_binder_uses_cpu_torch_and_python_311():
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    post_build = ROOT / "binder" / "postBuild"
    if post_build.exists():
        text = post_build.read_text().splitlines()
        lines = [line.strip() for line in text if line.strip() and not line.startswith("#")]
        assert lines[0] == "set -e", "postBuild must start with `set -e` (otherwise failures pass silently)"


def badge_links(text: str) -> list[str]:
    return [link for _, link in BADGE.findall(text)]


def check_link(link: str, where: str) -> None:
    for pattern in (COLAB, BINDER):
        match = pattern.search(link)
        if match:
            slug, branch, path = match.groups()
            assert slug == SLUG, f"{where}: badge points at {slug}, not {SLUG}"
            assert branch == "main", f"{where}: badge points at branch {branch}"
            assert (ROOT / path).is_file(), f"{where}: badge points at {path}, which does not exist"


def test_readme_badges_point_at_existing_notebooks():
    readme = ROOT / "README.md"
    if not readme.exists():
        pytest.skip("no README.md yet")
    links = badge_links(readme.read_text())
    colab = [link for link in links if COLAB.search(link)]
    assert colab, "README.md has no Open in Colab badge"
    for link in links:
        check_link(link, "README.md")
    binder = [link for link in links if BINDER.search(link)]
    assert binder and any("notebooks/01_setup_and_data.ipynb" in link for link in binder), (
        "README.md needs a Binder badge that opens notebooks/01_setup_and_data.ipynb"
    )


NOTEBOOK_FILES = sorted(p for p in NOTEBOOKS.glob("*.ipynb") if not p.name.endswith(".out.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_notebook_colab_badge_and_setup(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    links = [link for link in badge_links(first.source) if COLAB.search(link)]
    assert links, f"{path.name}: the first cell has no Open in Colab badge"
    for link in links:
        check_link(link, path.name)
        assert COLAB.search(link).group(3) == f"notebooks/{path.name}", (
            f"{path.name}: badge links to another notebook"
        )
    # The first code cell installs the course only on Colab, and enables Colab's widget manager.
    setup = next(c for c in nb.cells if c.cell_type == "code").source
    assert '"google.colab" in sys.modules' in setup or "'google.colab' in sys.modules" in setup
    assert "enable_custom_widget_manager()" in setup
    assert "git clone" in setup or '"clone"' in setup
    assert SLUG in setup, f"{path.name}: the setup cell clones another repository"
