"""`portfolio build`: every exported project into one website, swapped in whole.

Builds are incremental. build/state.json, written only after a build that succeeded in
full, records the hash of every input (site/inputs.py). A build whose inputs did not change,
with the site it made still in place, does nothing. Otherwise a project whose inputs did not
change is not rendered again: its pages and assets are copied from build/docs, which is
that successful build's sources, and a page whose source did not change is not rendered by
MkDocs again either (site/mkbuild.py). The state is removed before build/docs or site/
change, so a failed or killed build is never reused.

Only the standard library, click and the kit's light modules are imported at the top: the
Markdown, notebook and image libraries load when there is something to render.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

import click

from .. import STEPS
from ..errors import PortfolioError, os_error_line
from ..export import swap_in
from ..layout import Portfolio
from ..locking import portfolio_lock
from ..records import BuildState, PageBuild, ProjectBuild, read_record, write_record
from .inputs import FileHashes, Inputs, scan

ASSETS = Path(__file__).resolve().parent.parent / "assets"
# The runtime of "Try the model" (ONNX Runtime Web), in the site only where a page uses it.
VENDOR = Path(__file__).resolve().parent.parent / "vendor" / "onnxruntime-web"
# Material theme overrides (Open Graph tags); mkdocs.yml's theme.custom_dir names the copy
# that `portfolio build` puts in build/overrides, so `zensical build` finds it there too.
THEME = Path(__file__).resolve().parent.parent / "theme"
THUMB_WIDTH = 480
STATE_FILE = "state.json"
STATE_VERSION = 1
UP_TO_DATE = "site is up to date"


class DocsWriter:
    """Writes the generated sources under one folder; every write goes through here, and
    every SVG file of the site is cleaned here (opened on its own URL, an SVG runs scripts)."""

    def __init__(self, root: Path):
        self.root = root

    def text(self, rel: str, content: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")

    def data(self, rel: str, content: bytes, origin: str | None = None) -> None:
        """content to rel; origin names where it came from in an error."""
        if rel.lower().endswith(".svg"):
            from .sanitize import clean_svg

            cleaned = clean_svg(content)
            if cleaned is None:
                raise PortfolioError(f"{origin or rel}: not a well-formed SVG image")
            content = cleaned
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def copy(self, source: Path, rel: str, origin: str | None = None) -> None:
        if rel.lower().endswith(".svg"):
            self.data(rel, source.read_bytes(), origin or str(source))
            return
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)

    def reuse(self, source: Path, rel: str) -> None:
        """A folder of a previous build's sources, hard-linked (never written in place)."""

        def link(src: str, dst: str) -> None:
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)

        shutil.copytree(source, self.root / rel, copy_function=link)


def thumbnail(source: Path) -> bytes:
    import io

    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > THUMB_WIDTH:
            height = round(image.height * THUMB_WIDTH / image.width)
            # An area average: for a reduction of under 2x as good as a finer filter, faster.
            image = image.resize((THUMB_WIDTH, height), Image.Resampling.BOX)
        out = io.BytesIO()
        image.save(out, format="WEBP", quality=80, method=0)
    return out.getvalue()


OG_SIZE = (1200, 630)


def open_graph_image(view, cover: Path | None) -> bytes:
    """The project's link preview, a PNG of 1200 x 630 (the size and format link previewers
    show): its title, the headline number against the baseline, and the cover figure."""
    import io
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    from .pages import fmt, metric_label
    from .sanitize import plain

    canvas = Image.new("RGB", OG_SIZE, "white")
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, OG_SIZE[0], 16), fill="#3f51b5")
    left = 60 if cover is None else 48
    text_width = 1080 if cover is None else 560
    title = textwrap.wrap(plain(view.config.title), width=text_width // 28)[:2]
    font = ImageFont.load_default
    draw.multiline_text((left, 60), "\n".join(title), font=font(52), fill="#1a1a1a", spacing=10)
    metric = view.config.metric.name
    if view.primary:
        draw.text((left, 230), fmt(view.primary["value"], metric), font=font(150), fill="#3f51b5")
        draw.text((left, 410), f"{metric_label(metric)} on the test set", font=font(36), fill="#333333")
        compared = []
        if view.baseline and view.baseline["name"] == metric:
            compared.append(f"baseline {fmt(view.baseline['value'], metric)}")
        if view.reference:
            compared.append(f"reference {fmt(view.reference['value'], metric)}")
        draw.text((left, 470), " · ".join(compared), font=font(36), fill="#333333")
    if view.smoke:
        draw.text((left, 540), "smoke run", font=font(32), fill="#b3261e")
    if cover is not None:
        with Image.open(cover) as figure:
            figure = figure.convert("RGB")
            figure.thumbnail((560, 540), Image.Resampling.LANCZOS)
            canvas.paste(figure, (620 + (560 - figure.width) // 2, 45 + (540 - figure.height) // 2))
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def collect(portfolio: Portfolio, order: list[str] | None = None) -> tuple[list, list[str]]:
    """The projects' views, featured first, then in the owner's order (profile.yml: order),
    then the most recently run first."""
    from .collect import load_view, sort_views

    views, errors = [], []
    for project in portfolio.projects():
        try:
            view = load_view(portfolio, project)
        except PortfolioError as exc:
            errors.append(exc.message)
            continue
        if view is not None:
            views.append(view)
    return sort_views(views, order or []), errors


def write_project(writer: DocsWriter, view, repository: str | None,
                  image: str | None = None) -> None:
    import hashlib

    from . import pages
    from .nbrender import (
        error_analysis_cells,
        markdown_cells,
        read_notebook,
        render_error_analysis,
        render_notebook,
    )
    from .sanitize import asset_name

    base = f"projects/{view.slug}"
    figure_urls: dict[str, list[str]] = {}
    # A notebook output that is an exported figure links to that file: one copy per figure.
    exported: dict[bytes, str] = {}
    for figure in view.figures:
        data = figure.read_bytes()
        writer.data(f"{base}/figures/{figure.name}", data, view.project.rel(figure))
        exported.setdefault(hashlib.sha256(data).digest(), f"../figures/{figure.name}")
        step = figure.name.rpartition("-")[0]
        figure_urls.setdefault(step, []).append(f"figures/{figure.name}")
    captions: dict[str, str] = {}
    errors_figure = None
    in_part = False  # whether errors_figure is a figure of the error analysis
    error_analysis = None
    narratives = {}

    def page_sink(data: bytes, ext: str) -> str:
        """An image of the project page's error analysis: a figure's file, else a file of its
        own next to step 5's page."""
        known = exported.get(hashlib.sha256(data).digest())
        if known:
            return known.removeprefix("../")
        name = asset_name(data, ext)
        writer.data(f"{base}/05_present_results/{name}", data,
                    f"{view.project.rel(view.project.export_dir)}: an output image of step 5")
        return f"05_present_results/{name}"

    if view.browser is not None and view.browser.unavailable is None:
        import json

        from ..records import BROWSER_ONNX as ONNX
        from ..records import BROWSER_SPEC as SPEC
        from ..records import as_json

        model = view.project.export_dir / "model" / ONNX
        writer.copy(model, f"{base}/try/{ONNX}", view.project.rel(model))
        writer.text(f"{base}/try/{SPEC}", json.dumps(as_json(view.browser), ensure_ascii=False))
    for path in view.notebooks:
        step = path.stem
        notebook = read_notebook(path, view.project.rel(path))
        if pages.notebook_files_in_site(repository):
            writer.copy(path, f"{base}/files/{step}.ipynb")

        def sink(data: bytes, ext: str, _path: Path = path) -> str:
            known = exported.get(hashlib.sha256(data).digest())
            if known:
                return known
            name = asset_name(data, ext)
            writer.data(f"{base}/{_path.stem}/{name}", data,
                        f"{view.project.rel(_path)}: an output image")
            return name

        # Step 5's error analysis has its own section of the project page, not its narrative;
        # its first figure is the errors figure, else the first whose code names the errors.
        part = error_analysis_cells(notebook) if step == "05_present_results" else None
        for index, name, caption, code in figure_sources(notebook, exported):
            captions.setdefault(name, caption)
            if step != "05_present_results":
                continue
            if part is not None and part[0] < index < part[1] and not in_part:
                errors_figure, in_part = name, True
            elif not errors_figure and ERRORS.search(code):
                errors_figure = name
        cells = markdown_cells(notebook, sink)
        if part is not None:
            error_analysis = render_error_analysis(notebook, page_sink, "Error analysis")
        markdown = [(i, c) for i, c in enumerate(notebook.get("cells", []))
                    if c.get("cell_type") == "markdown"]
        kept = [n for n, (i, _) in enumerate(markdown) if part is None or not part[0] <= i < part[1]]
        sources = [_source(markdown[n][1]) for n in kept]
        converted = [None if cells[n][1] else cells[n][0] for n in kept]
        for k, n in enumerate(kept):
            if part is not None and markdown[n][0] == part[1] and part[2]:
                # The cell that ends the error analysis: only what follows its end.
                sources[k], converted[k] = sources[k][len(part[2]):], None
        narratives[step] = pages.narrative(sources, converted)
        body = render_notebook(notebook, sink, f"{view.config.title}, {step}",
                               [html for html, _ in cells])
        writer.text(f"{base}/{step}/index.md",
                    pages.notebook_page(view, step, body, image, repository))
    if errors_figure is None:  # no figure names the errors: step 5's first
        errors_figure = next((f.name for f in view.figures_of("05_present_results")), None)
    writer.text(f"{base}/index.md",
                pages.project_page(view, narratives, figure_urls, repository, image, captions,
                                   errors_figure, error_analysis,
                                   errors_figure is not None and _wide(
                                       view.project.export_dir / "figures" / errors_figure)))


def _wide(path: Path) -> bool:
    """A raster figure much wider than tall (panels side by side)."""
    from .collect import RASTER

    if path.suffix.lower() not in RASTER:
        return False
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.width > 1.6 * image.height
    except (OSError, ValueError):  # PIL's errors for a file it cannot read as an image
        return False


# The step-5 figure shown as "what the model gets wrong": the first whose code cell names its
# errors (a confusion matrix, residuals, the misclassified examples).
ERRORS = re.compile(r"confusion|residual|misclass|wrong|mistake|error", re.IGNORECASE)
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def figure_sources(notebook: dict, exported: dict[bytes, str]):
    """(cell index, file name, caption, code) of each exported figure a code cell of the
    notebook shows: the caption is the heading it sits under, the code is the cell's source."""
    import base64
    import hashlib

    from ..export import IMAGE_TYPES

    caption = ""
    for index, cell in enumerate(notebook.get("cells", [])):
        source = _source(cell)
        if cell.get("cell_type") == "markdown":
            headings = _HEADING.findall(source)
            caption = headings[-1].strip() if headings else caption
            continue
        for output in cell.get("outputs", []):
            for mime in IMAGE_TYPES:
                data = (output.get("data") or {}).get(mime)
                if not isinstance(data, str | list):
                    continue
                text = "".join(data)
                try:
                    raw = text.encode() if mime == "image/svg+xml" else base64.b64decode(text)
                except ValueError:
                    continue
                known = exported.get(hashlib.sha256(raw).digest())
                if known:
                    yield index, known.rpartition("/")[2], caption, source


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def render_project(writer: DocsWriter, view, repository: str | None) -> str | None:
    """A project's pages, assets, Open Graph image and, for the owner's cover, the card's
    thumbnail; returns the Open Graph image's path."""
    from .pages import card_cover

    cover = view.cover()
    image = f"projects/{view.slug}/og.png"
    thumb = card_cover(view)
    try:
        preview = open_graph_image(view, cover)
        small = thumbnail(cover) if thumb else None
    except (OSError, ValueError):  # PIL's errors for a file it cannot read as an image
        raise PortfolioError(f"{view.project.rel(cover)}: not an image a thumbnail can be "
                             "made from") from None
    writer.data(image, preview)
    if thumb and small:
        writer.data(thumb, small)
    write_project(writer, view, repository, image)
    return image


def _listing(folder: Path) -> dict[str, int]:
    """Every file under folder with its size: what a reused project must still have."""
    found = {}
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, folder)] = os.path.getsize(path)
    return found


class Reuse:
    """The projects of the previous successful build, and what this build records."""

    def __init__(self, previous: BuildState | None, docs: Path, inputs: Inputs | None):
        self.previous = previous.projects if previous else {}
        self.docs = docs
        self.inputs = inputs
        self.records: dict[str, ProjectBuild] = {}

    def key(self, view, repository: str | None) -> str | None:
        return self.inputs.project_key(view.project.dir.name, repository) if self.inputs else None

    def take(self, writer: DocsWriter, view, key: str | None) -> tuple[bool, str | None]:
        """Copies the project's sources of the previous build where they are still valid:
        (whether it did, the Open Graph image's path)."""
        base = f"projects/{view.slug}"
        old = self.previous.get(view.slug)
        source = self.docs / base
        if key and old and old.key == key and source.is_dir() and _listing(source) == old.files:
            writer.reuse(source, base)
            return True, old.thumb
        return False, None

    def record(self, writer: DocsWriter, view, key: str | None, thumb: str | None) -> None:
        if key:
            self.records[view.slug] = ProjectBuild(
                key=key, thumb=thumb, files=_listing(writer.root / f"projects/{view.slug}"))


# Rendering projects in worker processes pays off from this many projects on (the workers
# are forked, so they start with everything this process has imported).
PARALLEL_FROM = 12
_JOBS: tuple = ()


def _render_job(index: int) -> str | None:
    writer, views, repository = _JOBS
    return render_project(writer, views[index], repository)


def render_projects(writer: DocsWriter, views: list, repository: str | None) -> list[str | None]:
    """Each project's pages (Open Graph images returned in order), on every core where there are many."""
    from .workers import cores, fork_map

    global _JOBS
    workers = min(cores(), len(views) // (PARALLEL_FROM // 2), 8)
    _JOBS = (writer, views, repository)
    try:
        done = fork_map(_render_job, list(range(len(views))), workers, chunksize=2)
        return done if done is not None else [_render_job(i) for i in range(len(views))]
    finally:
        _JOBS = ()


def generate(portfolio: Portfolio, docs: Path, reuse: Reuse | None = None) -> list:
    """Every page's source and asset into docs. Every project is read before anything is
    written: one that cannot be read fails the build, named with what is wrong."""
    from ..config import load_profile
    from . import pages

    profile = load_profile(portfolio.profile_file, portfolio.rel(portfolio.profile_file))
    folders = {project.dir.name for project in portfolio.projects()}
    for slug in profile.order:
        if slug not in folders:
            raise PortfolioError(f"{portfolio.rel(portfolio.profile_file)}: field 'order': no "
                                 f"project '{slug}' in portfolio/projects/")
    views, errors = collect(portfolio, profile.order)
    kept = "the site was left as it was"
    if len(errors) == 1:
        raise PortfolioError(f"{errors[0]}; {kept}")
    for message in errors:
        click.echo(f"Error: {message}", err=True)
    if errors:
        raise PortfolioError(f"{len(errors)} projects cannot be built; {kept}")
    photo = _photo(portfolio, profile.photo) if profile.photo else None
    writer = DocsWriter(docs)
    reuse = reuse or Reuse({}, docs, None)
    # Each project's Open Graph image (recorded in the build state as its "thumb").
    images: dict[str, str | None] = {}
    keys = {view.slug: reuse.key(view, profile.repository) for view in views}
    todo = []
    for view in views:
        taken, images[view.slug] = reuse.take(writer, view, keys[view.slug])
        if not taken:
            todo.append(view)
    for view, image in zip(todo, render_projects(writer, todo, profile.repository), strict=True):
        images[view.slug] = image
    for view in views:
        reuse.record(writer, view, keys[view.slug], images[view.slug])
    found = {slug: image for slug, image in images.items() if image}
    image = pages.cover_image(views, found)
    writer.text("index.md", pages.home_page(profile, views, found))
    writer.text("leaderboard.md", pages.leaderboard_page(views, image))
    writer.text("skills.md", pages.skills_page(views, image))
    writer.text("about.md", pages.about_page(profile, views, image))
    for slug, content in pages.tag_pages(views, image).items():
        writer.text(f"tags/{slug}.md", content)
    if photo:
        writer.copy(photo, profile.photo, portfolio.rel(photo))
    for asset in sorted(ASSETS.iterdir()):
        writer.copy(asset, f"assets/{asset.name}")
    if any(view.browser is not None and view.browser.unavailable is None for view in views):
        for asset in sorted(VENDOR.iterdir()):
            writer.copy(asset, f"assets/onnxruntime-web/{asset.name}")
    return views


def _photo(portfolio: Portfolio, name: str) -> Path:
    """profile.yml's photo: a file in the portfolio/ folder (the site keeps its path)."""
    from ..config import inside

    display = portfolio.rel(portfolio.profile_file)
    photo = inside(portfolio.root / "portfolio", name, display, "photo")
    if not photo.is_file():
        raise PortfolioError(f"{display}: field 'photo': {name} not found next to profile.yml")
    return photo


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().splitlines()[0])


def render(portfolio: Portfolio, docs: Path, site: Path, strict: bool,
           previous: tuple | None = None) -> dict[str, PageBuild] | None:
    """MkDocs over the generated sources, with the portfolio's mkdocs.yml. previous is the
    last successful build's (page records, its site, the key every page depends on): pages
    whose sources did not change are taken from there. Returns this build's page records."""
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, ConfigurationError

    from . import mkbuild

    if not portfolio.mkdocs_file.is_file():
        raise PortfolioError(f"{portfolio.rel(portfolio.mkdocs_file)}: missing")
    logger = logging.getLogger("mkdocs")
    handler = _Collect()
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.WARNING)
    records, old_site, common = previous or ({}, None, "")
    try:
        config = load_config(str(portfolio.mkdocs_file), docs_dir=str(docs),
                             site_dir=str(site), strict=strict)
        return mkbuild.build(config, records, old_site, common)
    except ConfigurationError as exc:
        # MkDocs passes on YAML's message over several lines, each place as `in "PATH", line N`.
        text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        text = re.sub(r'in "[^"]*", line', "at line", text)
        raise PortfolioError(f"{portfolio.rel(portfolio.mkdocs_file)}: {text}") from None
    except Abort:
        first = handler.messages[0] if handler.messages else "warnings in strict mode"
        raise PortfolioError(f"mkdocs: {first} ({len(handler.messages)} warning(s))") from None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def prune(site: Path) -> None:
    """Theme files that no page of the site loads: the source maps (for the theme's own
    developers, 1.3 MB) and, for a search in English only, lunr's other languages (0.9 MB)."""
    for path in site.glob("assets/**/*.map"):
        path.unlink()
    try:
        index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
        languages = index["config"]["lang"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    lunr = site / "assets" / "javascripts" / "lunr"
    if languages == ["en"] and lunr.is_dir():
        shutil.rmtree(lunr)


def _site_identity(site: Path) -> list | None:
    """The site/ folder a build swapped in: a site/ replaced by anything else differs."""
    try:
        folder, home = os.stat(site), os.stat(site / "index.html")
    except OSError:
        return None
    return [folder.st_dev, folder.st_ino, home.st_ino, home.st_size, home.st_mtime_ns]


def _read_state(portfolio: Portfolio, path: Path) -> BuildState | None:
    """The previous successful build's state; a corrupt one is only a cache lost."""
    if not path.exists():
        return None
    try:
        return read_record(BuildState, path, portfolio.rel(path))
    except PortfolioError as exc:
        click.echo(f"{exc.message}; building everything again", err=True)
        return None


def build_site(portfolio: Portfolio, strict: bool = True) -> Path | None:
    """Generate build/docs and render site/; a failure leaves the previous site/ whole, and
    one before any page is rendered leaves build/ as it was too.
    Returns the site, or None when it was up to date and nothing was done."""
    site = portfolio.root / "site"
    build_dir = portfolio.root / "build"
    state_file = build_dir / STATE_FILE
    with portfolio_lock(portfolio, "build"):
        previous = _read_state(portfolio, state_file)
        hashes = FileHashes(previous.hashes if previous else None)
        inputs = scan(portfolio, strict, hashes)
        identity = _site_identity(site)
        same_site = identity is not None and previous is not None and previous.site == identity
        if (previous and previous.key == inputs.key and same_site and (build_dir / "docs").is_dir()
                and (build_dir / "overrides").is_dir()):
            if hashes.seen != previous.hashes:
                write_record(state_file, previous.model_copy(update={"hashes": hashes.seen}))
            click.echo(UP_TO_DATE)
            return None
        staging = Staging(portfolio, build_dir)
        started = time.time_ns()
        with staging:
            reuse = Reuse(previous, build_dir / "docs", inputs)
            staging.now(staging.docs)
            generate(portfolio, staging.docs, reuse)
            staging.now(staging.theme)
            shutil.copytree(THEME, staging.theme)
            # From here build/docs and site/ change: no state until they are whole again.
            state_file.unlink(missing_ok=True)
            swap_in(staging.docs, build_dir / "docs")
            swap_in(staging.theme, build_dir / "overrides")
            # The pages of the previous build are reused only from the site that build made.
            common = json.dumps([inputs.kit, hashes.sha(portfolio.mkdocs_file)])
            staging.now(staging.site)
            pages = render(portfolio, build_dir / "docs", staging.site, strict,
                           (previous.pages if previous else {}, site if same_site else None, common))
            prune(staging.site)
            audit_written(portfolio, staging.site, site, started)
            swap_in(staging.site, site)
            write_record(state_file, BuildState(
                version=STATE_VERSION, key=inputs.key, site=_site_identity(site),
                projects=reuse.records, pages=pages or {}, hashes=hashes.seen))
    return site


def audit_written(portfolio: Portfolio, staged: Path, site: Path, since_ns: int) -> None:
    """Every page and SVG file this build wrote, read as a browser would (site/audit.py):
    anything that would run script fails the build before the site is replaced, so that no
    deploy (CI runs only the build) can publish it. Files of earlier builds were read when
    they were written."""
    from .audit import audit_html, audit_svg

    for path in sorted(staged.rglob("*")):
        if path.suffix not in (".html", ".svg") or path.stat().st_mtime_ns < since_ns:
            continue
        page = path.relative_to(staged).as_posix()
        problems = (audit_svg(path.read_bytes(), page) if path.suffix == ".svg"
                    else audit_html(path.read_text(encoding="utf-8", errors="replace"), page))
        if problems:
            raise PortfolioError(f"{portfolio.rel(site / page)}: {problems[0].what}, "
                                 f"{problems[0].why}; the site was left as it was")


class Staging:
    """The build's staging folders: emptied before a build, removed whenever it fails (also
    for a full disk or a read-only folder, whose OSError becomes one line naming the folder
    being written)."""

    def __init__(self, portfolio: Portfolio, build_dir: Path):
        self.portfolio = portfolio
        self.docs = build_dir / "docs.new"
        self.site = build_dir / "site.new"
        self.theme = build_dir / "overrides.new"
        self.writing = self.docs

    def now(self, folder: Path) -> None:
        """The folder the build writes from here on."""
        self.writing = folder

    def __enter__(self) -> Staging:
        try:
            self._remove(strict=True)
        except OSError as exc:
            raise PortfolioError(os_error_line(exc, self._where(exc))) from None
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        if kind is None:
            return
        self._remove(strict=False)
        if isinstance(exc, OSError):
            raise PortfolioError(os_error_line(exc, self._where(exc))) from None

    def _remove(self, strict: bool) -> None:
        for path in (self.docs, self.site, self.theme):
            if strict and path.exists():
                shutil.rmtree(path)
            else:
                shutil.rmtree(path, ignore_errors=True)

    def _where(self, exc: OSError) -> str:
        """The file the error names, or the staging folder it is in or being written (a write
        to an open file names none)."""
        folders = (self.docs, self.site, self.theme)
        for name in (exc.filename2, exc.filename):  # a copy's destination, then its source
            for folder in folders if name else ():
                if Path(name).is_relative_to(folder):
                    return self.portfolio.rel(folder)
        return self.portfolio.rel(self.writing)


__all__ = ["build_site", "STEPS", "UP_TO_DATE"]
