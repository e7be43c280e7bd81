"""The course website (site/build.py): built offline, read in headless Chromium from a local server.

The build is checked in pieces without a browser (the README's course table, links, the markdown
pages of the README and docs/, the static form of figures and widgets, errors that name the file);
every relative link of the README, docs/ and the notebooks' text leads to a file of the repository
(and its anchor to a heading there). Then a site is built: every relative link of every page leads
to a file of the site, and its anchor to an id on that page; and the site is opened in Chromium
from a plain http.server on 127.0.0.1: every page is visited by following links from the landing
page; each notebook page's plotly figures are drawn by plotly.js with a non-zero size, its maths
typeset by MathJax, no page logs a console error or fails a request, and every link within the
site leads to a page (and anchor) that exists. Screenshots of the landing page and of notebook 04
go to test-output/.

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


def relative_links(text: str) -> list[str]:
    """Every href and src of an HTML text that names no scheme (http:, data:, ...), unescaped."""
    urls = [html.unescape(m.group(2)) for m in re.finditer(r"""\b(?:href|src)=(["'])(.*?)\1""", text)]
    return [u for u in urls if not re.match(r"^[a-z][a-z0-9+.\-]*:", u, re.IGNORECASE)]


def html_ids(text: str) -> set[str]:
    return {html.unescape(m.group(2)) for m in re.finditer(r"""\bid=(["'])(.*?)\1""", text)}


# ----------------------------------------------------------------------------- the builder, without a browser


def test_course_table_has_every_notebook_in_order():
    pages = builder.course_pages()
    names = [p.name for p in pages]
    assert names == sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(pages) >= 7
    assert pages[0].title == "1 · Setup and data"
    table = builder.read_course_table()
    assert list(table) == names  # every notebook has its row, in order
    first = table[names[0]]
    assert first["needs"] == "CPU" and "two augmented views" in first["teaches"]
    # an escaped pipe inside a cell stays in its cell
    assert "I(v1;z1|v2)" in table[names[2]]["teaches"]


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

    # The README and docs/ are pages too: links between them and the notebooks stay on the site.
    pages.update({"README.md": "index.html", "docs/results.md": "results.html"})
    from_notebook = builder.rewrite_links(page, "nb", "notebooks", pages, repo)
    assert 'href="index.html#references"' in from_notebook
    doc = (
        '<a href="results.md#gpu-results">a</a><a href="../README.md#the-course">b</a>'
        '<a href="../notebooks/04_superinfo_objective.ipynb">c</a><a href="../bench/README.md">d</a>'
    )
    out = builder.rewrite_links(doc, "docs/training.md", "docs", pages, repo)
    assert 'href="results.html#gpu-results"' in out and 'href="index.html#the-course"' in out
    assert 'href="04_superinfo_objective.html"' in out and f'href="{github}/blob/main/bench/README.md"' in out
    readme = builder.rewrite_links('<a href="docs/results.md#x">r</a>', "README.md", ".", pages, repo)
    assert readme == '<a href="results.html#x">r</a>'
    with pytest.raises(builder.SiteBuildError, match=r"docs/training\.md: link to 'nothing\.md'"):
        builder.rewrite_links('<a href="nothing.md">x</a>', "docs/training.md", "docs", pages, repo)


def test_headings_get_the_ids_github_gives_them():
    seen = {}
    # Anchors as GitHub makes them (the README linked these before the site rendered it).
    assert builder.github_slug("Results on a CPU: the CPU study", seen) == "results-on-a-cpu-the-cpu-study"
    assert builder.github_slug("SuperInfo on CIFAR-10 — a notebook course", seen) == (
        "superinfo-on-cifar-10--a-notebook-course"
    )
    assert builder.github_slug("<code>make train</code>", seen) == "make-train"
    assert builder.github_slug("Tests &amp; CI", seen) == "tests--ci"
    assert builder.github_slug("Results on a CPU: the CPU study", seen) == "results-on-a-cpu-the-cpu-study-1"
    body = builder.markdown_page_html(
        "# Title\n\n## The `make train` run\n\n| a | b |\n| --- | --- |\n| I(v1;z1\\|v2) | [x](y.md#z) |\n\n"
        "<!-- a slot -->\n\n```bash\nmake test\n```\n\n## Title\n"
    )
    assert '<h1 id="title">Title' in body and '<h2 id="the-make-train-run">' in body
    assert '<h2 id="title-1">' in body  # a repeated heading: GitHub's suffix
    assert "<td>I(v1;z1|v2)</td>" in body and '<a href="y.md#z">x</a>' in body
    assert "<!-- a slot -->" in body and '<code class="language-bash">make test' in body


def test_the_readme_and_docs_become_pages():
    docs = builder.doc_pages()
    assert docs[0] == builder.DocPage("README.md", "index.html", "SuperInfo on CIFAR-10 — a notebook course")
    names = {d.path for d in docs[1:]}
    assert names == {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")} and len(names) >= 5
    readme = (ROOT / "README.md").read_text()
    listed = [d.path for d in docs[1:] if f"- [{d.path}]({d.path})" in readme]
    assert listed == [d.path for d in docs[1 : len(listed) + 1]]  # first, as the README lists them
    assert listed == sorted(listed, key=lambda path: readme.index(f"- [{path}]"))
    for doc in docs[1:]:
        assert doc.html_name == Path(doc.path).stem + ".html" and doc.title


def markdown_links(text: str) -> list[str]:
    """The links of a markdown text, as its HTML has them (links inside code are not links), less
    the anchor link the renderer adds to each heading."""
    body = re.sub(r'<a class="anchor-link"[^>]*>.*?</a>', "", builder.markdown_page_html(text))
    return relative_links(body)


def test_every_link_of_the_readme_docs_and_notebooks_leads_to_a_file():
    """Relative links resolve to a file (or folder) of the repository, and an anchor on a markdown
    file to one of its headings' ids (GitHub's, as the site gives them)."""
    sources = {ROOT / "README.md": (ROOT / "README.md").read_text()}
    sources.update({p: p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))})
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        sources[path] = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200, "README.md: the front door stays short"
    headings = {}
    checked = 0
    for source, text in sources.items():
        for url in markdown_links(text):
            path, _, fragment = url.partition("#")
            target = (source.parent / urllib.parse.unquote(path)).resolve() if path else source
            where = f"{source.relative_to(ROOT)}: link {url}"
            assert target.exists() and ROOT in target.parents, f"{where}: no such file"
            if fragment and target.suffix == ".md":
                if target not in headings:
                    headings[target] = html_ids(builder.markdown_page_html(target.read_text()))
                assert fragment in headings[target], f"{where}: {target.name} has no heading #{fragment}"
            checked += 1
    assert checked > 50, checked


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
    page = builder.Page("01_x", "01", "1 · Title")
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
    page = builder.Page("01_broken", "01", "1 · Broken")
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
    docs = [site / d.html_name for d in builder.doc_pages()]  # the README and every docs/*.md
    assert all(d.is_file() for d in docs)
    everything = sorted(site.glob("*.html"))
    assert set(everything) == {*docs, *pages}
    texts = {page.name: page.read_text(encoding="utf-8") for page in everything}
    ids = {name: html_ids(text) for name, text in texts.items()}
    links = 0
    for name, text in texts.items():  # no broken link: every relative href and src, on every page
        builder.check_offline(site / name)  # nothing from another host
        for url in relative_links(text):
            path, _, fragment = url.partition("#")
            target = urllib.parse.unquote(path.split("?")[0]) or name
            assert (site / target).is_file(), f"{name}: {url} does not exist in the site"
            if fragment and target.endswith(".html"):
                found = fragment in ids[target] or urllib.parse.unquote(fragment) in ids[target]
                assert found, f"{name}: {url} leads to no anchor on {target}"
            links += 1
    assert links > 100, links
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


def is_notebook(name: str) -> bool:
    return re.match(r"^[0-9][0-9]_.*\.html$", name) is not None


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
                if is_notebook(name):
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
    assert set(visited) == {p.name for p in site.glob("*.html")}, sorted(visited)
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
        if not is_notebook(name):  # the README and docs/: text and tables, no figures
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
