"""The course website (site/build.py): built offline, read in headless Chromium from a local server.

The build is checked in pieces without a browser (the README's course table, links, the static
form of figures and widgets, errors that name the file), then a site is built and opened in
Chromium from a plain http.server on 127.0.0.1: every page is visited by following links from the
landing page; each notebook page's plotly figures are drawn by plotly.js with a non-zero size, its
maths typeset by MathJax, no page logs a console error or fails a request, and every link within
the site leads to a page (and anchor) that exists. Screenshots of the landing page and of notebook
04 go to test-output/.

By default the test builds a two-notebook site (01 and 04, about a minute) so that `make test` stays
within its time; SUPERINFO_SITE_DIR=build/site checks the whole site that `make site` built instead
(`make site-check`).
"""

import functools
import html
import importlib.util
import json
import os
import re
import sys
import threading
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest
from test_browser import SLOW_MS, launch_chromium, need_browser

ROOT = Path(__file__).resolve().parent.parent
SITE_DIR = os.environ.get("SUPERINFO_SITE_DIR")
TEST_NOTEBOOKS = ["01", "04"]
SCREENSHOT_NOTEBOOK = "04_superinfo_objective"


def load_builder():
    """site/build.py, a script of the repository (not a package module), imported by its path."""
    spec = importlib.util.spec_from_file_location("site_build", ROOT / "site" / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


builder = load_builder()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if SITE_DIR:
        path = Path(SITE_DIR).resolve()
        assert (path / "index.html").is_file(), f"SUPERINFO_SITE_DIR={SITE_DIR} holds no built site"
        return path
    tmp = tmp_path_factory.mktemp("site")
    builder.build(out=tmp / "site", work=tmp / "executed", selection=TEST_NOTEBOOKS)
    return tmp / "site"


def notebook_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.glob("[0-9][0-9]_*.html"))


# ----------------------------------------------------------------------------- the builder, without a browser


def test_course_table_has_every_notebook_in_order():
    pages = builder.course_pages()
    names = [p.name for p in pages]
    assert names == sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(pages) >= 7
    first = pages[0]
    assert first.title == "1 · Setup and data"
    assert first.row["needs"] == "CPU" and "two augmented views" in first.row["teaches"]
    # an escaped pipe inside a cell stays in its cell
    assert "I(v1;z1|v2)" in pages[2].row["teaches"]


def test_selection_and_its_error():
    assert [p.number for p in builder.course_pages(["04", "01_setup_and_data"])] == ["01", "04"]
    with pytest.raises(builder.SiteBuildError, match="--notebooks: no notebook 09"):
        builder.course_pages(["09"])


def test_links_become_pages_or_the_repository_on_github():
    repo = builder.read_repository()
    assert repo.slug == "superinfo-course/superinfo" and repo.branch == "main"
    pages = {"notebooks/04_superinfo_objective.ipynb": "04_superinfo_objective.html"}
    page = (
        '<a href="04_superinfo_objective.ipynb#the-loss">a</a>'
        '<a href="02_predictive_information.ipynb">b</a>'
        '<a href="../README.md#references">c</a> <a href="#here">d</a> <a href="https://arxiv.org">e</a>'
        '<a href="../results">f</a>'
    )
    out = builder.rewrite_links(page, "nb", "notebooks", pages, repo)
    github = "https://github.com/superinfo-course/superinfo"
    assert 'href="04_superinfo_objective.html#the-loss"' in out
    assert f'href="{github}/blob/main/notebooks/02_predictive_information.ipynb"' in out
    assert f'href="{github}/blob/main/README.md#references"' in out
    assert f'href="{github}/tree/main/results"' in out
    assert 'href="#here"' in out and 'href="https://arxiv.org"' in out
    with pytest.raises(builder.SiteBuildError, match=r"notebooks/x\.ipynb: link to 'missing\.md'"):
        builder.rewrite_links('<a href="missing.md">x</a>', "notebooks/x.ipynb", "notebooks", pages, repo)


def test_static_outputs():
    import plotly.graph_objects as go
    import plotly.io as pio

    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    out = builder.static_output({builder.PLOTLY_JSON: json.loads(pio.to_json(fig))}, {})
    assert set(out) == {"text/html"}
    assert 'class="plotly-graph-div' in out["text/html"] and "Plotly.newPlot" in out["text/html"]
    assert "<script src" not in out["text/html"]  # plotly.js comes once, from the page's head

    cdn = fig.to_html(full_html=False, include_plotlyjs="cdn")
    assert "cdn.plot.ly" in cdn
    assert "cdn.plot.ly" not in builder.static_output({"text/html": cdn, "text/plain": "x"}, {})["text/html"]

    def model(name, **state):
        return {"model_name": name, "state": state}

    tqdm = {
        "box": model("HBoxModel", children=["IPY_MODEL_l", "IPY_MODEL_bar", "IPY_MODEL_r"]),
        "l": model("HTMLModel", value="toy runs: 100%"),
        "bar": model("FloatProgressModel", value=9.0, max=9.0),
        "r": model("HTMLModel", value=" 9/9 [00:03&lt;00:00]"),
    }
    view = {"model_id": "box", "version_major": 2, "version_minor": 0}
    out = builder.static_output({builder.WIDGET_VIEW: view, "text/plain": "toy runs: 0%"}, tqdm)
    assert out["text/html"] == (
        '<div class="site-progress">toy runs: 100% <progress value="9" max="9"></progress>'
        "  9/9 [00:03&lt;00:00]</div>"
    )

    sliders = {"box": model("VBoxModel", children=["IPY_MODEL_s"]), "s": model("FloatSliderModel", value=0)}
    out = builder.static_output({builder.WIDGET_VIEW: view, "text/html": cdn, "text/plain": "x"}, sliders)
    assert "The sliders need Binder or Colab" in out["text/html"] and "plotly-graph-div" in out["text/html"]
    assert "cdn.plot.ly" not in out["text/html"]


def test_prepare_for_a_page_without_kernel(tmp_path):
    work = tmp_path / "executed"
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {builder.WIDGET_STATE: {"state": {}}}
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "# 1 · Title\n\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            "(https://colab.research.google.com/github/o/r/blob/main/notebooks/01_x.ipynb)\n\nText."
        ),
        nbformat.v4.new_code_cell(
            f'profile = "smoke"\noutput_dir = "{work}/outputs"', metadata={"tags": ["injected-parameters"]}
        ),
        nbformat.v4.new_code_cell(
            "print(...)",
            outputs=[nbformat.v4.new_output("stream", name="stdout", text=f"{work}/outputs/01_x.json\n")],
        ),
    ]
    page = builder.Page("01_x", "01", "1 · Title", {})
    nb = builder.prepare(nb, page, work)
    assert nb.cells[0].source == "# 1 · Title\n\nText."  # the page has its own launch buttons
    assert nb.cells[1].source == 'profile = "smoke"\noutput_dir = "executed/outputs"'  # no machine path
    assert nb.cells[2].outputs[0].text == "executed/outputs/01_x.json\n"
    assert "widgets" not in nb.metadata  # else nbconvert would load the widget manager from a CDN
    assert nb.metadata["title"] == "1 · Title · SuperInfo on CIFAR-10"


def test_a_failing_notebook_is_named(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [
        nbformat.v4.new_code_cell('profile = "auto"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("raise ValueError('no such data')"),
    ]
    nbformat.write(nb, notebooks / "01_broken.ipynb")
    monkeypatch.setattr(builder, "NOTEBOOKS", notebooks)
    page = builder.Page("01_broken", "01", "1 · Broken", {})
    with pytest.raises(builder.SiteBuildError) as err:
        builder.execute(page, tmp_path / "work", "smoke")
    message = str(err.value)
    assert str(notebooks / "01_broken.ipynb") in message and "ValueError: no such data" in message
    assert (tmp_path / "work" / "01_broken.ipynb").is_file()  # the executed copy, with the traceback


# ----------------------------------------------------------------------------- the built site


def test_built_site_is_self_contained(site):
    pages = notebook_pages(site)
    expected = 7 if SITE_DIR else len(TEST_NOTEBOOKS)
    assert len(pages) >= expected, [p.name for p in pages]
    assert (site / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert (site / "assets" / "mathjax" / "MathJax.js").is_file()
    for page in [site / "index.html", *pages]:
        text = page.read_text(encoding="utf-8")
        builder.check_offline(page)  # nothing from another host
        for url in re.findall(r"""\b(?:src|href)=["']([^"'#]+)""", text):
            if not re.match(r"^[a-z][a-z0-9+.\-]*:", url):
                target = site / urllib.parse.unquote(html.unescape(url).split("?")[0])
                assert target.is_file(), f"{page.name}: {url} does not exist in the site"
    executed = site.parent / "executed" if not SITE_DIR else None
    if executed is not None:  # the notebooks ran in the build folder, never in notebooks/
        assert sorted(p.name for p in executed.glob("*.ipynb")) == [p.stem + ".ipynb" for p in pages]


# ----------------------------------------------------------------------------- in the browser

# Drawn by plotly.js: its container with a non-zero size, its full layout and mode bar.
PLOTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => {
    const box = gd.querySelector('.plot-container');
    const r = box ? box.getBoundingClientRect() : {width: 0, height: 0};
    return {width: r.width, height: r.height, traces: (gd._fullData || []).length,
            modebar: !!gd.querySelector('.modebar-container'), id: gd.id};
})"""
MATHS = """() => ({
    typeset: document.querySelectorAll('.jp-MarkdownOutput :is(.MathJax, .MathJax_Display)').length,
    errors: document.querySelectorAll('.MathJax_Error, .MathJax merror, [data-mjx-error]').length,
    raw: [...document.querySelectorAll('.jp-MarkdownOutput')].map(e => e.innerText)
        .filter(t => /\\$[^$\\s][^$]*\\$/.test(t)).map(t => t.slice(0, 200)),
})"""
MATHJAX_DONE = """() => new Promise(done => {
    if (!window.MathJax || !MathJax.Hub) return done(false);
    MathJax.Hub.Queue(() => done(true));
})"""
LINKS = "() => [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"
IDS = "() => [...document.querySelectorAll('[id]')].map(e => e.id)"


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def markdown_has_maths(site: Path, page: Path) -> bool:
    executed = site.parent / "executed" / f"{page.stem}.ipynb"
    source = executed if executed.is_file() else ROOT / "notebooks" / f"{page.stem}.ipynb"
    nb = nbformat.read(source, as_version=4)
    return any(c.cell_type == "markdown" and re.search(r"\$[^$\s][^$]*\$", c.source) for c in nb.cells)


def test_site_in_chromium(site, server, tmp_path):
    need_browser()
    from playwright.sync_api import sync_playwright

    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    problems: list[str] = []
    visited: dict[str, dict] = {}
    with sync_playwright() as pw:
        browser = launch_chromium(pw, tmp_path / "chromium-profile", 1280, 900)
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(SLOW_MS)  # a busy 2-core machine
            current = {"url": ""}
            page.on(
                "console",
                lambda m: m.type == "error" and problems.append(f"{current['url']}: console: {m.text}"),
            )
            page.on("pageerror", lambda e: problems.append(f"{current['url']}: page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"{current['url']}: failed: {r.url}"))
            page.on(
                "response",
                lambda r: r.status >= 400 and problems.append(f"{current['url']}: {r.status} {r.url}"),
            )
            todo = ["index.html"]
            while todo:  # every page reachable from the landing page, each visited once
                name = todo.pop(0)
                if name in visited:
                    continue
                current["url"] = name
                page.goto(server + name, wait_until="load")
                info = {"links": page.evaluate(LINKS), "ids": set(page.evaluate(IDS))}
                if name != "index.html":
                    page.wait_for_function(
                        "() => [...document.querySelectorAll('.js-plotly-plot')].every(gd => gd._fullLayout)"
                    )
                    info["plots"] = page.evaluate(PLOTS)
                    info["mathjax_done"] = page.evaluate(MATHJAX_DONE)
                    info["maths"] = page.evaluate(MATHS)
                    info["page_maths"] = markdown_has_maths(site, site / name)
                if name == "index.html":
                    page.screenshot(path=str(out / "site_index.png"), full_page=True)
                elif name == f"{SCREENSHOT_NOTEBOOK}.html":
                    page.screenshot(path=str(out / f"site_{SCREENSHOT_NOTEBOOK}.png"), full_page=True)
                visited[name] = info
                for href in info["links"]:
                    target = urllib.parse.urlsplit(href)
                    if not target.scheme and target.path:
                        todo.append(urllib.parse.unquote(target.path))
        finally:
            browser.close()

    assert not problems, "\n".join(problems[:30])
    assert set(visited) == {"index.html", *(p.name for p in notebook_pages(site))}, sorted(visited)
    for name, info in visited.items():
        for href in info["links"]:  # every link within the site: a page that exists, an anchor on it
            target = urllib.parse.urlsplit(href)
            if target.scheme:
                continue
            page_name = urllib.parse.unquote(target.path) or name
            assert page_name in visited, f"{name}: link {href} leads to no page"
            if target.fragment:  # as a browser looks it up: the fragment as written, then decoded
                ids = visited[page_name]["ids"]
                found = target.fragment in ids or urllib.parse.unquote(target.fragment) in ids
                assert found, f"{name}: link {href} leads to no anchor"
        if name == "index.html":
            continue
        plots = info["plots"]
        assert plots, f"{name}: no plotly figure"
        for plot in plots:
            assert plot["width"] > 100 and plot["height"] > 100, (name, plot)
            assert plot["traces"] > 0 and plot["modebar"], (name, plot)
        maths = info["maths"]
        assert info["mathjax_done"], f"{name}: MathJax did not load"
        assert maths["errors"] == 0, (name, maths)
        assert not maths["raw"], f"{name}: maths left as TeX: {maths['raw'][:3]}"
        if info["page_maths"]:
            assert maths["typeset"] > 0, f"{name}: its markdown has maths but none was typeset"
    shot = out / f"site_{SCREENSHOT_NOTEBOOK}.png"
    if f"{SCREENSHOT_NOTEBOOK}.html" in visited:
        assert shot.is_file()
    assert (out / "site_index.png").is_file()
