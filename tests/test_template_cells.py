"""No stray outputs: a template cell that ends with a bare expression means to display it.

The value of a cell's last expression is shown under the cell and, on the site, under its
code: a file write's character count ("1310") or a fitted estimator's description is noise.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from IPython.core.displayhook import DisplayHook

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "template").glob("*/_notebooks/*/*.ipynb"))
# Calls made for what they do, not for what they return (a count, an estimator, an artist).
SIDE_EFFECTS = {
    "write_text", "write_bytes", "fit", "partial_fit", "savefig", "save", "mkdir", "touch",
    "to_csv", "set_title", "set_xlabel", "set_ylabel", "set_xlim", "set_ylim", "set_xticks",
    "set_yticks", "set_xticklabels", "set_yticklabels", "plot", "bar", "barh", "hist", "scatter",
    "imshow", "matshow", "boxplot", "errorbar", "fill_between", "axhline", "axvline", "annotate",
    "text", "legend", "suptitle", "colorbar", "title", "xlabel", "ylabel", "xticks", "yticks",
}


def stray_expression(source: str) -> str | None:
    """The cell's last line where it ends with a side-effect call whose value would be shown."""
    tree = ast.parse(source)
    if not tree.body or DisplayHook.semicolon_at_end_of_expression(source):
        return None
    last = tree.body[-1]
    if not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)):
        return None
    func = last.value.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return ast.get_source_segment(source, last) if name in SIDE_EFFECTS else None


def test_the_template_has_notebooks_to_check():
    assert len(NOTEBOOKS) == 20


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_template_cell_ends_with_a_stray_value(path: Path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    stray = {number: stray_expression("".join(cell["source"]))
             for number, cell in enumerate(cells, start=1) if cell["cell_type"] == "code"}
    assert {n: s for n, s in stray.items() if s} == {}


@pytest.mark.parametrize("source, shown", [
    ('(path / "x.json").write_text("{}")', '(path / "x.json").write_text("{}")'),
    ("search.fit(X, y)", "search.fit(X, y)"),
    ("search.fit(X, y);", None),
    ("search.fit(X, y);  # quiet", None),
    ("balance", None),
    ("pd.DataFrame({'a': [1]}).round(3)", None),
    ("ax.set_title('t')\nplt.show()", None),
])
def test_stray_expressions_are_recognised(source, shown):
    assert stray_expression(source) == shown
