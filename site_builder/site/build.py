"""`portfolio build`: every exported project into one website, swapped in whole."""

from __future__ import annotations

import io
import logging
import shutil
from pathlib import Path

import click

from .. import STEPS
from ..config import load_profile
from ..errors import PortfolioError
from ..export import swap_in
from ..layout import Portfolio
from ..locking import portfolio_lock
from . import pages
from .collect import ProjectView, load_view
from .nbrender import read_notebook, render_notebook
from .sanitize import asset_name

ASSETS = Path(__file__).resolve().parent.parent / "assets"
# Material theme overrides (Open Graph tags); mkdocs.yml's theme.custom_dir names the copy
# that `portfolio build` puts in build/overrides, so `zensical build` finds it there too.
THEME = Path(__file__).resolve().parent.parent / "theme"
THUMB_WIDTH = 480


class DocsWriter:
    """Writes the generated sources under one folder; every write goes through here."""

    def __init__(self, root: Path):
        self.root = root

    def text(self, rel: str, content: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")

    def data(self, rel: str, content: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def copy(self, source: Path, rel: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)


def thumbnail(source: Path) -> bytes:
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > THUMB_WIDTH:
            height = round(image.height * THUMB_WIDTH / image.width)
            image = image.resize((THUMB_WIDTH, height), Image.LANCZOS)
        out = io.BytesIO()
        image.save(out, format="WEBP", quality=80)
    return out.getvalue()


def collect(portfolio: Portfolio) -> tuple[list[ProjectView], list[str]]:
    views, errors = [], []
    for project in portfolio.projects():
        try:
            view = load_view(portfolio, project)
        except PortfolioError as exc:
            errors.append(exc.message)
            continue
        if view is not None:
            views.append(view)
    views.sort(key=lambda v: (not v.config.featured, v.config.title.lower()))
    return views, errors


def write_project(writer: DocsWriter, view: ProjectView, repository: str | None,
                  thumb: str | None = None) -> None:
    base = f"projects/{view.slug}"
    figure_urls: dict[str, list[str]] = {}
    for figure in view.figures:
        writer.copy(figure, f"{base}/figures/{figure.name}")
        step = figure.name.rpartition("-")[0]
        figure_urls.setdefault(step, []).append(f"figures/{figure.name}")
    narratives = {}
    for path in view.notebooks:
        step = path.stem
        notebook = read_notebook(path)
        narratives[step] = pages.narrative(
            ["".join(c.source) for c in notebook.cells if c.cell_type == "markdown"])
        writer.copy(path, f"{base}/files/{step}.ipynb")

        def sink(data: bytes, ext: str, _step: str = step) -> str:
            name = asset_name(data, ext)
            writer.data(f"{base}/{_step}/{name}", data)
            return name

        body = render_notebook(notebook, sink, f"{view.config.title}, {step}")
        writer.text(f"{base}/{step}/index.md", pages.notebook_page(view, step, body, thumb))
    writer.text(f"{base}/index.md",
                pages.project_page(view, narratives, figure_urls, repository, thumb))


def generate(portfolio: Portfolio, docs: Path) -> tuple[list[ProjectView], list[str]]:
    profile = load_profile(portfolio.profile_file, portfolio.rel(portfolio.profile_file))
    views, errors = collect(portfolio)
    writer = DocsWriter(docs)
    thumbs = {}
    for view in views:
        cover = view.cover()
        if cover is not None:
            writer.data(f"projects/{view.slug}/thumb.webp", thumbnail(cover))
            thumbs[view.slug] = f"projects/{view.slug}/thumb.webp"
        write_project(writer, view, profile.repository, thumbs.get(view.slug))
    image = pages.cover_image(views, thumbs)
    writer.text("index.md", pages.home_page(profile, views, thumbs))
    writer.text("leaderboard.md", pages.leaderboard_page(views, image))
    writer.text("skills.md", pages.skills_page(views, image))
    writer.text("about.md", pages.about_page(profile, views, image))
    for slug, content in pages.tag_pages(views, image).items():
        writer.text(f"tags/{slug}.md", content)
    if profile.photo:
        photo = portfolio.root / "portfolio" / profile.photo
        if not photo.is_file():
            raise PortfolioError(f"{portfolio.rel(portfolio.profile_file)}: field 'photo': "
                                 f"{profile.photo} not found next to profile.yml")
        writer.copy(photo, profile.photo)
    for asset in sorted(ASSETS.iterdir()):
        writer.copy(asset, f"assets/{asset.name}")
    return views, errors


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().splitlines()[0])


def render(portfolio: Portfolio, docs: Path, site: Path, strict: bool) -> None:
    """MkDocs over the generated sources, with the portfolio's mkdocs.yml."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, ConfigurationError

    if not portfolio.mkdocs_file.is_file():
        raise PortfolioError(f"{portfolio.rel(portfolio.mkdocs_file)}: missing")
    logger = logging.getLogger("mkdocs")
    handler = _Collect()
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        config = load_config(str(portfolio.mkdocs_file), docs_dir=str(docs),
                             site_dir=str(site), strict=strict)
        build(config)
    except ConfigurationError as exc:
        raise PortfolioError(f"{portfolio.rel(portfolio.mkdocs_file)}: {exc}") from None
    except Abort:
        first = handler.messages[0] if handler.messages else "warnings in strict mode"
        raise PortfolioError(f"mkdocs: {first} ({len(handler.messages)} warning(s))") from None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def build_site(portfolio: Portfolio, strict: bool = True) -> Path:
    """Generate build/docs and render site/; a failure leaves the previous site/ whole."""
    site = portfolio.root / "site"
    build_dir = portfolio.root / "build"
    with portfolio_lock(portfolio, "build"):
        staging_docs = build_dir / "docs.new"
        staging_site = build_dir / "site.new"
        staging_theme = build_dir / "overrides.new"
        for path in (staging_docs, staging_site, staging_theme):
            if path.exists():
                shutil.rmtree(path)
        views, errors = generate(portfolio, staging_docs)
        shutil.copytree(THEME, staging_theme)
        swap_in(staging_docs, build_dir / "docs")
        swap_in(staging_theme, build_dir / "overrides")
        render(portfolio, build_dir / "docs", staging_site, strict)
        swap_in(staging_site, site)
    for message in errors:
        click.echo(f"Error: {message}", err=True)
    if errors:
        raise PortfolioError(f"{len(errors)} project(s) left out of the site")
    return site


__all__ = ["build_site", "STEPS"]
