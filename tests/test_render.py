"""Notebook outputs are untrusted: rendered pages carry nothing that executes."""

from __future__ import annotations

import base64
import re

import nbformat
import pytest

from site_builder.site.nbrender import MAX_LINES, render_notebook

from .conftest import FIXTURE_NOTEBOOKS

PNG = base64.b64encode(
    bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                  "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
).decode()
EXECUTES = re.compile(r"<script|\son\w+\s*=|javascript:|<iframe|<object|<embed", re.I)


def render(notebook) -> tuple[str, dict[str, bytes]]:
    assets: dict[str, bytes] = {}

    def sink(data: bytes, ext: str) -> str:
        name = f"asset{len(assets)}.{ext}"
        assets[name] = data
        return name

    return render_notebook(notebook, sink, "test"), assets


def planted() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "# Title\n<script>alert('md')</script>\n<img src=x onerror=alert(1)>\n"
            "[link](javascript:alert(2))"),
        nbformat.v4.new_code_cell("df", outputs=[nbformat.v4.new_output(
            "execute_result", execution_count=1, data={
                "text/html": '<table class="dataframe"><tr><th>a</th></tr><tr><td>1</td></tr>'
                             '</table><script>alert(3)</script><div onclick="x()">hi</div>'
                             '<a href="javascript:alert(4)">x</a>'
                             f'<img src="data:image/png;base64,{PNG}">',
                "text/plain": "df"})]),
        nbformat.v4.new_code_cell("plot", outputs=[nbformat.v4.new_output(
            "display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]),
        nbformat.v4.new_code_cell("print", outputs=[nbformat.v4.new_output(
            "stream", name="stdout", text="".join(f"line {i}\n" for i in range(500)))]),
        nbformat.v4.new_code_cell("svg", outputs=[nbformat.v4.new_output(
            "display_data", data={"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg">'
                                                   '<script>alert(5)</script><rect width="1"/></svg>'})]),
    ]
    return nb


def test_planted_payloads_are_inert_and_content_survives():
    html, assets = render(planted())
    assert not EXECUTES.search(html), EXECUTES.search(html)
    assert '<table class="dataframe">' in html and "<td>1</td>" in html
    assert "data:image" not in html
    assert html.count('<img src="asset') == 3  # html-embedded png, figure, svg as a file
    assert sum(name.endswith(".png") for name in assets) == 2
    assert "line 0" in html and f"line {MAX_LINES - 1}" in html and f"line {MAX_LINES}\n" not in html
    assert f"{500 - MAX_LINES} more lines not shown here" in html
    svg = next(data for name, data in assets.items() if name.endswith(".svg"))
    # Cleaned: opened on its own URL, the file would run its scripts.
    assert svg == (b"<?xml version='1.0' encoding='utf-8'?>\n"
                   b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" /></svg>')


@pytest.mark.skipif(not FIXTURE_NOTEBOOKS.is_dir(),
                    reason="the shared nbconvert fixture notebooks are not in this checkout")
@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURE_NOTEBOOKS.glob("*.ipynb"))
                         if FIXTURE_NOTEBOOKS.is_dir() else [])
def test_fixture_notebooks_render_without_anything_that_executes(name):
    notebook = nbformat.read(FIXTURE_NOTEBOOKS / name, 4)
    html, assets = render(notebook)
    assert html.startswith('<div class="nb">')
    assert not EXECUTES.search(html), (name, EXECUTES.search(html))
    assert "data:image" not in html
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if any(k.startswith("image/") for k in o.get("data", {}))]
    assert len(assets) + html.count("is not valid base64") + html.count(
        "SVG output that is not a well-formed SVG document") >= len(images)


def test_terminal_colour_codes_are_dropped_from_streams():
    from site_builder.site.nbrender import render_output

    html = render_output({"output_type": "stream", "name": "stdout",
                          "text": "\x1b[31mred\x1b[0m and \x1b[1;32mbold green\x1b[0m\n"},
                         lambda data, ext: "x", "alt")
    assert html == '<pre class="nb-stream">red and bold green\n</pre>'
