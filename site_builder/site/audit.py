"""What in a built page or SVG file could run script or embed another document: one HTML
parser over every element and attribute, for `portfolio check` and the tests.

Script the site may run is the theme's own: external scripts under the site's assets/,
`<script type="application/json">` data blocks (Material's configuration; browsers do not
execute them), and the inline scripts of Material's templates. Those are recognised by their
text as the installed Material templates write it: each inline `<script>` of the templates
(partials/javascripts/*.html and the like) is a pattern, literal except where the template
puts a value inside a JavaScript string ("{{ base_url }}"), where any text that cannot end
that string matches. A template script with any other Jinja in it is not recognised.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .sanitize import clean_svg

# Elements that embed another document or change where the page's relative URLs point.
EMBEDDING = {"iframe", "frame", "frameset", "object", "embed", "applet", "foreignobject", "base"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "data",
                  "background", "cite", "ping"}
SAFE_DATA = re.compile(r"data:image/(?:png|jpeg|gif|webp|avif|bmp|svg\+xml)[;,]", re.IGNORECASE)
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):", re.IGNORECASE)
# Browsers drop controls and spaces around a URL and tabs and newlines inside it.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")
RUNS = "it would run script in a visitor's browser"
EMBEDS = "it would load another document into the page"


@dataclass
class Element:
    tag: str
    attrs: list[tuple[str, str]]
    text: str = ""  # the content of a <script> or <style>

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.attrs if key == name), None)


@dataclass(frozen=True)
class Problem:
    what: str
    why: str


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: Element | None = None

    def handle_starttag(self, tag, attrs):
        element = Element(tag, [(key, value or "") for key, value in attrs])
        self.elements.append(element)
        if tag in ("script", "style"):
            self._open = element

    def handle_startendtag(self, tag, attrs):
        self.elements.append(Element(tag, [(key, value or "") for key, value in attrs]))

    def handle_data(self, data):
        if self._open is not None:
            self._open.text += data

    def handle_endtag(self, tag):
        self._open = None


def elements(text: str) -> list[Element]:
    """Every element of an HTML (or SVG) text, in document order, attributes decoded."""
    parser = _Parser()
    parser.feed(text)
    parser.close()
    return parser.elements


@lru_cache(maxsize=1)
def theme_scripts() -> tuple[re.Pattern, ...]:
    import material

    templates = Path(material.__file__).parent / "templates"
    patterns = []
    for path in sorted(templates.rglob("*.html")):
        for body in re.findall(r"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>",
                               path.read_text(encoding="utf-8"), re.S):
            parts = re.split(r"\{\{.*?\}\}", body)
            inside_strings = all(a.endswith('"') and b.startswith('"')
                                 for a, b in zip(parts, parts[1:], strict=False))
            if "{%" in body or "{#" in body or not inside_strings:
                continue
            patterns.append(re.compile(r'[^"\\<\n]*'.join(map(re.escape, parts))))
    return tuple(patterns)


def unsafe_url(value: str) -> str | None:
    """The scheme of a URL that runs script or shows a document of its own (javascript:,
    vbscript:, data: other than an image), as a browser reads it; None for any other."""
    url = _URL_NOISE.sub("", value)
    scheme = _SCHEME.match(url)
    if not scheme:
        return None
    name = scheme.group(1).lower()
    if name in ("javascript", "vbscript") or (name == "data" and not SAFE_DATA.match(url)):
        return name
    return None


def _script(element: Element, page: str) -> Problem | None:
    src = element.get("src")
    if src is not None:
        url = urlsplit(src)
        path = unquote(url.path)
        # A path from the server's root (the 404 page's) starts with the site's own path:
        # nothing, or the repository's name on GitHub Pages.
        targets = ([path[1:], re.sub(r"^/[^/]+/", "", path)] if path.startswith("/")
                   else [posixpath.normpath(posixpath.join(posixpath.dirname(page), path))])
        if not url.scheme and not url.netloc and any(t.startswith("assets/") for t in targets):
            return None
        return Problem(f"<script> from {src}", f"{RUNS}, and only the theme's scripts "
                       "under assets/ belong in the site")
    if (element.get("type") or "").strip().lower() == "application/json":
        return None
    if any(pattern.fullmatch(element.text) for pattern in theme_scripts()):
        return None
    excerpt = " ".join(element.text.split())
    excerpt = excerpt if len(excerpt) <= 40 else excerpt[:40] + "…"
    return Problem(f"<script> that is not the theme's ({excerpt})", RUNS)


def audit_elements(found: list[Element], page: str) -> list[Problem]:
    """What in these elements could run script or embed a document; `page` is the file's
    path from the site's root (a script's src is resolved from it)."""
    problems = []
    for element in found:
        tag = element.tag
        if tag == "script":
            problem = _script(element, page)
            if problem:
                problems.append(problem)
        elif tag in EMBEDDING:
            problems.append(Problem(f"a <{tag}> element", EMBEDS))
        for name, value in element.attrs:
            if name.startswith("on"):
                problems.append(Problem(f"an event handler ({name}=) on <{tag}>", RUNS))
            elif name == "srcdoc":
                problems.append(Problem(f"a document in srcdoc= on <{tag}>", EMBEDS))
            elif name in URL_ATTRIBUTES or (tag in ("animate", "set") and
                                            name in ("to", "from", "values")):
                scheme = unsafe_url(value)
                if scheme:
                    problems.append(Problem(f"a {scheme}: URL in {name}= on <{tag}>", RUNS))
    return problems


def audit_html(text: str, page: str) -> list[Problem]:
    return audit_elements(elements(text), page)


def audit_svg(data: bytes, page: str) -> list[Problem]:
    """An SVG file opened on its own URL is a document that runs its scripts; one that is not
    well-formed XML or declares entities (the browser expands them, the parser here does
    not) cannot be read the way a browser reads it."""
    if clean_svg(data) is None:
        return [Problem("an SVG file that is not well-formed XML or declares entities",
                        "a browser may read script into it that no check sees")]
    return audit_html(data.decode("utf-8", errors="replace"), page)

