"""The built site in a real browser (Debian's Chromium driven by Playwright), served over HTTP
on localhost: cards, tag filter, search, console, images and links, planted scripts, and
screenshots at desktop and phone sizes in test-artifacts/."""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
import yaml

from .browsing import chromium
from .conftest import REPO, cli

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PROJECTS = {"breast-cancer-diagnosis": "Breast cancer diagnosis", "heart-disease": "Heart disease"}
SUMMARY = "Tells malignant from benign tumours using fine-needle aspirate measurements."
PLANTED_STEP = "03_evaluate_algorithms"
PLANTED_HTML = """\
<p id="planted-output">planted output</p>
<script>window.__xss = "script"; alert("script");</script>
<img src="missing.png" onerror="window.__xss = 'onerror'; alert('onerror')">
<a href="javascript:window.__xss = 'link'">a script link</a>
<svg onload="window.__xss = 'svg'"><circle r="4"></circle></svg>
<iframe srcdoc="<script>parent.__xss = 'iframe'</script>"></iframe>
<div style="background:url(javascript:alert(1))" onmouseover="window.__xss = 'hover'">hover</div>
"""

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.xdist_group("kernel"),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}"),
]


def plant(root: Path) -> None:
    """A distinct summary and tag for one project, scripts in a notebook output of the other."""
    config = root / "portfolio/projects/breast-cancer-diagnosis/project.yml"
    settings = yaml.safe_load(config.read_text())
    settings["summary"] = SUMMARY
    settings["tags"] = ["medical", *settings["tags"]]
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    path = root / f"portfolio/projects/heart-disease/export/notebooks/{PLANTED_STEP}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    cell = nbformat.v4.new_code_cell("display(HTML(untrusted))")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": PLANTED_HTML,
                                                     "text/plain": "<HTML>"}),
        nbformat.v4.new_output("display_data", data={
            "text/markdown": "<script>window.__xss = 'markdown'</script>\n\n"
                             "<img src=x onerror=\"window.__xss = 'markdown img'\">"}),
    ]
    notebook.cells.append(cell)
    notebook.cells.append(nbformat.v4.new_markdown_cell(
        "<script>window.__xss = 'markdown cell'</script> [click](javascript:alert(1))"))
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def site(executed, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser") / "folio"
    shutil.copytree(executed, root, symlinks=True)
    plant(root)
    result = cli(root, "build")
    assert result.exit_code == 0, result.output
    return root / "site"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


class Tab:
    """A page that records console errors, page errors, failed requests and dialogs."""

    def __init__(self, browser, viewport=DESKTOP):
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"console: {m.text} ({m.location.get('url')})"))
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        # A request the browser cancels (ERR_ABORTED: the page navigated on before it was
        # done) is not a fault of the site; a missing file is a response of 404 (below).
        self.page.on("requestfailed", lambda r: r.failure != "net::ERR_ABORTED"
                     and self.errors.append(f"request failed: {r.url} ({r.failure})"))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(
            f"HTTP {r.status}: {r.url}"))

        def dialog(d):
            self.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        self.page.on("dialog", dialog)

    def open(self, url: str):
        self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def tab(browser):
    tabs = []

    def make(viewport=DESKTOP) -> Tab:
        tabs.append(Tab(browser, viewport))
        return tabs[-1]

    yield make
    for t in tabs:
        t.close()


def test_every_project_card_is_shown_and_opens_its_project_page(server, tab):
    t = tab()
    page = t.open(server)
    cards = page.locator(".pf-card")
    assert cards.count() == len(PROJECTS)
    for slug, title in PROJECTS.items():
        card = cards.filter(has_text=title)
        assert card.count() == 1 and card.is_visible()
        assert card.locator("svg.pf-card-chart").is_visible()  # the result drawn for the card
        link = card.locator(f"h3 a[href='projects/{slug}/']")
        assert link.inner_text().strip() == title
        link.click()
        page.wait_for_url(f"{server}projects/{slug}/")
        assert page.locator("h1").first.inner_text().replace("¶", "").strip() == title
        page.go_back()
        page.wait_for_url(server)
    assert not t.errors


def test_a_tag_filter_hides_the_cards_without_that_tag(server, tab):
    page = tab().open(server)
    cards = page.locator(".pf-card")
    page.locator(".pf-filter button[data-tag='medical']").click()
    assert cards.filter(has_text="Breast cancer diagnosis").is_visible()
    assert cards.filter(has_text="Heart disease").is_hidden()
    assert page.locator(".pf-filter button[data-tag='medical']").get_attribute("class") \
        == "pf-tag pf-tag--on"
    page.locator(".pf-filter button[data-tag='']").click()
    assert all(cards.nth(i).is_visible() for i in range(cards.count()))
    page.locator(".pf-filter button[data-tag='keras']").click()
    assert all(cards.nth(i).is_visible() for i in range(cards.count()))


def test_search_finds_a_project_by_a_word_of_its_summary(server, tab):
    t = tab()
    page = t.open(server)
    page.locator("label.md-search__icon, .md-search__input").first.click()
    box = page.locator("input.md-search__input")
    box.press_sequentially("aspirate", delay=30)
    result = page.locator(".md-search-result__list a[href*='projects/breast-cancer-diagnosis/']")
    result.first.wait_for(state="visible", timeout=15_000)
    assert "aspirate" in result.first.inner_text()
    result.first.click()
    page.wait_for_url(f"{server}projects/breast-cancer-diagnosis/**")
    assert not t.errors


@pytest.mark.parametrize("rel", ["", "projects/breast-cancer-diagnosis/", "projects/heart-disease/",
                                 "leaderboard/", "projects/breast-cancer-diagnosis/05_present_results/"])
def test_no_console_error_broken_image_or_broken_link(server, tab, rel):
    t = tab()
    page = t.open(server + rel)
    # Lazy images load only near the viewport: load them all, then look at each.
    page.evaluate("""() => Promise.all([...document.images].map(img => {
        img.loading = "eager";
        return img.decode().catch(() => null);
    }))""")
    images = page.evaluate("""() => [...document.images].map(img => ({
        src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0}))""")
    assert images, "no image on the page"
    assert [i["src"] for i in images if not i["ok"]] == []
    hrefs = page.evaluate("""() => [...document.querySelectorAll("a[href], link[href]")]
        .map(a => a.href)""")
    origin = urlsplit(server).netloc
    internal = sorted({h.split("#")[0] for h in hrefs if urlsplit(h).netloc == origin})
    assert len(internal) > 5
    broken = [(url, status) for url in internal
              if (status := t.context.request.get(url).status) != 200]
    assert broken == []
    assert t.errors == []


def test_scripts_in_notebook_outputs_run_nothing(server, tab, site):
    t = tab()
    page = t.open(f"{server}projects/heart-disease/{PLANTED_STEP}/")
    assert page.locator("#planted-output, p:has-text('planted output')").count() >= 1
    page.locator(".nb-html div:has-text('hover')").first.hover()
    for link in page.locator(".nb a:has-text('a script link'), .nb a:has-text('click')").all():
        link.click()
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert t.dialogs == []
    html = (site / f"projects/heart-disease/{PLANTED_STEP}/index.html").read_text()
    for needle in ("window.__xss", "onerror", '"javascript:', "srcdoc", "onmouseover"):
        assert needle not in html


@pytest.mark.parametrize("name,viewport", [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots_and_no_sideways_scrolling(server, tab, name, viewport):
    ARTIFACTS.mkdir(exist_ok=True)
    for label, rel in (("home", ""), ("project", "projects/breast-cancer-diagnosis/"),
                       ("notebook", "projects/breast-cancer-diagnosis/03_evaluate_algorithms/")):
        t = tab(viewport)
        page = t.open(server + rel)
        page.evaluate("""() => Promise.all([...document.images].map(img => {
            img.loading = "eager"; return img.decode().catch(() => null); }))""")
        page.screenshot(path=str(ARTIFACTS / f"{label}-{name}.png"), full_page=True)
        overflow = page.evaluate("""() => document.documentElement.scrollWidth
            - document.documentElement.clientWidth""")
        assert overflow <= 0, f"{label} at {name} size scrolls sideways by {overflow}px"
        assert t.errors == []
