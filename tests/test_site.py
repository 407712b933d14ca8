"""The built site as others see it: link previews (Open Graph), the home page's weight, and the
same sources built by Zensical."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from .conftest import cli

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]

HOME_BUDGET = 1_000_000  # bytes: the home page and everything it loads


@pytest.fixture(scope="module")
def site(executed, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site") / "folio"
    shutil.copytree(executed, root, symlinks=True)
    result = cli(root, "build")
    assert result.exit_code == 0, result.output
    return root


class Page(HTMLParser):
    """The meta tags of a page and the files the browser loads for it."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.loads: list[str] = []
        self.config: dict = {}
        self._in_config = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and a.get("content") is not None:
            key = a.get("property") or a.get("name")
            if key:
                self.meta[key] = a["content"]
        elif tag == "link" and a.get("href") and set((a.get("rel") or "").split()) & {
                "stylesheet", "icon", "preload", "modulepreload", "manifest"}:
            self.loads.append(a["href"])
        elif tag in ("script", "img", "source", "iframe") and a.get("src"):
            self.loads.append(a["src"])
        elif tag == "script" and a.get("id") == "__config":
            self._in_config = True

    def handle_data(self, data):
        if self._in_config:
            self.config = json.loads(data)
            self._in_config = False


def read(site: Path, rel: str) -> Page:
    return Page((site / "site" / rel).read_text(encoding="utf-8"))


def on_disk(page_file: Path, url: str) -> Path:
    target = (page_file.parent / urlsplit(url).path).resolve()
    return target / "index.html" if target.is_dir() else target


def test_every_page_has_open_graph_and_twitter_card_tags(site):
    pages = sorted((site / "site").rglob("index.html"))
    assert len(pages) > 10
    for page_file in pages:
        meta = Page(page_file.read_text(encoding="utf-8")).meta
        rel = page_file.relative_to(site / "site")
        for key in ("og:title", "og:description", "og:type", "og:site_name", "og:image",
                    "twitter:card"):
            assert meta.get(key), f"{rel}: no {key}"
        assert meta["twitter:card"] == "summary_large_image"
        image = on_disk(page_file, meta["og:image"])
        assert image.is_file() and image.name == "og.png", f"{rel}: og:image {meta['og:image']}"
        with Image.open(image) as preview:  # the format and size link previewers show
            assert (preview.format, preview.size) == ("PNG", (1200, 630))


def first_card(site: Path) -> str:
    """The slug of the project whose card comes first on the home page."""
    home = (site / "site/index.html").read_text(encoding="utf-8")
    return re.search(r'class="pf-card".*?href="projects/([^/"]+)/"', home, re.S).group(1)


def test_home_and_project_pages_preview_with_their_own_image(site):
    home = read(site, "index.html").meta
    assert home["og:title"] == "Test Person"
    assert home["og:description"] == "Learns deep learning by building"
    assert home["og:type"] == "website"
    assert home["og:image"] == f"projects/{first_card(site)}/og.png"
    assert "og:url" not in home  # no site_url: no absolute address to give
    project = read(site, "projects/heart-disease/index.html").meta
    assert project["og:title"] == "Heart disease"
    assert project["og:description"] == "A predictive-modelling project worked through the five steps."
    assert project["og:type"] == "article"
    assert project["og:image"] == "og.png"
    notebook = read(site, "projects/heart-disease/03_evaluate_algorithms/index.html").meta
    assert notebook["og:image"] == "../og.png"


def test_with_a_site_url_preview_addresses_are_absolute(site, tmp_path):
    root = tmp_path / "folio"
    shutil.copytree(site, root, symlinks=True)
    config = root / "mkdocs.yml"
    config.write_text(config.read_text() + "site_url: https://test-person.github.io/portfolio\n")
    result = cli(root, "build")
    assert result.exit_code == 0, result.output
    base = "https://test-person.github.io/portfolio/"
    home = read(root, "index.html").meta
    assert home["og:url"] == base
    assert home["og:image"] == base + f"projects/{first_card(site)}/og.png"
    project = read(root, "projects/heart-disease/index.html").meta
    assert project["og:url"] == base + "projects/heart-disease/"
    assert project["og:image"] == base + "projects/heart-disease/og.png"


def test_home_page_hides_the_navigation_sidebar(site):
    home = (site / "site/index.html").read_text(encoding="utf-8")
    assert re.search(r'<div class="md-sidebar md-sidebar--primary"[^>]*data-md-type="navigation"'
                     r"[^>]*hidden", home)
    project = (site / "site/projects/heart-disease/index.html").read_text(encoding="utf-8")
    assert not re.search(r'data-md-type="navigation"[^>]*hidden', project)


def test_home_page_with_everything_it_loads_weighs_at_most_1_mb(site):
    root = (site / "site").resolve()
    home = root / "index.html"
    page = Page(home.read_text(encoding="utf-8"))
    external = [u for u in page.loads if urlsplit(u).scheme or u.startswith("//")]
    assert not external, f"the home page loads files from elsewhere: {external}"
    files = {home} | {on_disk(home, url) for url in page.loads}
    # Material's search starts at page load: its worker fetches the search index.
    assert page.config.get("search"), "no search worker in Material's __config"
    files |= {on_disk(home, page.config["search"]), root / "search/search_index.json"}
    for css in [f for f in files if f.suffix == ".css"]:
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text(encoding="utf-8")):
            if not url.startswith("data:"):
                assert not urlsplit(url).scheme, f"{css.name} loads {url}"
                files.add(on_disk(css, url))
    missing = [str(f) for f in files if not f.is_file()]
    assert not missing
    assert all(f.is_relative_to(root) for f in files)
    # The cards draw their result inline: no thumbnail to fetch unless the owner chose a cover.
    assert not [f for f in files if f.suffix in (".webp", ".png", ".jpg") and "projects" in f.parts]
    assert home.read_text(encoding="utf-8").count('class="pf-card-chart"') == 2
    total = sum(f.stat().st_size for f in files)
    assert total <= HOME_BUDGET, "\n".join(
        [f"home page: {total:,} bytes"] + [f"{f.stat().st_size:>9,} {f.relative_to(root)}"
                                           for f in sorted(files)])


def test_zensical_builds_the_same_sources(site, tmp_path):
    zensical = pytest.importorskip("zensical")
    root = tmp_path / "folio"
    shutil.copytree(site, root, symlinks=True)
    shutil.rmtree(root / "site")
    zensical.build(str(root / "mkdocs.yml"), {"clean": True, "strict": True})
    metrics = json.loads((root / "portfolio/projects/breast-cancer-diagnosis/export/metrics.json")
                         .read_text())
    value = f"{metrics['primary']['value']:.3f}"
    home = (root / "site/index.html").read_text(encoding="utf-8")
    assert "Breast cancer diagnosis" in home and "Heart disease" in home
    assert f"<strong>accuracy {value}</strong>" in home
    assert 'href="projects/breast-cancer-diagnosis/"' in home
    assert 'class="pf-card"' in home and "<div class=\"pf-card\" markdown" not in home
    project = (root / "site/projects/breast-cancer-diagnosis/index.html").read_text(encoding="utf-8")
    assert re.search(r"<h1[^>]*>Breast cancer diagnosis<", project)
    assert f"<strong>{value}</strong>" in project
    page_dir = root / "site/projects/breast-cancer-diagnosis"
    assert (page_dir / "03_evaluate_algorithms/index.html").is_file()
    meta = Page(project).meta  # the theme override is used by Zensical too
    assert meta["og:title"] == "Breast cancer diagnosis"
    assert on_disk(page_dir / "index.html", meta["og:image"]) == (page_dir / "og.png").resolve()
