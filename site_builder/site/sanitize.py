"""Untrusted HTML from notebooks (Markdown cells and outputs) made inert, images made files.

Everything that reaches a page from a notebook goes through `clean_html`: no <script>, no
event handler, no javascript: URL, no inline style survives; tables, images and text do.
Every SVG file the site serves goes through `clean_svg`: opened on its own URL an SVG is a
document that runs its scripts, so only drawing elements and local references survive.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from urllib.parse import quote
from xml.etree import ElementTree

import markdown as md
import nh3

TAGS = set(nh3.ALLOWED_TAGS) | {"figure", "figcaption", "details", "summary"}
ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"class", "title", "lang", "dir"},
    "img": {"alt", "src", "width", "height", "title"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "td": {"colspan", "rowspan", "align"},
}
URL_SCHEMES = {"http", "https", "mailto"}
_DATA_URI = re.compile(
    r"""(src|href)\s*=\s*(["'])data:(image/(?:png|jpeg|gif|svg\+xml));base64,([A-Za-z0-9+/=\s]+)\2""",
    re.IGNORECASE,
)
_HEADING = re.compile(r"<(/?)h([1-6])\b")
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/svg+xml": "svg"}

# Writes an asset (bytes, file extension) and returns the URL the page links to.
AssetSink = Callable[[bytes, str], str]


def asset_name(data: bytes, ext: str) -> str:
    return f"{hashlib.sha256(data).hexdigest()[:16]}.{ext}"


def extract_data_uris(text: str, sink: AssetSink) -> str:
    """Turn base64 data: URIs of images into files the page links to."""

    def replace(match: re.Match) -> str:
        try:
            data: bytes | None = base64.b64decode(re.sub(r"\s+", "", match.group(4)), validate=True)
        except ValueError:
            return f'{match.group(1)}=""'
        ext = EXTENSIONS[match.group(3).lower()]
        if ext == "svg":
            data = clean_svg(data)
        return f'{match.group(1)}="{sink(data, ext) if data is not None else ""}"'

    return _DATA_URI.sub(replace, text)


def clean_html(text: str, sink: AssetSink | None = None) -> str:
    if sink is not None:
        text = extract_data_uris(text, sink)
    return nh3.clean(
        text,
        tags=TAGS,
        clean_content_tags={"script", "style"},
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


_MARKDOWN: list[md.Markdown] = []


def _markdown() -> md.Markdown:
    """One converter, reset before each use: making one per call costs more than converting."""
    if not _MARKDOWN:
        _MARKDOWN.append(md.Markdown(extensions=["tables", "fenced_code", "sane_lists"]))
    return _MARKDOWN[0]


def markdown_to_html(text: str, sink: AssetSink | None = None, shift: int = 0) -> str:
    """Notebook Markdown to safe HTML; `shift` demotes headings (h1 -> h1+shift)."""
    rendered = _markdown().reset().convert(text)
    return shift_headings(clean_html(rendered, sink), shift)


def shift_headings(html_text: str, shift: int) -> str:
    """Headings moved `shift` levels down (h1 -> h1+shift, at most h6)."""
    if not shift:
        return html_text
    return _HEADING.sub(lambda m: f"<{m.group(1)}h{min(6, int(m.group(2)) + shift)}", html_text)


# Characters no page should carry: C0/C1 controls (NUL among them: HTML turns it into U+FFFD,
# YAML cannot hold it raw) and lone surrogates (not encodable as UTF-8). Tab, newline and
# carriage return stay.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Python-Markdown looks for fenced code blocks (``` or ~~~ at the start of a line) before it
# sets HTML blocks aside, so HTML placed in a page carries these two as character references.
_FENCE_CHARS = str.maketrans({"`": "&#96;", "~": "&#126;"})
# Markdown syntax characters, and '&' (so that text such as '&lt;' reads as typed).
_MARKDOWN_CHARS = {c: f"&#{ord(c)};" for c in "\\`*_{}[]<>#|!~"} | {
    "&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MARKDOWN_TABLE = str.maketrans(_MARKDOWN_CHARS)
_HTML_TABLE = str.maketrans(_MARKDOWN_CHARS | {'"': "&quot;", "'": "&#x27;"})
_BLOCK_START = re.compile(r"[-+=]|\d+\.(?:\s|$)")
_URL_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")


def plain(text: str) -> str:
    """Untrusted text without control characters, its lines and runs of spaces made one."""
    return " ".join(_CONTROL.sub("", str(text)).split())


def escape(text: str) -> str:
    """Untrusted text as HTML text or as a quoted attribute's value, in a page that passes
    through Markdown: HTML that Markdown leaves alone as a block, or reads as a paragraph
    (an inline <svg> is one), where its link, emphasis and code syntax would otherwise make
    elements inside an attribute. Every syntax character is a character reference."""
    return _CONTROL.sub("", str(text)).translate(_HTML_TABLE)


def inert_in_markdown(html_text: str) -> str:
    """HTML made safe to place in a Markdown page: no line of it opens a fenced code block."""
    return html_text.translate(_FENCE_CHARS)


def md_text(text: str) -> str:
    """Untrusted text as Markdown inline text, also in a table cell: on one line, every
    syntax character a character reference (no HTML, link, emphasis, code span, attribute
    list or cell border can come of it), and a first character that would start a list or
    a rule (`- `, `+ `, `1. `, `---`, `===`) one too."""
    text = plain(text).translate(_MARKDOWN_TABLE)
    if _BLOCK_START.match(text):
        text = f"&#{ord(text[0])};{text[1:]}"
    return text


def safe_url(url: str) -> str | None:
    """A link from a user's file, or None where a browser would not just navigate to it: only
    http, https, mailto and relative URLs pass. Browsers drop tabs and newlines anywhere in
    a URL and controls and spaces around it, so the scheme is read as they read it."""
    url = re.sub("[\t\n\r]", "", str(url)).strip("".join(map(chr, range(0x21))))
    scheme = _URL_SCHEME.match(url)
    if scheme and scheme.group(1).lower() not in URL_SCHEMES:
        return None
    return _CONTROL.sub("", url)


def link(label: str, url: str) -> str:
    """A link from a user's file as inline HTML in Markdown; an unsafe URL leaves the label
    as text."""
    target = safe_url(url)
    if target is None:
        return md_text(label)
    return f'<a href="{escape(target)}">{md_text(label)}</a>'


def url_path(path: str) -> str:
    """A file path (from a file name or a user's field) as a relative URL in Markdown: every
    character that is not a plain path character percent-encoded, so no scheme, query or
    Markdown syntax can come of it."""
    return quote(_CONTROL.sub("", str(path)), safe="/")


def fence(text: str, language: str = "") -> str:
    """Untrusted text as a fenced code block: the fence is longer than any run of backticks
    in the text, so no line of it can close the block."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{_CONTROL.sub('', text).rstrip(chr(10))}\n{ticks}\n"


SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
# What matplotlib and ordinary drawing programs write; no script, foreignObject, animation
# (<set>/<animate> can rewrite an href) or metadata (not drawn).
SVG_ELEMENTS = {
    "svg", "g", "defs", "symbol", "use", "path", "rect", "circle", "ellipse", "line",
    "polyline", "polygon", "text", "tspan", "textPath", "title", "desc", "clipPath", "mask",
    "pattern", "marker", "linearGradient", "radialGradient", "stop", "image", "style", "a",
    "filter", "feBlend", "feColorMatrix", "feComposite", "feFlood", "feGaussianBlur",
    "feMerge", "feMergeNode", "feMorphology", "feOffset",
}
SVG_ATTRIBUTES = {
    "id", "class", "style", "transform", "version", "width", "height", "viewBox",
    "preserveAspectRatio", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry",
    "fx", "fy", "d", "points", "pathLength", "dx", "dy", "rotate", "textLength",
    "lengthAdjust", "startOffset", "text-anchor", "dominant-baseline", "alignment-baseline",
    "baseline-shift", "font-family", "font-size", "font-style", "font-weight", "font-variant",
    "letter-spacing", "word-spacing", "writing-mode", "direction", "fill", "fill-opacity",
    "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap",
    "stroke-linejoin", "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset",
    "opacity", "color", "visibility", "display", "overflow", "clip-path", "clip-rule",
    "clipPathUnits", "mask", "maskUnits", "maskContentUnits", "filter", "filterUnits",
    "primitiveUnits", "in", "in2", "result", "stdDeviation", "mode", "operator", "values",
    "k1", "k2", "k3", "k4", "radius", "flood-color", "flood-opacity", "gradientUnits",
    "gradientTransform", "spreadMethod", "offset", "stop-color", "stop-opacity",
    "patternUnits", "patternContentUnits", "patternTransform", "markerWidth", "markerHeight",
    "markerUnits", "refX", "refY", "orient", "marker-start", "marker-mid", "marker-end",
    "image-rendering", "shape-rendering", "text-rendering", "color-interpolation-filters",
    "vector-effect", "type", "media", "href", f"{{{XLINK_NS}}}href", f"{{{XML_NS}}}space",
    "role", "aria-label", "aria-hidden", "lang", f"{{{XML_NS}}}lang",
}
_LOCAL_HREF = re.compile(r"#[\w.:-]*|data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*")
# CSS cannot run script, but url() and @import fetch: only references inside the file pass.
_CSS_FETCH = re.compile(r"@import|url\(\s*(?![\s'\"]*#)", re.IGNORECASE)


def _clean_svg_element(element: ElementTree.Element) -> None:
    for child in list(element):
        namespace, _, name = child.tag.rpartition("}")
        if namespace != "{" + SVG_NS or name not in SVG_ELEMENTS:
            element.remove(child)
            continue
        _clean_svg_element(child)
    for key, value in list(element.attrib.items()):
        href = key in ("href", f"{{{XLINK_NS}}}href")
        if (key not in SVG_ATTRIBUTES or (href and not _LOCAL_HREF.fullmatch(value.strip()))
                or _CSS_FETCH.search(value)):
            del element.attrib[key]
    if element.tag == f"{{{SVG_NS}}}style" and _CSS_FETCH.search(element.text or ""):
        element.text = ""


def clean_svg(data: bytes) -> bytes | None:
    """The SVG with only drawing elements and attributes left, or None where it is not an
    SVG document: not well-formed XML, entity declarations (defusedxml refuses them: entity
    expansion bombs, external entities), or a root that is not <svg>. A DOCTYPE without
    entities (matplotlib writes one) is allowed and dropped."""
    import defusedxml.ElementTree

    try:
        root = defusedxml.ElementTree.fromstring(data)
    except (ElementTree.ParseError, ValueError):
        return None
    if root.tag != f"{{{SVG_NS}}}svg":
        return None
    _clean_svg_element(root)
    ElementTree.register_namespace("", SVG_NS)
    ElementTree.register_namespace("xlink", XLINK_NS)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
