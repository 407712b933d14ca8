"""An executed notebook as one light, safe HTML fragment: code highlighted, outputs
sanitized, images written as files, long outputs cut with a note."""

from __future__ import annotations

import base64
import itertools
import json
import re
from functools import lru_cache
from typing import TYPE_CHECKING

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from ..errors import PortfolioError
from ..export import IMAGE_TYPES
from .sanitize import (
    AssetSink,
    clean_html,
    clean_svg,
    escape,
    markdown_to_html,
    shift_headings,
)

if TYPE_CHECKING:
    import nbformat

MAX_LINES = 60
END_MARKER = "<!-- end of notebook -->"
MAX_HTML_CHARS = 60_000
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_HEADING_MD = re.compile(r"^ {0,3}(#{1,6})[ \t]", re.M)
_ATTACHMENT = re.compile(r"attachment:([^)\s\"']+)")
_FORMATTER = HtmlFormatter(nowrap=True)
_LEXER = PythonLexer()
# Priority of display formats, richest safe one first.
_ORDER = ("image/png", "image/jpeg", "image/svg+xml", "text/html", "text/markdown",
          "text/latex", "text/plain")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _cut(text: str, what: str) -> str:
    lines = text.splitlines()
    if len(lines) <= MAX_LINES:
        return f'<pre class="nb-{what}">{escape(text)}</pre>'
    shown = "\n".join(lines[:MAX_LINES])
    note = (f'<p class="nb-cut">… {len(lines) - MAX_LINES} more lines not shown here; '
            "the notebook file has the full output.</p>")
    return f'<pre class="nb-{what}">{escape(shown)}</pre>{note}'


def _decode(data: str, mime: str) -> bytes | None:
    if mime == "image/svg+xml":
        return data.encode()
    if any(c in data for c in " \n\r\t"):
        data = "".join(data.split())  # (a regular expression is slow on a large image)
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        return None


def _image(data: str, mime: str, sink: AssetSink, alt: str) -> str:
    raw = _decode(data, mime)
    if raw is None:
        return '<p class="nb-cut">An image output that is not valid base64 is not shown.</p>'
    if mime == "image/svg+xml":
        raw = clean_svg(raw)
        if raw is None:
            return '<p class="nb-cut">An SVG output that is not a well-formed SVG document is not shown.</p>'
    return f'<img src="{sink(raw, IMAGE_TYPES[mime])}" alt="{escape(alt)}" loading="lazy">'


def _display(output: dict, sink: AssetSink, alt: str) -> str:
    data = output.get("data", {})
    for mime in _ORDER:
        if mime not in data:
            continue
        value = _text(data[mime])
        if mime.startswith("image/"):
            return _image(value, mime, sink, alt)
        if mime == "text/html":
            if len(value) > MAX_HTML_CHARS:
                return (f'<p class="nb-cut">An HTML output of {len(value) // 1000} kB is not '
                        "shown here; the notebook file has it.</p>")
            return f'<div class="nb-html">{clean_html(value, sink)}</div>'
        if mime == "text/markdown":
            return f'<div class="nb-markdown">{markdown_to_html(value, sink)}</div>'
        return _cut(value, "text")
    return ""


def render_output(output: dict, sink: AssetSink, alt: str) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        # Colour codes are for a terminal: on a page they would show as text ("[31m").
        return _cut(_ANSI.sub("", _text(output.get("text", ""))),
                    "stderr" if output.get("name") == "stderr" else "stream")
    if kind == "error":
        trace = _ANSI.sub("", "\n".join(output.get("traceback", [])))
        trace = trace or f"{output.get('ename')}: {output.get('evalue')}"
        return _cut(trace, "error")
    if kind in ("display_data", "execute_result"):
        return _display(output, sink, alt)
    return ""


def _markdown_cell(cell, sink: AssetSink) -> str:
    """A Markdown cell as safe HTML, its headings as written, its attachments as files."""
    source = _text(cell.get("source", ""))
    attachments = cell.get("attachments", {}) or {}

    def attach(match: re.Match) -> str:
        bundle = attachments.get(match.group(1), {})
        for mime, ext in (("image/png", "png"), ("image/jpeg", "jpg"), ("image/gif", "gif"),
                          ("image/svg+xml", "svg")):
            raw = _decode(_text(bundle[mime]), mime) if mime in bundle else None
            if raw is not None:
                return sink(raw, ext)
        return ""

    source = _ATTACHMENT.sub(attach, source)
    return markdown_to_html(source, sink)


def markdown_cells(notebook: dict, sink: AssetSink) -> list[tuple[str, bool]]:
    """Each Markdown cell as safe HTML, and whether it links to files it wrote with `sink`
    (HTML that only reads well next to the notebook's page). Converted once, for both the
    notebook's page and the project page's narrative."""
    cells = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            wrote = []

            def tracking(data: bytes, ext: str, _wrote: list = wrote) -> str:
                _wrote.append(ext)
                return sink(data, ext)

            cells.append((_markdown_cell(cell, tracking), bool(wrote)))
    return cells


# Step 5's error analysis: the Markdown cell whose first line is this heading, and what follows
# it up to the next heading of level 1 or 2.
ERROR_ANALYSIS = "## Error analysis"
_PART_END = re.compile(r"^ {0,3}#{1,2}[ \t]", re.M)
_HEADING_TEXT = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def error_analysis_cells(notebook: dict) -> tuple[int, int, str] | None:
    """Where the notebook's error analysis is: (the index of its heading cell, the index of
    the cell that ends it, the Markdown that cell holds before its heading), or None."""
    cells = notebook.get("cells", [])
    start = next((i for i, cell in enumerate(cells) if cell.get("cell_type") == "markdown"
                  and _text(cell.get("source", "")).split("\n", 1)[0].rstrip() == ERROR_ANALYSIS),
                 None)
    if start is None:
        return None
    for stop in range(start + 1, len(cells)):
        source = _text(cells[stop].get("source", ""))
        end = _PART_END.search(source) if cells[stop].get("cell_type") == "markdown" else None
        if end:
            return start, stop, source[:end.start()]
    return start, len(cells), ""


def render_error_analysis(notebook: dict, sink: AssetSink, title: str) -> str | None:
    """The notebook's error analysis as one safe HTML fragment: its Markdown (without the
    heading) and the outputs of its code cells (the code itself is in the notebook), images as
    files through `sink`, each with the heading it sits under as alt text. None where the
    notebook has no error analysis."""
    found = error_analysis_cells(notebook)
    if found is None:
        return None
    start, stop, tail = found
    cells = notebook["cells"]
    parts, caption, figure = [], "", 0

    def markdown(cell: dict, source: str) -> None:
        nonlocal caption
        headings = _HEADING_TEXT.findall(source)
        caption = headings[-1].strip() if headings else caption
        if source.strip():
            parts.append(_markdown_cell({**cell, "source": source}, sink))

    markdown(cells[start], _text(cells[start].get("source", "")).partition("\n")[2])
    for cell in cells[start + 1:stop]:
        if cell.get("cell_type") == "markdown":
            markdown(cell, _text(cell.get("source", "")))
        elif cell.get("cell_type") == "code":
            for output in cell.get("outputs", []):
                if any(m.startswith("image/") for m in output.get("data", {})):
                    figure += 1
                alt = caption or f"{title}, figure {figure}"
                rendered = render_output(output, sink, alt)
                if rendered:
                    parts.append(f'<div class="nb-output">{label_cells(rendered)}</div>')
    if stop < len(cells) and tail.strip():
        markdown(cells[stop], tail)
    html = "\n".join(parts)
    levels = [int(level) for level in re.findall(r"<h([1-6])\b", html)]
    return shift_headings(html, 3 - min(levels)) if levels else html


_TABLE = re.compile(r"<table\b.*?</table>", re.S)
# A table of more columns than this (the index included) shows each row as a block of
# labelled values (class pf-wide).
WIDE_TABLE = 6
_THEAD = re.compile(r"<thead\b.*?</thead>", re.S)
_ROW = re.compile(r"(<tr\b[^>]*>)(.*?)(</tr>)", re.S)
_CELL = re.compile(r"<(t[hd])\b([^>]*)>(.*?)</\1>", re.S)


def label_cells(html: str) -> str:
    """Each body cell of the (sanitized) tables in html labelled with its column's heading
    (`data-label`, the last header row's text), so that a narrow screen can show each row
    as a block of labelled lines instead of a table wider than the screen."""

    def table(match: re.Match) -> str:
        text = match.group(0)
        head = _THEAD.search(text)
        rows = _ROW.findall(head.group(0)) if head else []
        if not rows:
            return text
        # Per column, the lowest header row's text that is not empty (pandas writes the index's
        # name in a row of its own under the columns').
        header = [[re.sub(r"<[^>]*>", "", cell[2]).strip().replace('"', "&quot;")
                   for cell in _CELL.findall(r[1])] for r in rows]
        labels = [next((h[i] for h in reversed(header) if i < len(h) and h[i]), "")
                  for i in range(max(map(len, header)))]

        def row(found: re.Match) -> str:
            cells = itertools.count()

            def cell(c: re.Match) -> str:
                i = next(cells)
                label = labels[i] if i < len(labels) else ""
                extra = f' data-label="{label}"' if label and "data-label" not in c.group(2) else ""
                return f"<{c.group(1)}{c.group(2)}{extra}>{c.group(3)}</{c.group(1)}>"

            return found.group(1) + _CELL.sub(cell, found.group(2)) + found.group(3)

        text = text[:head.end()] + _ROW.sub(row, text[head.end():])
        if len(labels) > WIDE_TABLE:  # too many columns for a row on one line
            opening = re.match(r"<table\b[^>]*>", text).group(0)
            marked = (re.sub(r'class="([^"]*)"', r'class="\1 pf-wide"', opening) if "class=" in opening
                      else opening.replace("<table", '<table class="pf-wide"', 1))
            text = marked + text[len(opening):]
        return text

    return _TABLE.sub(table, html)


@lru_cache(maxsize=4096)
def _highlight(source: str) -> str:
    """Highlighted code; projects made from one template share most of their cells."""
    return highlight(source, _LEXER, _FORMATTER)


def render_notebook(notebook: dict, sink: AssetSink, title: str,
                    markdown_html: list[str] | None = None) -> str:
    """The notebook (its JSON as dicts, or an nbformat NotebookNode) as one HTML fragment;
    `markdown_html`: its Markdown cells already converted (markdown_cells)."""
    if markdown_html is None:
        markdown_html = [html for html, _ in markdown_cells(notebook, sink)]
    converted = iter(markdown_html)
    parts = ['<div class="nb">']
    figure = 0
    # The page's own title is its only <h1>: the notebook's highest heading becomes an <h2>.
    cells = notebook.get("cells", [])
    markdown = "\n".join(_text(c.get("source", "")) for c in cells
                         if c.get("cell_type") == "markdown")
    levels = [len(m) for m in _HEADING_MD.findall(markdown)]
    shift = max(0, 2 - min(levels)) if levels else 1
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            parts.append(f'<div class="nb-cell nb-md">{shift_headings(next(converted), shift)}</div>')
        elif cell.get("cell_type") == "code":
            tags = (cell.get("metadata") or {}).get("tags", [])
            label = "parameters" if "parameters" in tags else (
                "injected parameters" if "injected-parameters" in tags else "")
            code = _highlight(_text(cell.get("source", "")))
            parts.append('<div class="nb-cell nb-code">')
            if label:
                parts.append(f'<p class="nb-label">{label}</p>')
            parts.append(f'<div class="highlight"><pre><code>{code}</code></pre></div>')
            for output in cell.get("outputs", []):
                if any(m.startswith("image/") for m in output.get("data", {})):
                    figure += 1
                rendered = render_output(output, sink, f"{title}, figure {figure}")
                if rendered:
                    parts.append(f'<div class="nb-output">{rendered}</div>')
            parts.append("</div>")
    parts.append(f"</div>{END_MARKER}")
    return "\n".join(parts)


def read_notebook(path, display: str | None = None) -> dict:
    """A notebook's JSON as plain dicts where it is version 4 (rendering needs neither the
    schema validation of nbformat.reads, its slow part, nor attribute access); an older
    version is converted by nbformat. A file that is not a notebook (truncated, not JSON,
    not UTF-8) is a one-line PortfolioError naming `display` (the path by default)."""
    shown = display or str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PortfolioError(f"{shown}: not a valid notebook ({reason})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PortfolioError(f"{shown}: not a valid notebook ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        raise PortfolioError(f"{shown}: not a valid notebook (no 'nbformat' version)")
    if data["nbformat"] == 4 and isinstance(data.get("cells"), list):
        return data
    import nbformat

    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises a different error for each way a file is wrong
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PortfolioError(f"{shown}: not a valid notebook ({first})") from None


def notebook_json(notebook: nbformat.NotebookNode) -> str:
    return json.dumps(notebook, ensure_ascii=False)
