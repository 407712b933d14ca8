"""Every text field is untrusted: hostile strings from project.yml, profile.yml, metrics.json
and manifest.json reach the site as text, and `portfolio check` audits the built site whole.
No kernel: projects are exported by tests/tiny.py's fake_export."""

from __future__ import annotations

import io
import json
import re
import shutil
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from site_builder.site.audit import audit_html, elements, unsafe_url
from site_builder.site.sanitize import clean_svg, fence, md_text, safe_url

from .conftest import REPO, cli, make_portfolio
from .tiny import fake_export, make_tiny

SVG_NS = "http://www.w3.org/2000/svg"
SCRIPT_SVG = (f'<svg xmlns="{SVG_NS}" xmlns:xlink="http://www.w3.org/1999/xlink" onload="alert(1)">'
              '<script>alert(2)</script><a href="javascript:alert(3)"><rect width="5" '
              'onclick="alert(4)"/></a><foreignObject><div xmlns="http://www.w3.org/1999/xhtml">'
              '<img src="x" onerror="alert(5)"/></div></foreignObject>'
              '<use xlink:href="https://example.com/x.svg#a"/><circle r="2" fill="url(#g)"/></svg>')
CLEAN_SVG = (b"<?xml version='1.0' encoding='utf-8'?>\n"
             b'<svg xmlns="http://www.w3.org/2000/svg"><a><rect width="5" /></a><use />'
             b'<circle r="2" fill="url(#g)" /></svg>')


# --- reading pages ---------------------------------------------------------------------

class Texts(HTMLParser):
    """The text of every element, by tag name, in document order (nested text included)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict, list[str]]] = []
        self._open: list[list[str]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag in ("meta", "img", "br", "hr", "link", "input", "use", "rect", "path"):
            return
        parts: list[str] = []
        self.found.append((tag, dict(attrs), parts))
        self._open.append(parts)

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for parts in self._open:
            parts.append(data)


def texts(html: str, tag: str, **attrs: str) -> list[str]:
    return ["".join(parts) for name, found, parts in Texts(html).found
            if name == tag and all(found.get(k) == v for k, v in attrs.items())]


def anchors(html: str) -> list[tuple[str | None, str]]:
    return [(attrs.get("href"), "".join(parts)) for tag, attrs, parts in Texts(html).found
            if tag == "a"]


def meta(html: str, key: str) -> str:
    return next(dict(e.attrs)["content"] for e in elements(html) if e.tag == "meta"
                and key in (e.get("property"), e.get("name")))


def page(root: Path, rel: str) -> str:
    return (root / "site" / rel).read_text(encoding="utf-8")


# --- a portfolio of one fake-exported project ------------------------------------------

def make(root: Path) -> Path:
    make_portfolio(root)
    project = make_tiny(root, "evil")
    fake_export(project)
    return project


def set_project(project: Path, **fields) -> None:
    config = yaml.safe_load((project / "project.yml").read_text())
    for key, value in fields.items():
        target = config
        *parents, last = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    (project / "project.yml").write_text(yaml.safe_dump(config, allow_unicode=True))


def set_profile(root: Path, **fields) -> None:
    profile = {"name": "Test Person", "headline": "Learns", "bio": "Projects.",
               "links": [{"label": "GitHub", "url": "https://github.com/test-person"}]}
    (root / "portfolio/profile.yml").write_text(yaml.safe_dump({**profile, **fields},
                                                               allow_unicode=True))


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def build(root: Path) -> None:
    result = cli(root, "build")
    assert (result.exit_code, result.output) == (0, "built site\n"), result.output


def site_problems(root: Path) -> list[str]:
    site = root / "site"
    return [f"{path.relative_to(site)}: {p.what}" for path in sorted(site.rglob("*.html"))
            for p in audit_html(path.read_text(encoding="utf-8"), str(path.relative_to(site)))]


@pytest.fixture
def evil(tmp_path) -> tuple[Path, Path]:
    root = tmp_path / "folio"
    return root, make(root)


# --- the property: no element or attribute comes from a field -------------------------

MARK = "zqz"  # in the tag and attribute names of the generated markup
PIECES = [
    "<", ">", "&", "&amp;", "&lt;", "&#60;", '"', "'", "`", "``", "```", "~~~", "\\", "*", "_",
    "|", "#", "# ", "- ", "+ ", "1. ", "---", "===", "> ", "!!! note", "    ", "  \n",
    "{{ 7*7 }}", "{% if %}", "{{ cycler.__init__.__globals__ }}", "{: .x }", "{ data-x }",
    "<script>alert(1)</script>", "</title><script>alert(1)</script>", "</textarea>", "-->",
    "<!--", "<![CDATA[", "]]>", "](javascript:alert(1))", "[x](javascript:alert(1))",
    "![x](javascript:alert(1))", "<javascript:alert(1)>", "<https://example.com>",
    "[x]: javascript:alert(1)", '" onmouseover="alert(1)', "' onmouseover='alert(1)",
    f"<{MARK}a {MARK}b=1>", f'" {MARK}c="1', f"' {MARK}d='1", f"{{: {MARK}e=1 }}",
    f'<a {MARK}f href="javascript:alert(1)">', f"<img src=x {MARK}g onerror=alert(1)>",
    "\u202e", "\u200f", "\u2066", "\ufeff", "é", "—", "\U0001f600", "x" * 500,
]
LINE_BREAKS = ["\n", "\r\n", "\t", "\n```\n", "\n~~~\n", "\n---\n", "\n# h\n", "\n    code\n"]
CONTROLS = ["\x00", "\x01", "\x1b[31m", "\x7f", "\x85", "\u2028", "\ud800", "\x02wzxhzdk:0\x03"]


def hostile(extra: list[str]) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(PIECES + extra), st.text(max_size=4))
    return st.lists(piece, min_size=1, max_size=6).map("".join)


def one_line(value: str) -> str:
    """What a one-line field of project.yml or profile.yml accepts (the config refuses
    control characters there: a separate test)."""
    return "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cs", "Zl", "Zp"))


LINE = hostile([]).map(one_line)
PROSE = hostile(LINE_BREAKS).map(lambda v: "".join(
    c for c in v if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs", "Zl", "Zp")))
JSON_TEXT = hostile(LINE_BREAKS + CONTROLS)
URLS = st.sampled_from([
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java&#9;script:x",
    "vbscript:msgbox(1)", "data:text/html,<script>alert(1)</script>", "file:///etc/passwd",
    "javascript&#58;alert(1)", "https://example.com/a?b=1&c=\"d<e>'", "mailto:a@example.com",
    "cv/index.html?x=<y>", "//example.com/x"])

TEXT_FIELDS = {
    "project": ["title", "summary", "model", "dataset.name", "dataset.description",
                "dataset.licence", "dataset.citation", "metric.name", "tag",
                "model_card.intended_use", "model_card.limitations"],
    "profile": ["name", "headline", "bio", "label"],
    "metrics": ["project", "primary.split", "baseline.strategy", "baseline.split", "metric.name",
                "metric.split", "metric.model", "params.name", "params.key", "params.value",
                "finding.text", "interval.method"],
    "manifest": ["backend", "device", "version.key", "version.value", "finished",
                 "inputs.project.yml", "inputs.data"],
}
PROSE_FIELDS = {"dataset.description", "dataset.citation", "model_card.intended_use",
                "model_card.limitations", "bio"}
# The interval of the test score: (low, high, level, resamples), any finite numbers the
# record accepts.
NUMBER = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
INTERVALS = st.tuples(NUMBER, NUMBER, st.floats(min_value=0.001, max_value=0.999),
                      st.integers(min_value=1, max_value=10**12))
NEUTRAL_INTERVAL = (0.6, 0.9, 0.95, 1000)


def fill(root: Path, project: Path, values: dict[str, str], url: str,
         interval: tuple = NEUTRAL_INTERVAL) -> None:
    """Every text field of the portfolio set from values (field name -> text); the link URL is
    also the data card's source, `interval` the test score's."""
    p = {f: values[f"project.{f}"] for f in TEXT_FIELDS["project"]}
    set_project(project, **{k: v for k, v in p.items() if k not in ("tag",)},
                tags=[p["tag"]], **{"dataset.source": "file", "dataset.url": url})
    pr = {f: values[f"profile.{f}"] for f in TEXT_FIELDS["profile"]}
    set_profile(root, name=pr["name"], headline=pr["headline"], bio=pr["bio"],
                links=[{"label": pr["label"], "url": url}])
    m = {f: values[f"metrics.{f}"] for f in TEXT_FIELDS["metrics"]}
    metric = p["metric.name"]  # the project's metric: named alike everywhere

    def metrics(data):
        data["project"] = m["project"]
        data["primary"].update(name=metric, split=m["primary.split"])
        data["baseline"].update(name=metric, strategy=m["baseline.strategy"],
                                split=m["baseline.split"])
        data["metrics"] = [
            {"name": metric, "value": 0.75, "split": m["metric.split"], "model": m["metric.model"],
             "step": "05_present_results"},
            {"name": m["metric.name"], "value": 0.7, "split": m["metric.split"],
             "model": m["metric.model"], "step": "03_evaluate_algorithms",
             "spread": {"std": 0.1, "n": 2, "min": 0.6, "max": 0.8}}]
        data["params"] = [{"name": m["params.name"], "params": {m["params.key"]: m["params.value"]},
                           "step": "04_improve_results"}]
        low, high, level, n = interval
        data["primary"]["interval"] = data["metrics"][0]["interval"] = {
            "low": low, "high": high, "level": level, "n": n, "method": m["interval.method"]}
        data["findings"] = [{"text": m["finding.text"], "step": "03_evaluate_algorithms"},
                            {"text": m["finding.text"], "step": "05_present_results"}]

    edit_json(project / "export/metrics.json", metrics)
    mf = {f: values[f"manifest.{f}"] for f in TEXT_FIELDS["manifest"]}

    def manifest(data):
        data.update(backend=mf["backend"], device=mf["device"], finished=mf["finished"],
                    versions={mf["version.key"]: mf["version.value"]},
                    inputs={"project.yml": mf["inputs.project.yml"], "data": mf["inputs.data"]})

    edit_json(project / "export/manifest.json", manifest)


def structure(root: Path) -> dict[str, list]:
    """Each page's elements and attribute names, in order (a tag page under one name)."""
    site = root / "site"
    shapes = {}
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site).as_posix()
        rel = re.sub(r"^tags/[^/]+/", "tags/TAG/", rel)
        shapes[rel] = [(e.tag, sorted(name for name, _ in e.attrs))
                       for e in elements(path.read_text(encoding="utf-8"))]
    return shapes


def field_names() -> list[str]:
    return [f"{kind}.{f}" for kind, fs in TEXT_FIELDS.items() for f in fs]


def strategy_for(name: str) -> st.SearchStrategy[str]:
    field = name.split(".", 1)[1]
    if name.startswith(("metrics.", "manifest.")):
        return JSON_TEXT
    return PROSE if field in PROSE_FIELDS else LINE


def wrap(name: str, value: str, index: int) -> str:
    """The value between markers of its own; a title and a tag within the config's limits."""
    wrapped = f"w{index}w {value} w{index}w"
    limit = {"project.title": 190, "project.tag": 60}.get(name)
    return wrapped[:limit] if limit else wrapped


@pytest.fixture(scope="module")
def property_portfolio(tmp_path_factory) -> tuple[Path, Path, dict]:
    """One portfolio reused by every example, and the structure of its site when every field
    holds a neutral word (the same link URL as the example's)."""
    neutral_root = tmp_path_factory.mktemp("neutral") / "folio"
    neutral = make(neutral_root)
    root = tmp_path_factory.mktemp("hostile") / "folio"
    project = make(root)
    return root, project, {"neutral": (neutral_root, neutral), "shapes": {}}


def neutral_structure(cache: dict, url: str) -> dict[str, list]:
    if url not in cache["shapes"]:
        root, project = cache["neutral"]
        fill(root, project, {n: wrap(n, "plain", i) for i, n in enumerate(field_names())}, url)
        build(root)
        cache["shapes"][url] = structure(root)
    return cache["shapes"][url]


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(values=st.fixed_dictionaries({n: strategy_for(n) for n in field_names()}), url=URLS,
       interval=INTERVALS)
def test_no_element_or_attribute_comes_from_a_field(property_portfolio, values, url, interval):
    root, project, cache = property_portfolio
    expected = neutral_structure(cache, url)
    fill(root, project, {n: wrap(n, v, i) for i, (n, v) in enumerate(values.items())}, url,
         interval)
    build(root)
    assert site_problems(root) == []
    site = root / "site"
    for path in sorted(site.rglob("*.html")):
        for element in elements(path.read_text(encoding="utf-8")):
            assert MARK not in element.tag, (path, element)
            for name, value in element.attrs:
                assert MARK not in name, (path, element)
                if name in ("href", "src", "action", "formaction", "xlink:href"):
                    scheme = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", value)
                    assert not scheme or scheme.group(1) in ("http", "https", "mailto"), \
                        (path, element)
    assert structure(root) == expected
    # The search index holds each section's HTML, which Material's search shows as HTML.
    index = json.loads((site / "search/search_index.json").read_text(encoding="utf-8"))
    for doc in index["docs"]:
        for text in (doc["title"], doc["text"]):
            assert audit_html(text, "search/search_index.json") == []
            assert not [e for e in elements(text) if MARK in e.tag or e.tag not in (
                "p", "code", "ul", "ol", "li", "strong", "em", "table", "thead", "tbody", "tr",
                "th", "td", "pre", "span")], doc


# --- one test per case of the issue ------------------------------------------------------

TITLE = "</title><script>alert(1)</script>"
SITE_NAME = "Alex Morgan · deep learning portfolio"


def test_a_title_with_markup_is_text_in_title_meta_header_and_heading(evil):
    root, project = evil
    set_project(project, title=TITLE + " & {{ 7*7 }} `x`")
    build(root)
    html = page(root, "projects/evil/index.html")
    literal = "</title><script>alert(1)</script> & {{ 7*7 }} `x`"
    assert texts(html, "title") == [f"{literal} - {SITE_NAME}"]
    assert meta(html, "og:title") == literal
    assert meta(html, "twitter:title") == literal
    assert texts(html, "h1")[0].strip() == literal + "¶"
    assert texts(page(root, "index.html"), "a", href="projects/evil/")[-1] == literal
    assert texts(page(root, "projects/evil/05_present_results/index.html"), "title") == [
        f"{literal}: Present results - {SITE_NAME}"]
    assert site_problems(root) == []


def test_tags_with_markup_are_text(evil):
    root, project = evil
    tag = '<img src=x onerror=alert(1)>`'
    set_project(project, tags=[tag, "a|b"])
    build(root)
    home = page(root, "index.html")
    assert texts(home, "code") == [tag, "a|b"]
    assert texts(home, "button", **{"class": "pf-tag"}) == [tag, "a|b"]  # sorted, after "all"
    project_page = page(root, "projects/evil/index.html")
    assert [t for t in texts(project_page, "code")][:2] == [tag, "a|b"]
    assert texts(page(root, "tags/img-src-x-onerror-alert-1/index.html"), "h1")[0].strip() \
        == f"Projects tagged “{tag}”¶"
    assert site_problems(root) == []


def test_a_summary_stays_inside_the_meta_content(evil):
    root, project = evil
    summary = '"><script>alert(1)</script><meta name="x'
    set_project(project, summary=summary)
    build(root)
    html = page(root, "projects/evil/index.html")
    assert meta(html, "description") == summary
    assert meta(html, "og:description") == summary
    assert summary in texts(html, "p")
    assert [e.get("name") for e in elements(html) if e.tag == "meta"].count("x") == 0
    assert site_problems(root) == []


def test_a_profile_name_with_markup_is_text(evil):
    root, _ = evil
    name = "<script>alert(1)</script> *Ada*"
    set_profile(root, name=name)
    build(root)
    home, about = page(root, "index.html"), page(root, "about/index.html")
    assert texts(home, "title") == [f"{name} - {SITE_NAME}"]
    assert texts(home, "h1")[0].strip() == name + "¶"
    assert texts(about, "h1")[0].strip() == f"About {name}¶"
    assert meta(about, "og:title") == f"About {name}"
    assert site_problems(root) == []


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JAVASCRIPT:alert(1)",
                                 "  javascript:alert(1)", "java\nscript:alert(1)",
                                 "vbscript:msgbox(1)", "data:text/html,<script>alert(1)</script>"])
def test_a_profile_link_with_a_script_url_is_text_on_home_and_about(evil, url):
    root, _ = evil
    set_profile(root, links=[{"label": "Site", "url": url},
                             {"label": "Mail", "url": "mailto:a@example.com"},
                             {"label": "CV", "url": 'https://example.com/cv?a=1&b="2"'}])
    result = cli(root, "build")
    if "\n" in url:  # the config refuses a line break in a URL
        assert result.exit_code == 1
        assert "portfolio/profile.yml: field 'links.0.url': holds the control character " \
               "U+000A" in result.output
        return
    assert result.exit_code == 0, result.output
    for rel in ("index.html", "about/index.html"):
        html = page(root, rel)
        links = anchors(html)
        assert ("mailto:a@example.com", "Mail") in links
        assert ('https://example.com/cv?a=1&b="2"', "CV") in links
        assert [text for _, text in links].count("Site") == 0
        assert not any(href and unsafe_url(href) for href, _ in links)
        shown = texts(html, "p") if rel == "index.html" else texts(html, "li")
        assert any(text.startswith("Site") for text in shown)
    assert site_problems(root) == []


def test_a_dataset_name_cannot_close_the_model_cards_code_block(evil):
    root, project = evil
    set_project(project, **{"dataset.name": "D\n```\n<script>alert(1)</script>"})
    result = cli(root, "build")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "Error: portfolio/projects/evil/project.yml: field 'dataset.name': holds the control "
        "character U+000A; write it on one line without control characters; the site was left "
        "as it was")
    name = "D ``` <script>alert(1)</script> ````"
    set_project(project, **{"dataset.name": name})
    build(root)
    html = page(root, "projects/evil/index.html")
    [card] = texts(html, "code", **{"class": "language-yaml"})
    loaded = yaml.safe_load(card)
    assert loaded["model-index"] == [{"name": "evil", "results": [{
        "task": {"type": "tabular-classification", "name": "tabular-classification"},
        "dataset": {"name": name, "type": name},
        "metrics": [{"type": "accuracy", "value": 0.75, "name": "Accuracy (test)"}]}]}]
    assert loaded["datasets"] == [name]
    assert texts(html, "h2")[-1].strip() == "Metrics, model card and record of the run¶"
    assert site_problems(root) == []


def test_a_fence_is_longer_than_any_run_of_backticks_in_its_text():
    assert fence("a\n```\nb", "yaml") == "````yaml\na\n```\nb\n````\n"
    assert fence("plain") == "```\nplain\n```\n"


def test_a_recorded_split_with_markup_is_text_in_the_metrics_table(evil):
    root, project = evil
    split = "<script>alert(1)</script>|x"

    def record(data):
        data["metrics"].append({"name": "f1<b>", "value": 0.5, "split": split,
                                "model": "M\x00odel", "step": "03_evaluate_algorithms"})

    edit_json(project / "export/metrics.json", record)
    build(root)
    html = page(root, "projects/evil/index.html")
    cells = texts(html, "td")
    row = cells.index(split)
    assert cells[row - 2: row + 2] == ["Model", "f1<b>", split, "0.5"]  # NUL dropped
    assert site_problems(root) == []


def test_svg_figures_and_outputs_reach_the_site_cleaned(evil):
    root, project = evil
    # The cover (a thumbnail) is a raster image: the last step's first figure.
    from PIL import Image

    Image.new("RGB", (4, 4)).save(project / "export/figures/05_present_results-1.png")
    (project / "export/figures/03_evaluate_algorithms-1.svg").write_text(SCRIPT_SVG)
    notebook = project / "export/notebooks/03_evaluate_algorithms.ipynb"
    output_svg = SCRIPT_SVG.replace('r="2"', 'r="3"')  # not the figure's bytes: a file of its own

    def add(data):
        data["cells"][3]["outputs"] = [{"output_type": "display_data", "metadata": {},
                                        "data": {"image/svg+xml": output_svg}}]

    edit_json(notebook, add)
    build(root)
    figure = root / "site/projects/evil/figures/03_evaluate_algorithms-1.svg"
    assert figure.read_bytes() == CLEAN_SVG
    [output] = list((root / "site/projects/evil/03_evaluate_algorithms").glob("*.svg"))
    assert output.read_bytes() == CLEAN_SVG.replace(b'r="2"', b'r="3"')
    result = cli(root, "check")
    assert (result.exit_code, result.output) == (0, "no findings\n")


# --- clean_svg -------------------------------------------------------------------------

def test_clean_svg_drops_script_handlers_foreign_content_and_outside_references():
    assert clean_svg(SCRIPT_SVG.encode()) == CLEAN_SVG


@pytest.mark.parametrize("data", [
    b'<!DOCTYPE svg [<!ENTITY a "<script>alert(1)</script>">]>'
    b'<svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
    b'<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>',
    b'<svg xmlns="http://www.w3.org/2000/svg"><rect',  # truncated
    b"<html><script>alert(1)</script></html>",  # not an SVG
    b"<svg><script>alert(1)</script></svg>",  # no SVG namespace: no browser draws it
    b"\xff\xfe not xml",
])
def test_clean_svg_refuses_what_is_not_a_plain_svg_document(data):
    assert clean_svg(data) is None


def test_clean_svg_keeps_a_matplotlib_figure_whole():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], marker="o", label="line")
    ax.imshow(np.arange(16).reshape(4, 4), extent=(0, 1, 0, 1))
    ax.boxplot([np.arange(10)])
    ax.legend()
    ax.set_title("tête")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    original = buffer.getvalue()
    cleaned = clean_svg(original)
    assert cleaned is not None

    def drawn(data: bytes) -> dict[str, int]:
        counts: dict[str, int] = {}
        for tag in re.findall(rb"<([a-zA-Z]+)[\s/>]", data):
            counts[tag.decode()] = counts.get(tag.decode(), 0) + 1
        return counts

    kept = drawn(original)
    del kept["metadata"]  # not drawn: the RDF block of the creator and date
    assert drawn(cleaned) == kept
    assert cleaned.count(b"xlink:href=\"#") == original.count(b"xlink:href=\"#")
    assert cleaned.count(b"data:image/png;base64,") == 1
    assert clean_svg(cleaned) == cleaned


# --- the text sinks ----------------------------------------------------------------------

def test_markdown_text_keeps_characters_and_removes_syntax():
    assert md_text("1. a *b* `c` [d](e) <f> & | # {g}\n\x00h") == (
        "&#49;. a &#42;b&#42; &#96;c&#96; &#91;d&#93;(e) &lt;f&gt; &amp; &#124; &#35; "
        "&#123;g&#125; h")
    assert md_text("- item") == "&#45; item"
    assert md_text("3.11 and 2024") == "3.11 and 2024"


@pytest.mark.parametrize(("url", "kept"), [
    ("https://example.com/a?b=1&c=2", "https://example.com/a?b=1&c=2"),
    ("mailto:a@example.com", "mailto:a@example.com"),
    ("cv.pdf", "cv.pdf"),
    ("javascript&#58;alert(1)", "javascript&#58;alert(1)"),  # a relative path: its & is escaped
    ("javascript:alert(1)", None), ("JavaScript:alert(1)", None),
    ("\x01 javascript:alert(1)", None), ("jav\tascript:alert(1)", None),
    ("vbscript:x", None), ("data:text/html,x", None), ("file:///etc/passwd", None),
])
def test_only_http_https_mailto_and_relative_urls_survive(url, kept):
    assert safe_url(url) == kept


# --- portfolio check ---------------------------------------------------------------------

def test_check_finds_script_in_a_page_and_in_an_svg_file(evil):
    root, _ = evil
    build(root)
    about = root / "site/about/index.html"
    about.write_text(about.read_text().replace(
        "</article>", '<script>alert(1)</script><p onclick="x()">y</p>'
                      '<a href=" javascript:alert(2)">z</a><iframe src="https://e.com"></iframe>'
                      "</article>"))
    (root / "site/assets/drawing.svg").write_text(SCRIPT_SVG)
    result = cli(root, "check")
    assert result.exit_code == 1
    runs = "it would run script in a visitor's browser"
    assert result.output.splitlines() == [
        f"site/about/index.html: <script> that is not the theme's (alert(1)), {runs}",
        f"site/about/index.html: an event handler (onclick=) on <p>, {runs}",
        f"site/about/index.html: a javascript: URL in href= on <a>, {runs}",
        "site/about/index.html: a <iframe> element, it would load another document into the page",
        f"site/assets/drawing.svg: an event handler (onload=) on <svg>, {runs}",
        f"site/assets/drawing.svg: <script> that is not the theme's (alert(2)), {runs}",
        f"site/assets/drawing.svg: a javascript: URL in href= on <a>, {runs}",
        f"site/assets/drawing.svg: an event handler (onclick=) on <rect>, {runs}",
        "site/assets/drawing.svg: a <foreignobject> element, it would load another document "
        "into the page",
        f"site/assets/drawing.svg: an event handler (onerror=) on <img>, {runs}",
        "Error: 10 finding(s) (unsafe-html)",
    ]


def test_only_the_themes_own_inline_scripts_pass_the_audit():
    scope = ('__md_scope=new URL("../..",location),__md_hash=e=>[...e].reduce(((e,_)=>(e<<5)-e+'
             '_.charCodeAt(0)),0),__md_get=(e,_=localStorage,t=__md_scope)=>JSON.parse(_.getItem('
             't.pathname+"."+e)),__md_set=(e,_,t=localStorage,a=__md_scope)=>{try{t.setItem('
             'a.pathname+"."+e,JSON.stringify(_))}catch(e){}}')
    assert audit_html(f"<script>{scope}</script>", "projects/a/index.html") == []
    escaped = scope.replace('"../.."', '"",alert(1),"')  # code where the template has a value
    assert [p.what for p in audit_html(f"<script>{escaped}</script>", "a/index.html")] == [
        "<script> that is not the theme's (__md_scope=new URL(\"\",alert(1),\",locatio…)"]
    assert audit_html('<script type="application/json">{"a": 1}</script>'
                      '<script src="../assets/portfolio.js"></script>', "about/index.html") == []
    assert [p.what for p in audit_html('<script src="../../assets/x.js"></script>',
                                       "about/index.html")] == [
        "<script> from ../../assets/x.js"]


def test_check_refuses_an_svg_that_declares_entities(evil):
    root, _ = evil
    build(root)
    (root / "site/assets/bomb.svg").write_bytes(
        b'<!DOCTYPE svg [<!ENTITY a "x">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>')
    assert cli(root, "check").output.splitlines()[0] == (
        "site/assets/bomb.svg: an SVG file that is not well-formed XML or declares entities, "
        "a browser may read script into it that no check sees")


def test_html_outputs_in_a_notebook_file_are_not_findings(evil):
    """The site shows them cleaned and check audits the site; the file itself is inert."""
    root, project = evil

    def add(data):
        data["cells"][3]["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {
            "text/html": '<div onclick="x()"><script>alert(1)</script>estimator</div>'}}]

    edit_json(project / "export/notebooks/04_improve_results.ipynb", add)
    build(root)
    assert "estimator" in page(root, "projects/evil/04_improve_results/index.html")
    result = cli(root, "check")
    assert (result.exit_code, result.output) == (0, "no findings\n")


@pytest.mark.parametrize("case", ["truncated export", "truncated source", "not a notebook",
                                  "corrupt manifest", "corrupt metrics", "metrics of another shape"])
def test_check_names_a_file_it_cannot_read_in_one_line(evil, case):
    root, project = evil
    path, content, line = {
        "truncated export": ("export/notebooks/02_prepare_data.ipynb", '{"cells": [',
                             "not a valid notebook (Expecting value: line 1 column 12 (char 11))"),
        "truncated source": ("notebooks/02_prepare_data.ipynb", '{"cells": [{"cell_type"',
                             "not a valid notebook (Expecting ':' delimiter: line 1 column 24 "
                             "(char 23))"),
        "not a notebook": ("export/notebooks/01_define_problem.ipynb", "[]",
                           "not a valid notebook (no 'nbformat' version)"),
        "corrupt manifest": ("export/manifest.json", '{"schema_version": 1,',
                             "not valid JSON (Expecting property name enclosed in double quotes: "
                             "line 1 column 22 (char 21))"),
        "corrupt metrics": ("export/metrics.json", "", "not valid JSON (Expecting value: line 1 "
                            "column 1 (char 0))"),
        "metrics of another shape": ("export/metrics.json", "[1, 2]",
                                     "expected a JSON object, found list"),
    }[case]
    (project / path).write_text(content)
    result = cli(root, "check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"portfolio/projects/evil/{path}: {line}, ")
    assert lines[-1].startswith("Error: ")
    assert "Traceback" not in result.output


def test_a_truncated_exported_notebook_fails_the_build_in_one_line(evil):
    root, project = evil
    (project / "export/notebooks/03_evaluate_algorithms.ipynb").write_text('{"cells": [')
    result = cli(root, "build")
    assert result.exit_code == 1
    assert result.output == (
        "Error: portfolio/projects/evil/export/notebooks/03_evaluate_algorithms.ipynb: not a valid "
        "notebook (Expecting value: line 1 column 12 (char 11))\n")


def test_the_shipped_portfolio_passes_its_own_check(tmp_path):
    root = tmp_path / "shipped"
    root.mkdir()
    shutil.copytree(REPO / "portfolio", root / "portfolio",
                    ignore=shutil.ignore_patterns(".portfolio", "prepared", "artifacts"))
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    build(root)
    result = cli(root, "check")
    # The diabetes data's licence is not stated anywhere we know of: a warning, not a finding.
    assert (result.exit_code, result.stdout) == (0, "no findings\n")
    assert result.stderr == (
        "warning: portfolio/projects/diabetes-mlp/project.yml: the data card names no licence "
        "(dataset.licence), readers cannot tell whether the data may be used\n")
    # ... and publishes without --force (publish checks first).
    from .test_publish import _repo_with_remote, git

    bare = _repo_with_remote(root, tmp_path)
    result = cli(root, "publish")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"site is up to date\npublished \d+ files to origin/gh-pages\n",
                        result.output)
    assert "projects/breast-cancer-mlp/index.html" in git(bare, "ls-tree", "-r", "--name-only",
                                                          "gh-pages").splitlines()


def test_setup_makes_scikit_learn_display_estimators_as_text():
    import sklearn

    from site_builder import notebook as pf

    before = sklearn.get_config()["display"]
    try:
        sklearn.set_config(display="diagram")
        pf.quiet()
        from sklearn.linear_model import LogisticRegression

        assert list(LogisticRegression()._repr_mimebundle_()) == ["text/plain"]
    finally:
        sklearn.set_config(display=before)
