"""Untrusted HTML from notebooks (Markdown cells and outputs) made inert, images made files.

Everything that reaches a page from a notebook goes through `clean_html`: no <script>, no
event handler, no javascript: URL, no inline style survives; tables, images and text do.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable

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
            data = base64.b64decode(re.sub(r"\s+", "", match.group(4)), validate=True)
        except ValueError:
            return f'{match.group(1)}=""'
        return f'{match.group(1)}="{sink(data, EXTENSIONS[match.group(3).lower()])}"'

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


def escape(text: str) -> str:
    return html.escape(text, quote=True)
