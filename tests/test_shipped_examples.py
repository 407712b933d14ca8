"""The shipped examples are what `portfolio new` makes today: each example's notebooks and
models.py are its problem type's template, apart from the values of the `parameters` cell
(the settings a user would change) and the fast-run overrides in the notebook's metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from site_builder.config import load_project

from .conftest import REPO

EXAMPLES = sorted(p.parent for p in (REPO / "portfolio/projects").glob("*/project.yml"))
TEMPLATE = next((REPO / "template").glob("*/_notebooks"))


def cells(path: Path) -> list[tuple[str, str]]:
    """Each cell's kind and source, the parameters cell reduced to the names it sets."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "parameters: " + ", ".join(
                line.split("=")[0].strip() for line in source.splitlines()
                if "=" in line and not line.lstrip().startswith("#"))
        found.append((cell["cell_type"], source))
    return found


def test_there_are_four_shipped_examples_one_per_type():
    types = sorted(load_project(p).problem_type for p in EXAMPLES)
    assert types == sorted(p.name for p in TEMPLATE.iterdir() if p.is_dir())


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_a_shipped_example_is_its_template(example: Path):
    template = TEMPLATE / load_project(example).problem_type
    names = sorted(p.name for p in template.iterdir() if p.suffix in (".ipynb", ".py"))
    assert sorted(p.name for p in (example / "notebooks").iterdir()
                  if p.suffix in (".ipynb", ".py")) == names
    for name in names:
        if name.endswith(".py"):
            assert (example / "notebooks" / name).read_text() == (template / name).read_text(), name
        else:
            assert cells(example / "notebooks" / name) == cells(template / name), name
