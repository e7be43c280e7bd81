"""Build the course as a static website: every notebook executed by papermill, rendered with its outputs,
beside the README (the landing page) and the documentation in docs/.

    python site/build.py                       # the whole course -> build/site/index.html
    python site/build.py --notebooks 01,04     # two pages only (the browser test does this)
    python site/build.py --reuse-executed      # re-render the notebooks executed last time

Each notebook runs with papermill under the CPU profile CI runs ("smoke"), with notebooks/ as its
working folder (so it reads results/ as a learner's run does) and its outputs in the build folder,
never in notebooks/. nbconvert then renders each executed notebook through the template in
templates/course/, which adds the navigation, the Binder and Colab buttons and the local assets.
The README and every docs/*.md become pages of the same look (templates/page.html.j2), rendered
with mistune, the markdown parser nbconvert itself uses; their headings get the ids GitHub gives
them, so that a link written for GitHub (docs/results.md#gpu-results) works on the site too.
Links between the README, docs/ and the notebooks lead to their pages; a link to any other file
of the repository to its view on GitHub; a link to nothing stops the build, naming the page.

The site works from any static file server, offline: plotly.js comes from the installed plotly
package, MathJax from jupyter-server-mathjax; nothing is fetched while building or reading. The
build checks this and fails, naming the page, if any page would load a script, style sheet or
image from another host.

nbconvert with a small index rather than Jupyter Book or Sphinx: nbconvert and papermill are
already installed with JupyterLab and the tests, its lab template gives the pages JupyterLab's
look, and it needs no theme or toolchain beyond them; a book generator would add a dozen packages
for a table of contents and a sidebar.

The builder lives here rather than in superinfo_lib/ because it is a tool for the repository, not
part of the course a learner imports on Binder or Colab: it needs nbconvert and papermill, and it
sits beside its template and style sheet.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import os
import posixpath
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
NOTEBOOKS = REPO_ROOT / "notebooks"
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
TEMPLATES = HERE / "templates"
DEFAULT_OUT = REPO_ROOT / "build" / "site"
DEFAULT_WORK = REPO_ROOT / "build" / "executed"

PLOTLY_JSON = "application/vnd.plotly.v1+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
SLIDER_NOTE = (
    "Static copy: in a running notebook this output is interactive. "
    "The sliders need Binder or Colab (buttons at the top of the page)."
)
# tqdm's progress bar in a notebook: label, bar, label in a box.
TQDM_LAYOUTS = {("HBoxModel", "HTMLModel", f"{kind}ProgressModel", "HTMLModel") for kind in ("Float", "Int")}
WIDGET_NOTE = "This output is a widget: it needs a running notebook (Binder or Colab, buttons at the top)."
# Badges in the notebooks' first cell: the site shows its own buttons (no images from other hosts).
BADGE_LINE = re.compile(
    r"^\[!\[[^\]]*\]\(https://[^)]*\)\]\(https://(colab\.research\.google\.com|mybinder\.org)/[^)]*\)\s*$\n?",
    re.MULTILINE,
)
CDN_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https://cdn\.plot\.ly/[^\"]*\"[^>]*>\s*</script>")
LINK_ATTR = re.compile(r"""\b(href|src)=(["'])([^"']*)\2""")
# What a page may not load from another host: scripts, style sheets, images, frames, modules.
REMOTE_ASSET = re.compile(
    r"""<(script|img|iframe|source|audio|video)\b[^>]*\bsrc=["']?(https?:)?//[^"'\s>]+"""
    r"""|<link\b[^>]*\bhref=["']?(https?:)?//[^"'\s>]+"""
    r"""|@import\s+(url\()?["']?(https?:)?//|\bimport\(["'](https?:)?//""",
    re.IGNORECASE,
)
COLAB_URL = re.compile(r"https://colab\.research\.google\.com/github/([\w.\-]+/[\w.\-]+)/blob/([\w.\-]+)/")
BINDER_URL = re.compile(r"https://mybinder\.org/v2/gh/([\w.\-]+/[\w.\-]+)/([\w.\-]+)\?urlpath=lab/tree/")


class SiteBuildError(Exception):
    """A build step failed; the message names the file concerned."""


@dataclass
class Page:
    name: str  # "04_superinfo_objective"
    number: str  # "04"
    title: str  # "4 · The SuperInfo objective", from the notebook's first heading

    @property
    def source(self) -> Path:
        return NOTEBOOKS / f"{self.name}.ipynb"

    @property
    def html_name(self) -> str:
        return f"{self.name}.html"


@dataclass
class Repository:
    """Where Binder, Colab and GitHub find this course (from the README's launch badges)."""

    slug: str  # "owner/name"
    branch: str

    def colab(self, path: str) -> str:
        return f"https://colab.research.google.com/github/{self.slug}/blob/{self.branch}/{path}"

    def binder(self, path: str) -> str:
        return f"https://mybinder.org/v2/gh/{self.slug}/{self.branch}?urlpath=lab/tree/{path}"

    def github(self, path: str, is_dir: bool = False) -> str:
        return f"https://github.com/{self.slug}/{'tree' if is_dir else 'blob'}/{self.branch}/{path}"


# ----------------------------------------------------------------------------- reading the course


def read_repository(readme: Path = README) -> Repository:
    text = readme.read_text(encoding="utf-8")
    colab, binder = COLAB_URL.search(text), BINDER_URL.search(text)
    if not colab or not binder:
        raise SiteBuildError(f"{readme}: no Colab and Binder badge links to read the repository from")
    if colab.groups() != binder.groups():
        raise SiteBuildError(f"{readme}: the Colab badge ({colab.groups()}) and Binder badge disagree")
    return Repository(*colab.groups())


def split_row(line: str) -> list[str]:
    """Cells of a markdown table row; `\\|` is a pipe inside a cell."""
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


def read_course_table(readme: Path = README) -> dict[str, dict]:
    """notebook name -> {"teaches", "exercises", "needs", "time"} from the README's course table."""
    text = readme.read_text(encoding="utf-8")
    section = re.search(r"^## The course\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    if not section:
        raise SiteBuildError(f"{readme}: no '## The course' section with the course table")
    rows = [line for line in section.group(1).splitlines() if line.startswith("| [")]
    table = {}
    for line in rows:
        cells = split_row(line)
        link = re.match(r"\[[^\]]+\]\(notebooks/(\w+)\.ipynb\)", cells[0])
        if not link or len(cells) != 5:
            raise SiteBuildError(f"{readme}: cannot read this course-table row: {line}")
        table[link.group(1)] = dict(zip(("teaches", "exercises", "needs", "time"), cells[1:]))
    if not table:
        raise SiteBuildError(f"{readme}: the '## The course' section has no table rows")
    return table


def notebook_title(path: Path) -> str:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
            if heading:
                return heading.group(1).strip()
    raise SiteBuildError(f"{path}: no '# title' heading in a markdown cell")


def course_pages(selection: list[str] | None = None) -> list[Page]:
    """The course's notebooks in order (all, or those whose number or name is in `selection`)."""
    table = read_course_table()
    pages = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        if path.name.endswith(".out.ipynb"):
            continue
        name = path.stem
        if name not in table:
            raise SiteBuildError(f"{README}: the course table has no row for notebooks/{path.name}")
        pages.append(Page(name, name[:2], notebook_title(path)))
    if selection:
        unknown = [s for s in selection if not any(s in (p.number, p.name) for p in pages)]
        if unknown:
            have = ", ".join(p.number for p in pages)
            raise SiteBuildError(f"--notebooks: no notebook {', '.join(unknown)} (the course has {have})")
        pages = [p for p in pages if p.number in selection or p.name in selection]
    return pages


@dataclass
class DocPage:
    """A markdown file of the repository shown as a page: the README (the landing page) or docs/*.md."""

    path: str  # in the repository: "README.md", "docs/results.md"
    html_name: str  # "index.html", "results.html"
    title: str  # its first '# heading'

    @property
    def source(self) -> Path:
        return REPO_ROOT / self.path


def markdown_title(path: Path) -> str:
    heading = re.search(r"^#\s+(.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    if not heading:
        raise SiteBuildError(f"{path}: no '# title' heading")
    return heading.group(1).strip()


def doc_pages(docs: Path = DOCS, readme: Path = README) -> list[DocPage]:
    """The README as index.html, then every docs/*.md as <name>.html, in the order of the README's
    list of them (list items that open with a link to one; the others after, by name)."""
    text = readme.read_text(encoding="utf-8")
    linked = re.findall(r"^\s*[-*] \[[^\]]*\]\(docs/([\w\-]+)\.md\)", text, re.MULTILINE)
    names = sorted(p.stem for p in docs.glob("*.md"))
    names = list(dict.fromkeys(n for n in linked if n in names)) + [n for n in names if n not in linked]
    pages = [DocPage("README.md", "index.html", markdown_title(readme))]
    for name in names:
        if name == "index" or re.match(r"^[0-9][0-9]_", name):
            raise SiteBuildError(f"{docs / (name + '.md')}: its page would take the name of another page")
        pages.append(DocPage(f"docs/{name}.md", f"{name}.html", markdown_title(docs / f"{name}.md")))
    return pages


# ----------------------------------------------------------------------------- executing


def execute(page: Page, work: Path, profile: str) -> Path:
    """Run the notebook with papermill into `work`; its figures files go to work/outputs."""
    import papermill

    executed = work / f"{page.name}.ipynb"
    work.mkdir(parents=True, exist_ok=True)
    parameters = {"profile": profile, "output_dir": str(work / "outputs")}
    try:
        known = papermill.inspect_notebook(str(page.source))
        papermill.execute_notebook(
            str(page.source),
            str(executed),
            parameters={k: v for k, v in parameters.items() if k in known},
            cwd=str(NOTEBOOKS),
            kernel_name="python3",
            progress_bar=False,
        )
    except papermill.PapermillExecutionError as err:
        raise SiteBuildError(
            f"{page.source}: cell {err.exec_count} raised {err.ename}: {err.evalue} "
            f"(the executed copy with the traceback: {executed})"
        ) from err
    except Exception as err:  # kernel start, a missing kernel spec, a dead kernel
        raise SiteBuildError(f"{page.source}: papermill could not run it: {err!r}") from err
    return executed


# ----------------------------------------------------------------------------- outputs for a static page


def widget_models(nb) -> dict:
    return nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def widget_tree(models: dict, model_id: str) -> list[dict]:
    """The model and every model under it (breadth first, children in order), in their final state."""
    found, todo = [], [model_id]
    while todo:
        model = models.get(todo.pop(0).replace("IPY_MODEL_", ""))
        if model:
            found.append(model)
            children = model.get("state", {}).get("children", [])
            todo.extend(c for c in children if isinstance(c, str))
    return found


def progress_html(tree: list[dict]) -> str | None:
    """A tqdm progress bar (a box of label, bar, label) in its final state; None for other widgets."""
    names = tuple(m.get("model_name") for m in tree)
    if names not in TQDM_LAYOUTS:
        return None
    left, bar, right = (m["state"] for m in tree[1:])
    left, right = left.get("value", ""), right.get("value", "")
    value, top = float(bar.get("value", 0)), float(bar.get("max", 100))
    return (
        f'<div class="site-progress">{left} <progress value="{value:g}" max="{top:g}"></progress>'
        f" {right}</div>"
    )


def static_output(data: dict, models: dict) -> dict:
    """One output's representations for a page without a kernel."""
    data = dict(data)
    if "text/html" in data:  # plotly.js is loaded once by the page, from the site's own copy
        data["text/html"] = CDN_SCRIPT.sub("", data["text/html"])
    if PLOTLY_JSON in data:
        import plotly.io as pio

        figure = pio.to_html(data.pop(PLOTLY_JSON), include_plotlyjs=False, full_html=False, validate=False)
        return {"text/html": f'<div class="site-plotly">{figure}</div>'}
    if WIDGET_VIEW in data:
        tree = widget_tree(models, data.pop(WIDGET_VIEW)["model_id"])
        progress = progress_html(tree)
        if progress is not None:
            return {"text/html": progress}
        sliders = any("Slider" in m.get("model_name", "") for m in tree)
        note = SLIDER_NOTE if sliders or "text/html" in data else WIDGET_NOTE
        fallback = data.get("text/html") or f"<pre>{html.escape(data.get('text/plain', ''))}</pre>"
        return {"text/html": f'<div class="site-note">{html.escape(note)}</div>{fallback}'}
    return data


def shown_path(path: Path) -> str:
    """A build folder as a page may show it: relative to the repository, else by its name only."""
    try:
        return path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.name


def relative_paths(text: str, work: Path) -> str:
    """The build folder and the checkout named as in the repository, not by the building machine's
    paths (papermill's injected parameters and the notebooks' printed paths hold them)."""
    return text.replace(str(work), shown_path(work)).replace(f"{REPO_ROOT}/", "")


def prepare(nb, page: Page, work: Path):
    """The executed notebook as the page shows it: figures as plotly HTML, widgets as their static
    state, the launch badges left to the page's own buttons, paths relative to the repository."""
    models = widget_models(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = BADGE_LINE.sub("", cell.source)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = relative_paths(cell.source, work)
        for output in cell.get("outputs", []):
            if "text" in output:  # a stream
                output["text"] = relative_paths(output["text"], work)
            if "data" in output:
                output["data"] = static_output(output["data"], models)
                for mime in ("text/plain", "text/markdown"):
                    if mime in output["data"]:
                        output["data"][mime] = relative_paths(output["data"][mime], work)
    nb.metadata.pop("widgets", None)  # else nbconvert loads the widget manager from a CDN
    nb.metadata["title"] = f"{page.title} · SuperInfo on CIFAR-10"
    return nb


# ----------------------------------------------------------------------------- links


def rewrite_links(text: str, where: str, base: str, pages: dict[str, str], repo: Repository) -> str:
    """Relative links of a page written at repository folder `base`: a course notebook on the
    site becomes its page, any other file of the repository its GitHub view; a link to
    nothing is an error naming `where`."""
    site_files = {"index.html", *pages.values()}

    def fix(match: re.Match) -> str:
        attr, quote, url = match.groups()
        path, _, fragment = url.partition("#")
        if re.match(r"^([a-z][a-z0-9+.\-]*:|#|//)", url, re.IGNORECASE) or url.startswith("assets/"):
            return match.group(0)
        if path in site_files:  # the site's own pages
            return match.group(0)
        target = posixpath.normpath(posixpath.join(base, html.unescape(path)))
        anchor = f"#{fragment}" if fragment else ""
        if target in pages:
            new = pages[target] + anchor
        elif (REPO_ROOT / target).exists() and not target.startswith(".."):
            new = repo.github(target, (REPO_ROOT / target).is_dir()) + anchor
        else:
            raise SiteBuildError(f"{where}: link to {url!r}, which is not a file of the repository")
        return f"{attr}={quote}{html.escape(new)}{quote}"

    return LINK_ATTR.sub(fix, text)


def check_offline(path: Path) -> None:
    match = REMOTE_ASSET.search(path.read_text(encoding="utf-8"))
    if match:
        raise SiteBuildError(f"{path}: loads an asset from another host: {match.group(0)[:200]}")


# ----------------------------------------------------------------------------- rendering


def github_slug(text: str, seen: dict[str, int]) -> str:
    """The id GitHub gives a heading: its text without markup, lower case, punctuation dropped,
    each space a hyphen; a repeated id gets -1, -2, ... (`seen` counts them within a page)."""
    plain = html.unescape(re.sub(r"<[^>]+>", "", text)).strip().lower()
    slug = re.sub(r"[^\w\- ]", "", plain).replace(" ", "-")
    count = seen.get(slug, 0)
    seen[slug] = count + 1
    return f"{slug}-{count}" if count else slug


def markdown_page_html(text: str) -> str:
    """A markdown file as HTML (GitHub's tables, strikethrough and bare links), headings with
    GitHub's ids and an anchor link each; its raw HTML is kept."""
    import mistune

    seen: dict[str, int] = {}

    class Renderer(mistune.HTMLRenderer):
        def heading(self, text: str, level: int, **attrs) -> str:
            slug = github_slug(text, seen)
            anchor = f'<a class="anchor-link" href="#{slug}">&#182;</a>'
            return f'<h{level} id="{slug}">{text}{anchor}</h{level}>\n'

    render = mistune.create_markdown(
        escape=False, renderer=Renderer(escape=False), plugins=["table", "strikethrough", "url"]
    )
    return render(text)


def docs_nav(docs: list[DocPage], current: str) -> str:
    """The header's second line, on every page: the course (the landing page) and each docs page."""
    links = []
    for doc in docs:
        label = "The course" if doc.html_name == "index.html" else doc.title
        here = ' aria-current="page"' if doc.html_name == current else ""
        links.append(f'<a href="{doc.html_name}"{here}>{html.escape(label)}</a>')
    return f'<nav class="site-docs" aria-label="the course and its documentation">{" · ".join(links)}</nav>'


def build_info(profile: str) -> dict:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"profile": profile, "commit": commit, "date": dt.date.today().isoformat()}


def render_page(
    executed: Path, page: Page, pages: list[Page], docs: list[DocPage], repo: Repository, info: dict
) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    nb = prepare(nbformat.read(executed, as_version=4), page, executed.parent)
    i = pages.index(page)
    path = f"notebooks/{page.source.name}"
    site = {
        "home": "index.html",
        "title": page.title,
        "prev": pages[i - 1] if i > 0 else None,
        "next": pages[i + 1] if i + 1 < len(pages) else None,
        "binder": repo.binder(path),
        "colab": repo.colab(path),
        "github": repo.github(path),
        "nav": docs_nav(docs, page.html_name),
        **info,
    }
    exporter = HTMLExporter(template_name="course", extra_template_basedirs=[str(TEMPLATES)])
    try:
        body, _ = exporter.from_notebook_node(nb, resources={"site": site})
    except Exception as err:
        raise SiteBuildError(f"{executed}: nbconvert could not render it: {err!r}") from err
    return body


def render_doc(doc: DocPage, pages: list[Page], docs: list[DocPage], repo: Repository, info: dict) -> str:
    """The README (landing page) or a docs page, in the site's header and navigation."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    text = BADGE_LINE.sub("", doc.source.read_text(encoding="utf-8"))  # the header has the buttons
    first = f"notebooks/{pages[0].source.name}" if pages else "notebooks"
    return env.get_template("page.html.j2").render(
        title=doc.title,
        landing=doc.html_name == "index.html",
        body=jinja2.filters.Markup(markdown_page_html(text)),
        nav=jinja2.filters.Markup(docs_nav(docs, doc.html_name)),
        binder=repo.binder(first),
        colab=repo.colab(first),
        github=repo.github(doc.path) if doc.html_name != "index.html" else f"https://github.com/{repo.slug}",
        **info,
    )


def copy_assets(out: Path) -> None:
    """plotly.js and MathJax from the installed packages, and the site's style sheet."""
    import plotly.offline

    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "plotly.min.js").write_text(plotly.offline.get_plotlyjs(), encoding="utf-8")
    try:
        from jupyter_server_mathjax.app import STATIC_ASSETS_PATH
    except ImportError as err:
        raise SiteBuildError(
            "MathJax: the jupyter-server-mathjax package is missing (requirements.txt; make venv)"
        ) from err
    shutil.copytree(STATIC_ASSETS_PATH, assets / "mathjax", dirs_exist_ok=True)
    shutil.copy(HERE / "site.css", assets / "site.css")


def build(
    out: Path = DEFAULT_OUT,
    work: Path = DEFAULT_WORK,
    selection: list[str] | None = None,
    profile: str = "smoke",
    reuse_executed: bool = False,
) -> list[Path]:
    """Execute (unless reuse_executed) and render the selected notebooks; returns the pages written."""
    started = time.monotonic()
    repo = read_repository()
    pages = course_pages(selection)
    info = build_info(profile)
    work.mkdir(parents=True, exist_ok=True)
    executed = {}
    for page in pages:
        executed[page.name] = work / f"{page.name}.ipynb"
        if reuse_executed:
            if not executed[page.name].is_file():
                raise SiteBuildError(f"{executed[page.name]}: missing (build once without --reuse-executed)")
            continue
        t = time.monotonic()
        print(f"executing {page.source.relative_to(REPO_ROOT)} (profile {profile}) ...", flush=True)
        execute(page, work, profile)
        print(f"  done in {time.monotonic() - t:.0f} s", flush=True)
    if out.exists():
        shutil.rmtree(out)  # no page of an earlier build survives
    copy_assets(out)
    docs = doc_pages()
    on_site = {f"notebooks/{p.source.name}": p.html_name for p in pages}
    on_site.update({doc.path: doc.html_name for doc in docs})
    written = []
    for doc in docs:
        body = render_doc(doc, pages, docs, repo, info)
        target = out / doc.html_name
        base = posixpath.dirname(doc.path) or "."
        target.write_text(rewrite_links(body, str(doc.source), base, on_site, repo), encoding="utf-8")
        written.append(target)
    for page in pages:
        body = render_page(executed[page.name], page, pages, docs, repo, info)
        target = out / page.html_name
        target.write_text(rewrite_links(body, str(page.source), "notebooks", on_site, repo), encoding="utf-8")
        written.append(target)
    (out / ".nojekyll").touch()  # GitHub Pages: serve the files as they are
    for path in written:
        check_offline(path)
    print(f"site: {len(written)} pages in {out} ({time.monotonic() - started:.0f} s)")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the site's folder (replaced)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where the executed notebooks go")
    parser.add_argument("--notebooks", default="", help="numbers or names, e.g. 01,04 (default: all)")
    parser.add_argument("--profile", default="smoke", help='the notebooks\' profile (default "smoke", as CI)')
    parser.add_argument(
        "--reuse-executed", action="store_true", help="render the notebooks in --work without running them"
    )
    args = parser.parse_args(argv)
    selection = [s.strip() for s in args.notebooks.split(",") if s.strip()] or None
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiet debugpy in the kernels
    try:
        build(args.out.resolve(), args.work.resolve(), selection, args.profile, args.reuse_executed)
    except SiteBuildError as err:
        print(f"site build failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
